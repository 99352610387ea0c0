package supervisor_test

import (
	"errors"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// stratExit is a way for a child to exit, and the reason it must show.
type stratExit struct {
	name    string
	trigger func(t testing.TB, n *process.Node, p pid.Pid)
	check   func(reason error) bool
}

// stratExits are the exits the restart tests go through.
var stratExits = map[string]stratExit{
	"normal": {"normal",
		func(t testing.TB, n *process.Node, p pid.Pid) { stratSend(t, n, p, stratCmd{Exit: process.Normal}) },
		func(r error) bool { return errors.Is(r, process.Normal) }},
	"shutdown": {"shutdown",
		func(t testing.TB, n *process.Node, p pid.Pid) { stratSend(t, n, p, stratCmd{Exit: process.Shutdown}) },
		func(r error) bool { return errors.Is(r, process.Shutdown) }},
	"shutdown_with": {"shutdown_with",
		func(t testing.TB, n *process.Node, p pid.Pid) {
			stratSend(t, n, p, stratCmd{Exit: process.ShutdownWith(stratBoom)})
		},
		func(r error) bool {
			var se *process.ShutdownError
			return errors.Is(r, process.Shutdown) && errors.As(r, &se) && se.Cause == stratBoom
		}},
	"boom": {"boom",
		func(t testing.TB, n *process.Node, p pid.Pid) { stratSend(t, n, p, stratCmd{Exit: stratBoom}) },
		func(r error) bool { return errors.Is(r, stratBoom) }},
	"panic": {"panic",
		func(t testing.TB, n *process.Node, p pid.Pid) { stratSend(t, n, p, stratCmd{Crash: true}) },
		func(r error) bool { var pe *process.PanicError; return errors.As(r, &pe) }},
	"killed": {"killed",
		func(t testing.TB, n *process.Node, p pid.Pid) {
			if err := n.Exit(p, process.Kill); err != nil {
				t.Fatalf("kill %v: %v", p, err)
			}
		},
		func(r error) bool { return errors.Is(r, process.Killed) }},
}

// stratEnd makes child p exit as e says and checks its reason.
func stratEnd(t testing.TB, n *process.Node, p pid.Pid, e stratExit) {
	t.Helper()
	done := spawntest.WatchExit(t, n, p)
	e.trigger(t, n, p)
	if r := done.Wait(); !e.check(r) {
		t.Fatalf("%s: child exited with %v", e.name, r)
	}
}

// stratStarts returns the start events in the log.
func stratStarts(l *stratLog) []stratEvent {
	var out []stratEvent
	for _, e := range l.snapshot() {
		if e.Kind == "start" {
			out = append(out, e)
		}
	}
	return out
}

// stratWaitStart waits for the k-th start event (1-based).
func stratWaitStart(t testing.TB, l *stratLog, k int) stratEvent {
	t.Helper()
	for n := 1; ; n++ {
		l.wait(t, n)
		if s := stratStarts(l); len(s) >= k {
			return s[k-1]
		}
	}
}

// stratExpectRestarted checks that child id was restarted as pid p: the
// only child, running, and p is not old.
func stratExpectRestarted(t testing.TB, n *process.Node, ref supervisor.Ref, id string, old, p pid.Pid) {
	t.Helper()
	cs := imWhich(t, ref)
	if len(cs) != 1 || cs[0].ID != id || cs[0].Pid != p || cs[0].Status != supervisor.Running {
		t.Fatalf("WhichChildren = %+v, want %s running as %v", cs, id, p)
	}
	if p == old || !n.Alive(p) {
		t.Fatalf("restarted pid %v (old %v) is not a new live process", p, old)
	}
}

// stratExpectStopped waits until the supervisor has handled the exit of its
// only child id and checks it was not restarted: the spec is kept without a
// process (a restart would be done in the same step, so it never shows).
func stratExpectStopped(t testing.TB, ref supervisor.Ref, log *stratLog, id string) {
	t.Helper()
	ctx := spawntest.Context(t)
	spawntest.Eventually(t, id+" not running", func() bool {
		cs, err := ref.WhichChildren(ctx)
		return err == nil && len(cs) == 1 && cs[0].Status == supervisor.NotRunning
	})
	cs := imWhich(t, ref)
	if cs[0].ID != id || !cs[0].Pid.IsZero() {
		t.Fatalf("WhichChildren = %+v", cs)
	}
	counts, err := ref.CountChildren(ctx)
	if err != nil || counts != (supervisor.Counts{Specs: 1, Workers: 1}) {
		t.Fatalf("CountChildren = %+v, %v; want 1 spec, 0 active", counts, err)
	}
	if s := stratStarts(log); len(s) != 1 {
		t.Fatalf("restarted: starts %v", stratNames(s))
	}
}

func TestSUP07_PermanentChildRestartsOnAnyExit(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		log := newStratLog()
		ref := imStart(t, n, supervisor.Spec{
			Intensity: 10, Period: 5 * time.Second, Backend: b,
			Children: []supervisor.ChildSpec{stratChild("p", log, b)},
		})
		cur := stratWaitStart(t, log, 1).Pid
		for i, name := range []string{"normal", "shutdown", "shutdown_with", "boom", "panic", "killed"} {
			stratEnd(t, n, cur, stratExits[name])
			next := stratWaitStart(t, log, i+2).Pid
			stratExpectRestarted(t, n, ref, "p", cur, next)
			cur = next
		}
	})
}

