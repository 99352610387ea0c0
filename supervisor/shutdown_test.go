package supervisor_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// stratRelease returns a channel to hold Terminate callbacks on and a
// function that releases them (also run at cleanup, before the node stops).
func stratRelease(t testing.TB) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	release := sync.OnceFunc(func() { close(ch) })
	t.Cleanup(release)
	return ch, release
}

func TestSUP02_ShutdownInReverseStartOrder(t *testing.T) {
	t.Parallel()
	parentGone := errors.New("parent gone")
	ways := []struct {
		name string
		// start starts the supervisor and returns its pid and a function
		// that stops it.
		start     func(t *testing.T, n *process.Node, spec supervisor.Spec) (pid.Pid, func())
		supReason error
	}{
		{"ref_stop", func(t *testing.T, n *process.Node, spec supervisor.Spec) (pid.Pid, func()) {
			ref := imStart(t, n, spec)
			return ref.Pid(), func() {
				if err := ref.Stop(spawntest.Context(t)); err != nil {
					t.Errorf("Stop: %v", err)
				}
			}
		}, process.Shutdown},
		{"exit_shutdown", func(t *testing.T, n *process.Node, spec supervisor.Spec) (pid.Pid, func()) {
			ref := imStart(t, n, spec)
			return ref.Pid(), func() {
				if err := n.Exit(ref.Pid(), process.Shutdown); err != nil {
					t.Errorf("Exit: %v", err)
				}
			}
		}, process.Shutdown},
		{"parent_exits", func(t *testing.T, n *process.Node, spec supervisor.Spec) (pid.Pid, func()) {
			probe := spawntest.NewProbe(t, n)
			var ref supervisor.Ref
			var err error
			probe.Do(func(p *process.Process) error {
				ref, err = supervisor.StartLink(spawntest.Context(t), p, spec)
				return nil
			})
			if err != nil {
				t.Fatalf("StartLink: %v", err)
			}
			return ref.Pid(), func() { probe.Exit(parentGone) }
		}, parentGone},
	}
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			t.Parallel()
			spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
				log := newStratLog()
				sup, stop := way.start(t, n, supervisor.Spec{Backend: b, Children: []supervisor.ChildSpec{
					stratChild("a", log, b, stratTrap),
					stratChild("b", log, b, stratTrap),
					stratChild("c", log, b, stratTrap),
				}})
				starts := stratExpect(t, log, "start:a", "start:b", "start:c")
				exits := make([]*spawntest.ExitWatch, len(starts))
				for i, e := range starts {
					exits[i] = spawntest.WatchExit(t, n, e.Pid)
				}
				supExit := spawntest.WatchExit(t, n, sup)
				stop()
				if r := supExit.Wait(); !errors.Is(r, way.supReason) {
					t.Errorf("supervisor exited with %v, want %v", r, way.supReason)
				}
				evs := stratExpect(t, log, "start:a", "start:b", "start:c", "stop:c", "stop:b", "stop:a")
				for _, e := range evs[3:] {
					if !errors.Is(e.Reason, process.Shutdown) {
						t.Errorf("%v with %v, want shutdown", e, e.Reason)
					}
				}
				for i, e := range starts {
					if r := exits[i].Wait(); !errors.Is(r, process.Shutdown) {
						t.Errorf("%s exited with %v, want shutdown", e.ID, r)
					}
				}
			})
		})
	}
}

func TestSUP14_BrutalKillKillsWithoutTerminate(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"stop", "terminate_child"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
				ctx := spawntest.Context(t)
				log := newStratLog()
				ref := imStart(t, n, supervisor.Spec{Backend: b, Children: []supervisor.ChildSpec{
					stratChild("k", log, b, stratTrap, stratShutdown(supervisor.BrutalKill)),
				}})
				k := stratExpect(t, log, "start:k")[0].Pid
				exit := spawntest.WatchExit(t, n, k)
				switch how {
				case "stop":
					if err := ref.Stop(ctx); err != nil {
						t.Fatalf("Stop: %v", err)
					}
				case "terminate_child":
					if err := ref.TerminateChild(ctx, "k"); err != nil {
						t.Fatalf("TerminateChild: %v", err)
					}
				}
				if r := exit.Wait(); !errors.Is(r, process.Killed) {
					t.Fatalf("k exited with %v, want killed", r)
				}
				if evs := log.snapshot(); len(evs) != 1 {
					t.Fatalf("Terminate ran: %v", stratNames(evs))
				}
				if how == "terminate_child" {
					cs := imWhich(t, ref)
					if len(cs) != 1 || cs[0].Status != supervisor.NotRunning {
						t.Fatalf("WhichChildren = %+v", cs)
					}
				}
			})
		})
	}
}

