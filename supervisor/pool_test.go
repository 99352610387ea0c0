package supervisor_test

import (
	"fmt"
	"testing"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// plSize is the size the pools keep.
const plSize = 3

// plPool is the dynamic pool the recipes keep full: GenServer workers,
// each started with its number.
func plPool(name string) supervisor.DynamicSpec[int] {
	return supervisor.DynamicSpec[int]{
		Name:  name,
		Start: supervisor.DynamicGenServer(func(n int) *gcWorker { return &gcWorker{n: n} }),
	}
}

// plRefill is the recipe's refiller: a transient Func child that starts
// the pool's workers, then ends normally. Placed after the pool under
// RestForOne, it is started again whenever the pool is.
func plRefill(pool string) supervisor.ChildSpec {
	return supervisor.ChildSpec{ID: "refill", Restart: supervisor.Transient, Start: supervisor.Func(func(p *process.Process) error {
		workers := supervisor.NamedDynamic[int](p.Node(), pool)
		for n := range plSize {
			if _, err := workers.StartChild(p.Context(), n); err != nil {
				return err // a crash: the refiller is restarted and tries again
			}
		}
		return nil
	})}
}

// plStatic is the other recipe: a pool of a fixed size as a static
// supervisor of plSize children, which a restart starts again.
func plStatic() supervisor.Spec {
	spec := supervisor.Spec{Name: "pl-static"}
	for n := range plSize {
		spec.Children = append(spec.Children, supervisor.ChildSpec{
			ID:    fmt.Sprint("worker-", n),
			Start: supervisor.GenServer(func() *gcWorker { return &gcWorker{n: n} }),
		})
	}
	return spec
}

// TestPoolRecipes: a dynamic supervisor restarted by its parent comes back
// empty, as in OTP; the recipes of the package documentation keep a pool at
// its size across such a restart.
func TestPoolRecipes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		label    string
		children []supervisor.ChildSpec
		strategy supervisor.Strategy
		fill     bool // the test fills the pool itself
		after    int  // the pool's size after its restart
	}{
		{"no recipe: back empty", []supervisor.ChildSpec{
			{ID: "pool", Type: supervisor.SupervisorChild, Start: supervisor.DynamicSupervisor(plPool("pl-bare"))},
		}, supervisor.OneForOne, true, 0},
		{"a refiller after the pool under rest_for_one", []supervisor.ChildSpec{
			{ID: "pool", Type: supervisor.SupervisorChild, Start: supervisor.DynamicSupervisor(plPool("pl-dyn"))},
			plRefill("pl-dyn"),
		}, supervisor.RestForOne, false, plSize},
		{"a static supervisor of N children", []supervisor.ChildSpec{
			{ID: "pool", Type: supervisor.SupervisorChild, Start: supervisor.Supervisor(plStatic())},
		}, supervisor.OneForOne, false, plSize},
	} {
		t.Run(tc.label, func(t *testing.T) {
			t.Parallel()
			node, ctx := spawntest.NewNode(t), spawntest.Context(t)
			top, err := supervisor.Start(ctx, node, supervisor.Spec{Strategy: tc.strategy, Children: tc.children})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			pool := func() supervisor.Counts {
				t.Helper()
				cs, err := top.WhichChildren(ctx)
				if err != nil {
					t.Fatalf("WhichChildren: %v", err)
				}
				n, err := supervisor.At(node, cs[0].Pid).CountChildren(ctx)
				if err != nil {
					t.Fatalf("CountChildren: %v", err)
				}
				return n
			}
			if tc.fill {
				cs, err := top.WhichChildren(ctx)
				if err != nil {
					t.Fatalf("WhichChildren: %v", err)
				}
				for n := range plSize {
					if _, err := supervisor.DynamicAt[int](node, cs[0].Pid).StartChild(ctx, n); err != nil {
						t.Fatalf("StartChild: %v", err)
					}
				}
			}
			spawntest.Eventually(t, "the pool full", func() bool { return pool().Active == plSize })

			// The pool's supervisor dies; its parent restarts it.
			old := spawntest.WaitChild(t, top, "pool", pid.Pid{})
			spawntest.ExitAndWait(t, node, old, process.Kill)
			spawntest.WaitChild(t, top, "pool", old)
			if tc.after == 0 {
				if n := pool(); n.Active != 0 || n.Specs != 0 {
					t.Fatalf("the restarted pool has %+v; want it empty", n)
				}
				return
			}
			spawntest.Eventually(t, "the pool full again", func() bool { return pool().Active == tc.after })
		})
	}
}
