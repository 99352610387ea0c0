package genserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// optServer records the order in which its callbacks saw things.
type optServer struct {
	log     []string
	release chan struct{}
	idle    time.Duration
	timeout chan struct{}
}

func (s *optServer) Init(ctx *genserver.Ctx) error {
	s.log = append(s.log, "init")
	ctx.Continue(func(*genserver.Ctx) {
		<-s.release // calls queue up meanwhile
		s.log = append(s.log, "continue")
	})
	return nil
}

func (s *optServer) HandleCall(ctx *genserver.CallCtx[[]string], req string) ([]string, error) {
	s.log = append(s.log, req)
	if req == "idle" {
		ctx.IdleTimeout(s.idle)
	}
	return append([]string(nil), s.log...), nil
}

func (s *optServer) HandleCast(*genserver.Ctx, genserver.Never) {}

func (s *optServer) HandleInfo(_ *genserver.Ctx, msg any) {
	if _, ok := msg.(genserver.Timeout); ok {
		s.log = append(s.log, "timeout")
		close(s.timeout)
	}
}

func TestGS22_ContinueRunsBeforeQueuedMessages(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		srv := &optServer{release: make(chan struct{})}
		ref, err := genserver.Start(ctx, n, srv, genserver.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan []string, 1)
		go func() {
			log, _ := ref.Call(ctx, "first call")
			got <- log
		}()
		// The call is queued before the continuation finishes.
		spawntest.Eventually(t, "the call to be queued", func() bool {
			in, err := n.Info(ref.Pid())
			return err == nil && in.MessageQueueLen == 1
		})
		close(srv.release)
		log := <-got
		want := []string{"init", "continue", "first call"}
		if len(log) != len(want) {
			t.Fatalf("order %v, want %v", log, want)
		}
		for i := range want {
			if log[i] != want[i] {
				t.Fatalf("order %v, want %v", log, want)
			}
		}
	})
}

func TestGS21_IdleTimeoutGivesTimeoutInfo(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		release := make(chan struct{})
		close(release)
		srv := &optServer{release: release, idle: 20 * time.Millisecond, timeout: make(chan struct{})}
		ref, err := genserver.Start(ctx, n, srv, genserver.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ref.Call(ctx, "idle"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-srv.timeout:
		case <-ctx.Done():
			t.Fatal("no Timeout after the idle period")
		}
		log, err := ref.Call(ctx, "after")
		if err != nil {
			t.Fatal(err)
		}
		if got := log[len(log)-2]; got != "timeout" {
			t.Fatalf("log %v", log)
		}
	})
}

func TestGS21_MessageBeforeIdleTimeoutCancelsIt(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		release := make(chan struct{})
		close(release)
		srv := &optServer{release: release, idle: time.Hour, timeout: make(chan struct{})}
		ref, err := genserver.Start(ctx, n, srv, genserver.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		ref.Call(ctx, "idle")
		log, _ := ref.Call(context.Background(), "next") // cancels the hour-long timeout
		for _, entry := range log {
			if entry == "timeout" {
				t.Fatalf("timeout fired: %v", log)
			}
		}
		info := spawntest.Info(t, n, ref.Pid())
		if info.MessageQueueLen != 0 {
			t.Fatalf("queue %d", info.MessageQueueLen)
		}
	})
}