func TestSUP15_ShutdownTimeoutThenKill(t *testing.T) {
	t.Parallel()
	const d = 200 * time.Millisecond
	for _, how := range []string{"stop", "terminate_child"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
				ctx := spawntest.Context(t)
				hold, release := stratRelease(t)
				log := newStratLog()
				// Stopped in reverse: stubborn first, then good.
				ref := imStart(t, n, supervisor.Spec{Backend: b, Children: []supervisor.ChildSpec{
					stratChild("good", log, b, stratTrap, stratShutdown(supervisor.Shutdown(d))),
					stratChild("stubborn", log, b, stratHold(hold), stratShutdown(supervisor.Shutdown(d))),
				}})
				starts := stratExpect(t, log, "start:good", "start:stubborn")
				goodExit, stubbornExit := spawntest.WatchExit(t, n, starts[0].Pid), spawntest.WatchExit(t, n, starts[1].Pid)
				begin := time.Now()
				var err error
				if how == "stop" {
					err = ref.Stop(ctx)
				} else {
					err = ref.TerminateChild(ctx, "stubborn")
				}
				took := time.Since(begin)
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				t.Logf("%s took %v (d = %v)", how, took, d)
				if took < d {
					t.Errorf("%s took %v, less than the shutdown timeout %v", how, took, d)
				}
				if r := stubbornExit.Wait(); !errors.Is(r, process.Killed) {
					t.Errorf("stubborn exited with %v, want killed", r)
				}
				want := []string{"start:good", "start:stubborn", "stop:stubborn"}
				if how == "stop" {
					want = append(want, "stop:good")
				}
				evs := stratExpect(t, log, want...)
				for _, e := range evs[2:] {
					if !errors.Is(e.Reason, process.Shutdown) {
						t.Errorf("%v with %v, want shutdown first", e, e.Reason)
					}
				}
				if how == "stop" {
					if r := goodExit.Wait(); !errors.Is(r, process.Shutdown) {
						t.Errorf("good exited with %v, want shutdown", r)
					}
				} else if !n.Alive(starts[0].Pid) {
					t.Errorf("good was stopped by TerminateChild(stubborn)")
				}
				release()
			})
		})
	}
}

func TestSUP16_ChildSpecDefaults(t *testing.T) {
	t.Parallel()
	if supervisor.DefaultWorkerShutdown != supervisor.Shutdown(5*time.Second) {
		t.Errorf("DefaultWorkerShutdown = %v, want 5s", time.Duration(supervisor.DefaultWorkerShutdown))
	}
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		log := newStratLog()
		ref := imStart(t, n, supervisor.Spec{Backend: b})
		table := []struct {
			spec    supervisor.ChildSpec
			restart supervisor.Restart
			typ     supervisor.ChildType
		}{
			{stratChild("plain", log, b), supervisor.Permanent, supervisor.Worker},
			{stratChild("transient", log, b, stratRestart(supervisor.Transient)), supervisor.Transient, supervisor.Worker},
			{stratChild("temporary", log, b, stratRestart(supervisor.Temporary)), supervisor.Temporary, supervisor.Worker},
			{supervisor.ChildSpec{ID: "sub", Type: supervisor.SupervisorChild,
				Start: supervisor.Supervisor(supervisor.Spec{Backend: b})}, supervisor.Permanent, supervisor.SupervisorChild},
		}
		for _, row := range table {
			if _, err := ref.StartChild(ctx, row.spec); err != nil {
				t.Fatalf("StartChild(%s): %v", row.spec.ID, err)
			}
		}
		cs := imWhich(t, ref)
		if len(cs) != len(table) {
			t.Fatalf("WhichChildren = %+v", cs)
		}
		for i, row := range table {
			c := cs[i]
			if c.ID != row.spec.ID || c.Restart != row.restart || c.Type != row.typ || c.Status != supervisor.Running {
				t.Errorf("child %d = %+v, want id %s restart %v type %v running", i, c, row.spec.ID, row.restart, row.typ)
			}
		}
		counts, err := ref.CountChildren(ctx)
		if err != nil || counts != (supervisor.Counts{Specs: 4, Active: 4, Supervisors: 1, Workers: 3}) {
			t.Errorf("CountChildren = %+v, %v", counts, err)
		}
	})
}

func TestSUP16_DefaultShutdownWaitsForWorkersAndSubtrees(t *testing.T) {
	t.Parallel()
	const d = 200 * time.Millisecond
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		hold, release := stratRelease(t)
		log := newStratLog()
		// sub (a supervisor with the default shutdown) takes at least d to
		// stop: its child ignores the shutdown and is killed after d. The
		// worker w (default shutdown) takes d in Terminate.
		ref := imStart(t, n, supervisor.Spec{Backend: b, Children: []supervisor.ChildSpec{
			stratChild("w", log, b, stratSlow(d)),
			{ID: "sub", Type: supervisor.SupervisorChild, Start: supervisor.Supervisor(supervisor.Spec{
				Backend: b, Children: []supervisor.ChildSpec{
					stratChild("g", log, b, stratHold(hold), stratShutdown(supervisor.Shutdown(d))),
				},
			})},
		}})
		stratExpect(t, log, "start:w", "start:g")
		pids := stratPids(t, ref, "w", "sub")
		wExit, subExit := spawntest.WatchExit(t, n, pids["w"]), spawntest.WatchExit(t, n, pids["sub"])
		begin := time.Now()
		if err := ref.Stop(spawntest.Context(t)); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		took := time.Since(begin)
		t.Logf("stop took %v", took)
		if r := subExit.Wait(); !errors.Is(r, process.Shutdown) {
			t.Errorf("sub exited with %v, want shutdown (waited for, not killed)", r)
		}
		if r := wExit.Wait(); !errors.Is(r, process.Shutdown) {
			t.Errorf("w exited with %v, want shutdown (given time, not killed)", r)
		}
		evs := stratExpect(t, log, "start:w", "start:g", "stop:g", "stop:w")
		for _, e := range evs[2:] {
			if !errors.Is(e.Reason, process.Shutdown) {
				t.Errorf("%v with %v, want shutdown", e, e.Reason)
			}
		}
		if took < 2*d {
			t.Errorf("stop took %v, less than the %v its children need", took, 2*d)
		}
		release()
	})
}

