package registry_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// keysModel is what a keyed registry should hold: per key, its entries in
// registration order, and which processes are alive.
type keysModel struct {
	unique  bool
	entries map[int][]registry.Entry[int]
	alive   map[pid.Pid]bool
}

func (m *keysModel) drop(key int, p pid.Pid, match func(int) bool) int {
	n := 0
	m.entries[key] = slices.DeleteFunc(m.entries[key], func(e registry.Entry[int]) bool {
		if e.Pid == p && match(e.Value) {
			n++
			return true
		}
		return false
	})
	if len(m.entries[key]) == 0 {
		delete(m.entries, key)
	}
	return n
}

func (m *keysModel) keysOf(p pid.Pid) []int {
	var out []int
	for k, es := range m.entries {
		for _, e := range es {
			if e.Pid == p {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestKeysPropertyAgainstModel runs random sequences of registrations,
// unregistrations, value updates and exits (by return, kill and exit
// signal) against a model, and checks every key and process after each
// step.
func TestKeysPropertyAgainstModel(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		n := process.NewNode(process.WithLogger(nil))
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
			defer cancel()
			if err := n.Stop(ctx); err != nil {
				rt.Fatalf("stop: %v", err)
			}
		}()
		kind := rapid.SampledFrom([]registry.Kind{registry.Unique, registry.Duplicate}).Draw(rt, "kind")
		parts := rapid.IntRange(1, 4).Draw(rt, "partitions")
		reg, err := registry.NewKeys[int, int](n, registry.KeysOptions{Kind: kind, Partitions: parts})
		if err != nil {
			rt.Fatal(err)
		}
		m := &keysModel{unique: kind == registry.Unique, entries: map[int][]registry.Entry[int]{}, alive: map[pid.Pid]bool{}}
		var procs []pid.Pid
		spawn := func() {
			p, err := n.Spawn(func(p *process.Process) error {
				msg, err := p.Receive(context.Background())
				if err != nil {
					return err
				}
				return msg.(error)
			})
			if err != nil {
				rt.Fatal(err)
			}
			procs = append(procs, p)
			m.alive[p] = true
		}
		wait := func(p pid.Pid, end func() error) {
			done := make(chan struct{})
			if _, err := link.Watch(n, p, func(link.Down) { close(done) }); err != nil {
				rt.Fatal(err)
			}
			if err := end(); err != nil {
				rt.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(spawntest.Timeout):
				rt.Fatalf("%v did not exit", p)
			}
		}
		spawn()
		// Few keys make collisions between processes; many make the
		// partitions' tables grow, chain and shrink.
		keys := rapid.SampledFrom([]int{6, 300}).Draw(rt, "keys")
		key := rapid.IntRange(0, keys-1)
		value := rapid.IntRange(0, 3)
		steps := rapid.IntRange(1, 150).Draw(rt, "steps")
		for range steps {
			p := procs[rapid.IntRange(0, len(procs)-1).Draw(rt, "proc")]
			switch op := rapid.IntRange(0, 9).Draw(rt, "op"); op {
			case 0:
				spawn()
			case 1, 2, 3: // register one key, or many
				k, v := key.Draw(rt, "key"), value.Draw(rt, "value")
				for extra := rapid.IntRange(0, keys/4).Draw(rt, "extra"); extra > 0; extra-- {
					k := (k + extra) % keys
					if !m.alive[p] || m.unique && len(m.entries[k]) > 0 {
						continue
					}
					if err := reg.Register(k, p, v); err != nil {
						rt.Fatalf("register %d: %v", k, err)
					}
					m.entries[k] = append(m.entries[k], registry.Entry[int]{Pid: p, Value: v})
				}
				err := reg.Register(k, p, v)
				switch {
				case !m.alive[p]:
					if !errors.Is(err, process.NoProc) {
						rt.Fatalf("register %d for dead %v: %v", k, p, err)
					}
				case m.unique && len(m.entries[k]) > 0:
					var taken *registry.KeyTakenError[int]
					if !errors.As(err, &taken) || taken.Owner != m.entries[k][0].Pid || taken.Key != k {
						rt.Fatalf("register taken %d: %v, want owner %v", k, err, m.entries[k][0].Pid)
					}
				default:
					if err != nil {
						rt.Fatalf("register %d: %v", k, err)
					}
					m.entries[k] = append(m.entries[k], registry.Entry[int]{Pid: p, Value: v})
				}
			case 4: // unregister
				k := key.Draw(rt, "key")
				if err := reg.Unregister(k, p); err != nil {
					rt.Fatalf("unregister %d: %v", k, err)
				}
				m.drop(k, p, func(int) bool { return true })
			case 5: // unregister match
				k, v := key.Draw(rt, "key"), value.Draw(rt, "value")
				match := func(x int) bool { return x <= v }
				got, err := reg.UnregisterMatch(k, p, match)
				if want := m.drop(k, p, match); err != nil || got != want {
					rt.Fatalf("unregister match %d <= %d: (%d, %v), want %d", k, v, got, err, want)
				}
			case 6: // update value
				k, v := key.Draw(rt, "key"), value.Draw(rt, "value")
				_, err := reg.UpdateValue(k, p, func(old int) int { return old + v })
				switch {
				case !m.unique:
					if !errors.Is(err, registry.ErrNotUnique) {
						rt.Fatalf("update in a duplicate registry: %v", err)
					}
				case len(m.entries[k]) == 0 || m.entries[k][0].Pid != p:
					if !errors.Is(err, registry.ErrNotOwner) {
						rt.Fatalf("update of %d not owned by %v: %v", k, p, err)
					}
				default:
					if err != nil {
						rt.Fatalf("update %d: %v", k, err)
					}
					m.entries[k][0].Value += v
				}
			case 7, 8, 9: // exit
				if !m.alive[p] {
					continue
				}
				how := rapid.IntRange(0, 2).Draw(rt, "how")
				wait(p, func() error {
					switch how {
					case 0:
						return n.Send(p, process.Normal)
					case 1:
						return n.Exit(p, process.Kill)
					}
					return n.Exit(p, errors.New("told to"))
				})
				m.alive[p] = false
				for k := range m.entries {
					m.drop(k, p, func(int) bool { return true })
				}
			}

			total := 0
			for k := range keys {
				want := m.entries[k]
				total += len(want)
				got := reg.Lookup(k)
				if !slices.Equal(got, want) {
					rt.Fatalf("key %d: %v, want %v", k, got, want)
				}
				if reg.Count(k) != len(want) {
					rt.Fatalf("count of %d: %d, want %d", k, reg.Count(k), len(want))
				}
			}
			if reg.Len() != total {
				rt.Fatalf("len %d, want %d", reg.Len(), total)
			}
			for _, p := range procs {
				got := reg.Keys(p)
				slices.Sort(got)
				if want := m.keysOf(p); !slices.Equal(got, want) {
					rt.Fatalf("keys of %v: %v, want %v", p, got, want)
				}
			}
		}
	})
}
