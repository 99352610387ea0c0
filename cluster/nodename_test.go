package cluster_test

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Join refuses the name of a live node of the cluster, before the joining
// node announces itself: it leaves nothing running, and neither the holder
// nor the other nodes notice anything. Names are free text: the subject a
// holder answers on is derived from the name, whatever its characters or
// length.
func TestJoinRefusesTheNameOfALiveNode(t *testing.T) {
	for _, tc := range []struct{ what, name string }{
		{"a plain name", "billing-1"},
		{"a name of subject syntax", "b.*.> x\ty"},
		{"a name of other scripts", "nœud-β-ノード"},
		{"a long name", strings.Repeat("n", 8<<10)},
	} {
		t.Run(tc.what, func(t *testing.T) {
			cfg := testConfig(clusterName(t))
			a, ca := joinNode(t, cfg, "a")
			h, ch := joinNode(t, cfg, tc.name)
			waitUp(t, ca, h.ID())
			waitUp(t, ch, a.ID())
			type watcher struct {
				pr    *spawntest.Probe
				other cluster.NodeInfo
			}
			var watchers []watcher
			for _, at := range []struct {
				n     *process.Node
				c     *cluster.Cluster
				other cluster.NodeInfo
			}{{a, ca, ch.Self()}, {h, ch, ca.Self()}} {
				pr := spawntest.NewProbe(t, at.n)
				pr.Do(func(p *process.Process) error { _, err := at.c.MonitorNodes(p); return err })
				watchers = append(watchers, watcher{pr, at.other})
			}
			second := spawntest.NewNode(t)
			before := goleak.IgnoreCurrent()

			cfg.Name = tc.name
			c, err := cluster.Join(spawntest.Context(t), second, cfg)
			require.ErrorIs(t, err, cluster.ErrNodeNameTaken)
			require.Nil(t, c)
			require.Contains(t, err.Error(), strconv.Quote(tc.name))
			require.Contains(t, err.Error(), h.ID().String())
			goleak.VerifyNone(t, before) // no connection or goroutine left of the refused Join

			// The holder and A still reach each other, and nobody saw a node
			// come or go.
			pa, ph := spawntest.NewProbe(t, a), spawntest.NewProbe(t, h)
			pa.Send(ph.Pid(), "ping")
			require.Equal(t, "ping", ph.Receive())
			ph.Send(pa.Pid(), "pong")
			require.Equal(t, "pong", pa.Receive())
			for _, w := range watchers {
				for _, m := range queued(w.pr) {
					// Node reports that the other node is up a moment before
					// the subscribers hear of it: its NodeUp may come after
					// the subscription. Nothing else may.
					require.Equal(t, cluster.NodeUp{Node: w.other.ID, Name: w.other.Name}, m)
				}
			}
			require.Equal(t, []cluster.NodeInfo{{ID: h.ID(), Name: tc.name}}, ca.Nodes())
			require.Equal(t, []cluster.NodeInfo{{ID: a.ID(), Name: "a"}}, ch.Nodes())

			// The node may join under another name.
			cfg.Name = tc.name + "-2"
			c, err = cluster.Join(spawntest.Context(t), second, cfg)
			require.NoError(t, err)
			require.NoError(t, c.Leave(spawntest.Context(t)))
		})
	}
}

