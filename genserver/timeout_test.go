package genserver_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// wtSlow answers a call after the delay it asks for, and takes as long as
// its field says to terminate.
type wtSlow struct {
	genserver.NoCasts
	terminate time.Duration
	pending   []genserver.From[string]
}

// wtAnswer is the timer message that answers the held calls.
type wtAnswer struct{}

func (s *wtSlow) Init(ctx *genserver.Ctx) error {
	ctx.Process().TrapExit(true)
	return nil
}

func (s *wtSlow) HandleCall(ctx *genserver.CallCtx[string], after time.Duration) (string, error) {
	s.pending = append(s.pending, ctx.From())
	if _, err := ctx.SendAfter(wtAnswer{}, after); err != nil {
		return "", err
	}
	return ctx.NoReply()
}

func (s *wtSlow) HandleInfo(_ *genserver.Ctx, msg any) {
	if _, ok := msg.(wtAnswer); ok {
		for _, f := range s.pending {
			f.Reply("late", nil)
		}
		s.pending = nil
	}
}

func (s *wtSlow) Terminate(*genserver.Ctx, error) {
	time.Sleep(s.terminate) // the slow terminate is the behaviour under test
}

// TestWithoutTimeout_WaitsPastTheDefault: a Call and a Stop without a
// deadline give up after DefaultCallTimeout; under WithoutTimeout they wait
// for the answer and for the exit however long they take (OTP's infinity).
// The test lasts a little more than DefaultCallTimeout, which is the point.
func TestWithoutTimeout_WaitsPastTheDefault(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	past := genserver.DefaultCallTimeout + 500*time.Millisecond
	bg := context.Background()
	start := func() genserver.Ref[time.Duration, string, genserver.Never] {
		t.Helper()
		ref, err := genserver.Start(bg, node, &wtSlow{terminate: past})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		return ref
	}
	callSrv, stopBounded, stopUnbounded := start(), start(), start()
	type outcome struct {
		what string
		err  error
		want error // nil: success
	}
	results := make(chan outcome, 4)
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := callSrv.Call(bg, past)
		results <- outcome{"Call(ctx without deadline)", err, genserver.ErrTimeout}
	})
	wg.Go(func() {
		rep, err := callSrv.Call(genserver.WithoutTimeout(bg), past)
		if err == nil && rep != "late" {
			err = errors.New("reply " + rep)
		}
		results <- outcome{"Call(WithoutTimeout)", err, nil}
	})
	wg.Go(func() {
		results <- outcome{"Stop(ctx without deadline)", stopBounded.Stop(bg, nil), genserver.ErrTimeout}
	})
	wg.Go(func() {
		results <- outcome{"Stop(WithoutTimeout)", stopUnbounded.Stop(genserver.WithoutTimeout(bg), nil), nil}
	})
	wg.Wait()
	close(results)
	for r := range results {
		switch {
		case r.want == nil && r.err != nil:
			t.Errorf("%s: %v; want success", r.what, r.err)
		case r.want != nil && !errors.Is(r.err, r.want):
			t.Errorf("%s: %v; want %v", r.what, r.err, r.want)
		}
	}
	if node.Alive(stopUnbounded.Pid()) {
		t.Errorf("the server stopped WithoutTimeout is alive")
	}
	spawntest.WaitExit(t, node, stopBounded.Pid()) // its stop goes on after the timeout
}

// TestWithoutTimeout_ContextStillEnds: WithoutTimeout lifts the default
// bound only; the context's cancellation and deadline still end the wait,
// and a nil context is still refused.
func TestWithoutTimeout_ContextStillEnds(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	ref, err := genserver.Start(spawntest.Context(t), node, &wtSlow{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	for _, tc := range []struct {
		label string
		ctx   func() (context.Context, context.CancelFunc)
		want  error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(genserver.WithoutTimeout(context.Background()))
			time.AfterFunc(20*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"cancelled parent", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			return genserver.WithoutTimeout(ctx), cancel
		}, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(genserver.WithoutTimeout(context.Background()), 20*time.Millisecond)
		}, genserver.ErrTimeout},
		{"already done", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return genserver.WithoutTimeout(ctx), cancel
		}, context.Canceled},
	} {
		t.Run(tc.label, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			_, err := ref.Call(ctx, time.Hour) // an answer that never comes in time
			var ce *genserver.CallError
			if !errors.Is(err, tc.want) || !errors.As(err, &ce) {
				t.Fatalf("Call: %v; want a *CallError wrapping %v", err, tc.want)
			}
		})
	}
	var nilCtx context.Context // the bad input under test
	if got := genserver.WithoutTimeout(nilCtx); got != nil {
		t.Fatalf("WithoutTimeout(nil) = %v; want nil", got)
	}
	if _, err := ref.Call(genserver.WithoutTimeout(nilCtx), time.Hour); !errors.Is(err, process.ErrNilContext) {
		t.Fatalf("Call(WithoutTimeout(nil)): %v; want ErrNilContext", err)
	}
}
