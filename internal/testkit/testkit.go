// Package testkit holds helpers for the runtime's own tests: isolated nodes
// that are stopped and checked on cleanup, the list of backends, and Probe, a
// process a test drives step by step.
package testkit

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Timeout bounds every wait in a test; reaching it fails the test.
const Timeout = 10 * time.Second

// Backends lists every backend, for table-driven tests.
var Backends = []process.Backend{process.Async, process.Blocking, process.Thread}

// ForEachBackend runs f as a parallel subtest per backend.
func ForEachBackend(t *testing.T, f func(t *testing.T, b process.Backend)) {
	t.Helper()
	for _, b := range Backends {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// Node returns a silent node that is stopped when the test ends; the stop
// must finish within Timeout.
func Node(t testing.TB, opts ...process.NodeOption) *process.Node {
	t.Helper()
	n := process.NewNode(append([]process.NodeOption{process.WithLogger(nil)}, opts...)...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("node stop: %v", err)
		}
	})
	return n
}

// Context returns a context that ends after Timeout or with the test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// Probe is a process that a test drives: each Do runs a function inside the
// process, and messages stay in its mailbox until the test receives them.
type Probe struct {
	t    testing.TB
	node *process.Node
	Pid  pid.Pid
}

type command struct {
	fn   func(p *process.Process) error
	done chan error
}

func isCommand(m any) bool { _, ok := m.(command); return ok }

// ErrExitNow, returned from a Do function, makes the probe exit Normal.
var ErrExitNow = errors.New("probe: exit now")

// NewProbe spawns a probe on n with the given options.
func NewProbe(t testing.TB, n *process.Node, opts ...process.SpawnOption) *Probe {
	t.Helper()
	p, err := n.Spawn(probeLoop, opts...)
	if err != nil {
		t.Fatalf("spawn probe: %v", err)
	}
	return &Probe{t: t, node: n, Pid: p}
}

// Adopt returns a Probe for a process that runs ProbeLoop (for example one
// spawned with SpawnLink or SpawnMonitor inside another probe).
func Adopt(t testing.TB, n *process.Node, p pid.Pid) *Probe {
	return &Probe{t: t, node: n, Pid: p}
}

// ProbeLoop is the body of a probe process, for spawning probes with
// Process.SpawnLink and Process.SpawnMonitor.
func ProbeLoop(p *process.Process) error { return probeLoop(p) }

func probeLoop(p *process.Process) error {
	for {
		m, err := p.ReceiveMatch(context.Background(), isCommand)
		if err != nil {
			return err
		}
		c := m.(command)
		err = c.fn(p)
		if errors.Is(err, ErrExitNow) {
			close(c.done)
			return nil
		}
		if err != nil {
			close(c.done)
			return err
		}
		c.done <- nil
	}
}

// Do runs fn inside the probe process and waits for it. A non-nil error
// from fn makes the probe exit with that reason (ErrExitNow: Normal).
func (pr *Probe) Do(fn func(p *process.Process) error) {
	pr.t.Helper()
	c := command{fn: fn, done: make(chan error, 1)}
	if err := pr.node.Send(pr.Pid, c); err != nil {
		pr.t.Fatalf("probe %v: send command: %v", pr.Pid, err)
	}
	select {
	case <-c.done:
	case <-time.After(Timeout):
		pr.t.Fatalf("probe %v: command did not run within %v (is the probe dead?)", pr.Pid, Timeout)
	}
}

// TryDo is Do that reports false instead of failing when the probe does not
// run fn within d (for example because it is dead).
func (pr *Probe) TryDo(d time.Duration, fn func(p *process.Process) error) bool {
	c := command{fn: fn, done: make(chan error, 1)}
	if err := pr.node.Send(pr.Pid, c); err != nil {
		return false
	}
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

// Receive returns the probe's oldest message, waiting up to Timeout.
func (pr *Probe) Receive() any {
	pr.t.Helper()
	var msg any
	var err error
	pr.Do(func(p *process.Process) error {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		msg, err = p.ReceiveMatch(ctx, func(m any) bool { return !isCommand(m) })
		return nil
	})
	if err != nil {
		pr.t.Fatalf("probe %v: receive: %v", pr.Pid, err)
	}
	return msg
}

// Marker is a message the test sends to prove that nothing else is queued
// before it.
type Marker struct{ ID uint64 }

// ExpectEmpty sends a Marker to the probe and checks it is the next message
// received: everything queued before the call has been received.
func (pr *Probe) ExpectEmpty() {
	pr.t.Helper()
	m := Marker{ID: pr.node.MakeRef().ID()}
	if err := pr.node.Send(pr.Pid, m); err != nil {
		pr.t.Fatalf("probe %v: send marker: %v", pr.Pid, err)
	}
	if got := pr.Receive(); got != m {
		pr.t.Fatalf("probe %v: expected an empty mailbox, got %#v", pr.Pid, got)
	}
}

// Exit makes the probe's own code return reason (nil: Normal).
func (pr *Probe) Exit(reason error) {
	pr.t.Helper()
	if reason == nil {
		reason = ErrExitNow
	}
	pr.Do(func(*process.Process) error { return reason })
}

// Idle is the body of a process that does nothing until it exits.
func Idle(p *process.Process) error {
	<-p.Context().Done()
	return nil
}

// SpawnIdle starts an Idle process on backend b.
func SpawnIdle(t testing.TB, n *process.Node, b process.Backend) pid.Pid {
	t.Helper()
	p, err := n.Spawn(Idle, process.WithBackend(b))
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	return p
}

// ExitWatch watches the live process p and returns a channel that receives
// its exit reason once (NoProc if p is already dead).
func ExitWatch(t testing.TB, n *process.Node, p pid.Pid) <-chan error {
	t.Helper()
	ch := make(chan error, 1)
	if _, err := watch(n, p, func(reason error) { ch <- reason }); err != nil {
		t.Fatalf("watch %v: %v", p, err)
	}
	return ch
}

// Recv waits for an exit reason from ch, failing the test after Timeout.
func Recv(t testing.TB, ch <-chan error) error {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(Timeout):
		t.Fatalf("no exit within %v", Timeout)
		return nil
	}
}

// WaitExit waits until the process p has exited and returns its reason,
// using a watch (no polling).
func WaitExit(t testing.TB, n *process.Node, p pid.Pid) error {
	t.Helper()
	return Recv(t, ExitWatch(t, n, p))
}

// ExitAndWait sends p an exit signal with reason from outside any process,
// waits until p has exited and returns the reason it exited with.
func ExitAndWait(t testing.TB, n *process.Node, p pid.Pid, reason error) error {
	t.Helper()
	exited := ExitWatch(t, n, p)
	if err := n.Exit(p, reason); err != nil {
		t.Fatalf("exit %v: %v", p, err)
	}
	return Recv(t, exited)
}

// Eventually waits until cond holds, for state that no message announces
// (a queue length, a counter). It yields between checks and fails the test
// after Timeout.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}
