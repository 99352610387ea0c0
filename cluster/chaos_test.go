package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/cluster/embedded"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Chaos under load: the NATS server restarted, one server of three
// killed, a node paused past the heartbeat bound. SPAWNED_CHAOS_LONG=1
// runs more rounds and longer loads.

var chaosLong = os.Getenv("SPAWNED_CHAOS_LONG") == "1"

// rounds returns quick in the default mode and long in the long one.
func rounds(quick, long int) int {
	if chaosLong {
		return long
	}
	return quick
}

// freePort returns a TCP port of 127.0.0.1 that nothing listens on now,
// for a server the test starts later. It is taken below the kernel's
// ephemeral range, from which outgoing connections take their local ports:
// a port the kernel handed out for listening, once closed, could go to
// another test's connection to a server before this test's server bound it
// (CI failed once on it: "bind: address already in use").
func freePort(t *testing.T) int {
	t.Helper()
	below := ephemeralStart()
	for range 1000 {
		port := lowestTestPort + rand.IntN(below-lowestTestPort)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // in use
		}
		require.NoError(t, l.Close())
		return port
	}
	t.Fatalf("no free port between %d and %d", lowestTestPort, below)
	return 0
}

// lowestTestPort is the lowest port freePort hands out: above the ports of
// the services a machine usually runs.
const lowestTestPort = 20000

// ephemeralStart returns the first port of the kernel's ephemeral range
// (32768 when it cannot tell, the start of Linux's default range and below
// the others').
func ephemeralStart() int {
	const fallback = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil || lo <= lowestTestPort+1000 {
		return fallback
	}
	return min(lo, fallback)
}

