package supervisor_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// hostileCtx is a context that fails the wait instead of letting it hang.
func hostileCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	t.Cleanup(cancel)
	return ctx
}

func hostileIdle(p *process.Process) error { <-p.Context().Done(); return nil }

// hostileLinked returns the first link of the process running start, its
// first child: what a start function can find to hand back by mistake.
func hostileFirstLink(sup *process.Process) pid.Pid {
	in, err := sup.Node().Info(sup.Self())
	if err != nil || len(in.Links) == 0 {
		return pid.Pid{}
	}
	return in.Links[0]
}

// TestHostile_StartFuncReturnsAWrongPid: a start function that returns the
// zero Pid, the supervisor's own Pid or the Pid of another of its children
// fails that child's start with a *StartChildError (wrapping ErrZeroPid or
// a *SpecError), at the supervisor's start, by StartChild and by a dynamic
// StartChild. The supervisor's own Pid used to be taken as a child's, and
// its Stop then waited for itself; a sibling's Pid made one process two
// children.
func TestHostile_StartFuncReturnsAWrongPid(t *testing.T) {
	wrong := []struct {
		name  string
		start supervisor.StartFunc
		want  error
	}{
		{"zero pid", func(context.Context, *process.Process) (pid.Pid, error) { return pid.Pid{}, nil }, process.ErrZeroPid},
		{"the supervisor's own pid", func(_ context.Context, sup *process.Process) (pid.Pid, error) { return sup.Self(), nil },
			supervisor.ErrInvalidSpec},
		{"a sibling's pid", func(_ context.Context, sup *process.Process) (pid.Pid, error) { return hostileFirstLink(sup), nil },
			supervisor.ErrInvalidSpec},
	}
	check := func(t *testing.T, err error, want error) {
		t.Helper()
		var sce *supervisor.StartChildError
		if !errors.As(err, &sce) || !errors.Is(err, want) {
			t.Fatalf("got %v, want a *StartChildError wrapping %v", err, want)
		}
	}
	for _, w := range wrong {
		t.Run("Start/"+w.name, func(t *testing.T) {
			n := spawntest.NewNode(t)
			_, err := supervisor.Start(hostileCtx(t), n, supervisor.Spec{Children: []supervisor.ChildSpec{
				{ID: "a", Start: supervisor.Func(hostileIdle)}, {ID: "b", Start: w.start}}})
			check(t, err, w.want)
			if ps := n.Processes(); len(ps) != 0 {
				t.Fatalf("%d processes left after a failed start", len(ps))
			}
		})
		t.Run("StartChild/"+w.name, func(t *testing.T) {
			n := spawntest.NewNode(t)
			ctx := hostileCtx(t)
			ref, err := supervisor.Start(ctx, n, supervisor.Spec{Children: []supervisor.ChildSpec{
				{ID: "a", Start: supervisor.Func(hostileIdle)}}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = ref.StartChild(ctx, supervisor.ChildSpec{ID: "b", Start: w.start})
			check(t, err, w.want)
			if children, err := ref.WhichChildren(ctx); err != nil || len(children) != 1 {
				t.Fatalf("children after: %v, %v; want only a", children, err)
			}
			if err := ref.Stop(ctx); err != nil {
				t.Fatalf("stop: %v", err)
			}
		})
		t.Run("Dynamic.StartChild/"+w.name, func(t *testing.T) {
			n := spawntest.NewNode(t)
			ctx := hostileCtx(t)
			first := true
			d, err := supervisor.StartDynamic(ctx, n, supervisor.DynamicSpec[int]{
				Start: func(ctx context.Context, sup *process.Process, _ int) (pid.Pid, error) {
					if first {
						first = false
						return sup.SpawnLink(hostileIdle)
					}
					return w.start(ctx, sup)
				}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.StartChild(ctx, 1); err != nil {
				t.Fatal(err)
			}
			_, err = d.StartChild(ctx, 2)
			check(t, err, w.want)
			if c, err := d.CountChildren(ctx); err != nil || c.Active != 1 {
				t.Fatalf("counts after: %+v, %v; want one active child", c, err)
			}
			if err := d.Stop(ctx); err != nil {
				t.Fatalf("stop: %v", err)
			}
		})
	}
}

// TestHostile_SupervisorReentrancy: a supervisor's own code (a start
// function, Spec.Init) calling that supervisor through the context it was
// given fails at once with ErrCallingSelf; a child calling its supervisor
// (Stop, TerminateChild of itself) returns instead of waiting for itself.
func TestHostile_SupervisorReentrancy(t *testing.T) {
	const name = "hostile-sup"
	cases := []struct {
		name string
		run  func(t *testing.T, n *process.Node)
	}{
		{"a start function calls its supervisor with its ctx", func(t *testing.T, n *process.Node) {
			inner := make(chan error, 1)
			ref, err := supervisor.Start(hostileCtx(t), n, supervisor.Spec{Name: name, Children: []supervisor.ChildSpec{{ID: "a",
				Start: func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
					_, err := supervisor.Named(sup.Node(), name).WhichChildren(ctx)
					inner <- err
					return sup.SpawnLink(hostileIdle)
				}}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := <-inner; !errors.Is(err, genserver.ErrCallingSelf) {
				t.Fatalf("inner WhichChildren = %v, want ErrCallingSelf", err)
			}
			if err := ref.Stop(hostileCtx(t)); err != nil {
				t.Fatal(err)
			}
		}},
		{"Spec.Init calls its supervisor with its ctx", func(t *testing.T, n *process.Node) {
			inner := make(chan error, 1)
			ref, err := supervisor.Start(hostileCtx(t), n, supervisor.Spec{Name: name,
				Init: func(ctx context.Context, sup *process.Process) error {
					_, err := supervisor.Named(sup.Node(), name).CountChildren(ctx)
					inner <- err
					return nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			if err := <-inner; !errors.Is(err, genserver.ErrCallingSelf) {
				t.Fatalf("inner CountChildren = %v, want ErrCallingSelf", err)
			}
			if err := ref.Stop(hostileCtx(t)); err != nil {
				t.Fatal(err)
			}
		}},
		{"a child stops its supervisor", func(t *testing.T, n *process.Node) {
			inner := make(chan error, 1)
			ready := make(chan supervisor.Ref, 1)
			ref, err := supervisor.Start(hostileCtx(t), n, supervisor.Spec{Children: []supervisor.ChildSpec{{ID: "a",
				Start: supervisor.Func(func(p *process.Process) error {
					r := <-ready
					inner <- r.Stop(context.Background())
					return nil
				})}}})
			if err != nil {
				t.Fatal(err)
			}
			ready <- ref
			if err := spawntest.Recv(t, inner); err != nil { // bounded: a hang fails
				t.Fatalf("inner Stop = %v", err)
			}
			spawntest.WaitExit(t, n, ref.Pid())
		}},
		{"a trapping child terminates itself through its supervisor", func(t *testing.T, n *process.Node) {
			inner := make(chan error, 1)
			ready := make(chan supervisor.Ref, 1)
			ref, err := supervisor.Start(hostileCtx(t), n, supervisor.Spec{Children: []supervisor.ChildSpec{{ID: "a",
				Shutdown: supervisor.Shutdown(100 * time.Millisecond),
				Start: supervisor.Func(func(p *process.Process) error {
					p.TrapExit(true)
					r := <-ready
					inner <- r.TerminateChild(context.Background(), "a")
					return nil
				})}}})
			if err != nil {
				t.Fatal(err)
			}
			ready <- ref
			if err := spawntest.Recv(t, inner); err != nil { // bounded: a hang fails
				t.Fatalf("inner TerminateChild = %v", err)
			}
			if c, err := ref.CountChildren(hostileCtx(t)); err != nil || c.Active != 0 {
				t.Fatalf("counts: %+v, %v; want the child terminated", c, err)
			}
			if err := ref.Stop(hostileCtx(t)); err != nil {
				t.Fatal(err)
			}
		}},
		{"Spec.Init panics", func(t *testing.T, n *process.Node) {
			_, err := supervisor.Start(hostileCtx(t), n, supervisor.Spec{
				Init: func(context.Context, *process.Process) error { panic("init") }})
			var pe *process.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("Start = %v, want a *process.PanicError", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("panicked: %v", v)
				}
			}()
			c.run(t, spawntest.NewNode(t))
		})
	}
}

// TestHostile_SupervisorStopRacesCalls: Stop from several goroutines
// while others call the supervisor and add children, static and dynamic.
// Every call returns by its deadline: with its answer, or with a *CallError
// wrapping NoProc or the supervisor's Shutdown; nothing is left behind.
func TestHostile_SupervisorStopRacesCalls(t *testing.T) {
	ok := func(err error) bool {
		var ce *supervisor.CallError
		return err == nil || errors.As(err, &ce) && (errors.Is(err, process.NoProc) || errors.Is(err, process.Shutdown) ||
			errors.Is(err, process.Normal))
	}
	for round := range 10 {
		n := spawntest.NewNode(t)
		ctx := hostileCtx(t)
		ref, err := supervisor.Start(ctx, n, supervisor.Spec{Children: []supervisor.ChildSpec{
			{ID: "a", Start: supervisor.Func(hostileIdle)}}})
		if err != nil {
			t.Fatal(err)
		}
		dyn, err := supervisor.StartDynamic(ctx, n, supervisor.DynamicSpec[int]{
			Start: func(_ context.Context, sup *process.Process, _ int) (pid.Pid, error) {
				return sup.SpawnLink(hostileIdle)
			}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		fail := func(what string, err error) {
			if !ok(err) {
				t.Errorf("round %d: %s: %v", round, what, err)
			}
		}
		for g := range 3 {
			wg.Go(func() {
				<-start
				for i := range 10 {
					_, err := ref.WhichChildren(ctx)
					fail("WhichChildren", err)
					_, err = ref.StartChild(ctx, supervisor.ChildSpec{ID: string(rune('b' + g*10 + i)), Start: supervisor.Func(hostileIdle)})
					if !errors.Is(err, supervisor.ErrAlreadyStarted) {
						fail("StartChild", err)
					}
					_, err = dyn.StartChild(ctx, i)
					fail("Dynamic.StartChild", err)
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				<-start
				fail("Stop", ref.Stop(ctx))
				fail("Dynamic.Stop", dyn.Stop(ctx))
			})
		}
		close(start)
		wg.Wait()
		spawntest.WaitExit(t, n, ref.Pid())
		spawntest.WaitExit(t, n, dyn.Pid())
		spawntest.Eventually(t, "every child gone", func() bool { return len(n.Processes()) == 0 })
	}
}
