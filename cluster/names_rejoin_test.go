package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster/embedded"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// A node that loses a peer drops the peer's global names; when the peer
// comes back (the same incarnation, in a new session) with its names
// still in the store, they must be known again: listed by Registered and
// found from the local cache. Found by the three-node chaos test: with
// the NATS server restarted, no node could delete the names, the watch
// had nothing new to tell, and the peer's names stayed missing from
// Registered for good.
func TestGlobalNamesOfAPeerComeBackWithThePeer(t *testing.T) {
	port := freePort(t)
	opts := []embedded.Option{
		embedded.WithPort(port), embedded.WithCredentials("rejoin", "rejoin-password"),
		embedded.WithStoreDir(t.TempDir()),
	}
	start := func() *embedded.Server {
		s, err := embedded.Start(spawntest.Context(t), opts...)
		require.NoError(t, err)
		return s
	}
	s := start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	cfg := s.Config(clusterName(t))
	a, ca := joinNode(t, cfg, "a")
	b, cb := joinNode(t, cfg, "b")
	waitUp(t, ca, b.ID())
	waitUp(t, cb, a.ID())
	pb := testkit.SpawnTarget(t, b)
	require.NoError(t, cb.Names().Register(spawntest.Context(t), "rejoin", pb))
	spawntest.Eventually(t, "A lists B's name", func() bool { return len(ca.Names().Registered()) == 1 })

	// The server goes and comes back: A and B lose each other, A drops
	// B's name, and neither can delete anything meanwhile.
	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	require.NoError(t, s.Shutdown(ctx))
	cancel()
	spawntest.Eventually(t, "A has lost B", func() bool { return len(ca.Nodes()) == 0 })
	got, ok := ca.Names().WhereIs("rejoin")
	require.False(t, ok, "a name of a lost node, found at %v", got)
	s = start()
	waitUp(t, ca, b.ID())

	spawntest.Eventually(t, "A lists B's name again", func() bool {
		names := ca.Names().Registered()
		return len(names) == 1 && names[0] == "rejoin"
	})
	got, ok = ca.Names().WhereIs("rejoin")
	require.True(t, ok)
	require.Equal(t, pb, got)
	require.Equal(t, []string{"rejoin"}, cb.Names().Registered())
}

// A peer whose named process died while the two were cut off, and whose
// successor took the name once they met again, is not found at the dead
// owner: what a peer brings back is what it holds now, not what it held
// when it was lost.
func TestGlobalNamesOfAPeerComeBackAsTheyAreNow(t *testing.T) {
	port := freePort(t)
	opts := []embedded.Option{
		embedded.WithPort(port), embedded.WithCredentials("rejoin", "rejoin-password"),
		embedded.WithStoreDir(t.TempDir()),
	}
	start := func() *embedded.Server {
		s, err := embedded.Start(spawntest.Context(t), opts...)
		require.NoError(t, err)
		return s
	}
	s := start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	cfg := s.Config(clusterName(t))
	a, ca := joinNode(t, cfg, "a")
	b, cb := joinNode(t, cfg, "b")
	waitUp(t, ca, b.ID())
	waitUp(t, cb, a.ID())
	old := testkit.SpawnTarget(t, b)
	require.NoError(t, cb.Names().Register(spawntest.Context(t), "rejoin", old))
	spawntest.Eventually(t, "A lists B's name", func() bool { return len(ca.Names().Registered()) == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	require.NoError(t, s.Shutdown(ctx))
	cancel()
	spawntest.Eventually(t, "A has lost B", func() bool { return len(ca.Nodes()) == 0 })
	// The owner dies while no one can hear of it.
	require.NoError(t, b.Exit(old, process.Kill))
	spawntest.Eventually(t, "the owner dead", func() bool { return !b.Alive(old) })
	s = start()
	waitUp(t, ca, b.ID())
	successor := testkit.SpawnTarget(t, b)
	spawntest.Eventually(t, "the successor registered", func() bool {
		return cb.Names().Register(spawntest.Context(t), "rejoin", successor) == nil
	})
	spawntest.Eventually(t, "A finds the successor", func() bool {
		got, ok := ca.Names().WhereIs("rejoin")
		require.False(t, ok && got == old, "A finds the name at its dead owner")
		return ok && got == successor
	})
	require.Equal(t, []string{"rejoin"}, ca.Names().Registered())
}

// After the NATS server restarted, a name registered on one node is
// listed on the others at once, from their watch of the store, without a
// lookup: the watch does not wait for its heartbeats to notice that its
// consumer went with the server.
func TestGlobalNamesAreWatchedAgainAfterTheServerRestarted(t *testing.T) {
	port := freePort(t)
	opts := []embedded.Option{
		embedded.WithPort(port), embedded.WithCredentials("rejoin", "rejoin-password"),
		embedded.WithStoreDir(t.TempDir()),
	}
	start := func() *embedded.Server {
		s, err := embedded.Start(spawntest.Context(t), opts...)
		require.NoError(t, err)
		return s
	}
	s := start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	cfg := s.Config(clusterName(t))
	_, ca := joinNode(t, cfg, "a")
	b, cb := joinNode(t, cfg, "b")
	waitUp(t, ca, b.ID())
	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	require.NoError(t, s.Shutdown(ctx))
	cancel()
	spawntest.Eventually(t, "A has lost B", func() bool { return len(ca.Nodes()) == 0 })
	s = start()
	waitUp(t, ca, b.ID())

	pb := testkit.SpawnTarget(t, b)
	spawntest.Eventually(t, "B registered", func() bool {
		return cb.Names().Register(spawntest.Context(t), "fresh", pb) == nil
	})
	registered := time.Now()
	spawntest.Eventually(t, "A lists the new name", func() bool {
		return len(ca.Names().Registered()) == 1
	})
	t.Logf("listed on A %v after it was registered on B", time.Since(registered))
}
