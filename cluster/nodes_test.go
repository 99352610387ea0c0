package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// A node being lost stays in Nodes (and Node) until its loss is complete:
// the cut drops the node's global names while the node is cutting, so a
// node that Nodes leaves out has no names left here.
func TestDIST21_NodesListALostNodeUntilItsNamesAreGone(t *testing.T) {
	_, ca, b, cb := pair(t)
	pb := testkit.SpawnTarget(t, b)
	require.NoError(t, cb.Names().Register(spawntest.Context(t), "cutting", pb))
	spawntest.Eventually(t, "A finds B's name", func() bool {
		_, ok := ca.Names().WhereIs("cutting")
		return ok
	})
	listed := make(chan bool, 1)
	ca.OnCut(func(peer pid.NodeID) {
		if peer != b.ID() {
			return
		}
		_, reachable := ca.Node(peer)
		select {
		case listed <- len(ca.Nodes()) == 1 && reachable:
		default:
		}
	})
	require.True(t, ca.Disconnect(b.ID()))
	require.True(t, spawntest.Recv(t, listed), "B left out of Nodes while its loss was under way")
}

// A node whose announcements no node heard (its server's routes to the
// others not up yet when it joined, say) meets the cluster once one is
// heard, and the nodes report it up (DIST-28): it announces itself again
// after 1, 2, 4, then every 8 heartbeat intervals.
func TestDIST28_NodeUpIsReportedForANodeWhoseAnnouncementsWereMissed(t *testing.T) {
	cfg := testConfig(clusterName(t))
	cfg.HeartbeatInterval = 50 * time.Millisecond
	cfg.HeartbeatMisses = 200 // no loss within the test on a loaded machine
	cfg.DiscoveryTimeout = 50 * time.Millisecond
	a, ca := joinNode(t, cfg, "a")
	pr := spawntest.NewProbe(t, a)
	pr.Do(func(p *process.Process) error { _, err := ca.MonitorNodes(p); return err })
	b := spawntest.NewNode(t)
	dropped := ca.DropAnnouncements(b.ID(), 3) // Join's and the next two
	cfg.Name = "b"
	cb, err := cluster.Join(spawntest.Context(t), b, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		defer cancel()
		assert.NoError(t, cb.Leave(ctx))
	})
	spawntest.Recv(t, dropped)
	require.Equal(t, cluster.NodeUp{Node: b.ID(), Name: "b"}, pr.Receive())
	waitUp(t, cb, ca.Self().ID)
}
