package spawntest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/spawned-go/spawned/process"
)

// Gate holds code under test at a point until the test opens it: a server's
// Init to test a start timeout, a handler to let messages queue up, a
// Terminate to test a shutdown timeout. The test learns that the code has
// reached the gate with WaitReached. A gate opens at the latest when the test
// ends, so nothing stays blocked on it.
type Gate struct {
	t           testing.TB
	reached     chan struct{}
	open        chan struct{}
	reachedOnce sync.Once
	openOnce    sync.Once
}

// NewGate returns a closed gate that opens when t ends, if not before.
func NewGate(t testing.TB) *Gate {
	g := &Gate{t: t, reached: make(chan struct{}), open: make(chan struct{})}
	t.Cleanup(g.Open)
	return g
}

// Wait is for the code under test: it marks the gate reached and blocks
// until the gate is open (nil) or ctx is done (ctx's error). Pass the
// process's context (process.Process.Context, genserver.Ctx.Context) so that
// a killed process does not stay blocked. A nil ctx fails at once with
// process.ErrNilContext.
func (g *Gate) Wait(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("spawntest: gate wait: %w", process.ErrNilContext)
	}
	g.reachedOnce.Do(func() { close(g.reached) })
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Open opens the gate, releasing every Wait, now and later. Opening an open
// gate does nothing.
func (g *Gate) Open() { g.openOnce.Do(func() { close(g.open) }) }

// WaitReached waits until some code has called Wait, for at most Timeout,
// and fails the test if none has.
func (g *Gate) WaitReached() {
	g.t.Helper()
	if limit := Timeout; !closedWithin(g.reached, limit) {
		g.t.Fatalf("spawntest: nothing reached the gate within %v", limit)
	}
}

// Reached reports whether some code has called Wait, without waiting.
func (g *Gate) Reached() bool { return isClosed(g.reached) }
