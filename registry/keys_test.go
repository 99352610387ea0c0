package registry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// ktNew makes a keyed registry of kind on n, failing the test on error.
func ktNew[K comparable, V any](t testing.TB, n *process.Node, kind registry.Kind, partitions int) *registry.Keys[K, V] {
	t.Helper()
	k, err := registry.NewKeys[K, V](n, registry.KeysOptions{Kind: kind, Partitions: partitions})
	require.NoError(t, err)
	return k
}

// ktEntries returns the entries as "label=value" strings, for comparisons
// that read well.
func ktEntries[V any](label map[pid.Pid]string, es []registry.Entry[V]) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s=%v", label[e.Pid], e.Value))
	}
	return out
}

// ktExits lists ways for a process to die, each with the reason its
// watchers see.
var ktExits = []struct {
	name string
	end  func(t *testing.T, n *process.Node, pr *spawntest.Probe)
}{
	{"returns", func(t *testing.T, _ *process.Node, pr *spawntest.Probe) { pr.Exit(nil) }},
	{"fails", func(t *testing.T, _ *process.Node, pr *spawntest.Probe) { pr.Exit(errors.New("failed")) }},
	{"panics", func(t *testing.T, _ *process.Node, pr *spawntest.Probe) {
		pr.TryDo(0, func(*process.Process) error { panic("boom") })
	}},
	{"killed", func(t *testing.T, n *process.Node, pr *spawntest.Probe) {
		require.NoError(t, n.Exit(pr.Pid(), process.Kill))
	}},
	{"exit signal", func(t *testing.T, n *process.Node, pr *spawntest.Probe) {
		require.NoError(t, n.Exit(pr.Pid(), errors.New("told to")))
	}},
}

func TestXREG02_UniqueKeyNamesOneProcess(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		reg := ktNew[string, int](t, n, registry.Unique, 4)
		owner := spawntest.NewProbe(t, n, process.WithBackend(b))
		other := spawntest.NewProbe(t, n, process.WithBackend(b))

		require.NoError(t, reg.Register("job-1", owner.Pid(), 10))
		e, ok := reg.Find("job-1")
		require.True(t, ok)
		assert.Equal(t, registry.Entry[int]{Pid: owner.Pid(), Value: 10}, e)
		assert.Equal(t, []registry.Entry[int]{e}, reg.Lookup("job-1"))
		assert.Equal(t, []string{"job-1"}, reg.Keys(owner.Pid()))
		assert.Equal(t, 1, reg.Count("job-1"))
		assert.Equal(t, 1, reg.Len())

		for _, tc := range []struct {
			name string
			by   pid.Pid
		}{
			{"by the owner itself", owner.Pid()},
			{"by another process", other.Pid()},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := reg.Register("job-1", tc.by, 20)
				var taken *registry.KeyTakenError[string]
				require.ErrorAs(t, err, &taken)
				assert.ErrorIs(t, err, registry.ErrKeyTaken)
				assert.Equal(t, "job-1", taken.Key)
				assert.Equal(t, owner.Pid(), taken.Owner)
				assert.Contains(t, err.Error(), `register key "job-1"`)
				assert.Contains(t, err.Error(), owner.Pid().String())
				e, _ := reg.Find("job-1")
				assert.Equal(t, 10, e.Value, "a refused registration changed the entry")
			})
		}
		assert.Equal(t, []string{"job-1"}, reg.Keys(owner.Pid()), "a refused registration is listed")
		assert.Empty(t, reg.Keys(other.Pid()))

		// One process may hold several unique keys.
		require.NoError(t, reg.Register("job-2", owner.Pid(), 30))
		assert.ElementsMatch(t, []string{"job-1", "job-2"}, reg.Keys(owner.Pid()))

		// A dead process's key is free.
		owner.Exit(nil)
		spawntest.WaitExit(t, n, owner.Pid())
		require.NoError(t, reg.Register("job-1", other.Pid(), 40))
		e, _ = reg.Find("job-1")
		assert.Equal(t, registry.Entry[int]{Pid: other.Pid(), Value: 40}, e)
		assert.Nil(t, reg.Keys(owner.Pid()))

		// A dead process cannot register.
		err := reg.Register("job-3", owner.Pid(), 50)
		assert.ErrorIs(t, err, process.NoProc)
		assert.Contains(t, err.Error(), `register key "job-3"`)
		_, ok = reg.Find("job-3")
		assert.False(t, ok)
	})
}

