package supervisor_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// A subtree started by a StartFunc is reachable by name and by Pid.
func TestHandles_NamedAndAtReachSubtrees(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	worker := func(ctx context.Context, sup *process.Process, name string) (pid.Pid, error) {
		ref, err := genserver.StartLink(ctx, sup, &Counter{}, genserver.WithName(name))
		return ref.Pid(), err
	}
	top, err := supervisor.Start(ctx, n, supervisor.Spec{Children: []supervisor.ChildSpec{
		{ID: "sub", Type: supervisor.SupervisorChild, Start: supervisor.Supervisor(supervisor.Spec{Name: "sub"})},
		{ID: "pool", Type: supervisor.SupervisorChild, Start: supervisor.DynamicSupervisor(supervisor.DynamicSpec[string]{Name: "pool", Start: worker})},
	}})
	if err != nil {
		t.Fatal(err)
	}
	children, err := top.WhichChildren(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sub := supervisor.At(n, children[0].Pid)
	if _, err := sub.StartChild(ctx, supervisor.ChildSpec{ID: "c", Start: supervisor.GenServer(func() *Counter { return &Counter{} })}); err != nil {
		t.Fatalf("StartChild through At: %v", err)
	}
	counts, err := supervisor.Named(n, "sub").CountChildren(ctx)
	if err != nil || counts.Active != 1 {
		t.Fatalf("CountChildren through Named: %+v %v", counts, err)
	}
	pool := supervisor.NamedDynamic[string](n, "pool")
	if _, err := pool.StartChild(ctx, "w1"); err != nil {
		t.Fatalf("StartChild through NamedDynamic: %v", err)
	}
	if _, err := supervisor.DynamicAt[string](n, children[1].Pid).StartChild(ctx, "w2"); err != nil {
		t.Fatalf("StartChild through DynamicAt: %v", err)
	}
	if got, _ := pool.CountChildren(ctx); got.Active != 2 {
		t.Fatalf("pool children %+v", got)
	}

	// Handles of the wrong kind fail with clear errors.
	if _, err := supervisor.NamedDynamic[int](n, "pool").StartChild(ctx, 1); !errors.Is(err, supervisor.ErrArgumentType) {
		t.Fatalf("wrong argument type: %v", err)
	}
	if _, err := supervisor.NamedDynamic[string](n, "sub").StartChild(ctx, "x"); !errors.Is(err, supervisor.ErrNotDynamic) {
		t.Fatalf("dynamic handle on a static supervisor: %v", err)
	}
	if err := supervisor.Named(n, "pool").TerminateChild(ctx, "x"); !errors.Is(err, supervisor.ErrDynamic) {
		t.Fatalf("by-id call on a dynamic supervisor: %v", err)
	}
	if _, err := supervisor.Named(n, "missing").WhichChildren(ctx); !errors.Is(err, process.NoProc) {
		t.Fatalf("a supervisor that does not exist: %v", err)
	}
}

// A transient child that finishes normally while the supervisor is still
// recording its start is not restarted: the supervisor sees its real exit,
// never a noproc from linking to it again (SUP-08).
func TestSUP08_TransientChildFinishingDuringItsStartIsNotRestarted(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		var starts atomic.Int64
		pool, err := supervisor.StartDynamic(ctx, n, supervisor.DynamicSpec[int]{
			Restart: supervisor.Transient, Intensity: 1, Period: time.Hour,
			Start: func(_ context.Context, sup *process.Process, _ int) (pid.Pid, error) {
				starts.Add(1)
				return sup.SpawnLink(func(*process.Process) error { return nil }, process.WithBackend(b))
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		// Each start has a bound of its own: five hundred Thread children
		// (an OS thread each) started one after another can take longer
		// than one bound over all of them on a loaded machine under -race.
		const jobs = 500
		for i := range jobs {
			ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
			_, err := pool.StartChild(ctx, i)
			cancel()
			if err != nil {
				t.Fatalf("start %d: %v", i, err)
			}
		}
		ctx = spawntest.Context(t)
		// The pool is still alive (no restart was counted) and has started
		// each job exactly once.
		if counts, err := pool.CountChildren(ctx); err != nil {
			t.Fatalf("count: %v (a restart was counted and the intensity exceeded?)", err)
		} else if counts.Active != 0 {
			spawntest.Eventually(t, "the finished jobs to be forgotten", func() bool {
				c, err := pool.CountChildren(ctx)
				return err == nil && c.Specs == 0
			})
		}
		if got := starts.Load(); got != jobs {
			t.Fatalf("%d starts for %d jobs", got, jobs)
		}
	})
}
