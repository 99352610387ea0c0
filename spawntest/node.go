package spawntest

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// DefaultTimeout is Timeout's initial value.
const DefaultTimeout = 10 * time.Second

// Timeout bounds every wait of the package: a wait that reaches it fails the
// test. Change it before tests run (in TestMain), or in a test that no other
// test runs in parallel with; changing it while another test waits is a data
// race.
var Timeout = DefaultTimeout

// NewNode returns a new node for the test t and stops it when t ends, so that
// no process or goroutine of it outlives the test. The node is silent unless
// opts give it a logger (WithTestLog, or process.WithLogger with a Logs'
// Logger). The stop waits at most Timeout; a stop that does not finish (code
// that ignores its process's context is still running) fails the test.
func NewNode(t testing.TB, opts ...process.NodeOption) *process.Node {
	t.Helper()
	node := process.NewNode(append([]process.NodeOption{process.WithLogger(nil)}, opts...)...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := node.Stop(ctx); err != nil {
			t.Errorf("spawntest: stopping the test's node %v: %v", node.ID(), err)
		}
	})
	return node
}

// WithTestLog makes a node log to t's log (t.Log, shown when the test fails
// or runs with -v), at every level, through zaptest.
func WithTestLog(t testing.TB) process.NodeOption {
	return process.WithLogger(zaptest.NewLogger(t))
}

// Context returns a context that is done after Timeout or when t ends,
// whichever comes first: a bound for calls and starts in a test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// Info returns the snapshot of p, a live process of node: its links,
// monitors, name, mailbox length and counters. It fails the test, naming p
// and the error, if p is not alive.
func Info(t testing.TB, node *process.Node, p pid.Pid) process.Info {
	t.Helper()
	info, err := node.Info(p)
	if err != nil {
		t.Fatalf("spawntest: Info of %v: %v", p, err)
	}
	return info
}

// Backends returns every backend: Async, Blocking and Thread.
func Backends() []process.Backend {
	return []process.Backend{process.Async, process.Blocking, process.Thread}
}

// ForEachBackend runs f as a subtest of t for each backend, named after the
// backend. The subtests run in parallel (each calls t.Parallel), so f must
// not share unguarded state between them; giving each its own NewNode keeps
// them apart.
func ForEachBackend(t *testing.T, f func(t *testing.T, b process.Backend)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// ForEachBackendNode is ForEachBackend with a node of its own for each
// subtest, made by NewNode with opts and stopped when the subtest ends: the
// usual start of a test that must pass on every backend. Code that spawns on
// the node still chooses its backend with process.WithBackend(b) or
// genserver.WithBackend(b).
func ForEachBackendNode(t *testing.T, f func(t *testing.T, n *process.Node, b process.Backend), opts ...process.NodeOption) {
	t.Helper()
	ForEachBackend(t, func(t *testing.T, b process.Backend) {
		f(t, NewNode(t, opts...), b)
	})
}