func TestXREG02_DeadOwnersKeyIsFreeHowEverItDied(t *testing.T) {
	t.Parallel()
	for _, exit := range ktExits {
		t.Run(exit.name, func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			reg := ktNew[int, string](t, n, registry.Unique, 0)
			owner := spawntest.NewProbe(t, n)
			heir := spawntest.NewProbe(t, n)
			require.NoError(t, reg.Register(7, owner.Pid(), "old"))

			// The heir registers from the watch of the owner's exit: the
			// first moment anyone can know of it.
			took := make(chan error, 1)
			_, err := link.Watch(n, owner.Pid(), func(link.Down) { took <- reg.Register(7, heir.Pid(), "new") })
			require.NoError(t, err)
			exit.end(t, n, owner)
			require.NoError(t, spawntest.Recv(t, took))
			e, ok := reg.Find(7)
			require.True(t, ok)
			assert.Equal(t, registry.Entry[string]{Pid: heir.Pid(), Value: "new"}, e)
		})
	}
}

func TestXREG02_UpdateValue(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	reg := ktNew[string, int](t, n, registry.Unique, 2)
	owner := spawntest.SpawnIdle(t, n)
	other := spawntest.SpawnIdle(t, n)
	require.NoError(t, reg.Register("counter", owner, 1))

	v, err := reg.UpdateValue("counter", owner, func(old int) int { return old + 41 })
	require.NoError(t, err)
	assert.Equal(t, 42, v)
	e, _ := reg.Find("counter")
	assert.Equal(t, 42, e.Value)

	incr := func(old int) int { return old + 1 }
	dup := ktNew[string, int](t, n, registry.Duplicate, 1)
	for _, tc := range []struct {
		name string
		reg  *registry.Keys[string, int]
		key  string
		p    pid.Pid
		fn   func(int) int
		want error
	}{
		{"another process's key", reg, "counter", other, incr, registry.ErrNotOwner},
		{"a key nobody has", reg, "nothing", owner, incr, registry.ErrNotOwner},
		{"zero Pid", reg, "counter", pid.Pid{}, incr, process.ErrZeroPid},
		{"nil fn", reg, "counter", owner, nil, process.ErrNilFunc},
		{"duplicate registry", dup, "counter", owner, incr, registry.ErrNotUnique},
		{"nil registry", nil, "counter", owner, incr, registry.ErrNilKeys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.reg.UpdateValue(tc.key, tc.p, tc.fn)
			assert.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), "update value of key")
		})
	}
	e, _ = reg.Find("counter")
	assert.Equal(t, 42, e.Value, "a failed update changed the value")

	// Concurrent updates are not lost: fn runs again on a newer value.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, err := reg.UpdateValue("counter", owner, incr)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	e, _ = reg.Find("counter")
	assert.Equal(t, 842, e.Value)
}

