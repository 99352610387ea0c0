package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// TestDIST28_MonitorNodesAfterANodeReadsUpHearsNoNodeUpOfIt: as Erlang's
// monitor_nodes, a subscription hears of the nodes that come up after it.
// One made while B already reads as up here (Node, Nodes), but before B's
// NodeUp has gone out, hears no NodeUp of B; its first message about B is
// B's NodeDown. One made before B came up hears the NodeUp.
func TestDIST28_MonitorNodesAfterANodeReadsUpHearsNoNodeUpOfIt(t *testing.T) {
	cfg := testConfig(clusterName(t))
	a, ca := joinNode(t, cfg, "a")
	before := spawntest.NewProbe(t, a)
	before.Do(func(p *process.Process) error { _, err := ca.MonitorNodes(p); return err })

	marked := make(chan pid.NodeID, 1)
	proceed := make(chan struct{})
	ca.OnMarkedUp(func(peer pid.NodeID) {
		marked <- peer
		<-proceed
	})
	b := spawntest.NewNode(t)
	bcfg := cfg
	bcfg.Name = "b"
	joined := make(chan error, 1)
	var cb *cluster.Cluster
	go func() {
		var err error
		cb, err = cluster.Join(spawntest.Context(t), b, bcfg)
		joined <- err
	}()
	require.Equal(t, b.ID(), spawntest.Recv(t, marked))
	_, up := ca.Node(b.ID())
	require.True(t, up, "B reads as up once marked")
	after := spawntest.NewProbe(t, a)
	after.Do(func(p *process.Process) error { _, err := ca.MonitorNodes(p); return err })
	close(proceed)
	require.NoError(t, spawntest.Recv(t, joined))

	require.Equal(t, cluster.NodeUp{Node: b.ID(), Name: "b"}, before.Receive())
	cb.Crash()
	for _, pr := range []*spawntest.Probe{before, after} {
		down, ok := pr.Receive().(cluster.NodeDown)
		require.True(t, ok, "the first message after B's NodeUp is its NodeDown")
		require.Equal(t, b.ID(), down.Node)
	}
	after.ExpectEmpty()
}
