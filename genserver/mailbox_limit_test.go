package genserver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// gatedServer blocks in a call asking it to until gate closes, telling
// entered first; it counts casts.
type gatedServer struct {
	gate    chan struct{}
	entered chan struct{}
	casts   int
}

func (s *gatedServer) HandleCall(_ *genserver.CallCtx[int], block bool) (int, error) {
	if block {
		s.entered <- struct{}{}
		<-s.gate
	}
	return s.casts, nil
}

func (s *gatedServer) HandleCast(*genserver.Ctx, struct{}) { s.casts++ }

func TestMailboxLimit_CastToFullServerFails(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		srv := &gatedServer{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
		ref, err := genserver.Start(ctx, n, srv, genserver.WithBackend(b), genserver.WithMailboxLimit(2))
		if err != nil {
			t.Fatal(err)
		}
		blocked := make(chan error, 1)
		go func() { _, err := ref.Call(ctx, true); blocked <- err }()
		<-srv.entered // the server is busy with the blocking call; its mailbox is empty
		accepted := 0
		for range 5 {
			err := ref.Cast(struct{}{})
			switch {
			case err == nil:
				accepted++
			case !errors.Is(err, process.ErrMailboxFull):
				t.Fatalf("cast: %v", err)
			}
		}
		if accepted != 2 {
			t.Fatalf("%d casts accepted by a mailbox bounded to 2", accepted)
		}
		// A call waits for room within its deadline.
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if _, err := ref.Call(short, false); !errors.Is(err, genserver.ErrTimeout) {
			t.Fatalf("call to a full server with a short deadline: %v", err)
		}
		waiting := make(chan int, 1)
		go func() { n, _ := ref.Call(ctx, false); waiting <- n }()
		spawntest.Eventually(t, "the call to wait for room", func() bool {
			in, err := n.Info(ref.Pid())
			return err == nil && in.WaitingSenders == 1
		})
		close(srv.gate)
		if err := <-blocked; err != nil {
			t.Fatal(err)
		}
		if got := <-waiting; got != accepted {
			t.Fatalf("the waiting call saw %d casts, want %d: every accepted cast is handled", got, accepted)
		}
	})
}

// A call that reaches a server of other types fails at once with
// ErrWrongServer instead of waiting for its deadline.
func TestWrongServer_CallFailsAtOnce(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	srv := &gatedServer{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	ref, err := genserver.Start(ctx, n, srv)
	if err != nil {
		t.Fatal(err)
	}
	wrong := genserver.At[string, string, genserver.Never](n, ref.Pid())
	if _, err := wrong.Call(ctx, "hello"); !errors.Is(err, genserver.ErrWrongServer) {
		t.Fatalf("call of the wrong type: %v", err)
	}
	if _, err := ref.Call(ctx, false); err != nil {
		t.Fatalf("the server kept running: %v", err)
	}
}