func TestXREG03_DuplicateKeys(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		reg := ktNew[string, int](t, n, registry.Duplicate, 4)
		a := spawntest.NewProbe(t, n, process.WithBackend(b))
		c := spawntest.NewProbe(t, n, process.WithBackend(b))
		label := map[pid.Pid]string{a.Pid(): "a", c.Pid(): "c"}

		// Several processes, and one process several times.
		require.NoError(t, reg.Register("topic", a.Pid(), 1))
		require.NoError(t, reg.Register("topic", c.Pid(), 2))
		require.NoError(t, reg.Register("topic", a.Pid(), 3))
		require.NoError(t, reg.Register("other", a.Pid(), 4))

		assert.Equal(t, []string{"a=1", "c=2", "a=3"}, ktEntries(label, reg.Lookup("topic")))
		assert.ElementsMatch(t, []string{"topic", "topic", "other"}, reg.Keys(a.Pid()))
		assert.Equal(t, []string{"topic"}, reg.Keys(c.Pid()))
		assert.Equal(t, 3, reg.Count("topic"))
		assert.Equal(t, 4, reg.Len())
		e, ok := reg.Find("topic")
		assert.True(t, ok)
		assert.Equal(t, "a=1", ktEntries(label, []registry.Entry[int]{e})[0], "Find gives the oldest entry")

		odd := func(v int) bool { return v%2 == 1 }
		m, err := reg.Match("topic", odd)
		require.NoError(t, err)
		assert.Equal(t, []string{"a=1", "a=3"}, ktEntries(label, m))
		cnt, err := reg.CountMatch("topic", odd)
		require.NoError(t, err)
		assert.Equal(t, 2, cnt)

		var seen []string
		require.NoError(t, reg.Dispatch("topic", func(es []registry.Entry[int]) { seen = ktEntries(label, es) }))
		assert.Equal(t, []string{"a=1", "c=2", "a=3"}, seen)
		called := false
		require.NoError(t, reg.Dispatch("nobody", func([]registry.Entry[int]) { called = true }))
		assert.False(t, called, "Dispatch called fn for a key without entries")

		// UnregisterMatch removes only the caller's matching entries.
		removed, err := reg.UnregisterMatch("topic", a.Pid(), func(v int) bool { return v == 3 })
		require.NoError(t, err)
		assert.Equal(t, 1, removed)
		assert.Equal(t, []string{"a=1", "c=2"}, ktEntries(label, reg.Lookup("topic")))
		assert.ElementsMatch(t, []string{"topic", "other"}, reg.Keys(a.Pid()))
		removed, err = reg.UnregisterMatch("topic", a.Pid(), func(v int) bool { return v == 2 })
		require.NoError(t, err)
		assert.Zero(t, removed, "UnregisterMatch removed another process's entry")

		// Unregister removes every entry of the process under the key.
		require.NoError(t, reg.Register("topic", a.Pid(), 5))
		require.NoError(t, reg.Unregister("topic", a.Pid()))
		assert.Equal(t, []string{"c=2"}, ktEntries(label, reg.Lookup("topic")))
		assert.Equal(t, []string{"other"}, reg.Keys(a.Pid()))
		require.NoError(t, reg.Unregister("topic", c.Pid()))
		assert.Nil(t, reg.Lookup("topic"))
		assert.Zero(t, reg.Count("topic"))
		assert.Equal(t, 1, reg.Len())
	})
}

func TestXREG03_UnregisterAlwaysSucceeds(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	reg := ktNew[string, int](t, n, registry.Duplicate, 1)
	live := spawntest.SpawnIdle(t, n)
	dead := spawntest.SpawnIdle(t, n)
	require.NoError(t, reg.Register("k", live, 1))
	spawntest.ExitAndWait(t, n, dead, process.Kill)

	for _, tc := range []struct {
		name string
		key  string
		p    pid.Pid
	}{
		{"a key the process never had", "never", live},
		{"a key only others have", "k", dead},
		{"a dead process", "k", dead},
		{"twice", "k", live},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, reg.Unregister(tc.key, tc.p))
			n, err := reg.UnregisterMatch(tc.key, tc.p, func(int) bool { return true })
			require.NoError(t, err)
			assert.Zero(t, n)
		})
	}
	assert.Zero(t, reg.Len())
}

