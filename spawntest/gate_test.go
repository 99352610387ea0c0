package spawntest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

func TestGate_HoldsUntilOpened(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	g := spawntest.NewGate(t)
	if g.Reached() {
		t.Fatal("Reached before any Wait")
	}
	passed := make(chan error, 1)
	if _, err := node.Spawn(func(p *process.Process) error {
		passed <- g.Wait(p.Context())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	g.WaitReached()
	if !g.Reached() {
		t.Fatal("not Reached after WaitReached")
	}
	select {
	case err := <-passed:
		t.Fatalf("passed a closed gate: %v", err)
	default:
	}
	g.Open()
	g.Open() // harmless
	if err := spawntest.Recv(t, passed); err != nil {
		t.Fatalf("Wait = %v after Open, want nil", err)
	}
	if err := g.Wait(context.Background()); err != nil {
		t.Fatalf("Wait on an open gate = %v", err)
	}
}

// A killed process stops waiting: the gate's Wait follows its context.
func TestGate_WaitEndsWithTheContext(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	g := spawntest.NewGate(t)
	returned := make(chan error, 1)
	p, err := node.Spawn(func(p *process.Process) error {
		returned <- g.Wait(p.Context())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	g.WaitReached()
	spawntest.ExitAndWait(t, node, p, process.Kill)
	if err := spawntest.Recv(t, returned); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait of a killed process = %v, want context.Canceled", err)
	}
}

func TestGate_OpensWhenTheTestEnds(t *testing.T) {
	t.Parallel()
	var g *spawntest.Gate
	wantPass(t, runFake(func(t testing.TB) { g = spawntest.NewGate(t) }))
	if err := g.Wait(context.Background()); err != nil {
		t.Fatalf("Wait after the test = %v", err)
	}
}

func TestGate_WaitReachedFailsWhenNothingComes(t *testing.T) {
	f := runFake(func(t testing.TB) {
		g := spawntest.NewGate(t)
		within(short, g.WaitReached)
	})
	wantFail(t, f, "nothing reached the gate within 50ms")
}
