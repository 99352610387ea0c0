package cluster_test

import (
	"context"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// The crash scenarios, with the peer node in another OS process: killed
// with SIGKILL, or stopped with SIGSTOP.

// strictTiming makes the detection-time checks strict (the goals, on a
// quiet machine); by default they only check that detection took the fast
// path and report the times.
var strictTiming = os.Getenv("SPAWNED_STRICT_TIMING") == "1"

// lossSetup is DIST-12's setup on A, against child node B.
type lossSetup struct {
	l1exit           *spawntest.ExitWatch
	pr               *spawntest.Probe
	r1, r2, r3, nb   pid.Pid
	m3, mName        pid.Ref
	l1               *spawntest.Probe
	nodeMon, nodeSub pid.Ref
}

func setUpLoss(t *testing.T, a *process.Node, ca *cluster.Cluster, b *child) *lossSetup {
	t.Helper()
	s := &lossSetup{}
	s.r1 = b.do(ctlReq{Op: "idle"}).Pid
	s.r2 = b.do(ctlReq{Op: "idle"}).Pid
	s.r3 = b.do(ctlReq{Op: "idle", Name: "nb"}).Pid
	s.l1 = spawntest.NewProbe(t, a)
	s.l1exit = spawntest.WatchExit(t, a, s.l1.Pid())
	s.pr = spawntest.NewProbe(t, a)
	s.pr.Do(func(p *process.Process) (err error) {
		p.TrapExit(true)
		if err = link.Link(p, s.r2); err != nil {
			return err
		}
		if s.m3, err = link.Monitor(p, s.r3); err != nil {
			return err
		}
		if s.mName, err = link.MonitorNameOn(p, b.ID, "nb"); err != nil {
			return err
		}
		if s.nodeMon, err = ca.MonitorNode(p, b.ID); err != nil {
			return err
		}
		s.nodeSub, err = ca.MonitorNodes(p)
		return err
	})
	s.l1.Do(func(p *process.Process) error { return link.Link(p, s.r1) })
	// A call answered proves every signal above reached B: they went first.
	b.do(ctlReq{Op: "alive", Pid: s.r1})
	return s
}

// expectLoss checks what A receives when B is lost.
func (s *lossSetup) expectLoss(t *testing.T, b pid.NodeID, why error) {
	t.Helper()
	require.ErrorIs(t, s.l1exit.Wait(), process.NoConnection)
	var rest []any
	downs := 0
	for range 5 {
		m := s.pr.Receive()
		if nd, ok := m.(cluster.NodeDown); ok {
			require.Equal(t, b, nd.Node)
			require.ErrorIs(t, nd.Reason, why)
			downs++
			continue
		}
		rest = append(rest, m)
	}
	require.Equal(t, 2, downs, "a NodeDown from the node monitor and one from the subscription")
	require.ElementsMatch(t, []any{
		link.Exit{From: s.r2, Reason: process.NoConnection},
		link.Down{Ref: s.m3, Pid: s.r3, Reason: process.NoConnection},
		link.Down{Ref: s.mName, Reason: process.NoConnection, Name: "nb", Node: b},
	}, rest)
}

// lossConfig is a config whose heartbeat bound is long, so that a loss
// noticed quickly was noticed by the server's advisory.
func lossConfig(t *testing.T) cluster.Config {
	cfg := testConfig(clusterName(t))
	cfg.HeartbeatInterval, cfg.HeartbeatMisses = 2*time.Second, 15
	return cfg
}

func TestDIST12_AKilledNodeFiresEveryLinkAndMonitorWithNoConnection(t *testing.T) {
	cfg := lossConfig(t)
	a, ca := joinNode(t, cfg, "a")
	b := startChild(t, a, ca, cfg, "b")
	s := setUpLoss(t, a, ca, b)

	start := time.Now()
	b.kill()
	s.expectLoss(t, b.ID, cluster.ErrConnectionClosed)
	took := time.Since(start)
	t.Logf("kill -9 to the last Down and NodeDown: %v", took)
	require.Less(t, took, timingBound(100*time.Millisecond, 5*time.Second))

	// While B stays down, its Pids answer NoConnection at once, and a node
	// monitor fires at once.
	var m pid.Ref
	s.pr.Do(func(p *process.Process) (err error) {
		if m, err = link.Monitor(p, s.r3); err != nil {
			return err
		}
		if err = link.Link(p, s.r3); err != nil {
			return err
		}
		_, err = ca.MonitorNode(p, b.ID)
		return err
	})
	require.Equal(t, link.Down{Ref: m, Pid: s.r3, Reason: process.NoConnection}, s.pr.Receive())
	require.Equal(t, link.Exit{From: s.r3, Reason: process.NoConnection}, s.pr.Receive())
	nd := s.pr.Receive().(cluster.NodeDown)
	require.Equal(t, b.ID, nd.Node)
}

// pauseBound is the heartbeat interval and misses of the tests that
// pause a node: a bound short enough for a test, long enough that a loaded
// machine (the race detector, the whole suite at once) does not cut a pair
// that is only slow.
func pauseBound() (time.Duration, int) { return 200 * time.Millisecond, 5 }

// timingBound returns goal under SPAWNED_STRICT_TIMING=1, else loose: a
// bound that only a fall-back to the slow path would break.
func timingBound(goal, loose time.Duration) time.Duration {
	if strictTiming {
		return goal
	}
	return loose
}

func TestDIST14_AHungNodeIsNoticedByTheHeartbeatThenTheSameEffects(t *testing.T) {
	cfg := testConfig(clusterName(t))
	cfg.HeartbeatInterval, cfg.HeartbeatMisses = pauseBound()
	a, ca := joinNode(t, cfg, "a")
	b := startChild(t, a, ca, cfg, "b")
	s := setUpLoss(t, a, ca, b)
	// On B, a trapping BT linked to A's CA.
	caPid := testkit.SpawnTarget(t, a)
	caExit := spawntest.WatchExit(t, a, caPid)
	bt := b.do(ctlReq{Op: "link", Pid: caPid, Trap: true}).Pid
	spawntest.Eventually(t, "the link recorded on A", func() bool {
		info, err := a.Info(caPid)
		return err == nil && len(info.Links) == 1
	})

	start := time.Now()
	b.signal(syscall.SIGSTOP)
	t.Cleanup(func() { _ = b.cmd.Process.Signal(syscall.SIGCONT) })
	// A send to a stopped node returns at once.
	require.NoError(t, a.Send(s.r3, "while stopped"))
	s.expectLoss(t, b.ID, cluster.ErrHeartbeatTimeout)
	took := time.Since(start)
	t.Logf("SIGSTOP to the last Down: %v (bound %v, at most one interval more)", took,
		cfg.HeartbeatInterval*time.Duration(cfg.HeartbeatMisses))
	require.Greater(t, took, cfg.HeartbeatInterval*time.Duration(cfg.HeartbeatMisses-1))
	require.ErrorIs(t, caExit.Wait(), process.NoConnection)

	// After SIGCONT the nodes meet again in a new session; B's side fires
	// too: BT gets the Exit, R1 (linked to A's L1) dies, R3 stays alive.
	// A's NodeUp does not wait for B's processes to handle their signals,
	// so B's side is awaited on its own.
	b.signal(syscall.SIGCONT)
	up := s.pr.Receive().(cluster.NodeUp)
	require.Equal(t, b.ID, up.Node)
	spawntest.Eventually(t, "BT on B to get the Exit of CA", func() bool {
		msgs, _, _ := b.events(bt)
		return slices.Contains(msgs, any(link.Exit{From: caPid, Reason: process.NoConnection}))
	})
	spawntest.Eventually(t, "R1 on B to die", func() bool { return !b.do(ctlReq{Op: "alive", Pid: s.r1}).Alive })
	require.True(t, b.do(ctlReq{Op: "alive", Pid: s.r3}).Alive)
	got, _, _ := b.events(s.r3)
	t.Logf("the message sent to R3 while B was stopped, before A lost it: delivered %v", len(got) == 1)
	require.True(t, ca.DemonitorNode(s.nodeSub))
}

func TestDIST15_ARestartedNodeIsANewIncarnationAndOldPidsAreDead(t *testing.T) {
	cfg := lossConfig(t)
	a, ca := joinNode(t, cfg, "a")
	b1 := startChild(t, a, ca, cfg, "b")
	old := b1.do(ctlReq{Op: "idle", Name: "nr"}).Pid
	pr := spawntest.NewProbe(t, a)
	pr.Do(func(p *process.Process) error { _, err := ca.MonitorNode(p, b1.ID); return err })
	b1.kill()
	require.Equal(t, b1.ID, pr.Receive().(cluster.NodeDown).Node)

	b2 := startChild(t, a, ca, cfg, "b")
	require.NotEqual(t, b1.ID, b2.ID)
	fresh := b2.do(ctlReq{Op: "idle", Name: "nr"}).Pid
	require.NotEqual(t, old, fresh)
	require.NotEqual(t, old.String(), fresh.String())
	require.Equal(t, old.Node(), b1.ID)

	// The old incarnation's Pids are dead: NoProc, not NoConnection.
	var m pid.Ref
	pr.Do(func(p *process.Process) (err error) {
		p.TrapExit(true)
		if err = p.Send(old, "hello"); err != nil {
			return err
		}
		if m, err = link.Monitor(p, old); err != nil {
			return err
		}
		if err = link.Link(p, old); err != nil {
			return err
		}
		return p.Exit(old, process.Kill)
	})
	require.Equal(t, link.Down{Ref: m, Pid: old, Reason: process.NoProc}, pr.Receive())
	require.Equal(t, link.Exit{From: old, Reason: process.NoProc}, pr.Receive())
	_, err := genserver.At[any, any, any](a, old).Call(spawntest.Context(t), "ping")
	require.ErrorIs(t, err, process.NoProc)
	require.True(t, b2.do(ctlReq{Op: "alive", Pid: fresh}).Alive)
	// {nr, B} reaches the new one.
	require.NoError(t, registry.Of(a).SendOn(b2.ID, "nr", "by name"))
	spawntest.Eventually(t, "the message by name", func() bool {
		msgs, _, _ := b2.events(fresh)
		return len(msgs) == 1 && msgs[0] == "by name"
	})
	msgs, _, _ := b2.events(fresh)
	require.Equal(t, []any{"by name"}, msgs)
}

func TestDIST17_TheServersNodeKilledMidCall(t *testing.T) {
	cfg := lossConfig(t)
	a, ca := joinNode(t, cfg, "a")
	b := startChild(t, a, ca, cfg, "b")
	srv := b.do(ctlReq{Op: "echo", Name: "gsd"}).Pid
	failed := make(chan error, 2)
	for _, ref := range []genserver.Ref[any, any, any]{
		genserver.At[any, any, any](a, srv),
		genserver.NamedOn[any, any, any](a, b.ID, "gsd"),
	} {
		go func() {
			long, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			_, err := ref.Call(long, 10*time.Second)
			failed <- err
		}()
	}
	// The first call runs, the second waits in the server's mailbox.
	spawntest.Eventually(t, "the calls at the server", func() bool {
		info := b.do(ctlReq{Op: "info", Pid: srv})
		return info.Busy && info.Queue == 1
	})
	start := time.Now()
	b.kill()
	for range 2 {
		err := spawntest.Recv(t, failed)
		require.ErrorIs(t, err, process.NoConnection)
		require.Contains(t, err.Error(), b.ID.String())
	}
	took := time.Since(start)
	t.Logf("kill -9 to both calls failed: %v", took)
	require.Less(t, took, timingBound(100*time.Millisecond, 5*time.Second))
}

func TestDIST29_FailureDetectionTimes(t *testing.T) {
	cfg := lossConfig(t)
	a, ca := joinNode(t, cfg, "a")
	measure := func(what string, lose func(b *child)) time.Duration {
		b := startChild(t, a, ca, cfg, "b-"+what)
		r := b.do(ctlReq{Op: "idle"}).Pid
		down := spawntest.WatchExit(t, a, r)
		b.do(ctlReq{Op: "alive", Pid: r})
		start := time.Now()
		lose(b)
		down.Wait()
		took := time.Since(start)
		t.Logf("%s: Down after %v", what, took)
		return took
	}
	killed := measure("kill", func(b *child) { b.signal(syscall.SIGKILL) })
	require.Less(t, killed, timingBound(100*time.Millisecond, 5*time.Second))
	disconnected := measure("disconnect", func(b *child) { ca.Disconnect(b.ID) })
	require.Less(t, disconnected, timingBound(10*time.Millisecond, 5*time.Second))

	start := time.Now()
	down := spawntest.WatchExit(t, a, pid.New(ghostNode, 1))
	down.Wait()
	t.Logf("ghost node: Down after %v", time.Since(start))
}