func TestXREG04_EntriesGoBeforeTheExitIsSeen(t *testing.T) {
	t.Parallel()
	for _, exit := range ktExits {
		t.Run(exit.name, func(t *testing.T) {
			t.Parallel()
			spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
				uniq := ktNew[string, int](t, n, registry.Unique, 4)
				dup := ktNew[string, int](t, n, registry.Duplicate, 4)
				victim := spawntest.NewProbe(t, n, process.WithBackend(b))
				bystander := spawntest.SpawnIdle(t, n)
				for i := range 20 {
					key := fmt.Sprint("key-", i)
					require.NoError(t, uniq.Register(key, victim.Pid(), i))
					require.NoError(t, dup.Register(key, victim.Pid(), i))
					require.NoError(t, dup.Register(key, victim.Pid(), -i))
					require.NoError(t, dup.Register(key, bystander, i))
				}

				// What a watcher (a Watch) and a monitoring process (its
				// Down message) find when they first learn of the exit.
				look := func() []string {
					var out []string
					if k := uniq.Keys(victim.Pid()); k != nil {
						out = append(out, fmt.Sprint("unique keys ", k))
					}
					if k := dup.Keys(victim.Pid()); k != nil {
						out = append(out, fmt.Sprint("duplicate keys ", k))
					}
					if l := uniq.Len(); l != 0 {
						out = append(out, fmt.Sprint("unique len ", l))
					}
					for i := range 20 {
						key := fmt.Sprint("key-", i)
						if e, ok := uniq.Find(key); ok {
							out = append(out, fmt.Sprint("unique ", key, e))
						}
						if es := dup.Lookup(key); len(es) != 1 || es[0].Pid != bystander {
							out = append(out, fmt.Sprint("duplicate ", key, es))
						}
					}
					return out
				}
				watched := make(chan []string, 1)
				_, err := link.Watch(n, victim.Pid(), func(link.Down) { watched <- look() })
				require.NoError(t, err)
				monitor := spawntest.NewProbe(t, n)
				monitor.Do(func(p *process.Process) error { _, err := link.Monitor(p, victim.Pid()); return err })

				exit.end(t, n, victim)
				_, isDown := monitor.Receive().(link.Down)
				require.True(t, isDown)
				assert.Empty(t, look(), "seen by the monitor")
				assert.Empty(t, <-watched, "seen by the watch")
				assert.Equal(t, 20, dup.Len())
			})
		})
	}
}

func TestXREG04_EntriesOfALinkedCascadeGoFirst(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	reg := ktNew[string, struct{}](t, n, registry.Unique, 0)
	root := spawntest.NewProbe(t, n)
	var chain []pid.Pid
	prev := root
	for i := range 5 {
		var child pid.Pid
		prev.Do(func(p *process.Process) error {
			var err error
			child, err = p.SpawnLink(spawntest.ProbeLoop)
			return err
		})
		require.NoError(t, reg.Register(fmt.Sprint("link-", i), child, struct{}{}))
		chain = append(chain, child)
		prev = spawntest.Adopt(t, n, child)
	}
	found := make(chan int, 1)
	_, err := link.Watch(n, root.Pid(), func(link.Down) { found <- reg.Len() })
	require.NoError(t, err)
	require.NoError(t, n.Exit(root.Pid(), errors.New("cascade")))
	assert.Zero(t, <-found, "the watcher of the first death found entries of processes that died of it")
	for _, p := range chain {
		assert.False(t, n.Alive(p))
	}
}

func TestXREG04_NodeStopRemovesEverything(t *testing.T) {
	t.Parallel()
	n := process.NewNode(process.WithLogger(nil))
	reg := ktNew[int, int](t, n, registry.Duplicate, 3)
	var ps []pid.Pid
	for i := range 50 {
		p, err := n.Spawn(spawntest.Idle)
		require.NoError(t, err)
		ps = append(ps, p)
		require.NoError(t, reg.Register(i%7, p, i))
	}
	require.NoError(t, n.Stop(spawntest.Context(t)))
	assert.Zero(t, reg.Len())
	assert.Nil(t, reg.Lookup(0))
	err := reg.Register(1, ps[0], 1)
	assert.ErrorIs(t, err, process.ErrNodeStopped)
	assert.NoError(t, reg.Unregister(1, ps[0]), "Unregister on a stopped node")
}

