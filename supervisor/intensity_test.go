package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// imClockBase is a whole second of the injected clock.
var imClockBase = time.Unix(1_700_000_000, 0)

func TestSUP10_IntensityExceededTerminatesChildrenAndExitsShutdown(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		events := imEvents()
		clock := spawntest.NewClock(imClockBase) // stays still: every crash is in the window
		ref := imStart(t, n, supervisor.Spec{
			Strategy: supervisor.OneForOne, Intensity: 2, Period: 5 * time.Second, Clock: clock.Now,
			Children: []supervisor.ChildSpec{imSpec("a", b, events, false), imSpec("b", b, events, true)},
		})
		a := imExpect(t, events, "a", "init").Pid
		bPid := imExpect(t, events, "b", "init").Pid
		down := spawntest.WatchExit(t, n, ref.Pid())

		// Two crashes: two restarts.
		for i, reason := range []error{imErrBoom, process.Kill} {
			n.Exit(a, reason)
			next := imExpect(t, events, "a", "init").Pid
			if next == a {
				t.Fatalf("restart %d kept pid %v", i+1, a)
			}
			a = next
		}
		cs := imWhich(t, ref)
		if c := imChildOf(t, cs, "a"); c.Pid != a || c.Status != supervisor.Running {
			t.Fatalf("a after 2 restarts: %+v", c)
		}
		if c := imChildOf(t, cs, "b"); c.Pid != bPid {
			t.Fatalf("one_for_one touched b: %+v", c)
		}

		// The third crash: b is terminated with Shutdown, the supervisor
		// exits with Shutdown, a is not restarted.
		genserver.Named[imReq, string, imReq](n, "a").Cast(imReq{Op: "panic"})
		e := imExpect(t, events, "a", "terminate")
		var pe *process.PanicError
		if !errors.As(e.Reason, &pe) {
			t.Fatalf("a terminated with %v, want a panic", e.Reason)
		}
		imExpectTerminated(t, events, "b")
		if r := down.Wait(); !errors.Is(r, process.Shutdown) {
			t.Fatalf("supervisor exited with %v, want shutdown", r)
		}
		imNoEvents(t, events)
		imNoProcesses(t, n)
	})
}

func TestSUP11_IntensityZeroFirstCrashTakesTheSupervisorDown(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		events := imEvents()
		ref := imStart(t, n, supervisor.Spec{
			Intensity: 0, Period: 5 * time.Second,
			Children: []supervisor.ChildSpec{imSpec("a", b, events, false), imSpec("b", b, events, true)},
		})
		a := imExpect(t, events, "a", "init").Pid
		imExpect(t, events, "b", "init")
		down := spawntest.WatchExit(t, n, ref.Pid())
		n.Exit(a, imErrBoom)
		imExpectTerminated(t, events, "b")
		if r := down.Wait(); !errors.Is(r, process.Shutdown) {
			t.Fatalf("supervisor exited with %v, want shutdown", r)
		}
		imNoEvents(t, events) // a was not restarted
		imNoProcesses(t, n)
	})
}

// imCrashAt runs a one_for_one supervisor over one child with the given
// intensity and period, crashes the child at each clock time in turn, and
// returns the index of the crash after which the supervisor gave up (with
// Shutdown), or -1 if it restarted the child every time.
func imCrashAt(t testing.TB, n *process.Node, intensity int, period time.Duration, at []time.Time) int {
	t.Helper()
	events := imEvents()
	clock := spawntest.NewClock(at[0])
	ref := imStart(t, n, supervisor.Spec{Intensity: intensity, Period: period, Clock: clock.Now,
		Children: []supervisor.ChildSpec{imSpec("a", process.Async, events, false)}})
	cur := imExpect(t, events, "a", "init").Pid
	down := spawntest.WatchExit(t, n, ref.Pid())
	for i, when := range at {
		clock.Set(when)
		n.Exit(cur, imErrBoom)
		select {
		case e := <-events:
			if e.ID != "a" || e.Kind != "init" {
				t.Fatalf("crash %d: event %v", i, e)
			}
			cur = e.Pid
		case <-down.Done():
			if r := down.Wait(); !errors.Is(r, process.Shutdown) {
				t.Fatalf("crash %d: supervisor exited with %v, want shutdown", i, r)
			}
			imNoEvents(t, events)
			return i
		case <-time.After(spawntest.Timeout):
			t.Fatalf("crash %d: neither a restart nor an exit", i)
		}
	}
	if err := ref.Stop(spawntest.Context(t)); err != nil {
		t.Fatalf("stop: %v", err)
	}
	return -1
}

// imSUP12Cases: intensity 1, period 1 s; crash times from a whole second.
var imSUP12Cases = []struct {
	name     string
	at       []time.Duration
	escalate int // index of the crash that escalates, -1 for none
}{
	{"2100ms apart never escalate", imSecs(0, 2.1, 4.2, 6.3, 8.4), -1},
	{"2100ms apart from late in a second", imSecs(0.95, 3.05, 5.15, 7.25, 9.35), -1},
	{"0.5s and 1.6s are seconds 0 and 1: escalate", imSecs(0.5, 1.6), 1},
	{"0.9s and 2.0s are seconds 0 and 2: no escalation", imSecs(0.9, 2.0), -1},
	{"0.9s 2.0s 3.1s are seconds 0 2 3: the third escalates", imSecs(0.9, 2.0, 3.1), 2},
	{"inclusive edge: 0s and 1.999999999s", []time.Duration{0, 2*time.Second - 1}, 1},
	{"past the edge: 0.999999999s and 2s", []time.Duration{time.Second - 1, 2 * time.Second}, -1},
	{"same second", imSecs(0.1, 0.9), 1},
}

