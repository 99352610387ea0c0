package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/spawntest"
)

// seqForwarder forwards the casts it handles to got.
type seqForwarder struct {
	genserver.NoCalls
	got chan seq
}

func (s seqForwarder) HandleCast(_ *genserver.Ctx, m seq) { s.got <- m }

// TestFlowControl_CastWaitWaitsWhileThePeerIsBusy: a cast to a server of a
// node that takes no more for now fails with ErrPeerBusy; CastWait waits
// for room instead, within its context, and the cast arrives once the
// peer takes frames again.
func TestFlowControl_CastWaitWaitsWhileThePeerIsBusy(t *testing.T) {
	a, _, b, cb := smallWindowPair(t)
	ctx := spawntest.Context(t)
	got := make(chan seq, 1<<16)
	srv, err := genserver.Start(ctx, b, seqForwarder{got: got}, genserver.WithName("fwd"))
	require.NoError(t, err)

	release := cb.HoldPeer(a.ID())
	defer release()
	byPid := genserver.At[genserver.Never, genserver.Never, seq](a, srv.Pid())
	byName := genserver.NamedOn[genserver.Never, genserver.Never, seq](a, b.ID(), "fwd")
	sent := 0
	for ; ; sent++ {
		err := byPid.Cast(seq{Tag: "flood", N: sent})
		if errors.Is(err, cluster.ErrPeerBusy) {
			break
		}
		require.NoError(t, err)
		require.Less(t, sent, 1<<16, "the window never filled")
	}

	for _, ref := range []genserver.Ref[genserver.Never, genserver.Never, seq]{byPid, byName} {
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err := ref.CastWait(short, seq{Tag: "late", N: -1})
		cancel()
		var ce *genserver.CallError
		require.ErrorIs(t, err, genserver.ErrTimeout)
		require.ErrorAs(t, err, &ce)
		require.Equal(t, genserver.OpCast, ce.Op)
	}

	waited := make(chan error, 1)
	go func() { waited <- byName.CastWait(ctx, seq{Tag: "flood", N: sent}) }()
	release()
	require.NoError(t, spawntest.Recv(t, waited))
	for i := 0; i <= sent; i++ {
		require.Equal(t, seq{Tag: "flood", N: i}, spawntest.Recv(t, got), "cast %d", i)
	}
}
