package cluster_test

import (
	"testing"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// waitUp waits until c reaches the node id.
func waitUp(t testing.TB, c *cluster.Cluster, id pid.NodeID) {
	t.Helper()
	spawntest.Eventually(t, "node up", func() bool {
		_, ok := c.Node(id)
		return ok
	})
}

type ping struct {
	From pid.Pid
	N    int
}

func init() { cluster.MustRegister[ping]("test.ping") }

func TestBasic_SendAcross(t *testing.T) {
	a, _, b, _ := pair(t)
	pa := spawntest.NewProbe(t, a)
	pb := spawntest.NewProbe(t, b)
	pa.Do(func(p *process.Process) error { return p.Send(pb.Pid(), ping{From: p.Self(), N: 1}) })
	got := pb.Receive()
	if m, ok := got.(ping); !ok || m.N != 1 || m.From != pa.Pid() {
		t.Fatalf("got %#v", got)
	}
}