func TestSUP08_TransientChildRestartsOnlyOnAbnormalExit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		exit    string
		restart bool
	}{
		{"normal", false},
		{"shutdown", false},
		{"shutdown_with", false},
		{"boom", true},
		{"panic", true},
		{"killed", true},
	}
	for _, tc := range cases {
		t.Run(tc.exit, func(t *testing.T) {
			t.Parallel()
			spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
				log := newStratLog()
				ref := imStart(t, n, supervisor.Spec{Backend: b, Children: []supervisor.ChildSpec{
					stratChild("t", log, b, stratRestart(supervisor.Transient)),
				}})
				old := stratWaitStart(t, log, 1).Pid
				stratEnd(t, n, old, stratExits[tc.exit])
				if !tc.restart {
					stratExpectStopped(t, ref, log, "t")
					return
				}
				next := stratWaitStart(t, log, 2).Pid
				stratExpectRestarted(t, n, ref, "t", old, next)
				if cs := imWhich(t, ref); cs[0].Restart != supervisor.Transient {
					t.Errorf("restart type %v, want transient", cs[0].Restart)
				}
			})
		})
	}
}

func TestSUP09_TemporaryChildIsNeverRestartedAndItsSpecIsRemoved(t *testing.T) {
	t.Parallel()
	for _, exit := range []string{"normal", "shutdown", "shutdown_with", "boom", "panic", "killed"} {
		t.Run(exit, func(t *testing.T) {
			t.Parallel()
			spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
				for _, how := range []string{"spec", "start_child"} {
					t.Run(how, func(t *testing.T) {
						n := spawntest.NewNode(t)
						ctx := spawntest.Context(t)
						log := newStratLog()
						tmp := stratChild("tmp", log, b, stratRestart(supervisor.Temporary))
						spec := supervisor.Spec{Backend: b}
						if how == "spec" {
							spec.Children = []supervisor.ChildSpec{tmp}
						}
						ref := imStart(t, n, spec)
						if how == "start_child" {
							if _, err := ref.StartChild(ctx, tmp); err != nil {
								t.Fatalf("StartChild: %v", err)
							}
						}
						old := stratWaitStart(t, log, 1).Pid
						if cs := imWhich(t, ref); len(cs) != 1 || cs[0].Pid != old || cs[0].Restart != supervisor.Temporary {
							t.Fatalf("WhichChildren before = %+v", cs)
						}
						stratEnd(t, n, old, stratExits[exit])
						spawntest.Eventually(t, "temporary spec removed", func() bool {
							cs, err := ref.WhichChildren(ctx)
							return err == nil && len(cs) == 0
						})
						counts, err := ref.CountChildren(ctx)
						if err != nil || counts != (supervisor.Counts{}) {
							t.Fatalf("CountChildren = %+v, %v; want all zero", counts, err)
						}
						if s := stratStarts(log); len(s) != 1 {
							t.Fatalf("restarted: starts %v", stratNames(s))
						}
						// The id is free again.
						if _, err := ref.RestartChild(ctx, "tmp"); !errors.Is(err, supervisor.ErrNotFound) {
							t.Fatalf("RestartChild after exit: %v, want ErrNotFound", err)
						}
					})
				}
			})
		})
	}
}
