package supervisor_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// toSlow traps exits and takes its time to terminate.
type toSlow struct {
	genserver.NoCalls
	genserver.NoCasts
	terminate time.Duration
}

func (s *toSlow) Init(ctx *genserver.Ctx) error {
	ctx.Process().TrapExit(true)
	return nil
}

func (s *toSlow) Terminate(*genserver.Ctx, error) {
	time.Sleep(s.terminate) // the slow terminate is the behaviour under test
}

// TestWithoutTimeout_SupervisorCalls: a supervisor's Stop and calls wait at
// most genserver.DefaultCallTimeout without a deadline, and as long as it
// takes under genserver.WithoutTimeout (OTP's supervisor calls wait without
// bound). The test lasts a little more than DefaultCallTimeout.
func TestWithoutTimeout_SupervisorCalls(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	past := genserver.DefaultCallTimeout + 500*time.Millisecond
	bg := context.Background()
	start := func() supervisor.Ref {
		t.Helper()
		sup, err := supervisor.Start(bg, node, supervisor.Spec{Children: []supervisor.ChildSpec{
			{ID: "slow", Shutdown: supervisor.Infinity, Start: supervisor.GenServer(func() *toSlow { return &toSlow{terminate: past} })},
		}})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		return sup
	}
	bounded, unbounded, terminated := start(), start(), start()
	var wg sync.WaitGroup
	var boundedErr, unboundedErr, terminateErr error
	wg.Go(func() { boundedErr = bounded.Stop(bg) })
	wg.Go(func() { unboundedErr = unbounded.Stop(genserver.WithoutTimeout(bg)) })
	wg.Go(func() { terminateErr = terminated.TerminateChild(genserver.WithoutTimeout(bg), "slow") })
	wg.Wait()
	var ce *supervisor.CallError
	if !errors.Is(boundedErr, genserver.ErrTimeout) || !errors.As(boundedErr, &ce) || ce.Op != "Stop" {
		t.Errorf("Stop without a deadline: %v; want a *CallError of Stop wrapping ErrTimeout", boundedErr)
	}
	if unboundedErr != nil {
		t.Errorf("Stop(WithoutTimeout): %v", unboundedErr)
	}
	if terminateErr != nil {
		t.Errorf("TerminateChild(WithoutTimeout): %v", terminateErr)
	}
	spawntest.WaitExit(t, node, bounded.Pid()) // its stop goes on after the timeout
}