func imSecs(s ...float64) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, v := range s {
		out[i] = time.Duration(math.Round(v * float64(time.Second)))
	}
	return out
}

func imRunSUP12(t *testing.T, origin time.Time) {
	for _, tc := range imSUP12Cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			at := make([]time.Time, len(tc.at))
			for i, d := range tc.at {
				at[i] = origin.Add(d)
			}
			if got := imCrashAt(t, n, 1, time.Second, at); got != tc.escalate {
				t.Fatalf("crashes at %v: escalated at crash %d, want %d (-1: never)", tc.at, got, tc.escalate)
			}
		})
	}
}

// The whole seconds are those of the injected clock: a test that puts its
// clock on a whole second controls which second each crash falls in.
func TestSUP12_IntensityWindowCountsWholeSecondsInclusively(t *testing.T) {
	t.Parallel()
	imRunSUP12(t, imClockBase)
}

// The same table, measured from where the runtime's own whole seconds
// start (found by bisection): checks the inclusive whole-second rule
// independently of the origin the runtime counts from.
func TestSUP12_IntensityWindowRelativeToRuntimeSeconds(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	// A second starts in (lo, hi]. Crashes at lo and mid+1s fall in
	// adjacent seconds (and escalate) iff no second starts in (lo, mid].
	lo, hi := time.Duration(0), time.Second
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if imCrashAt(t, n, 1, time.Second, []time.Time{imClockBase.Add(lo), imClockBase.Add(mid + time.Second)}) == 1 {
			lo = mid
		} else {
			hi = mid
		}
	}
	t.Logf("the runtime's whole seconds start %v into the clock's seconds", hi%time.Second)
	imRunSUP12(t, imClockBase.Add(hi))
}

func TestSUP13_FailingRestartAttemptsCountAndEscalate(t *testing.T) {
	t.Parallel()
	const intensity = 3
	strategies := []supervisor.Strategy{supervisor.OneForOne, supervisor.OneForAll, supervisor.RestForOne}
	// setup starts a supervisor (intensity 3, still clock) over a, whose
	// start fails on attempts 2..failThrough, and b; then crashes a once.
	setup := func(t *testing.T, s supervisor.Strategy, b process.Backend, failThrough int32) (supervisor.Ref, *atomic.Int32, chan imEvent, *spawntest.ExitWatch, *process.Node) {
		n := spawntest.NewNode(t)
		events := imEvents()
		var attempts atomic.Int32
		start := func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
			k := attempts.Add(1)
			if k > 1 && k <= failThrough {
				return pid.Pid{}, fmt.Errorf("im: attempt %d: %w", k, imErrBoom)
			}
			ref, err := genserver.StartLink(ctx, sup, &imWorker{id: "a", events: events},
				genserver.WithName("a"), genserver.WithBackend(b))
			return ref.Pid(), err
		}
		clock := spawntest.NewClock(imClockBase)
		ref := imStart(t, n, supervisor.Spec{
			Strategy: s, Intensity: intensity, Period: 5 * time.Second, Clock: clock.Now,
			Children: []supervisor.ChildSpec{{ID: "a", Start: start}, imSpec("b", b, events, true)},
		})
		a := imExpect(t, events, "a", "init").Pid
		imExpect(t, events, "b", "init")
		down := spawntest.WatchExit(t, n, ref.Pid())
		n.Exit(a, imErrBoom)
		return ref, &attempts, events, down, n
	}
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
				t.Run("every attempt fails", func(t *testing.T) {
					_, attempts, events, down, n := setup(t, s, b, math.MaxInt32)
					if r := down.Wait(); !errors.Is(r, process.Shutdown) {
						t.Fatalf("supervisor exited with %v, want shutdown", r)
					}
					// The first start, then one attempt per allowed restart:
					// the restart that exceeds the intensity is not tried.
					if got := attempts.Load(); got != 1+intensity {
						t.Fatalf("%d start attempts, want %d", got, 1+intensity)
					}
					imExpectTerminated(t, events, "b") // once, whichever the strategy
					imNoEvents(t, events)
					imNoProcesses(t, n)
				})
				t.Run("attempts fail then succeed", func(t *testing.T) {
					ref, attempts, events, down, n := setup(t, s, b, intensity)
					var want []string
					if s != supervisor.OneForOne {
						want = []string{"terminate:b", "init:a", "init:b"}
					} else {
						want = []string{"init:a"}
					}
					var got []string
					for range want {
						e := imNext(t, events)
						got = append(got, e.Kind+":"+e.ID)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("events %v, want %v", got, want)
					}
					if got := attempts.Load(); got != 1+intensity {
						t.Fatalf("%d start attempts, want %d", got, 1+intensity)
					}
					for _, c := range imWhich(t, ref) {
						if c.Status != supervisor.Running {
							t.Fatalf("child %+v not running after the retries", c)
						}
					}
					// The failed attempts used up the intensity: one more
					// crash in the window escalates.
					n.Exit(imWhereIs(t, n, "a"), imErrBoom)
					if r := down.Wait(); !errors.Is(r, process.Shutdown) {
						t.Fatalf("supervisor exited with %v, want shutdown", r)
					}
					if got := attempts.Load(); got != 1+intensity {
						t.Fatalf("%d start attempts after the escalation, want %d", got, 1+intensity)
					}
					imExpectTerminated(t, events, "b")
					imNoEvents(t, events)
					imNoProcesses(t, n)
				})
			})
		})
	}
}
