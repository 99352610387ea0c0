package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
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
	rs, _, ca, b, cb := rejoinPair(t)
	pb := testkit.SpawnTarget(t, b)
	require.NoError(t, cb.Names().Register(spawntest.Context(t), "rejoin", pb))
	spawntest.Eventually(t, "A lists B's name", func() bool { return len(ca.Names().Registered()) == 1 })

	// The server goes and comes back: A and B lose each other, A drops
	// B's name, and neither can delete anything meanwhile. Once Nodes
	// leaves B out, B's names are gone: a node being lost stays listed
	// until its loss is complete.
	rs.stop(t)
	spawntest.Eventually(t, "A has lost B", func() bool { return len(ca.Nodes()) == 0 })
	got, ok := ca.Names().WhereIs("rejoin")
	require.False(t, ok, "a name of a lost node, found at %v", got)
	rs.start(t)
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
	rs, _, ca, b, cb := rejoinPair(t)
	old := testkit.SpawnTarget(t, b)
	require.NoError(t, cb.Names().Register(spawntest.Context(t), "rejoin", old))
	spawntest.Eventually(t, "A lists B's name", func() bool { return len(ca.Names().Registered()) == 1 })

	rs.stop(t)
	spawntest.Eventually(t, "A has lost B", func() bool { return len(ca.Nodes()) == 0 })
	// The owner dies while no one can hear of it.
	require.NoError(t, b.Exit(old, process.Kill))
	spawntest.Eventually(t, "the owner dead", func() bool { return !b.Alive(old) })
	rs.start(t)
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
	rs, _, ca, b, cb := rejoinPair(t)
	rs.stop(t)
	spawntest.Eventually(t, "A has lost B", func() bool { return len(ca.Nodes()) == 0 })
	rs.start(t)
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

// restartable is an embedded server with a store on disk that a test stops
// and starts again on the same port; it ends with the test.
type restartable struct {
	opts []embedded.Option
	s    *embedded.Server
}

func (r *restartable) start(t *testing.T) {
	t.Helper()
	s, err := embedded.Start(spawntest.Context(t), r.opts...)
	require.NoError(t, err)
	r.s = s
}

func (r *restartable) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	defer cancel()
	require.NoError(t, r.s.Shutdown(ctx))
}

// rejoinPair starts a restartable server and two nodes, a and b, of a
// cluster of the test's own on it, up for each other.
func rejoinPair(t *testing.T) (rs *restartable, a *process.Node, ca *cluster.Cluster, b *process.Node, cb *cluster.Cluster) {
	t.Helper()
	rs = &restartable{opts: []embedded.Option{
		embedded.WithPort(freePort(t)), embedded.WithCredentials("rejoin", "rejoin-password"),
		embedded.WithStoreDir(t.TempDir()),
	}}
	rs.start(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		defer cancel()
		_ = rs.s.Shutdown(ctx)
	})
	cfg := rs.s.Config(clusterName(t))
	a, ca = joinNode(t, cfg, "a")
	b, cb = joinNode(t, cfg, "b")
	waitUp(t, ca, b.ID())
	waitUp(t, cb, a.ID())
	return rs, a, ca, b, cb
}

// A node whose live process's name was deleted from the store (by a node
// that had lost it for a while) registers the name again, and keeps trying
// while the store does not answer: the name must not stay missing while
// its owner holds it. It was tried once: a try that failed (the store
// electing a leader after a NATS server was killed) left the name missing
// from every node for good, while NameOf still gave it to its process and
// so nothing registered it again.
func TestGlobalNamesDeletedByAPeerAreRegisteredAgainOnceTheStoreAnswers(t *testing.T) {
	ctx := spawntest.Context(t)
	a, ca, _, cb := pair(t)
	p := spawntest.SpawnIdle(t, a)
	require.NoError(t, ca.Names().Register(ctx, "kept", p))
	resolvesTo(t, cb, "kept", p)

	// A's next three tries fail; the first comes once A has seen the
	// deletion.
	failed := ca.Names().FailCreates(3)
	require.NoError(t, cb.Names().DeleteName(ctx, "kept"))
	spawntest.Recv(t, failed)
	for _, c := range []*cluster.Cluster{ca, cb} {
		resolvesTo(t, c, "kept", p)
	}
	name, ok := ca.Names().NameOf(p)
	require.True(t, ok)
	require.Equal(t, "kept", name)
}

// A name whose entry this node dropped as stale when the watch showed it
// (its owner's node was not up here yet), and which the store still has
// for a live owner, is cached again once a lookup finds it in the store:
// Registered lists it, as every other node does. The lookup found it and
// cached nothing (the entry was no newer than the one seen), so the name
// stayed missing from Registered while WhereIs gave it.
func TestGlobalNamesALookupCachesAnEntryDroppedAsStale(t *testing.T) {
	ctx := spawntest.Context(t)
	a, ca, _, cb := pair(t)
	p := spawntest.SpawnIdle(t, a)
	require.NoError(t, ca.Names().Register(ctx, "back", p))
	resolvesTo(t, cb, "back", p)

	cb.Names().DropCached("back")
	require.Empty(t, cb.Names().Registered())
	got, ok := cb.Names().WhereIs("back") // from the store
	require.True(t, ok)
	require.Equal(t, p, got)
	require.Equal(t, []string{"back"}, cb.Names().Registered())
}