func TestKeysAllVisitsEveryEntry(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	reg := ktNew[int, int](t, n, registry.Duplicate, 5)
	p := spawntest.SpawnIdle(t, n)
	want := map[[2]int]int{}
	for i := range 300 {
		require.NoError(t, reg.Register(i%40, p, i))
		want[[2]int{i % 40, i}]++
	}
	got := map[[2]int]int{}
	for k, e := range reg.All() {
		assert.Equal(t, p, e.Pid)
		got[[2]int{k, e.Value}]++
	}
	assert.Equal(t, want, got)
	stopped := 0
	for range reg.All() {
		stopped++
		if stopped == 3 {
			break
		}
	}
	assert.Equal(t, 3, stopped)
}

func TestKeysDispatchSliceIsReadOnlySafe(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	reg := ktNew[string, int](t, n, registry.Duplicate, 1)
	p := spawntest.SpawnIdle(t, n)
	require.NoError(t, reg.Register("t", p, 1))
	require.NoError(t, reg.Register("t", p, 2))
	var kept []registry.Entry[int]
	require.NoError(t, reg.Dispatch("t", func(es []registry.Entry[int]) {
		kept = append(es, registry.Entry[int]{Pid: p, Value: 99}) // must copy, not write into the registry
	}))
	require.NoError(t, reg.Register("t", p, 3))
	assert.Equal(t, []int{1, 2, 3}, ktValues(reg.Lookup("t")))
	assert.Equal(t, []int{1, 2, 99}, ktValues(kept))

	// Lookup's slice is the caller's.
	got := reg.Lookup("t")
	got[0].Value = 100
	assert.Equal(t, []int{1, 2, 3}, ktValues(reg.Lookup("t")))
}

func ktValues[V any](es []registry.Entry[V]) []V {
	out := make([]V, 0, len(es))
	for _, e := range es {
		out = append(out, e.Value)
	}
	return out
}