// startServer starts an embedded server of the test's own, shut down at
// the end of the test unless the test did.
func startServer(t *testing.T, opts ...embedded.Option) *embedded.Server {
	t.Helper()
	s, err := embedded.Start(spawntest.Context(t), append([]embedded.Option{embedded.WithoutJetStream()}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// callLoad calls a server again and again until stopped, and counts how
// the calls ended.
type callLoad struct {
	ok, lost, other atomic.Int64
	firstOther      atomic.Pointer[error]
	stop, done      chan struct{}
}

func startCalls(ref genserver.Ref[any, any, any]) *callLoad {
	l := &callLoad{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		pace := time.NewTicker(2 * time.Millisecond)
		defer pace.Stop()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			rep, err := ref.Call(ctx, i)
			cancel()
			switch {
			case err == nil && rep == i:
				l.ok.Add(1)
				continue
			case errors.Is(err, process.NoConnection):
				l.lost.Add(1)
			default:
				if err == nil {
					err = fmt.Errorf("reply %v to call %d", rep, i)
				}
				l.firstOther.CompareAndSwap(nil, &err)
				l.other.Add(1)
			}
			select { // no spinning on a lost peer
			case <-pace.C:
			case <-l.stop:
				return
			}
		}
	}()
	return l
}

// end stops the load and returns its counts.
func (l *callLoad) end() (ok, lost, other int64, firstOther error) {
	close(l.stop)
	<-l.done
	if e := l.firstOther.Load(); e != nil {
		firstOther = *e
	}
	return l.ok.Load(), l.lost.Load(), l.other.Load(), firstOther
}

// waitCalls waits until the load has n more successful calls.
func (l *callLoad) waitCalls(t *testing.T, n int64) {
	t.Helper()
	target := l.ok.Load() + n
	spawntest.Eventually(t, "calls succeeding", func() bool { return l.ok.Load() >= target })
}

// streamLoad sends numbered messages from a process of one node to a
// collector on another, and checks that they arrive in order.
type streamLoad struct {
	sender pid.Pid
	got    <-chan any
}

func startStream(t *testing.T, from *process.Node, to *process.Node) *streamLoad {
	t.Helper()
	coll, got := collector(t, to, false)
	sender, err := from.Spawn(func(p *process.Process) error {
		pace := time.NewTicker(200 * time.Microsecond)
		defer pace.Stop()
		for i := 0; ; i++ {
			_ = p.SendWait(p.Context(), coll, seq{Tag: "stream", N: i})
			select {
			case <-pace.C:
			case <-p.Context().Done():
				return nil
			}
		}
	})
	require.NoError(t, err)
	return &streamLoad{sender: sender, got: got}
}

// check drains what arrived so far and checks it is in order.
func (s *streamLoad) check(t *testing.T, last *int) int {
	t.Helper()
	n := 0
	for {
		select {
		case m := <-s.got:
			sq := m.(seq)
			require.Greater(t, sq.N, *last, "stream out of order")
			*last = sq.N
			n++
		default:
			return n
		}
	}
}

// nodeEvents subscribes a process of n to NodeUp and NodeDown and hands
// them to the returned channel.
func nodeEvents(t *testing.T, n *process.Node, c *cluster.Cluster) <-chan any {
	t.Helper()
	out := make(chan any, 64)
	ready := make(chan error, 1)
	_, err := n.Spawn(func(p *process.Process) error {
		_, err := c.MonitorNodes(p)
		ready <- err
		for {
			m, err := p.Receive(p.Context())
			if err != nil {
				return nil
			}
			out <- m
		}
	})
	require.NoError(t, err)
	require.NoError(t, spawntest.Recv(t, ready))
	return out
}

// expectNode waits for a NodeUp (up) or NodeDown of node id on events,
// skipping events of other nodes, and returns it.
func expectNode(t *testing.T, events <-chan any, id pid.NodeID, up bool) any {
	t.Helper()
	for {
		m := spawntest.Recv(t, events)
		switch m := m.(type) {
		case cluster.NodeUp:
			if m.Node == id && up {
				return m
			}
		case cluster.NodeDown:
			if m.Node == id && !up {
				return m
			}
		}
	}
}

func auditClean(t *testing.T, name string, a *cluster.SessionAudit) {
	t.Helper()
	v, cuts, delivered := a.Violations()
	t.Logf("%s: %d peers cut, %d frames delivered, %d violations", name, cuts, delivered, len(v))
	require.Empty(t, v, "frames of a cut session delivered")
}

func TestChaos_NATSServerRestartedUnderLoad(t *testing.T) {
	port := freePort(t)
	opts := []embedded.Option{embedded.WithPort(port), embedded.WithCredentials("chaos", "chaos-password")}
	s := startServer(t, opts...)
	cfg := s.Config(clusterName(t))
	// A long bound: the losses here are noticed by the connection's own
	// end, and a loaded machine must not add heartbeat timeouts.
	cfg.HeartbeatInterval, cfg.HeartbeatMisses = time.Second, 10
	var disconnected, reconnected atomic.Int64
	cfg.ConnectionHandler = func(st cluster.ConnState, _ error) {
		switch st {
		case cluster.Disconnected:
			disconnected.Add(1)
		case cluster.Reconnected:
			reconnected.Add(1)
		}
	}
	a, ca := joinNode(t, cfg, "a")
	b, cb := joinNode(t, cfg, "b")
	waitUp(t, ca, b.ID())
	auditA, auditB := ca.Audit(), cb.Audit()
	eventsA, eventsB := nodeEvents(t, a, ca), nodeEvents(t, b, cb)
	srv, err := genserver.Start(spawntest.Context(t), b, echo{})
	require.NoError(t, err)
	calls := startCalls(genserver.At[any, any, any](a, srv.Pid()))
	stream := startStream(t, a, b)
	last := -1

	for round := range rounds(1, 5) {
		calls.waitCalls(t, 50)
		stream.check(t, &last)
		// Relations across the pair, on both sides.
		rb := testkit.SpawnTarget(t, b)
		pa := spawntest.NewProbe(t, a)
		var m pid.Ref
		pa.Do(func(p *process.Process) (err error) {
			p.TrapExit(true)
			if err = link.Link(p, rb); err != nil {
				return err
			}
			m, err = link.Monitor(p, rb)
			return err
		})
		ra := testkit.SpawnTarget(t, a)
		pb := spawntest.NewProbe(t, b)
		pb.Do(func(p *process.Process) error { p.TrapExit(true); return link.Link(p, ra) })
		testkit.Monitored(t, b, rb, 1)
		spawntest.Eventually(t, "the link recorded on A", func() bool {
			info, err := a.Info(ra)
			return err == nil && len(info.Links) == 1
		})

		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		require.NoError(t, s.Shutdown(ctx))
		cancel()
		// Both sides lose each other, with NoConnection everywhere.
		require.ErrorIs(t, expectNode(t, eventsA, b.ID(), false).(cluster.NodeDown).Reason, cluster.ErrServerLost)
		require.ErrorIs(t, expectNode(t, eventsB, a.ID(), false).(cluster.NodeDown).Reason, cluster.ErrServerLost)
		require.ElementsMatch(t, []any{
			link.Exit{From: rb, Reason: process.NoConnection},
			link.Down{Ref: m, Pid: rb, Reason: process.NoConnection},
		}, []any{pa.Receive(), pa.Receive()}, "round %d", round)
		require.Equal(t, link.Exit{From: ra, Reason: process.NoConnection}, pb.Receive())

		// The server comes back where it was: the nodes meet again in a
		// new session, and the load goes on.
		s = startServer(t, opts...)
		expectNode(t, eventsA, b.ID(), true)
		expectNode(t, eventsB, a.ID(), true)
		calls.waitCalls(t, 50)
		spawntest.Eventually(t, "the stream flowing again", func() bool { return stream.check(t, &last) > 0 })
	}
	ok, lost, other, firstOther := calls.end()
	t.Logf("calls: %d answered, %d failed with NoConnection, %d otherwise", ok, lost, other)
	require.GreaterOrEqual(t, disconnected.Load(), int64(2*rounds(1, 5)), "ConnectionHandler told of the losses")
	require.GreaterOrEqual(t, reconnected.Load(), int64(2*rounds(1, 5)), "ConnectionHandler told of the returns")
	require.Zero(t, other, "a call failed otherwise than with NoConnection: %v", firstOther)
	auditClean(t, "A", auditA)
	auditClean(t, "B", auditB)
}

func TestChaos_OneServerOfThreeKilledUnderLoad(t *testing.T) {
	creds := embedded.WithCredentials("chaos", "chaos-password")
	clientPorts := []int{freePort(t), freePort(t), freePort(t)}
	routePorts := []int{freePort(t), freePort(t), freePort(t)}
	routeURL := func(i int) string { return fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i]) }
	servers := make([]*embedded.Server, 3)
	for i := range servers {
		var routes []string
		for j := range routePorts {
			if j != i {
				routes = append(routes, routeURL(j))
			}
		}
		servers[i] = startServer(t, creds, embedded.WithPort(clientPorts[i]), embedded.WithName(fmt.Sprintf("s%d", i)),
			embedded.WithRoutes("chaos", fmt.Sprintf("127.0.0.1:%d", routePorts[i]), routes...))
	}
	for _, s := range servers {
		spawntest.Eventually(t, "the servers routed", func() bool { return s.NumRoutes() >= 2 })
	}
	name := clusterName(t)
	// Each node prefers its own server, then the others.
	cfgFor := func(first int) cluster.Config {
		var urls []string
		for k := range 3 {
			urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[(first+k)%3]))
		}
		cfg := servers[0].Config(name)
		cfg.URL = strings.Join(urls, ",")
		cfg.HeartbeatInterval, cfg.HeartbeatMisses = time.Second, 10 // see the restart test
		cfg.NATSOptions = []nats.Option{nats.DontRandomize()}
		return cfg
	}
	a, ca := joinNode(t, cfgFor(0), "a")
	b, cb := joinNode(t, cfgFor(1), "b")
	c, cc := joinNode(t, cfgFor(2), "c")
	for _, x := range []*cluster.Cluster{ca, cb, cc} {
		spawntest.Eventually(t, "three nodes", func() bool { return len(x.Nodes()) == 2 })
	}
	auditA, auditC := ca.Audit(), cc.Audit()
	eventsA := nodeEvents(t, a, ca)
	srvB, err := genserver.Start(spawntest.Context(t), b, echo{})
	require.NoError(t, err)
	srvC, err := genserver.Start(spawntest.Context(t), c, echo{})
	require.NoError(t, err)
	toB := startCalls(genserver.At[any, any, any](a, srvB.Pid()))
	toC := startCalls(genserver.At[any, any, any](a, srvC.Pid()))
	stream := startStream(t, a, c)
	last := -1
	// A's link to a process of C must survive the loss of B's server.
	rc := testkit.SpawnTarget(t, c)
	pa := spawntest.NewProbe(t, a)
	pa.Do(func(p *process.Process) error { p.TrapExit(true); return link.Link(p, rc) })
	spawntest.Eventually(t, "the link recorded on C", func() bool {
		info, err := c.Info(rc)
		return err == nil && len(info.Links) == 1
	})
	toB.waitCalls(t, 50)
	toC.waitCalls(t, 50)

	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	require.NoError(t, servers[1].Shutdown(ctx))
	cancel()
	// B lost its server, so A and B lost each other, and meet again once
	// B has reconnected to another server.
	expectNode(t, eventsA, b.ID(), false)
	expectNode(t, eventsA, b.ID(), true)
	toB.waitCalls(t, 50)
	toC.waitCalls(t, 100)
	spawntest.Eventually(t, "the stream to C flowing", func() bool { return stream.check(t, &last) > 0 })

	okB, lostB, otherB, errB := toB.end()
	okC, lostC, otherC, errC := toC.end()
	t.Logf("A to B: %d answered, %d NoConnection, %d other; A to C: %d answered, %d NoConnection, %d other",
		okB, lostB, otherB, okC, lostC, otherC)
	require.Zero(t, otherB, "A to B: %v", errB)
	require.Zero(t, otherC, "A to C: %v", errC)
	require.Zero(t, lostC, "the pair A, C lost its connection though both its servers lived")
	pa.ExpectEmpty()
	auditClean(t, "A", auditA)
	auditClean(t, "C", auditC)
}

