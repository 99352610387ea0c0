package cluster_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// TestStoppingANodeLeavesItsCluster: Node.Stop without Leave kills the
// node's processes (their remote partners get Shutdown, their real reason)
// and then takes the node out of the cluster (the others see it go).
func TestStoppingANodeLeavesItsCluster(t *testing.T) {
	a, ca, b, cb := pair(t)
	r := testkit.SpawnTarget(t, b)
	pr := spawntest.NewProbe(t, a)
	pr.Do(func(p *process.Process) error {
		p.TrapExit(true)
		_, err := ca.MonitorNode(p, cb.Self().ID)
		return err
	})
	testkit.Linked(t, pr, b, r)

	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	defer cancel()
	require.NoError(t, b.Stop(ctx))

	require.Equal(t, link.Exit{From: r, Reason: process.Shutdown}, pr.Receive())
	down, ok := pr.Receive().(cluster.NodeDown)
	require.True(t, ok, "a NodeDown after the link's exit")
	require.Equal(t, cb.Self().ID, down.Node)
	require.True(t, errors.Is(down.Reason, process.NoConnection), "reason %v", down.Reason)
	spawntest.Eventually(t, "b gone from a's view", func() bool { _, ok := ca.Node(cb.Self().ID); return !ok })
}
