package cluster_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/cluster/embedded"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// srv is the NATS server the tests of this binary share; each test has a
// cluster of its own on it.
var srv *embedded.Server

func TestMain(m *testing.M) {
	if helper := os.Getenv(helperEnv); helper != "" {
		os.Exit(runHelper(helper))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	s, err := embedded.Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the embedded server:", err)
		os.Exit(1)
	}
	srv = s
	code := m.Run()
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	if err := srv.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	cancel()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var clusterSeq atomic.Int64

// clusterName returns a cluster name of the test's own.
func clusterName(t testing.TB) string {
	return fmt.Sprintf("t%d-%d", os.Getpid(), clusterSeq.Add(1))
}

// testConfig is the config of a node of the test's cluster on srv.
func testConfig(name string) cluster.Config {
	cfg := srv.Config(name)
	// Losses in the tests are noticed by the server's advisories or by the
	// connection's end; a long heartbeat bound keeps a loaded machine from
	// adding timeouts. The tests of a paused node set a short one.
	cfg.HeartbeatInterval = time.Second
	cfg.HeartbeatMisses = 10
	return cfg
}

// joinNode starts a node and joins it to cluster name; both end with the
// test.
func joinNode(t testing.TB, cfg cluster.Config, nodeName string) (*process.Node, *cluster.Cluster) {
	t.Helper()
	n := spawntest.NewNode(t)
	cfg.Name = nodeName
	c, err := cluster.Join(spawntest.Context(t), n, cfg)
	if err != nil {
		t.Fatalf("join %s: %v", nodeName, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		defer cancel()
		if err := c.Leave(ctx); err != nil {
			t.Errorf("leave %s: %v", nodeName, err)
		}
	})
	return n, c
}

// pair returns two nodes, a and b, of a cluster of the test's own.
func pair(t testing.TB) (a *process.Node, ca *cluster.Cluster, b *process.Node, cb *cluster.Cluster) {
	t.Helper()
	cfg := testConfig(clusterName(t))
	a, ca = joinNode(t, cfg, "a")
	b, cb = joinNode(t, cfg, "b")
	waitUp(t, ca, cb.Self().ID)
	waitUp(t, cb, ca.Self().ID)
	return a, ca, b, cb
}