func TestChaos_ANodePausedPastTheHeartbeatBoundUnderLoad(t *testing.T) {
	cfg := testConfig(clusterName(t))
	cfg.HeartbeatInterval, cfg.HeartbeatMisses = pauseBound()
	a, ca := joinNode(t, cfg, "a")
	audit := ca.Audit()
	events := nodeEvents(t, a, ca)
	for round := range rounds(1, 3) {
		b := startChild(t, a, ca, cfg, fmt.Sprintf("b%d", round))
		srv := b.do(ctlReq{Op: "echo", Name: "gsd"}).Pid
		calls := startCalls(genserver.At[any, any, any](a, srv))
		calls.waitCalls(t, 20)
		b.signal(syscall.SIGSTOP)
		require.ErrorIs(t, expectNode(t, events, b.ID, false).(cluster.NodeDown).Reason, cluster.ErrHeartbeatTimeout)
		// Paused well past the bound, as a long GC pause or a stopped VM.
		time.Sleep(3 * cfg.HeartbeatInterval * time.Duration(cfg.HeartbeatMisses)) // the pause is what is under test
		b.signal(syscall.SIGCONT)
		expectNode(t, events, b.ID, true)
		calls.waitCalls(t, 20)
		ok, lost, other, firstOther := calls.end()
		t.Logf("round %d: %d answered, %d NoConnection, %d other", round, ok, lost, other)
		require.Zero(t, other, "%v", firstOther)
		require.NotZero(t, lost, "no call failed while the node was paused")
		b.stop()
	}
	auditClean(t, "A", audit)
}
