package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

func TestFlowControl_AFloodedPeerPushesBackInsteadOfDroppingTheConnection(t *testing.T) {
	a, ca, b, cb := smallWindowPair(t)
	coll, got := collector(t, b, false)

	// B stops taking A's frames, as a node too busy to keep up.
	release := cb.HoldPeer(a.ID())
	defer release()
	sent := 0
	for ; ; sent++ {
		err := a.Send(coll, seq{Tag: "flood", N: sent})
		if errors.Is(err, cluster.ErrPeerBusy) {
			break
		}
		require.NoError(t, err)
		require.Less(t, sent, 1<<20, "the window never filled")
	}
	t.Logf("%d messages in flight when the window filled", sent)
	require.Greater(t, sent, 100)

	// SendWait waits for room, within its context.
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, a.SendWait(short, coll, seq{Tag: "flood", N: sent}), context.DeadlineExceeded)
	// The pair is still up: no slow-consumer disconnect, no NoConnection.
	_, ok := ca.Node(b.ID())
	require.True(t, ok)

	release()
	require.NoError(t, a.SendWait(spawntest.Context(t), coll, seq{Tag: "flood", N: sent}))
	for i := 0; i <= sent; i++ {
		require.Equal(t, seq{Tag: "flood", N: i}, spawntest.Recv(t, got))
	}
}

func TestFlowControl_AFloodArrivesWhole(t *testing.T) {
	cfg := testConfig(clusterName(t))
	cfg.Window = 1 << 20
	a, _ := joinNode(t, cfg, "a")
	b, _ := joinNode(t, cfg, "b")
	n := 20000
	if testing.Short() {
		n = 5000
	}
	coll, got := collector(t, b, false)
	done := make(chan error, 1)
	_, err := a.Spawn(func(p *process.Process) error {
		for i := range n {
			if err := p.SendWait(p.Context(), coll, seq{Tag: "f", N: i}); err != nil {
				done <- err
				return err
			}
		}
		done <- nil
		return nil
	})
	require.NoError(t, err)
	for i := range n {
		require.Equal(t, seq{Tag: "f", N: i}, spawntest.Recv(t, got))
	}
	require.NoError(t, <-done)
}

// TestProperty_MessagesThenAnExitArriveInOrder: whatever one process of
// B sends to a process of A, then its exit, arrive in the order sent, the
// exit last (as a Down and as a link's Exit).
func TestProperty_MessagesThenAnExitArriveInOrder(t *testing.T) {
	a, _, b, _ := pair(t)
	reasons := []error{process.Normal, errBoom, process.Kill, process.ShutdownWith(errFrop), process.NoProc}
	rapid.Check(t, func(rt *rapid.T) {
		msgs := rapid.SliceOfN(rapid.OneOf(
			rapid.Map(rapid.Int(), func(i int) any { return i }),
			rapid.Map(rapid.String(), func(s string) any { return s }),
			rapid.Map(rapid.SliceOfN(rapid.Byte(), 0, 64), func(b []byte) any { return b }),
			rapid.Map(rapid.IntRange(0, 1000), func(i int) any { return seq{Tag: "s", N: i} }),
		), 0, 200).Draw(rt, "messages")
		reason := rapid.SampledFrom(reasons).Draw(rt, "reason")
		viaLink := rapid.Bool().Draw(rt, "link")

		got := make(chan any, len(msgs)+2)
		ready := make(chan pid.Ref, 1)
		start := make(chan struct{})
		sender, err := b.Spawn(func(p *process.Process) error {
			to, err := p.Receive(p.Context())
			if err != nil {
				return err
			}
			<-start
			for _, m := range msgs {
				if err := p.SendWait(p.Context(), to.(pid.Pid), m); err != nil {
					return err
				}
			}
			return reason
		})
		if err != nil {
			rt.Fatal(err)
		}
		recv, err := a.Spawn(func(p *process.Process) error {
			p.TrapExit(true)
			var ref pid.Ref
			var err error
			if viaLink {
				err = link.Link(p, sender)
			} else {
				ref, err = link.Monitor(p, sender)
			}
			if err != nil {
				return err
			}
			ready <- ref
			for {
				m, err := p.Receive(p.Context())
				if err != nil {
					return nil
				}
				got <- m
			}
		})
		if err != nil {
			rt.Fatal(err)
		}
		defer a.Exit(recv, process.Kill)
		ref := <-ready
		if viaLink {
			spawntest.Eventually(t, "the link recorded on B", func() bool {
				info, err := b.Info(sender)
				return err == nil && len(info.Links) == 1
			})
		} else {
			testkit.Monitored(t, b, sender, 1)
		}
		_ = b.Send(sender, recv)
		close(start)
		for i, want := range msgs {
			if m := spawntest.Recv(t, got); !equalMsg(m, want) {
				rt.Fatalf("message %d: got %#v, want %#v", i, m, want)
			}
		}
		last := spawntest.Recv(t, got)
		var gotReason error
		switch m := last.(type) {
		case link.Down:
			if m.Ref != ref || m.Pid != sender {
				rt.Fatalf("got %#v", m)
			}
			gotReason = m.Reason
		case link.Exit:
			if m.From != sender {
				rt.Fatalf("got %#v", m)
			}
			gotReason = m.Reason
		default:
			rt.Fatalf("got %#v after the messages, want the exit", last)
		}
		if gotReason.Error() != reason.Error() {
			rt.Fatalf("reason %v, want %v", gotReason, reason)
		}
	})
}

// equalMsg compares a message that crossed with the one sent.
func equalMsg(got, want any) bool {
	switch w := want.(type) {
	case []byte:
		g, ok := got.([]byte)
		return ok && string(g) == string(w) && (g == nil) == (w == nil)
	}
	return got == want
}

// smallWindowPair joins nodes a and b, up to each other, with a window of
// 64 KiB and frames of at most 4 KiB, so that a flood fills it at once.
func smallWindowPair(t *testing.T) (a *process.Node, ca *cluster.Cluster, b *process.Node, cb *cluster.Cluster) {
	t.Helper()
	cfg := testConfig(clusterName(t))
	cfg.Window, cfg.MaxPayload = 64<<10, 4<<10
	// A node that takes nothing from a peer hears no heartbeat from it
	// either: a long bound keeps the pair up for the test.
	cfg.HeartbeatInterval, cfg.HeartbeatMisses = time.Second, 100
	a, ca = joinNode(t, cfg, "a")
	b, cb = joinNode(t, cfg, "b")
	waitUp(t, ca, b.ID())
	return a, ca, b, cb
}
