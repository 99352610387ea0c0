package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/pid"
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
