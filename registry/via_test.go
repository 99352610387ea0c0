package registry_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// viaCounter is a server that adds to a total and answers with it.
type viaCounter struct {
	genserver.NoCasts
	total int
	fail  error // returned by Init when set
}

func (c *viaCounter) Init(*genserver.Ctx) error { return c.fail }

func (c *viaCounter) HandleCall(_ *genserver.CallCtx[int], add int) (int, error) {
	c.total += add
	return c.total, nil
}

// The adapter is a genserver.Registrar.
var _ genserver.Registrar = registry.ViaRegistrar[int]{}

func TestXREG05_ViaNamesAServer(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		workers := ktNew[string, string](t, n, registry.Unique, 2)
		via := registry.Via(workers)

		first, err := genserver.Start(ctx, n, &viaCounter{}, genserver.WithBackend(b),
			genserver.WithVia(via.WithValue("first"), "worker-1"))
		require.NoError(t, err)
		e, ok := workers.Find("worker-1")
		require.True(t, ok)
		assert.Equal(t, registry.Entry[string]{Pid: first.Pid(), Value: "first"}, e)

		// A second start under the name fails and names the holder.
		_, err = genserver.Start(ctx, n, &viaCounter{}, genserver.WithBackend(b), genserver.WithVia(via, "worker-1"))
		var already *genserver.AlreadyStartedError
		require.ErrorAs(t, err, &already)
		assert.Equal(t, first.Pid(), already.Pid)
		assert.Equal(t, "worker-1", already.Name)
		e, _ = workers.Find("worker-1")
		assert.Equal(t, "first", e.Value, "the failed start changed the entry")

		// Calls by name resolve through the registry.
		ref := genserver.NamedVia[int, int, genserver.Never](n, via, "worker-1")
		got, err := ref.Call(ctx, 5)
		require.NoError(t, err)
		assert.Equal(t, 5, got)

		// Stopping the server frees the name before Stop returns.
		require.NoError(t, first.Stop(ctx, nil))
		_, ok = workers.Find("worker-1")
		assert.False(t, ok)
		_, err = ref.Call(ctx, 1)
		assert.ErrorIs(t, err, process.NoProc)

		// The name can be taken again at once, and calls reach the new server.
		second, err := genserver.Start(ctx, n, &viaCounter{}, genserver.WithBackend(b), genserver.WithVia(via, "worker-1"))
		require.NoError(t, err)
		got, err = ref.Call(ctx, 7)
		require.NoError(t, err)
		assert.Equal(t, 7, got)
		assert.NotEqual(t, first.Pid(), second.Pid())
	})
}

func TestXREG05_ViaNameGoesWithTheServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, n *process.Node, ref genserver.Ref[int, int, genserver.Never])
	}{
		{"killed", func(t *testing.T, n *process.Node, ref genserver.Ref[int, int, genserver.Never]) {
			require.NoError(t, n.Exit(ref.Pid(), process.Kill))
		}},
		{"stopped with a reason", func(t *testing.T, n *process.Node, ref genserver.Ref[int, int, genserver.Never]) {
			require.NoError(t, ref.Stop(spawntest.Context(t), errors.New("done")))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			names := ktNew[string, struct{}](t, n, registry.Unique, 1)
			via := registry.Via(names)
			ref, err := genserver.Start(ctx, n, &viaCounter{}, genserver.WithVia(via, "svc"))
			require.NoError(t, err)

			// A successor started from the watch of the exit gets the name,
			// and the old server's exit does not take it away.
			restarted := make(chan pid.Pid, 1)
			_, err = link.Watch(n, ref.Pid(), func(link.Down) {
				go func() {
					next, err := genserver.Start(ctx, n, &viaCounter{}, genserver.WithVia(via, "svc"))
					assert.NoError(t, err)
					restarted <- next.Pid()
				}()
			})
			require.NoError(t, err)
			tc.end(t, n, ref)
			next := <-restarted
			owner, ok := via.WhereIsName("svc")
			require.True(t, ok)
			assert.Equal(t, next, owner)
			via.UnregisterName("svc") // what a genserver calls as it exits: the successor keeps the name
			owner, ok = via.WhereIsName("svc")
			assert.True(t, ok)
			assert.Equal(t, next, owner)
		})
	}
}

// XREG-07 through a keyed registry: a supervisor's restart of a child named
// by key takes the name again, and calls by name reach the new child.
func TestXREG05_SupervisorRestartTakesTheKeyAgain(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	names := ktNew[string, int](t, n, registry.Unique, 2)
	via := registry.Via(names)
	_, err := supervisor.Start(ctx, n, supervisor.Spec{Intensity: 10, Period: time.Second, Children: []supervisor.ChildSpec{{
		ID:    "counter",
		Start: supervisor.GenServer(func() *viaCounter { return &viaCounter{} }, genserver.WithVia(via, "counter")),
	}}})
	require.NoError(t, err)
	ref := genserver.NamedVia[int, int, genserver.Never](n, via, "counter")
	got, err := ref.Call(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, 3, got)

	old, ok := names.Find("counter")
	require.True(t, ok)
	spawntest.ExitAndWait(t, n, old.Pid, process.Kill)
	spawntest.Eventually(t, "the restarted child's name", func() bool {
		e, ok := names.Find("counter")
		return ok && e.Pid != old.Pid
	})
	got, err = ref.Call(ctx, 4)
	require.NoError(t, err)
	assert.Equal(t, 4, got, "the call reached the old child's state")
	_, err = genserver.At[int, int, genserver.Never](n, old.Pid).Call(ctx, 1)
	assert.ErrorIs(t, err, process.NoProc)
}

func TestXREG05_ViaRefusals(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)

	t.Run("a failed Init leaves the name free", func(t *testing.T) {
		names := ktNew[string, int](t, n, registry.Unique, 1)
		_, err := genserver.Start(ctx, n, &viaCounter{fail: errors.New("no")}, genserver.WithVia(registry.Via(names), "x"))
		require.Error(t, err)
		assert.Zero(t, names.Len())
	})

	t.Run("a duplicate registry gives a name once", func(t *testing.T) {
		topics := ktNew[string, int](t, n, registry.Duplicate, 1)
		first, err := genserver.Start(ctx, n, &viaCounter{}, genserver.WithVia(registry.Via(topics), "t"))
		require.NoError(t, err)
		_, err = genserver.Start(ctx, n, &viaCounter{}, genserver.WithVia(registry.Via(topics), "t"))
		var already *genserver.AlreadyStartedError
		require.ErrorAs(t, err, &already)
		assert.Equal(t, first.Pid(), already.Pid)
		assert.Equal(t, 1, topics.Count("t"))
	})

	t.Run("a nil registry refuses every name", func(t *testing.T) {
		via := registry.Via[int](nil)
		live := spawntest.SpawnIdle(t, n)
		assert.False(t, via.RegisterName("x", live))
		_, ok := via.WhereIsName("x")
		assert.False(t, ok)
		via.UnregisterName("x")
	})

	t.Run("a dead process gets no name", func(t *testing.T) {
		names := ktNew[string, int](t, n, registry.Unique, 1)
		dead := spawntest.SpawnIdle(t, n)
		spawntest.ExitAndWait(t, n, dead, process.Kill)
		assert.False(t, registry.Via(names).RegisterName("x", dead))
		assert.Zero(t, names.Len())
	})
}
