package cluster_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/cluster/embedded"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// cutProxy forwards TCP connections on 127.0.0.1 to a NATS server until it
// is cut: then it closes the connections it carries, and every new one at
// once, until it is healed. A node that connects through it can so be cut
// off from NATS, and from every other node, while its process lives on.
type cutProxy struct {
	l      net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// startCutProxy starts a proxy to the server of serverURL; it ends with
// the test.
func startCutProxy(t *testing.T, serverURL string) *cutProxy {
	t.Helper()
	u, err := url.Parse(serverURL)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{l: l, target: u.Host, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL is the proxy's address, for a node's Config.URL.
func (p *cutProxy) URL() string { return "nats://" + p.l.Addr().String() }

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.l.Accept()
		if err != nil {
			return // closed
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		if !p.track(in, out) {
			_, _ = in.Close(), out.Close()
			continue
		}
		p.wg.Add(2)
		go p.pipe(out, in)
		go p.pipe(in, out)
	}
}

// track records a connection's two ends, unless the proxy is cut.
func (p *cutProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// pipe copies from one end to the other and closes both when either ends.
func (p *cutProxy) pipe(to, from net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(to, from)
	_, _ = to.Close(), from.Close()
	p.mu.Lock()
	delete(p.conns, to)
	delete(p.conns, from)
	p.mu.Unlock()
}

// setCut cuts (true) or heals (false) the proxy; cutting closes every
// connection it carries.
func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			_ = c.Close()
		}
	}
}

func (p *cutProxy) close() {
	_ = p.l.Close()
	p.setCut(true)
	p.wg.Wait()
}

// DIST-22: in Erlang, a name registered on both sides of a partition is a
// conflict found at the merge, and global kills one owner. Here the store
// refuses the conflict instead: a node cut off from NATS cannot register,
// the side that lost it frees its names and may take them, and on the
// merge the cut-off node's process learns it lost the name and lives on.
func TestDIST22_APartitionRefusesConflictsAndTheMergeKillsNobody(t *testing.T) {
	ctx := spawntest.Context(t)
	cfg := testConfig(clusterName(t))
	proxy := startCutProxy(t, cfg.URL)
	xcfg := cfg
	xcfg.URL = proxy.URL()
	x, cx := joinNode(t, xcfg, "x")
	y, cy := joinNode(t, cfg, "y")
	waitUp(t, cx, cy.Self().ID)
	waitUp(t, cy, cx.Self().ID)

	ownerX := spawntest.SpawnIdle(t, x)
	exited := spawntest.WatchExit(t, x, ownerX)
	require.NoError(t, cx.Names().Register(ctx, "dup", ownerX))
	resolvesTo(t, cy, "dup", ownerX)

	proxy.setCut(true)
	spawntest.Eventually(t, "y losing x", func() bool { _, up := cy.Node(cx.Self().ID); return !up })
	_, ok := cy.Names().WhereIs("dup")
	require.False(t, ok, "the name of a lost node's process is freed before the loss is seen")

	// X, cut off, is refused at once: no conflict is made to be found later.
	late := spawntest.SpawnIdle(t, x)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := cx.Names().Register(rctx, "dup-late", late)
	cancel()
	require.ErrorIs(t, err, cluster.ErrNamesUnavailable)
	// Y's side takes the freed name.
	ownerY := spawntest.SpawnIdle(t, y)
	require.NoError(t, cy.Names().Register(ctx, "dup", ownerY))

	proxy.setCut(false)
	waitUp(t, cy, cx.Self().ID)
	resolvesTo(t, cx, "dup", ownerY)
	resolvesTo(t, cy, "dup", ownerY)
	spawntest.Eventually(t, "x's process no longer named", func() bool {
		_, named := cx.Names().NameOf(ownerX)
		return !named
	})
	require.False(t, exited.Exited(), "the merge killed the owner that lost the name")
	require.True(t, x.Alive(ownerX))
	_, ok = cy.Names().WhereIs("dup-late")
	require.False(t, ok, "a registration refused during the partition appeared after it")
	// The process that lost its name is an ordinary live process: it may
	// take another name, and a name taken on Y is refused to it, naming Y's
	// owner.
	require.NoError(t, cx.Names().Register(ctx, "dup-x", ownerX))
	resolvesTo(t, cy, "dup-x", ownerX)
	other := spawntest.SpawnIdle(t, x)
	var taken *registry.NameTakenError
	require.ErrorAs(t, cx.Names().Register(ctx, "dup", other), &taken)
	require.Equal(t, ownerY, taken.Owner)
}

// resolvesTo waits until name resolves to want on c.
func resolvesTo(t *testing.T, c *cluster.Cluster, name string, want pid.Pid) {
	t.Helper()
	spawntest.Eventually(t, name+" resolving to "+want.Short(), func() bool {
		got, ok := c.Names().WhereIs(name)
		return ok && got == want
	})
}

// A Register whose write went through while its answer was lost (the
// connection dropped) returned an error, so no process holds the name: the
// owner's node deletes the entry, and until then a Register there takes it
// over. Nobody is left resolving a name to a process that never got it.
func TestGlobalNames_AnEntryLeftByAFailedRegistrationIsDeleted(t *testing.T) {
	ctx := spawntest.Context(t)
	a, ca, b, cb := pair(t)
	p := spawntest.SpawnIdle(t, a)
	require.NoError(t, ca.Names().PutName(ctx, "orphan", p))
	for _, c := range []*cluster.Cluster{ca, cb} {
		spawntest.Eventually(t, "the orphan entry gone", func() bool {
			_, ok := c.Names().WhereIs("orphan")
			return !ok
		})
	}
	q := spawntest.SpawnIdle(t, b)
	require.NoError(t, cb.Names().Register(ctx, "orphan", q))
	resolvesTo(t, ca, "orphan", q)

	// The owner's node takes such an entry over at once.
	require.NoError(t, ca.Names().PutName(ctx, "orphan2", p))
	r := spawntest.SpawnIdle(t, a)
	require.NoError(t, ca.Names().Register(ctx, "orphan2", r))
	resolvesTo(t, cb, "orphan2", r)
	_, named := ca.Names().NameOf(p)
	require.False(t, named)
}

// A node that joins while the names' store does not answer (here a server
// without JetStream, then one with it on the same port) has global names
// as soon as the store answers, without joining again.
func TestGlobalNames_AvailableOnceTheStoreAnswers(t *testing.T) {
	ctx := spawntest.Context(t)
	creds := embedded.WithCredentials("late", "late-store-password")
	port := freePort(t)
	first := startServer(t, creds, embedded.WithPort(port))
	cfg := first.Config(clusterName(t))
	cfg.HeartbeatInterval, cfg.HeartbeatMisses = time.Second, 10
	n, c := joinNode(t, cfg, "late")
	p := spawntest.SpawnIdle(t, n)
	require.ErrorIs(t, c.Names().Register(ctx, "late", p), cluster.ErrNamesUnavailable)

	sctx, cancel := context.WithTimeout(ctx, spawntest.Timeout)
	require.NoError(t, first.Shutdown(sctx))
	cancel()
	second, err := embedded.Start(ctx, creds, embedded.WithPort(port), embedded.WithStoreDir(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		defer cancel()
		_ = second.Shutdown(ctx)
	})
	spawntest.Eventually(t, "the name registered once the store answers", func() bool {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return c.Names().Register(rctx, "late", p) == nil
	})
	resolvesTo(t, c, "late", p)
}
