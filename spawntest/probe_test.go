package spawntest_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

var errBoom = errors.New("boom")

func TestProbe_DoRunsInsideTheProbe(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, node *process.Node, b process.Backend) {
		pr := spawntest.NewProbe(t, node, process.WithBackend(b), process.WithName("probe"))
		var self pid.Pid
		var name string
		pr.Do(func(p *process.Process) error { self, name = p.Self(), p.Name(); return nil })
		if self != pr.Pid() || name != "probe" {
			t.Fatalf("Do ran in %v named %q, want the probe %v named probe", self, name, pr.Pid())
		}
		if pr.Node() != node {
			t.Fatal("Node is not the probe's node")
		}
	})
}

func TestProbe_SelectiveReceive(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	pr := spawntest.NewProbe(t, node)
	for _, m := range []any{"a", 1, "b", 2, 3.5} {
		if err := node.Send(pr.Pid(), m); err != nil {
			t.Fatal(err)
		}
	}
	if got := spawntest.Expect[int](t, pr); got != 1 {
		t.Fatalf("Expect[int] = %d, want 1", got)
	}
	if got := spawntest.ExpectMatch(t, pr, func(n int) bool { return n > 1 }); got != 2 {
		t.Fatalf("ExpectMatch(int > 1) = %d, want 2", got)
	}
	if got := spawntest.Expect[float64](t, pr); got != 3.5 {
		t.Fatalf("Expect[float64] = %v, want 3.5", got)
	}
	if got := pr.Receive(); got != "a" {
		t.Fatalf("Receive = %v, want a", got)
	}
	if got := pr.Flush(); fmt.Sprint(got) != "[b]" {
		t.Fatalf("Flush = %v, want [b]", got)
	}
	pr.ExpectEmpty()
	if got := pr.Flush(); len(got) != 0 {
		t.Fatalf("Flush of an empty mailbox = %v", got)
	}
}

// Expect waits for a message that arrives after it starts waiting.
func TestProbe_ExpectWaitsForALateMessage(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	pr := spawntest.NewProbe(t, node)
	sender := spawntest.NewProbe(t, node)
	sender.Do(func(p *process.Process) error {
		_, err := p.SendAfter(pr.Pid(), "late", time.Millisecond)
		return err
	})
	if got := spawntest.Expect[string](t, pr); got != "late" {
		t.Fatalf("Expect[string] = %q, want late", got)
	}
}

func TestProbe_SendLinkMonitorTrap(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, node *process.Node, b process.Backend) {
		a := spawntest.NewProbe(t, node, process.WithBackend(b))
		c := spawntest.NewProbe(t, node, process.WithBackend(b))

		a.Send(c.Pid(), "hello")
		if got := spawntest.Expect[string](t, c); got != "hello" {
			t.Fatalf("got %q, want hello", got)
		}

		a.TrapExit(true)
		a.Link(c.Pid())
		ref := a.Monitor(c.Pid())
		c.Exit(errBoom)
		if d := a.ExpectDown(ref); d.Pid != c.Pid() || !errors.Is(d.Reason, errBoom) {
			t.Fatalf("Down %+v, want %v exiting with boom", d, c.Pid())
		}
		if e := a.ExpectExit(c.Pid()); !errors.Is(e.Reason, errBoom) {
			t.Fatalf("Exit %+v, want boom", e)
		}
		a.ExpectEmpty()

		// After Unlink, a partner's death sends nothing.
		d := spawntest.NewProbe(t, node, process.WithBackend(b))
		a.Link(d.Pid())
		a.Unlink(d.Pid())
		d.Exit(errBoom)
		a.ExpectEmpty()
	})
}

func TestProbe_SpawnLinkAndSpawnMonitor(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	parent := spawntest.NewProbe(t, node)
	linked := parent.SpawnLink()
	monitored, ref := parent.SpawnMonitor()

	var links []pid.Pid
	linked.Do(func(p *process.Process) error {
		info, err := node.Info(p.Self())
		links = info.Links
		return err
	})
	if len(links) != 1 || links[0] != parent.Pid() {
		t.Fatalf("the linked child's links %v, want [%v]", links, parent.Pid())
	}

	monitored.Exit(errBoom)
	if d := parent.ExpectDown(ref); !errors.Is(d.Reason, errBoom) {
		t.Fatalf("Down %+v, want boom", d)
	}
	// The parent does not trap exits: the linked child dies with it.
	parent.Exit(errBoom)
	if r := linked.WaitExit(); !errors.Is(r, errBoom) {
		t.Fatalf("the linked child exited with %v, want boom", r)
	}
}

func TestProbe_ExitAndWaitExit(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	for _, tc := range []struct {
		name   string
		reason error
		want   func(error) bool
	}{
		{"nil is normal", nil, process.IsNormal},
		{"an error", errBoom, func(r error) bool { return errors.Is(r, errBoom) }},
	} {
		pr := spawntest.NewProbe(t, node)
		pr.Exit(tc.reason)
		if node.Alive(pr.Pid()) {
			t.Fatalf("%s: alive after Exit", tc.name)
		}
		if r := pr.WaitExit(); !tc.want(r) {
			t.Fatalf("%s: exited with %v", tc.name, r)
		}
	}
}

