package spawntest_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

func TestWatchExit_GivesTheReason(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	cases := []struct {
		name string
		exit func(pr *spawntest.Probe)
		want func(error) bool
	}{
		{"own exit", func(pr *spawntest.Probe) { pr.Exit(errBoom) }, func(r error) bool { return errors.Is(r, errBoom) }},
		{"exit signal", func(pr *spawntest.Probe) { node.Exit(pr.Pid(), errBoom) }, func(r error) bool { return errors.Is(r, errBoom) }},
		{"kill", func(pr *spawntest.Probe) { node.Exit(pr.Pid(), process.Kill) }, func(r error) bool { return errors.Is(r, process.Killed) }},
	}
	for _, tc := range cases {
		pr := spawntest.NewProbe(t, node)
		w := spawntest.WatchExit(t, node, pr.Pid())
		if w.Exited() {
			t.Fatalf("%s: Exited before the exit", tc.name)
		}
		select {
		case <-w.Done():
			t.Fatalf("%s: Done closed before the exit", tc.name)
		default:
		}
		tc.exit(pr)
		if r := w.Wait(); !tc.want(r) {
			t.Fatalf("%s: reason %v", tc.name, r)
		}
		if r := w.Wait(); !tc.want(r) || !w.Exited() {
			t.Fatalf("%s: second Wait %v, Exited %v", tc.name, r, w.Exited())
		}
		select {
		case <-w.Done():
		default:
			t.Fatalf("%s: Done not closed after the exit", tc.name)
		}
	}
}

func TestWaitExit_OfADeadProcessIsNoProc(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	pr := spawntest.NewProbe(t, node)
	pr.Exit(errBoom)
	if r := spawntest.WaitExit(t, node, pr.Pid()); !errors.Is(r, process.NoProc) {
		t.Fatalf("WaitExit of a dead process = %v, want noproc", r)
	}
}

func TestExitAndWait(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	if r := spawntest.ExitAndWait(t, node, spawntest.NewProbe(t, node).Pid(), process.Kill); !errors.Is(r, process.Killed) {
		t.Fatalf("ExitAndWait(Kill) = %v, want killed", r)
	}
	if r := spawntest.ExitAndWait(t, node, spawntest.NewProbe(t, node).Pid(), errBoom); !errors.Is(r, errBoom) {
		t.Fatalf("ExitAndWait(boom) = %v, want boom", r)
	}
}

// A supervisor restarts its named child: the name comes back on a new Pid,
// and WhichChildren shows it.
func TestWaitReregisteredAndWaitChild_SeeARestart(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, node *process.Node, b process.Backend) {
		sup, err := supervisor.Start(spawntest.Context(t), node, supervisor.Spec{
			Intensity: 10, Period: time.Hour,
			Children: []supervisor.ChildSpec{{ID: "w", Start: supervisor.Func(spawntest.ProbeLoop,
				process.WithName("worker"), process.WithBackend(b))}},
		})
		if err != nil {
			t.Fatal(err)
		}
		first := spawntest.WaitName(t, node, "worker")
		if got := spawntest.WaitChild(t, sup, "w", pid.Pid{}); got != first {
			t.Fatalf("WaitChild = %v, want %v", got, first)
		}
		for range 3 {
			old := spawntest.WaitName(t, node, "worker")
			spawntest.ExitAndWait(t, node, old, errBoom)
			p := spawntest.WaitReregistered(t, node, "worker", old)
			if p == old || !node.Alive(p) {
				t.Fatalf("re-registered to %v (old %v)", p, old)
			}
			if got := spawntest.WaitChild(t, sup, "w", old); got != p {
				t.Fatalf("WaitChild = %v, want %v", got, p)
			}
		}
	})
}

func TestEventuallyAndRecv(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	go func() {
		for range 100 {
			n.Add(1)
		}
	}()
	spawntest.Eventually(t, "n reaches 100", func() bool { return n.Load() == 100 })

	ch := make(chan int, 1)
	ch <- 7
	if got := spawntest.Recv(t, ch); got != 7 {
		t.Fatalf("Recv = %d, want 7", got)
	}
	done := make(chan struct{})
	close(done)
	spawntest.Recv(t, done) // a closed channel is a signal
}

// Each case is a wait for something that does not happen: it must fail,
// saying what it waited for. setup runs with the usual Timeout and returns
// the wait, which runs with a short one.
func TestWaits_FailWhenNothingHappens(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t testing.TB, node *process.Node) (fail func())
		parts []string
	}{
		{"WatchExit of a live process", func(t testing.TB, node *process.Node) func() {
			w := spawntest.WatchExit(t, node, spawntest.NewProbe(t, node).Pid())
			return func() { w.Wait() }
		}, []string{"still alive after 50ms", "want it to exit"}},
		{"WatchExit of a zero Pid", func(t testing.TB, node *process.Node) func() {
			return func() { spawntest.WatchExit(t, node, pid.Pid{}) }
		}, []string{"WatchExit", "zero"}},
		{"ExitAndWait of a trapping process", func(t testing.TB, node *process.Node) func() {
			pr := spawntest.NewProbe(t, node)
			pr.TrapExit(true)
			return func() { spawntest.ExitAndWait(t, node, pr.Pid(), errBoom) }
		}, []string{"still alive after 50ms"}},
		{"WaitName of a name nobody takes", func(t testing.TB, node *process.Node) func() {
			return func() { spawntest.WaitName(t, node, "nobody") }
		}, []string{`name "nobody" is not registered after 50ms`}},
		{"WaitReregistered while the old owner lives", func(t testing.TB, node *process.Node) func() {
			pr := spawntest.NewProbe(t, node, process.WithName("held"))
			return func() { spawntest.WaitReregistered(t, node, "held", pr.Pid()) }
		}, []string{`name "held" is still registered to`, "want a new process"}},
		{"WaitChild of a child that is not restarted", func(t testing.TB, node *process.Node) func() {
			sup, err := supervisor.Start(spawntest.Context(t), node, supervisor.Spec{
				Children: []supervisor.ChildSpec{{ID: "w", Restart: supervisor.Temporary,
					Start: supervisor.Func(spawntest.ProbeLoop)}},
			})
			if err != nil {
				t.Fatal(err)
			}
			old := spawntest.WaitChild(t, sup, "w", pid.Pid{})
			spawntest.ExitAndWait(t, node, old, errBoom)
			return func() { spawntest.WaitChild(t, sup, "w", old) }
		}, []string{`child "w" is not running as a new process after 50ms`}},
		{"WaitChild of a stopped supervisor", func(t testing.TB, node *process.Node) func() {
			sup, err := supervisor.Start(spawntest.Context(t), node, supervisor.Spec{})
			if err != nil {
				t.Fatal(err)
			}
			if err := sup.Stop(spawntest.Context(t)); err != nil {
				t.Fatal(err)
			}
			return func() { spawntest.WaitChild(t, sup, "w", pid.Pid{}) }
		}, []string{`WhichChildren while waiting for child "w"`, "noproc"}},
		{"Eventually of a condition that never holds", func(t testing.TB, node *process.Node) func() {
			return func() { spawntest.Eventually(t, "pigs fly", func() bool { return false }) }
		}, []string{"timed out after 50ms waiting until pigs fly"}},
		{"Recv from a silent channel", func(t testing.TB, node *process.Node) func() {
			return func() { spawntest.Recv(t, make(chan error)) }
		}, []string{"nothing received from a chan error within 50ms"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := runFake(func(ft testing.TB) {
				node := spawntest.NewNode(ft)
				within(short, tc.setup(ft, node))
			})
			wantFail(t, f, tc.parts...)
		})
	}
}
