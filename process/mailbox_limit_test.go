package process_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// limitedReceiver spawns a Func process with a mailbox bounded to limit.
// It traps exits before it is returned, waits for gate before receiving,
// then forwards every message it receives to out.
func limitedReceiver(t *testing.T, n *process.Node, b process.Backend, limit int, gate <-chan struct{}, out chan<- any) pid.Pid {
	t.Helper()
	trapping := make(chan struct{})
	p, err := n.Spawn(func(p *process.Process) error {
		p.TrapExit(true)
		close(trapping)
		select {
		case <-gate:
		case <-p.Context().Done():
			return nil
		}
		for {
			m, err := p.Receive(p.Context())
			if err != nil {
				return err
			}
			out <- m
		}
	}, process.WithBackend(b), process.WithMailboxLimit(limit))
	if err != nil {
		t.Fatal(err)
	}
	spawntest.Recv(t, trapping)
	return p
}

// fullMailbox spawns, on a node of the test's own, an Async process whose
// mailbox is bounded to one message and already holds one: the next Send
// fails and the next SendWait waits. The process never receives.
func fullMailbox(t *testing.T) (*process.Node, pid.Pid) {
	t.Helper()
	n := spawntest.NewNode(t)
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	p := limitedReceiver(t, n, process.Async, 1, gate, make(chan any, 4))
	if err := n.Send(p, 1); err != nil {
		t.Fatal(err)
	}
	return n, p
}

// waitForSenders waits until want senders wait in SendWait on p's mailbox.
func waitForSenders(t *testing.T, n *process.Node, p pid.Pid, want int) {
	t.Helper()
	spawntest.Eventually(t, fmt.Sprintf("%d senders waiting", want), func() bool {
		in, err := n.Info(p)
		return err == nil && in.WaitingSenders == want
	})
}

func TestMailboxLimit_SendFailsWhenFullAndNothingIsLost(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		gate, out := make(chan struct{}), make(chan any, 16)
		p := limitedReceiver(t, n, b, 3, gate, out)
		for i := range 3 {
			if err := n.Send(p, i); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		if err := n.Send(p, 3); !errors.Is(err, process.ErrMailboxFull) {
			t.Fatalf("send to a full mailbox: %v, want ErrMailboxFull", err)
		}
		close(gate)
		for i := range 3 {
			if got := <-out; got != i {
				t.Fatalf("got %v, want %d", got, i)
			}
		}
		if err := n.Send(p, "after"); err != nil {
			t.Fatalf("send after room: %v", err)
		}
		if got := <-out; got != "after" {
			t.Fatalf("got %v", got)
		}
	})
}

func TestMailboxLimit_SendWaitWaitsForRoomInOrder(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		gate, out := make(chan struct{}), make(chan any, 64)
		p := limitedReceiver(t, n, b, 2, gate, out)
		ctx := spawntest.Context(t)
		sent := make(chan error, 1)
		go func() {
			for i := range 10 {
				if err := n.SendWait(ctx, p, i); err != nil {
					sent <- err
					return
				}
			}
			sent <- nil
		}()
		spawntest.Eventually(t, "the mailbox to fill", func() bool {
			in, err := n.Info(p)
			return err == nil && in.MessageQueueLen == 2
		})
		close(gate)
		for i := range 10 {
			if got := <-out; got != i {
				t.Fatalf("got %v, want %d", got, i)
			}
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	})
}

func TestMailboxLimit_SendWaitGivesUpWithTheContext(t *testing.T) {
	t.Parallel()
	n, p := fullMailbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := n.SendWait(ctx, p, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendWait on a full mailbox: %v, want DeadlineExceeded", err)
	}
}

func TestMailboxLimit_TargetDeathReleasesWaitingSenders(t *testing.T) {
	t.Parallel()
	n, p := fullMailbox(t)
	done := make(chan error, 1)
	go func() { done <- n.SendWait(spawntest.Context(t), p, 2) }()
	waitForSenders(t, n, p, 1)
	n.Exit(p, process.Kill)
	if err := <-done; err != nil {
		t.Fatalf("SendWait to a process that died: %v, want nil (dropped like any send to a dead process)", err)
	}
}

func TestMailboxLimit_WaitingSenderThatExitsStopsWaiting(t *testing.T) {
	t.Parallel()
	n, target := fullMailbox(t)
	result := make(chan error, 1)
	sender, err := n.Spawn(func(p *process.Process) error {
		result <- p.SendWait(context.Background(), target, 2)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitForSenders(t, n, target, 1)
	n.Exit(sender, process.Kill)
	if err := <-result; !errors.Is(err, process.ErrCallerExited) {
		t.Fatalf("SendWait of a killed sender: %v, want ErrCallerExited", err)
	}
}

func TestMailboxLimit_SignalsAreNeverRefused(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		gate, out := make(chan struct{}), make(chan any, 16)
		p := limitedReceiver(t, n, b, 1, gate, out)
		if err := n.Send(p, "fill"); err != nil {
			t.Fatal(err)
		}
		queued := func(want int) {
			spawntest.Eventually(t, "the queue to grow", func() bool {
				in, err := n.Info(p)
				return err == nil && in.MessageQueueLen == want
			})
		}
		// A timer's message, a link's exit signal and an exit signal all
		// arrive although the mailbox is full.
		helper := spawntest.NewProbe(t, n)
		helper.Do(func(h *process.Process) error {
			if err := link.Link(h, p); err != nil {
				return err
			}
			_, err := h.SendAfter(p, "tick", time.Millisecond)
			return err
		})
		queued(2)
		helper.Exit(errors.New("boom"))
		queued(3)
		if err := n.Exit(p, errors.New("signal")); err != nil {
			t.Fatal(err)
		}
		queued(4)
		close(gate)
		if got := <-out; got != "fill" {
			t.Fatalf("first message %v", got)
		}
		if got := <-out; got != "tick" {
			t.Fatalf("second message %v", got)
		}
		for _, want := range []string{"boom", "signal"} {
			exit, ok := (<-out).(link.Exit)
			if !ok || exit.Reason.Error() != want {
				t.Fatalf("got %#v, want an Exit with %q", exit, want)
			}
		}
	})
}

func TestMailboxLimit_NegativeLimitIsRejected(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	_, err := n.Spawn(func(*process.Process) error { return nil }, process.WithMailboxLimit(-1))
	if !errors.Is(err, process.ErrBadMailboxLimit) {
		t.Fatalf("negative limit: %v", err)
	}
}