func TestKeysBadInput(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	other := spawntest.NewNode(t)
	stranger := spawntest.SpawnIdle(t, other)
	reg := ktNew[string, int](t, n, registry.Unique, 1)
	live := spawntest.SpawnIdle(t, n)

	t.Run("options", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			node *process.Node
			opts registry.KeysOptions
			want error
		}{
			{"nil node", nil, registry.KeysOptions{Kind: registry.Unique}, process.ErrNilNode},
			{"empty options", n, registry.KeysOptions{}, registry.ErrInvalidOptions},
			{"unknown kind", n, registry.KeysOptions{Kind: 9}, registry.ErrInvalidOptions},
			{"negative partitions", n, registry.KeysOptions{Kind: registry.Unique, Partitions: -1}, registry.ErrInvalidOptions},
			{"too many partitions", n, registry.KeysOptions{Kind: registry.Duplicate, Partitions: registry.MaxPartitions + 1}, registry.ErrInvalidOptions},
		} {
			t.Run(tc.name, func(t *testing.T) {
				k, err := registry.NewKeys[string, int](tc.node, tc.opts)
				assert.ErrorIs(t, err, tc.want)
				assert.Contains(t, err.Error(), "new keyed registry")
				assert.Nil(t, k)
			})
		}
		k, err := registry.NewKeys[string, int](n, registry.KeysOptions{Kind: registry.Duplicate, Partitions: registry.MaxPartitions})
		require.NoError(t, err)
		assert.Equal(t, registry.MaxPartitions, k.Partitions())
		assert.Equal(t, registry.Duplicate, k.Kind())
		k, err = registry.NewKeys[string, int](n, registry.KeysOptions{Kind: registry.Unique})
		require.NoError(t, err)
		assert.Positive(t, k.Partitions(), "the default partitions")
	})

	t.Run("register", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			p    pid.Pid
			want error
		}{
			{"zero Pid", pid.Pid{}, process.ErrZeroPid},
			{"Pid of another node", stranger, process.NoConnection},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := reg.Register("x", tc.p, 1)
				assert.ErrorIs(t, err, tc.want)
				assert.Contains(t, err.Error(), `register key "x"`)
				assert.ErrorIs(t, reg.Unregister("x", tc.p), tc.want)
				_, err = reg.UnregisterMatch("x", tc.p, func(int) bool { return true })
				assert.ErrorIs(t, err, tc.want)
				assert.Nil(t, reg.Keys(tc.p))
			})
		}
		assert.Zero(t, reg.Len())
	})

	t.Run("nil callbacks", func(t *testing.T) {
		require.NoError(t, reg.Register("cb", live, 1))
		defer func() { require.NoError(t, reg.Unregister("cb", live)) }()
		errs := map[string]error{}
		errs["dispatch"] = reg.Dispatch("cb", nil)
		_, errs["match"] = reg.Match("cb", nil)
		_, errs["count match"] = reg.CountMatch("cb", nil)
		_, errs["unregister match"] = reg.UnregisterMatch("cb", live, nil)
		_, errs["update value of"] = reg.UpdateValue("cb", live, nil)
		for op, err := range errs {
			assert.ErrorIs(t, err, process.ErrNilFunc, op)
			assert.Contains(t, err.Error(), op+` key "cb"`)
		}
		assert.Equal(t, 1, reg.Count("cb"))
	})

	t.Run("nil and zero registry", func(t *testing.T) {
		for name, k := range map[string]*registry.Keys[string, int]{"nil": nil, "zero": new(registry.Keys[string, int])} {
			t.Run(name, func(t *testing.T) {
				assert.ErrorIs(t, k.Register("x", live, 1), registry.ErrNilKeys)
				assert.ErrorIs(t, k.Unregister("x", live), registry.ErrNilKeys)
				_, err := k.UnregisterMatch("x", live, func(int) bool { return true })
				assert.ErrorIs(t, err, registry.ErrNilKeys)
				assert.ErrorIs(t, k.Dispatch("x", func([]registry.Entry[int]) {}), registry.ErrNilKeys)
				assert.Nil(t, k.Lookup("x"))
				_, ok := k.Find("x")
				assert.False(t, ok)
				assert.Zero(t, k.Count("x"))
				assert.Zero(t, k.Len())
				assert.Nil(t, k.Keys(live))
				m, err := k.Match("x", func(int) bool { return true })
				assert.NoError(t, err)
				assert.Nil(t, m)
				for range k.All() {
					t.Fatal("All yielded from an empty registry")
				}
			})
		}
	})

	t.Run("unhashable key", func(t *testing.T) {
		anyReg := ktNew[any, int](t, n, registry.Duplicate, 2)
		err := anyReg.Register([]int{1}, live, 1)
		assert.ErrorIs(t, err, registry.ErrUnhashableKey)
		assert.Contains(t, err.Error(), "register key [1]")
		assert.Nil(t, anyReg.Lookup(map[string]int{}))
		assert.NoError(t, anyReg.Unregister([]int{1}, live))
		type wrapped struct{ inner any }
		wReg := ktNew[wrapped, int](t, n, registry.Unique, 2)
		assert.ErrorIs(t, wReg.Register(wrapped{[]int{1}}, live, 1), registry.ErrUnhashableKey)
		// A NaN is not equal to itself: it could never be found again.
		fReg := ktNew[float64, int](t, n, registry.Duplicate, 2)
		assert.ErrorIs(t, fReg.Register(math.NaN(), live, 1), registry.ErrUnhashableKey)
		assert.ErrorIs(t, anyReg.Register(math.NaN(), live, 1), registry.ErrUnhashableKey)
		assert.Zero(t, fReg.Len())
		// Hashable values of an interface key work as map keys do.
		require.NoError(t, anyReg.Register(1, live, 10))
		require.NoError(t, anyReg.Register("1", live, 20))
		assert.Equal(t, []int{10}, ktValues(anyReg.Lookup(1)))
		assert.Equal(t, []int{20}, ktValues(anyReg.Lookup("1")))
	})
}