func TestSUP16_InvalidSpecsStartNothing(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	start := func(context.Context, *process.Process) (pid.Pid, error) {
		calls.Add(1)
		return pid.Pid{}, supervisor.ErrIgnore
	}
	good := supervisor.ChildSpec{ID: "good", Start: start}
	childCases := []struct {
		name string
		spec supervisor.ChildSpec
	}{
		{"missing_id", supervisor.ChildSpec{Start: start}},
		{"missing_start", supervisor.ChildSpec{ID: "x"}},
		{"invalid_restart", supervisor.ChildSpec{ID: "x", Start: start, Restart: supervisor.Temporary + 1}},
		{"invalid_type", supervisor.ChildSpec{ID: "x", Start: start, Type: supervisor.SupervisorChild + 1}},
		{"invalid_shutdown", supervisor.ChildSpec{ID: "x", Start: start, Shutdown: supervisor.BrutalKill - 1}},
	}
	cases := []struct {
		name string
		spec supervisor.Spec
	}{
		{"duplicate_id", supervisor.Spec{Children: []supervisor.ChildSpec{good, {ID: "good", Start: start}}}},
		{"invalid_strategy", supervisor.Spec{Strategy: supervisor.RestForOne + 1, Children: []supervisor.ChildSpec{good}}},
		{"negative_intensity", supervisor.Spec{Intensity: -1, Period: 5 * time.Second, Children: []supervisor.ChildSpec{good}}},
		{"period_under_a_second", supervisor.Spec{Intensity: 1, Period: 500 * time.Millisecond, Children: []supervisor.ChildSpec{good}}},
		{"negative_period", supervisor.Spec{Intensity: 1, Period: -5 * time.Second, Children: []supervisor.ChildSpec{good}}},
	}
	for _, c := range childCases {
		cases = append(cases, struct {
			name string
			spec supervisor.Spec
		}{c.name, supervisor.Spec{Children: []supervisor.ChildSpec{good, c.spec}}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			spec := tc.spec
			spec.Name = "sup16"
			before := calls.Load()
			_, err := supervisor.Start(ctx, n, spec)
			stratSpecError(t, err)
			probe := spawntest.NewProbe(t, n)
			probe.Do(func(p *process.Process) error {
				_, err = supervisor.StartLink(ctx, p, spec)
				return nil
			})
			stratSpecError(t, err)
			if got := calls.Load() - before; got != 0 {
				t.Errorf("%d start functions ran", got)
			}
			if ps := n.Processes(); len(ps) != 1 || ps[0] != probe.Pid() {
				t.Errorf("processes = %v, want only the probe", ps)
			}
			if p, ok := registry.Of(n).WhereIs("sup16"); ok {
				t.Errorf("name registered to %v", p)
			}
		})
	}
	// StartChild rejects the same child specs and keeps nothing.
	t.Run("start_child", func(t *testing.T) {
		n := spawntest.NewNode(t)
		ctx := spawntest.Context(t)
		ref := imStart(t, n, supervisor.Spec{})
		for _, c := range childCases {
			before := calls.Load()
			_, err := ref.StartChild(ctx, c.spec)
			stratSpecError(t, err)
			if got := calls.Load() - before; got != 0 {
				t.Errorf("%s: %d start functions ran", c.name, got)
			}
			if counts, err := ref.CountChildren(ctx); err != nil || counts != (supervisor.Counts{}) {
				t.Errorf("%s: CountChildren = %+v, %v", c.name, counts, err)
			}
		}
		if ps := n.Processes(); len(ps) != 1 || ps[0] != ref.Pid() {
			t.Errorf("processes = %v, want only the supervisor", ps)
		}
	})
}

// stratSpecError checks that err is a *SpecError.
func stratSpecError(t testing.TB, err error) {
	t.Helper()
	var se *supervisor.SpecError
	if !errors.As(err, &se) || !errors.Is(err, supervisor.ErrInvalidSpec) {
		t.Fatalf("err = %v, want a *SpecError (ErrInvalidSpec)", err)
	}
}
