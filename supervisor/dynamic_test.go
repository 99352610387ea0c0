package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// imDynStart is a dynamic template: a trapping imWorker "dyn" named after
// its argument.
func imDynStart(b process.Backend, events chan<- imEvent, onTerminate func(error)) func(context.Context, *process.Process, string) (pid.Pid, error) {
	return func(ctx context.Context, sup *process.Process, arg string) (pid.Pid, error) {
		ref, err := genserver.StartLink(ctx, sup,
			&imWorker{id: "dyn", arg: arg, trap: true, events: events, onTerminate: onTerminate},
			genserver.WithName(arg), genserver.WithBackend(b))
		return ref.Pid(), err
	}
}

func TestSUP06_DynamicSupervisorChildAdministration(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		events := imEvents()
		d, err := supervisor.StartDynamic(ctx, n, supervisor.DynamicSpec[string]{
			Start: imDynStart(b, events, nil), MaxChildren: 3, Intensity: 10, Period: 5 * time.Second,
		})
		if err != nil {
			t.Fatalf("StartDynamic: %v", err)
		}
		which := func() []supervisor.Child {
			t.Helper()
			cs, err := d.WhichChildren(ctx)
			if err != nil {
				t.Fatalf("WhichChildren: %v", err)
			}
			return cs
		}
		pidsOf := func(cs []supervisor.Child) []pid.Pid {
			var ps []pid.Pid
			for _, c := range cs {
				if c.ID == "" || c.Status != supervisor.Running || c.Type != supervisor.Worker {
					t.Fatalf("dynamic child %+v: want a label (its argument), running worker", c)
				}
				ps = append(ps, c.Pid)
			}
			return ps
		}
		call := func(name string) {
			t.Helper()
			got, err := genserver.Named[imReq, string, imReq](n, name).Call(ctx, imReq{Op: "ping"})
			if err != nil || got != "dyn/"+name {
				t.Fatalf("call %s = %q, %v; want dyn/%s", name, got, err, name)
			}
		}

		// StartChild hands its argument to the template.
		pids := map[string]pid.Pid{}
		for _, arg := range []string{"x", "y", "z"} {
			p, err := d.StartChild(ctx, arg)
			if err != nil || p.IsZero() {
				t.Fatalf("StartChild(%s) = %v, %v", arg, p, err)
			}
			if e := imExpect(t, events, "dyn", "init"); e.Arg != arg || e.Pid != p {
				t.Fatalf("started %+v, want arg %s pid %v", e, arg, p)
			}
			call(arg)
			pids[arg] = p
		}
		// MaxChildren.
		if _, err := d.StartChild(ctx, "w"); !errors.Is(err, supervisor.ErrMaxChildren) {
			t.Fatalf("StartChild over the max: %v, want ErrMaxChildren", err)
		}
		if _, ok := registry.Of(n).WhereIs("w"); ok {
			t.Fatal("a child over the max was started")
		}
		if got := pidsOf(which()); !slices.Equal(got, []pid.Pid{pids["x"], pids["y"], pids["z"]}) {
			t.Fatalf("children %v", got)
		}
		if c, err := d.CountChildren(ctx); err != nil || c != (supervisor.Counts{Specs: 3, Active: 3, Workers: 3}) {
			t.Fatalf("CountChildren = %+v, %v", c, err)
		}

		// TerminateChild by pid; a pid that is not a child is not found.
		down := spawntest.WatchExit(t, n, pids["x"])
		if err := d.TerminateChild(ctx, pids["x"]); err != nil {
			t.Fatalf("TerminateChild(x): %v", err)
		}
		if e := imExpect(t, events, "dyn", "terminate"); e.Arg != "x" || !errors.Is(e.Reason, process.Shutdown) {
			t.Fatalf("terminated %+v, want x with shutdown", e)
		}
		if r := down.Wait(); !errors.Is(r, process.Shutdown) {
			t.Fatalf("x exited with %v", r)
		}
		for _, p := range []pid.Pid{pids["x"], d.Pid(), {}} {
			if err := d.TerminateChild(ctx, p); !errors.Is(err, supervisor.ErrNotFound) {
				t.Fatalf("TerminateChild(%v): %v, want ErrNotFound", p, err)
			}
		}
		if got := pidsOf(which()); !slices.Equal(got, []pid.Pid{pids["y"], pids["z"]}) {
			t.Fatalf("children after terminate %v", got)
		}

		// A crashed child restarts with the same argument.
		n.Exit(pids["y"], process.Kill)
		e := imExpect(t, events, "dyn", "init")
		if e.Arg != "y" || e.Pid == pids["y"] {
			t.Fatalf("restarted %+v, want y with a new pid", e)
		}
		pids["y"] = e.Pid
		call("y")
		if got := pidsOf(which()); !slices.Equal(got, []pid.Pid{pids["y"], pids["z"]}) {
			t.Fatalf("children after the restart %v", got)
		}

		// Room for one more.
		if pids["w"], err = d.StartChild(ctx, "w"); err != nil {
			t.Fatalf("StartChild(w): %v", err)
		}
		imExpect(t, events, "dyn", "init")

		// Stopping the supervisor terminates every child with Shutdown.
		if err := d.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		var stopped []string
		for range 3 {
			e := imExpect(t, events, "dyn", "terminate")
			if !errors.Is(e.Reason, process.Shutdown) {
				t.Fatalf("%s terminated with %v", e.Arg, e.Reason)
			}
			stopped = append(stopped, e.Arg)
		}
		slices.Sort(stopped)
		if !slices.Equal(stopped, []string{"w", "y", "z"}) {
			t.Fatalf("terminated %v, want w y z", stopped)
		}
		imNoEvents(t, events)
		imNoProcesses(t, n)
	})
}

// Dynamic children are shut down all at once: each one's Terminate waits
// until all have entered theirs.
func TestSUP06_DynamicChildrenStopInParallel(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		const k = 3
		n := spawntest.NewNode(t)
		ctx := spawntest.Context(t)
		var entered, met atomic.Int32
		all := make(chan struct{})
		onTerminate := func(error) {
			if entered.Add(1) == k {
				close(all)
			}
			select {
			case <-all:
				met.Add(1)
			case <-time.After(2 * time.Second): // short real bound: a serial shutdown
			}
		}
		d, err := supervisor.StartDynamic(ctx, n, supervisor.DynamicSpec[string]{Start: imDynStart(b, nil, onTerminate)})
		if err != nil {
			t.Fatalf("StartDynamic: %v", err)
		}
		for _, arg := range []string{"p1", "p2", "p3"} {
			if _, err := d.StartChild(ctx, arg); err != nil {
				t.Fatalf("StartChild(%s): %v", arg, err)
			}
		}
		if err := d.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if got := met.Load(); got != k {
			t.Fatalf("%d of %d children were terminating at the same time", got, k)
		}
		imNoProcesses(t, n)
	})
}