func TestKeysKindString(t *testing.T) {
	for _, tc := range []struct {
		k    registry.Kind
		want string
	}{{registry.Unique, "unique"}, {registry.Duplicate, "duplicate"}, {0, "Kind(0)"}} {
		assert.Equal(t, tc.want, tc.k.String())
	}
}

// TestKeysRaceOnPartitions registers, looks up, updates and kills from many
// goroutines over few partitions, under the race detector, and checks the
// registry against what survived.
func TestKeysRaceOnPartitions(t *testing.T) {
	t.Parallel()
	for _, kind := range []registry.Kind{registry.Unique, registry.Duplicate} {
		t.Run(kind.String(), func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			reg := ktNew[int, int](t, n, kind, 3)
			const workers, procsEach, keys = 4, 150, 50
			ctx, cancel := context.WithCancel(spawntest.Context(t))
			defer cancel()

			// Readers run all along.
			var readers sync.WaitGroup
			for range 2 {
				readers.Go(func() {
					for ctx.Err() == nil {
						for k := range keys {
							es := reg.Lookup(k)
							if kind == registry.Unique && len(es) > 1 {
								t.Errorf("unique key %d has %d entries", k, len(es))
							}
							_ = reg.Dispatch(k, func(es []registry.Entry[int]) {
								for _, e := range es {
									if e.Value < 0 {
										t.Errorf("corrupt value %d", e.Value)
									}
								}
							})
						}
						for range reg.All() {
						}
					}
				})
			}

			var writers sync.WaitGroup
			var mu sync.Mutex
			survivors := map[pid.Pid]bool{}
			for w := range workers {
				writers.Go(func() {
					for i := range procsEach {
						p, err := n.Spawn(spawntest.Idle)
						if !assert.NoError(t, err) {
							return
						}
						// Every other process is killed while it registers.
						killed := make(chan struct{})
						if i%2 == 0 {
							go func() {
								defer close(killed)
								_ = n.Exit(p, process.Kill)
							}()
						}
						for j := range 5 {
							k := (w*procsEach + i*5 + j) % keys
							err := reg.Register(k, p, j)
							dying := i%2 == 0 && errors.Is(err, process.NoProc)
							if err != nil && !errors.Is(err, registry.ErrKeyTaken) && !dying {
								t.Errorf("register: %v", err)
							}
							if kind == registry.Unique && err == nil {
								_, _ = reg.UpdateValue(k, p, func(v int) int { return v + 1 })
							}
						}
						if i%3 == 0 {
							_ = reg.Unregister((w*procsEach+i*5)%keys, p)
						}
						if i%2 == 0 {
							<-killed
						} else {
							mu.Lock()
							survivors[p] = true
							mu.Unlock()
						}
					}
				})
			}
			writers.Wait()
			cancel()
			readers.Wait()

			total := 0
			for k := range keys {
				for _, e := range reg.Lookup(k) {
					total++
					assert.True(t, survivors[e.Pid], "key %d has an entry of %v, which is dead", k, e.Pid)
					assert.Contains(t, reg.Keys(e.Pid), k)
				}
			}
			assert.Equal(t, total, reg.Len())
			for p := range survivors {
				for _, k := range reg.Keys(p) {
					assert.True(t, slices.ContainsFunc(reg.Lookup(k), func(e registry.Entry[int]) bool { return e.Pid == p }))
				}
			}
		})
	}
}