// A node that left holds its name no more: a node joins under it at once,
// whether it is another node or the one that left. The joining node waits
// for a holder's answer as long as its discovery timeout: with an hour, a
// node that left and still kept the name's subscription, silent, would
// hold the Join until the test's deadline instead of leaving the name free
// at once.
func TestJoinTakesTheNameOfANodeThatLeft(t *testing.T) {
	for _, tc := range []struct {
		what string
		same bool // the node that left joins again
	}{
		{"another node", false},
		{"the same node", true},
	} {
		t.Run(tc.what, func(t *testing.T) {
			cfg := testConfig(clusterName(t))
			_, ca := joinNode(t, cfg, "a")
			b := spawntest.NewNode(t)
			bcfg := cfg
			bcfg.Name = "b"
			cb, err := cluster.Join(spawntest.Context(t), b, bcfg)
			require.NoError(t, err)
			waitUp(t, ca, b.ID())
			require.NoError(t, cb.Leave(spawntest.Context(t)))
			spawntest.Eventually(t, "A has lost B", func() bool { return len(ca.Nodes()) == 0 })

			next := b
			if !tc.same {
				next = spawntest.NewNode(t)
			}
			ncfg := bcfg
			ncfg.DiscoveryTimeout = time.Hour
			cn, err := cluster.Join(spawntest.Context(t), next, ncfg)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, cn.Leave(spawntest.Context(t))) })
			waitUp(t, ca, next.ID())
			require.Equal(t, []cluster.NodeInfo{{ID: next.ID(), Name: "b"}}, ca.Nodes())

			// And the name is held again.
			_, err = cluster.Join(spawntest.Context(t), spawntest.NewNode(t), bcfg)
			require.ErrorIs(t, err, cluster.ErrNodeNameTaken)
		})
	}
}

// A node of another cluster may have the same name: a name is unique in
// its cluster only.
func TestJoinTakesANameHeldInAnotherCluster(t *testing.T) {
	_, _ = joinNode(t, testConfig(clusterName(t)), "b")
	other := testConfig(clusterName(t))
	_, ca := joinNode(t, other, "a")
	b, _ := joinNode(t, other, "b")
	waitUp(t, ca, b.ID())
	require.Equal(t, []cluster.NodeInfo{{ID: b.ID(), Name: "b"}}, ca.Nodes())
}

// A node that is down answers for its name no more, so a restart under
// its name joins and the old node is superseded (DIST-15): a node killed
// (its connection closed) at once, a node stopped (SIGSTOP: its connection
// open, its subscription silent) once the joining node has waited for an
// answer as long as its heartbeat interval.
func TestJoinTakesTheNameOfADownNode(t *testing.T) {
	for _, tc := range []struct {
		what string
		down func(t *testing.T, b *child)
		why  error // the NodeDown of the old node
	}{
		{"killed", func(_ *testing.T, b *child) { b.kill() }, cluster.ErrConnectionClosed},
		{"stopped", func(t *testing.T, b *child) {
			b.signal(syscall.SIGSTOP)
			t.Cleanup(func() { b.signal(syscall.SIGCONT) }) // so that it ends when told to
		}, cluster.ErrSuperseded},
	} {
		t.Run(tc.what, func(t *testing.T) {
			cfg := lossConfig(t)
			a, ca := joinNode(t, cfg, "a")
			b1 := startChild(t, a, ca, cfg, "b")
			old := b1.do(ctlReq{Op: "idle"}).Pid
			pr := spawntest.NewProbe(t, a)
			pr.Do(func(p *process.Process) error { _, err := ca.MonitorNode(p, b1.ID); return err })
			tc.down(t, b1)

			b2 := startChild(t, a, ca, cfg, "b")
			nd := pr.Receive().(cluster.NodeDown)
			require.Equal(t, b1.ID, nd.Node)
			require.ErrorIs(t, nd.Reason, tc.why)
			spawntest.Eventually(t, "A lists only the new B", func() bool {
				nodes := ca.Nodes()
				return len(nodes) == 1 && nodes[0] == cluster.NodeInfo{ID: b2.ID, Name: "b"}
			})
			// The old node's Pids are dead.
			var m pid.Ref
			pr.Do(func(p *process.Process) (err error) { m, err = link.Monitor(p, old); return err })
			require.Equal(t, link.Down{Ref: m, Pid: old, Reason: process.NoProc}, pr.Receive())
		})
	}
}

// queued takes the messages queued for the probe, without waiting.
func queued(pr *spawntest.Probe) []any {
	var out []any
	pr.Do(func(p *process.Process) error {
		now, cancel := context.WithCancel(context.Background())
		cancel()
		for {
			m, err := p.Receive(now)
			if err != nil {
				return nil
			}
			out = append(out, m)
		}
	})
	return out
}