func TestProbe_AdoptDrivesAProbeSpawnedElsewhere(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	p, err := node.Spawn(spawntest.ProbeLoop)
	if err != nil {
		t.Fatal(err)
	}
	pr := spawntest.Adopt(t, node, p)
	pr.Send(p, "to myself")
	if got := spawntest.Expect[string](t, pr); got != "to myself" {
		t.Fatalf("got %q", got)
	}
	if !pr.TryDo(spawntest.Timeout, func(*process.Process) error { return nil }) {
		t.Fatal("TryDo on a live probe reported false")
	}
	w := spawntest.WatchExit(t, node, p)
	pr.Do(func(*process.Process) error { return errBoom })
	if r := w.Wait(); !errors.Is(r, errBoom) {
		t.Fatalf("exit %v, want boom", r)
	}
	if pr.TryDo(spawntest.Timeout, func(*process.Process) error { return nil }) {
		t.Fatal("TryDo on a dead probe reported true")
	}
	// Adopted, the probe has no record of its exit: the reason is gone.
	if r := pr.WaitExit(); !errors.Is(r, process.NoProc) {
		t.Fatalf("WaitExit of a dead adopted probe = %v, want noproc", r)
	}
}

// A probe is invisible in process.Info: no link, no monitor of its own.
func TestProbe_AddsNothingToInfo(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	pr := spawntest.NewProbe(t, node)
	child, _ := spawntest.NewProbe(t, node).SpawnMonitor()
	adopted := spawntest.Adopt(t, node, child.Pid())
	for _, p := range []*spawntest.Probe{pr, adopted} {
		p.Do(func(*process.Process) error { return nil })
		info, err := node.Info(p.Pid())
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Links) != 0 || len(info.Monitors) != 0 {
			t.Fatalf("Info of a probe: links %v, monitors %v, want none", info.Links, info.Monitors)
		}
	}
	if info, _ := node.Info(pr.Pid()); len(info.MonitoredBy) != 0 {
		t.Fatalf("Info of a probe: monitored by %v, want nobody", info.MonitoredBy)
	}
}

// A step that panics ends the probe with the panic, as the runtime would.
func TestProbe_PanicInAStepIsTheExitReason(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	pr := spawntest.NewProbe(t, node)
	if pr.TryDo(spawntest.Timeout, func(*process.Process) error { panic("oops") }) {
		t.Fatal("TryDo of a panicking step reported true")
	}
	var pe *process.PanicError
	if r := pr.WaitExit(); !errors.As(r, &pe) || pe.Value != "oops" || len(pe.Stack) == 0 {
		t.Fatalf("exit reason %v, want a PanicError of oops with a stack", r)
	}
}

func TestProbe_ExpectNothingPassesWhenNothingComes(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	pr := spawntest.NewProbe(t, node)
	pr.ExpectNothing(time.Millisecond) // the wait is the behaviour under test
}

// Each case is an expectation that must fail, with a message that says what
// was wanted and what happened. setup runs with the usual Timeout and returns
// the call that must fail, which runs with a short one.
func TestProbe_FailingExpectationsFail(t *testing.T) {
	type env struct {
		t    testing.TB
		node *process.Node
		pr   *spawntest.Probe
	}
	cases := []struct {
		name  string
		setup func(e env) (fail func())
		parts []string
	}{
		{"Receive on an empty mailbox", func(e env) func() {
			return func() { e.pr.Receive() }
		}, []string{"no message within 50ms", "holds nothing"}},
		{"Expect of a type not queued", func(e env) func() {
			e.node.Send(e.pr.Pid(), "a string")
			return func() { spawntest.Expect[int](e.t, e.pr) }
		}, []string{"no int within", "string a string"}},
		{"ExpectMatch with no match", func(e env) func() {
			e.node.Send(e.pr.Pid(), 1)
			return func() { spawntest.ExpectMatch(e.t, e.pr, func(n int) bool { return n > 1 }) }
		}, []string{"no matching int within", "int 1"}},
		{"ExpectDown of another monitor", func(e env) func() {
			other := spawntest.NewProbe(e.t, e.node)
			e.pr.Monitor(other.Pid())
			other.Exit(nil)
			return func() { e.pr.ExpectDown(e.node.MakeRef()) }
		}, []string{"no link.Down of monitor", "link.Down"}},
		{"ExpectExit without trapping", func(e env) func() {
			return func() { e.pr.ExpectExit(e.pr.Pid()) }
		}, []string{"no link.Exit from", "holds nothing"}},
		{"ExpectEmpty with a message queued", func(e env) func() {
			e.node.Send(e.pr.Pid(), "left over")
			return e.pr.ExpectEmpty
		}, []string{"holds 1 message(s): string left over", "want it empty"}},
		{"ExpectNothing when something comes", func(e env) func() {
			e.node.Send(e.pr.Pid(), "surprise")
			return func() { e.pr.ExpectNothing(time.Millisecond) }
		}, []string{"received string surprise", "want nothing"}},
		{"Do on a dead probe", func(e env) func() {
			e.pr.Exit(errBoom)
			return func() { e.pr.Do(func(*process.Process) error { return nil }) }
		}, []string{"Do: the probe has exited (reason: boom)"}},
		{"receive on a probe that dies while waiting", func(e env) func() {
			return func() {
				go e.node.Exit(e.pr.Pid(), process.Kill)
				spawntest.Expect[int](e.t, e.pr)
			}
		}, []string{"waiting for int", "killed"}},
		{"a step that panics", func(e env) func() {
			return func() { e.pr.Do(func(*process.Process) error { panic("in a step") }) }
		}, []string{"the step panicked: in a step"}},
		{"Link to a dead process", func(e env) func() {
			dead := spawntest.NewProbe(e.t, e.node)
			dead.Exit(nil)
			return func() { e.pr.Link(dead.Pid()) }
		}, []string{"Link to", "noproc"}},
		{"WaitExit of a live probe", func(e env) func() {
			return func() { e.pr.WaitExit() }
		}, []string{"still alive after 50ms", "want it to exit"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := runFake(func(ft testing.TB) {
				node := spawntest.NewNode(ft)
				fail := tc.setup(env{ft, node, spawntest.NewProbe(ft, node)})
				within(short, fail)
			})
			wantFail(t, f, tc.parts...)
		})
	}
}
