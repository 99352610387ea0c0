package spawntest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// TestHardening08_NilContext: a nil context.Context fails at once with
// process.ErrNilContext instead of panicking, and leaves the gate unreached.
func TestHardening08_NilContext(t *testing.T) {
	t.Parallel()
	g := spawntest.NewGate(t)
	var nilCtx context.Context
	if err := g.Wait(nilCtx); !errors.Is(err, process.ErrNilContext) {
		t.Errorf("Gate.Wait(nil) = %v; want ErrNilContext", err)
	}
	if g.Reached() {
		t.Error("a failed Wait reached the gate")
	}
}
