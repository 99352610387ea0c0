// Package testkit holds what the runtime's own tests use on top of the
// public test kit, package spawntest: the names those tests were written
// with, kept while they move to spawntest, and a few helpers the public kit
// has no use for (Idle, SpawnIdle, Marker).
package testkit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Timeout bounds every wait in a test; reaching it fails the test. It is
// spawntest's default.
const Timeout = spawntest.DefaultTimeout

// Backends lists every backend, for table-driven tests.
var Backends = spawntest.Backends()

// ForEachBackend runs f as a parallel subtest per backend
// (spawntest.ForEachBackend).
func ForEachBackend(t *testing.T, f func(t *testing.T, b process.Backend)) {
	t.Helper()
	spawntest.ForEachBackend(t, f)
}

// Node returns a silent node that is stopped when the test ends
// (spawntest.NewNode).
func Node(t testing.TB, opts ...process.NodeOption) *process.Node {
	t.Helper()
	return spawntest.NewNode(t, opts...)
}

// Context returns a context that ends after Timeout or with the test
// (spawntest.Context).
func Context(t testing.TB) context.Context { return spawntest.Context(t) }

// Probe is a spawntest.Probe whose Pid is a field, as the runtime's tests
// use it.
type Probe struct {
	*spawntest.Probe
	Pid pid.Pid
	t   testing.TB
}

// ErrExitNow, returned from a Do function, makes the probe exit Normal.
// Returning process.Normal does the same.
var ErrExitNow = errors.New("probe: exit now")

// NewProbe spawns a probe on n with the given options.
func NewProbe(t testing.TB, n *process.Node, opts ...process.SpawnOption) *Probe {
	t.Helper()
	return wrap(t, spawntest.NewProbe(t, n, opts...))
}

// Adopt returns a Probe for a process that runs ProbeLoop (for example one
// spawned with SpawnLink or SpawnMonitor inside another probe).
func Adopt(t testing.TB, n *process.Node, p pid.Pid) *Probe {
	t.Helper()
	return wrap(t, spawntest.Adopt(t, n, p))
}

func wrap(t testing.TB, pr *spawntest.Probe) *Probe { return &Probe{Probe: pr, Pid: pr.Pid(), t: t} }

// ProbeLoop is the body of a probe process, for spawning probes with
// Process.SpawnLink and Process.SpawnMonitor.
func ProbeLoop(p *process.Process) error { return spawntest.ProbeLoop(p) }

// exitNow maps ErrExitNow to process.Normal.
func exitNow(fn func(p *process.Process) error) func(p *process.Process) error {
	return func(p *process.Process) error {
		if err := fn(p); !errors.Is(err, ErrExitNow) {
			return err
		}
		return process.Normal
	}
}

// Do runs fn inside the probe process and waits for it. A non-nil error
// from fn makes the probe exit with that reason (ErrExitNow: Normal).
func (pr *Probe) Do(fn func(p *process.Process) error) {
	pr.t.Helper()
	pr.Probe.Do(exitNow(fn))
}

// TryDo is Do that reports false instead of failing when the probe does not
// run fn within d (for example because it is dead).
func (pr *Probe) TryDo(d time.Duration, fn func(p *process.Process) error) bool {
	return pr.Probe.TryDo(d, exitNow(fn))
}

// Marker is a message the test sends to prove that nothing else is queued
// before it.
type Marker struct{ ID uint64 }

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

// Recv waits for an exit reason from ch, failing the test after Timeout
// (spawntest.Recv).
func Recv(t testing.TB, ch <-chan error) error {
	t.Helper()
	return spawntest.Recv(t, ch)
}

// WaitExit waits until the process p has exited and returns its reason
// (spawntest.WaitExit).
func WaitExit(t testing.TB, n *process.Node, p pid.Pid) error {
	t.Helper()
	return spawntest.WaitExit(t, n, p)
}

// ExitAndWait sends p an exit signal with reason from outside any process,
// waits until p has exited and returns the reason it exited with
// (spawntest.ExitAndWait).
func ExitAndWait(t testing.TB, n *process.Node, p pid.Pid, reason error) error {
	t.Helper()
	return spawntest.ExitAndWait(t, n, p, reason)
}

// Eventually waits until cond holds, for state that no message announces
// (a queue length, a counter), and fails the test after Timeout
// (spawntest.Eventually).
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	spawntest.Eventually(t, what, cond)
}
