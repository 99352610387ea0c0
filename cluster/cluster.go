package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/spawned-go/spawned/cluster/internal/wire"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Cluster is a node's membership of a cluster: its connection to NATS and
// its view of the other nodes. Processes of the node reach processes of
// the other nodes by Pid through the ordinary API (process.Send,
// link.Link, link.Monitor, genserver calls), with Erlang's semantics.
type Cluster struct {
	node *process.Node
	core *core.Node
	self pid.NodeID
	cfg  Config
	tag  uint32
	log  *zap.Logger

	nc          *nats.Conn
	prefix      string // <prefix>.<cluster>.
	inbox       string
	helloSubj   string
	nameSubj    string // where the node answers for its name
	embedded    bool
	maxPayload  int
	window      int64
	bound       time.Duration // heartbeat interval × misses
	base        uint64        // the first session with any peer
	connected   atomic.Bool
	conn        atomic.Pointer[wire.Conn]
	inboxSub    *nats.Subscription
	nameSub     *nats.Subscription
	advisoryOff atomic.Bool

	announceAgain atomic.Bool // reconnected: announce again after 1, 2, 4, ... intervals

	peers  peerTable
	calls  callTable
	mons   nodeMonitors
	names  *Names
	groups *ProcessGroups
	spawns spawnTable

	observing observing // the web observer it serves to the cluster

	rx    rxState       // the inbox subscription's decoding state
	newUp chan struct{} // a peer came up (for Join's discovery)
	kick  chan struct{} // batches wait to be sent

	leaving atomic.Bool
	done    chan struct{}
	wg      sync.WaitGroup

	hooks atomic.Pointer[hooks] // for tests: told of deliveries and cuts
}

// hooks are told, with the peer's recvMu held, of every frame delivered
// and every cut, and may drop announcements: tests check with them that
// nothing of a session is delivered after its cut.
type hooks struct {
	delivered func(peer pid.NodeID, session uint64, kind wire.Kind)
	cut       func(peer pid.NodeID, session uint64)
	hello     func(from pid.NodeID) (drop bool)     // nil: every announcement is heard
	markedUp  func(peer pid.NodeID)                 // a peer reads as up; its NodeUp is still to come
	advised   func(peer pid.NodeID)                 // an advisory says the peer's connection closed
	received  func(peer pid.NodeID, kind wire.Kind) // a frame is about to be handled, before the peer's lock
}

// NodeInfo describes a node of the cluster.
type NodeInfo struct {
	ID   pid.NodeID
	Name string
}

// joined maps the nodes that are in a cluster to it.
var joined struct {
	sync.Mutex
	m map[*core.Node]*Cluster
	// floor keeps, per node that left, the session its peers must move
	// past if it joins again: nothing of a session it left is delivered.
	floor map[pid.NodeID]uint64
}

// Join connects node to the cluster that cfg names and returns once the
// node knows the cluster's other nodes (or Config.DiscoveryTimeout passed).
// A node that none heard yet (their servers not routed to this node's
// yet) meets them later: the node announces itself again, more and more
// rarely, for as long as it is in the cluster. From then on, Pids of other nodes work with the ordinary API. A node
// joins one cluster at a time; Leave ends it, and must be called before the
// node stops (or the program ends) to release the connection and its
// goroutines.
//
// Join fails with ErrNodeNameTaken when a live node of the cluster holds
// Config.Name: it asks before the node announces itself, so the holder is
// not disturbed. A node that left, or is down, holds no name: a restart
// under the name of a crashed node joins, and the old node is gone for
// good (see Config.Name).
//
// With no Config.URL, the node uses the program's embedded NATS server
// (package embedded must be linked, or Join fails with ErrNoServer).
func Join(ctx context.Context, node *process.Node, cfg Config) (*Cluster, error) {
	switch {
	case ctx == nil:
		return nil, fmt.Errorf("cluster: join: %w", process.ErrNilContext)
	case node == nil:
		return nil, fmt.Errorf("cluster: join: %w", process.ErrNilNode)
	}
	cn := (*core.Node)(node)
	if cn.Stopped() {
		return nil, fmt.Errorf("cluster: join: %w", process.ErrNodeStopped)
	}
	cfg, err := cfg.normalise(cn.ID().String())
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		node:       node,
		core:       cn,
		self:       cn.ID(),
		cfg:        cfg,
		tag:        wire.ClusterTag(cfg.Cluster),
		log:        cfg.Logger,
		prefix:     cfg.SubjectPrefix + "." + cfg.Cluster + ".",
		maxPayload: cfg.MaxPayload,
		window:     int64(cfg.Window),
		bound:      cfg.HeartbeatInterval * time.Duration(cfg.HeartbeatMisses),
		base:       1,
		newUp:      make(chan struct{}, 1),
		kick:       make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	if c.log == nil {
		c.log = node.Logger()
	}
	c.log = c.log.With(zap.String("cluster", cfg.Cluster), zap.String("node", cfg.Name))
	c.inbox = c.inboxOf(c.self)
	c.helloSubj = c.prefix + "hello"
	c.nameSubj = c.nameSubjOf(cfg.Name)
	c.peers.init()
	c.calls.init()
	c.mons.init(c)
	c.names = newNames(c)
	c.groups = newGroups(c)
	c.spawns.init(c)

	joined.Lock()
	if joined.m == nil {
		joined.m = map[*core.Node]*Cluster{}
		joined.floor = map[pid.NodeID]uint64{}
	}
	if _, ok := joined.m[cn]; ok || cn.Remote() != nil {
		joined.Unlock()
		return nil, ErrJoined
	}
	joined.m[cn] = c
	if f := joined.floor[c.self]; f > c.base {
		c.base = f
	}
	joined.Unlock()

	if err := c.connect(ctx); err != nil {
		c.abandon()
		return nil, err
	}
	c.names.start(ctx)
	cn.SetRemote((*remote)(c))
	c.wg.Add(2)
	go c.heartbeats()
	go c.batches()
	if err := c.discover(ctx); err != nil {
		_ = c.Leave(context.Background())
		return nil, err
	}
	return c, nil
}

// inboxOf returns the inbox subject of the node id: its 16 bytes in
// base64url, so that a subject the server parses for every frame stays
// short.
func (c *Cluster) inboxOf(id pid.NodeID) string {
	b, _ := id.MarshalBinary()
	return c.prefix + base64.RawURLEncoding.EncodeToString(b)
}

// nameSubjOf returns the subject on which the node holding the node name
// answers for it: the name's SHA-256 in base64url, since a name is free
// text of any length and a subject token is not.
func (c *Cluster) nameSubjOf(name string) string {
	h := sha256.Sum256([]byte(name))
	return c.prefix + "name." + base64.RawURLEncoding.EncodeToString(h[:])
}

// abandon undoes a Join that failed before the node was connected.
func (c *Cluster) abandon() {
	c.names.close()
	if c.nc != nil {
		c.nc.Close()
	}
	if c.embedded {
		_ = releaseEmbedded(context.Background())
	}
	joined.Lock()
	delete(joined.m, c.core)
	joined.Unlock()
}

// connect opens the node's connection to NATS and its subscriptions.
func (c *Cluster) connect(ctx context.Context) error {
	cfg := c.cfg
	url, user, password := cfg.URL, cfg.User, cfg.Password
	if url == "" {
		srv, err := acquireEmbedded(ctx)
		if err != nil {
			return err
		}
		c.embedded = true
		url = srv.ClientURL()
		if user == "" && password == "" && cfg.Token == "" && cfg.CredsFile == "" && cfg.NKeySeedFile == "" {
			user, password = srv.Credentials()
		}
	}
	ping := cfg.HeartbeatInterval
	if ping < 100*time.Millisecond {
		ping = 100 * time.Millisecond
	}
	opts := []nats.Option{
		nats.Name("spawned/" + cfg.Cluster + "/" + c.self.String()),
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ReconnectBufSize(-1),
		nats.PingInterval(ping),
		nats.MaxPingsOutstanding(cfg.HeartbeatMisses),
		nats.DisconnectErrHandler(c.onDisconnect),
		nats.ReconnectHandler(c.onReconnect),
		nats.ClosedHandler(c.onClosed),
		nats.ErrorHandler(c.onAsyncError),
	}
	if deadline, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(deadline)))
	}
	if user != "" || password != "" {
		opts = append(opts, nats.UserInfo(user, password))
	}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeySeedFile)
		if err != nil {
			return fmt.Errorf("cluster: join: nkey seed: %w", err)
		}
		opts = append(opts, o)
	}
	if cfg.TLS != nil {
		opts = append(opts, nats.Secure(cfg.TLS))
	}
	opts = append(opts, cfg.NATSOptions...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("cluster: join: connect to NATS: %w", err)
	}
	c.nc = nc
	if mp := int(nc.MaxPayload()); mp > 0 && mp < c.maxPayload {
		c.maxPayload = mp
	}
	c.window = max(c.window, 2*int64(c.maxPayload))
	c.noteConn()
	// Before the node subscribes or announces anything: its announcement
	// makes the other nodes take it for the restart of every node of its
	// name.
	if err := c.checkName(ctx); err != nil {
		return err
	}
	c.inboxSub, err = nc.Subscribe(c.inbox, c.onFrame)
	if err == nil {
		err = c.inboxSub.SetPendingLimits(-1, -1)
	}
	if err == nil {
		var s *nats.Subscription
		if s, err = nc.Subscribe(c.helloSubj, c.onHello); err == nil {
			err = s.SetPendingLimits(-1, -1)
		}
	}
	if err == nil {
		c.nameSub, err = nc.Subscribe(c.nameSubj, c.onNameQuery)
	}
	if err == nil && cfg.AdvisorySubject != "-" {
		var s *nats.Subscription
		if s, err = nc.Subscribe(cfg.AdvisorySubject, c.onAdvisory); err == nil {
			err = s.SetPendingLimits(-1, -1)
		}
	}
	if err == nil {
		fctx, cancel := withDeadline(ctx, 30*time.Second)
		err = nc.FlushWithContext(fctx)
		cancel()
	}
	if err != nil {
		return fmt.Errorf("cluster: join: subscribe: %w", err)
	}
	c.connected.Store(true)
	return nil
}

// checkName refuses the node's name if a live node of the cluster holds
// it: the holder answers on the name's subject for as long as it is in the
// cluster. No answer (no node holds the name, or its holder is down: it
// crashed, or hangs, or is cut off) within nameQueryTimeout leaves the
// name free.
func (c *Cluster) checkName(ctx context.Context) error {
	qctx, cancel := context.WithTimeout(ctx, c.nameQueryTimeout())
	defer cancel()
	self, _ := c.self.MarshalBinary()
	msg, err := c.nc.RequestWithContext(qctx, c.nameSubj, self)
	switch {
	case err == nil:
	case errors.Is(err, nats.ErrNoResponders):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("cluster: join: check the node name: %w", ctx.Err())
	case qctx.Err() != nil:
		return nil // a holder that does not answer is down
	default:
		return fmt.Errorf("cluster: join: check the node name: %w", err)
	}
	var holder pid.NodeID
	if holder.UnmarshalBinary(msg.Data) != nil {
		return fmt.Errorf("%w: %q is held by a live node", ErrNodeNameTaken, c.cfg.Name)
	}
	if holder == c.self {
		return nil // this node, in a membership whose connection the server has not dropped yet
	}
	return fmt.Errorf("%w: %q is held by live node %s", ErrNodeNameTaken, c.cfg.Name, holder)
}

// nameQueryTimeout bounds the wait for a holder of the node's name to
// answer: the longer of the discovery timeout and the heartbeat interval,
// and at least 100 ms. A live holder answers within a round trip.
func (c *Cluster) nameQueryTimeout() time.Duration {
	return max(c.cfg.DiscoveryTimeout, c.cfg.HeartbeatInterval, 100*time.Millisecond)
}

// onNameQuery answers a node that asks, as it joins, whether this node's
// name is held: it is, by this node, while it is in the cluster.
func (c *Cluster) onNameQuery(m *nats.Msg) {
	if m.Reply == "" || c.leaving.Load() {
		return
	}
	b, _ := c.self.MarshalBinary()
	if m.Respond(b) != nil {
		return
	}
	var joiner pid.NodeID
	_ = joiner.UnmarshalBinary(m.Data)
	c.log.Warn("cluster: a node tried to join under this node's name", zap.Stringer("joiner", joiner))
}

// noteConn records the node's current connection, as advisories name it.
func (c *Cluster) noteConn() {
	id, err := c.nc.GetClientID()
	if err != nil {
		return
	}
	c.conn.Store(&wire.Conn{Server: c.nc.ConnectedServerId(), Client: id})
}

// myConn returns the node's connection.
func (c *Cluster) myConn() wire.Conn {
	if p := c.conn.Load(); p != nil {
		return *p
	}
	return wire.Conn{}
}

// discover announces the node and waits until it has heard from every
// node the first answer counts, or the discovery timeout.
func (c *Cluster) discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DiscoveryTimeout)
	defer cancel()
	e := c.encoder(pid.NodeID{})
	e.AppendFrame(&wire.Frame{Kind: wire.KHello, Cluster: c.tag, Name: c.cfg.Name, Conn: c.myConn()})
	msg, err := c.nc.RequestWithContext(ctx, c.helloSubj, e.B)
	c.release(e)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil // the first node
	case errors.Is(err, context.DeadlineExceeded):
		c.log.Warn("cluster: no node answered the announcement in time")
		return nil
	case err != nil:
		if ctx.Err() != nil && context.Cause(ctx) != context.DeadlineExceeded {
			return fmt.Errorf("cluster: join: %w", ctx.Err())
		}
		return fmt.Errorf("cluster: join: announce: %w", err)
	}
	want, n := binary.Uvarint(msg.Data)
	if n <= 0 {
		return nil
	}
	for uint64(len(c.Nodes())) < want {
		select {
		case <-c.newUp:
		case <-ctx.Done():
			c.log.Warn("cluster: discovery timed out", zap.Uint64("expected", want), zap.Int("found", len(c.Nodes())))
			return nil
		}
	}
	return nil
}

// Leave takes the node out of the cluster: every link, monitor and call
// across to another node fires with NoConnection here and there, the
// other nodes see a NodeDown (ErrNodeLeft), and the connection closes.
// The node and its processes go on, alone. Leave is idempotent; ctx bounds
// the wait for the goodbyes to go out.
func (c *Cluster) Leave(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("cluster: leave: %w", process.ErrNilContext)
	}
	if !c.leaving.CompareAndSwap(false, true) {
		return nil
	}
	close(c.done)
	c.wg.Wait() // the heartbeats and the batches
	c.stopObserving()
	var maxSession uint64
	for _, p := range c.peers.all() {
		c.cut(p, ErrNodeLeft)
		st, s := p.load()
		if s > maxSession {
			maxSession = s
		}
		if st != stGone && c.connected.Load() {
			c.sendControl(p, wire.KBye, s)
		}
	}
	c.flushAll()
	if c.nameSub != nil {
		// Flushed after the goodbyes: a node may take the name at once.
		_ = c.nameSub.Unsubscribe()
	}
	var err error
	if c.connected.Load() {
		// The goodbyes are a courtesy: a peer that misses one notices the
		// closed connection anyway. Only running out of time is an error.
		// A connection that is failing can hold a flush until its end:
		// a second is enough for a goodbye.
		fctx, cancel := context.WithTimeout(ctx, time.Second)
		ferr := c.nc.FlushWithContext(fctx)
		cancel()
		if ferr != nil && ctx.Err() != nil {
			err = fmt.Errorf("cluster: leave: %w", ferr)
		}
	}
	c.core.SetRemote(nil)
	c.names.close()
	c.nc.Close()
	c.mons.clear()
	c.groups.clear()
	if c.embedded {
		if serr := releaseEmbedded(ctx); serr != nil && err == nil {
			err = fmt.Errorf("cluster: leave: %w", serr)
		}
	}
	joined.Lock()
	delete(joined.m, c.core)
	if maxSession+1 > joined.floor[c.self] {
		joined.floor[c.self] = maxSession + 1
	}
	joined.Unlock()
	return err
}

// Self describes this node.
func (c *Cluster) Self() NodeInfo { return NodeInfo{ID: c.self, Name: c.cfg.Name} }

// Nodes lists the other nodes this node can reach now, by name. A node
// being lost stays listed until its loss is complete: once it is left out,
// its global names and group members are gone too.
func (c *Cluster) Nodes() []NodeInfo {
	var out []NodeInfo
	for _, p := range c.peers.all() {
		if p.listed() {
			out = append(out, NodeInfo{ID: p.id, Name: p.Name()})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID.String() < out[j].ID.String()
	})
	return out
}

// Node returns what this node knows of the node id, and whether it can
// reach it now (as Nodes, true for a node whose loss is not complete).
func (c *Cluster) Node(id pid.NodeID) (NodeInfo, bool) {
	if id == c.self {
		return c.Self(), true
	}
	p := c.peers.get(id)
	if p == nil {
		return NodeInfo{ID: id}, false
	}
	return NodeInfo{ID: id, Name: p.Name()}, p.listed()
}

// Disconnect cuts this node from the node id, as Erlang's
// disconnect_node: on both sides, every link and monitor across the pair
// fires with NoConnection and every call across it fails with
// NoConnection. The two nodes then meet again in a new session: their
// processes, alive all along, stay reachable, but nothing sent before the
// cut arrives after it. It reports whether the node was connected.
func (c *Cluster) Disconnect(id pid.NodeID) bool {
	p := c.peers.get(id)
	if p == nil || c.leaving.Load() {
		return false
	}
	if !c.cut(p, ErrDisconnected) {
		return false
	}
	// Tell the peer at once, in the new session: it cuts the old one.
	_, s := p.load()
	c.sendControl(p, wire.KHeartbeat, s)
	return true
}

// WaitRoom waits until the flow-control window to the node id has room
// again, or ctx is done: for a sender whose Send or Cast failed with
// ErrPeerBusy. It returns at once for a node that is not reachable (a
// send to it is dropped).
func (c *Cluster) WaitRoom(ctx context.Context, id pid.NodeID) error {
	if ctx == nil {
		return fmt.Errorf("cluster: wait room: %w", process.ErrNilContext)
	}
	return (*remote)(c).WaitRoom(ctx, core.Target{Node: id, Name: "-"})
}

// cut loses the peer: it fences the peer's session, fires every relation
// across the pair, fails the calls owed by the peer and tells the node
// monitors. It reports whether the peer was up.
func (c *Cluster) cut(p *peer, why error) bool {
	p.recvMu.Lock()
	defer p.recvMu.Unlock()
	return c.cutLocked(p, why, 0)
}

// cutLocked is cut with p.recvMu held; the peer moves to session next, or
// to the one after the current.
func (c *Cluster) cutLocked(p *peer, why error, next uint64) bool {
	st, s := p.load()
	if next <= s {
		next = s + 1
	}
	if st != stUp {
		if st == stDown && next > s {
			p.store(stDown, next)
		}
		return false
	}
	p.store(stCutting, s)
	if h := c.hooks.Load(); h != nil {
		h.cut(p.id, s)
	}
	calls := c.calls.takeNode(p.id)
	p.taken = 0
	p.inflight.Store(0)
	c.peerLost(p)
	c.core.PeerDown(p.id, process.NoConnection)
	lost := &core.UnreachableError{Node: p.id, Reason: process.NoConnection}
	for _, a := range calls {
		a.Undelivered(lost)
	}
	p.store(stDown, next)
	p.wakeAll()
	c.log.Info("cluster: node lost", zap.String("peer", p.Name()), zap.Stringer("id", p.id), zap.Error(why))
	c.mons.down(p, why)
	return true
}

// cutAll loses every peer.
func (c *Cluster) cutAll(why error) {
	for _, p := range c.peers.all() {
		c.cut(p, why)
	}
}

// upLocked marks p reachable in session s (p.recvMu held) and reports
// whether it was not; subscribers hear of it in order with its NodeDowns.
func (c *Cluster) upLocked(p *peer, s uint64) bool {
	st, _ := p.load()
	if st != stUp {
		// A control frame first: it carries this node's name, and the
		// peer takes this node to be up on the first frame of the session
		// it gets (here the group sync of peerUp, ahead of a Welcome).
		c.sendControl(p, wire.KHeartbeat, s)
	}
	if st == stUp {
		p.store(stUp, s)
		p.silent.Store(0)
		return false
	}
	subscribed := c.mons.markUp(p, s)
	p.silent.Store(0)
	c.log.Debug("cluster: node up", zap.String("peer", p.Name()), zap.Stringer("id", p.id))
	if h := c.hooks.Load(); h != nil && h.markedUp != nil {
		h.markedUp(p.id)
	}
	c.peerUp(p, s)
	c.mons.up(p, subscribed)
	select {
	case c.newUp <- struct{}{}:
	default:
	}
	return true
}

// peerOf returns the peer id, adding it (down, in the base session) when
// it is new.
func (c *Cluster) peerOf(id pid.NodeID) *peer {
	p, _ := c.peers.getOrAdd(id, func() *peer {
		return newPeer(id, c.inboxOf(id), c.base)
	})
	return p
}

// supersede makes every other node named like p gone for good: p is its
// restart.
func (c *Cluster) supersede(p *peer) {
	name := p.Name()
	if name == "" {
		return
	}
	for _, q := range c.peers.all() {
		if q == p || q.Name() != name {
			continue
		}
		q.recvMu.Lock()
		c.cutLocked(q, ErrSuperseded, 0)
		_, s := q.load()
		q.store(stGone, s)
		q.recvMu.Unlock()
	}
}

// maxAnnounceGap bounds, in heartbeat intervals, the pause between two of
// a node's announcements.
const maxAnnounceGap = 8

// heartbeats tells every peer this node is alive, every interval, and
// loses peers that said nothing for the heartbeat bound. It also announces
// the node again after 1, 2, 4 and then every maxAnnounceGap intervals
// (counted again from 1 after a reconnection): an announcement is a single
// message that a node can miss (its server's routes to the others not up
// yet, a partition at that moment), and a node that no peer heard from
// would never meet the cluster otherwise, since heartbeats go only to
// nodes already known.
func (c *Cluster) heartbeats() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.HeartbeatInterval)
	defer t.Stop()
	last := time.Now()
	gap, next := 1, 1 // intervals between announcements, and until the next
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			paused := now.Sub(last) > c.bound
			last = now
			if paused {
				c.log.Warn("cluster: this node was paused past the heartbeat bound; its peers have lost it", zap.Duration("bound", c.bound))
				c.cutAll(ErrPaused)
			}
			if !c.connected.Load() {
				continue
			}
			for _, p := range c.peers.all() {
				c.beat(p)
			}
			if c.announceAgain.Swap(false) {
				gap, next = 1, 1
			}
			if next--; next <= 0 {
				c.announce()
				gap = min(2*gap, maxAnnounceGap)
				next = gap
			}
		}
	}
}

// announce publishes the node's announcement: every node that hears it
// and does not know the node meets it, and every node greets it.
func (c *Cluster) announce() {
	e := c.encoder(pid.NodeID{})
	e.AppendFrame(&wire.Frame{Kind: wire.KHello, Cluster: c.tag, Name: c.cfg.Name, Conn: c.myConn()})
	_ = c.nc.Publish(c.helloSubj, e.B)
	c.release(e)
}

// beat is one tick for one peer.
func (c *Cluster) beat(p *peer) {
	st, s := p.load()
	if st == stGone {
		return
	}
	silent := p.silent.Add(1)
	if h := p.heard.Load(); h != p.seen {
		p.seen = h
		p.silent.Store(0)
		silent = 0
	}
	if st == stUp && int(silent) >= c.cfg.HeartbeatMisses {
		c.cut(p, ErrHeartbeatTimeout)
		st, s = p.load()
	}
	// A peer long silent is probed less often, but never given up: a
	// partition may heal.
	if st == stDown && silent > 60 && silent%10 != 0 {
		return
	}
	c.sendControl(p, wire.KHeartbeat, s)
}

// batchLimit is the size past which a batch is sent at once.
const batchLimit = 16 << 10

// publish sends frame to p, in order with everything else sent to p. When
// the client is still writing what was published before, frames wait in
// the peer's batch and go out as one message; a frame alone on a quiet
// connection goes out at once, for latency.
func (c *Cluster) publish(p *peer, frame []byte) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	if len(p.batch) == 0 {
		if n, err := c.nc.Buffered(); err != nil || n == 0 || len(frame) > batchLimit/2 {
			return c.nc.Publish(p.subj, frame)
		}
		p.batch = append(p.batch[:0], wire.MagicBatch)
		select {
		case c.kick <- struct{}{}:
		default:
		}
	} else if len(p.batch)+len(frame)+binary.MaxVarintLen64 > c.maxPayload {
		if err := c.flushLocked(p); err != nil {
			return err
		}
		return c.nc.Publish(p.subj, frame)
	}
	p.batch = binary.AppendUvarint(p.batch, uint64(len(frame)))
	p.batch = append(p.batch, frame...)
	if len(p.batch) >= batchLimit {
		return c.flushLocked(p)
	}
	return nil
}

// flushLocked sends p's batch (p.sendMu held).
func (c *Cluster) flushLocked(p *peer) error {
	if len(p.batch) == 0 {
		return nil
	}
	err := c.nc.Publish(p.subj, p.batch) // the client copies it
	if cap(p.batch) > 2*batchLimit {
		p.batch = nil
	} else {
		p.batch = p.batch[:0]
	}
	return err
}

// flushAll sends every peer's batch.
func (c *Cluster) flushAll() {
	for _, p := range c.peers.all() {
		p.sendMu.Lock()
		_ = c.flushLocked(p)
		p.sendMu.Unlock()
	}
}

// batches sends the batches that wait, when kicked.
func (c *Cluster) batches() {
	defer c.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case <-c.kick:
			c.flushAll()
		}
	}
}

// sendControl sends p a frame with no payload but this node's name and
// connection.
func (c *Cluster) sendControl(p *peer, k wire.Kind, session uint64) {
	e := c.encoder(p.id)
	f := wire.Frame{Kind: k, Cluster: c.tag, Session: session}
	if k != wire.KBye {
		f.Name, f.Conn = c.cfg.Name, c.myConn()
	}
	e.AppendFrame(&f)
	_ = c.publish(p, e.B)
	c.release(e)
}

// onDisconnect: losing NATS is losing every peer.
func (c *Cluster) onDisconnect(_ *nats.Conn, err error) {
	c.connected.Store(false)
	if c.leaving.Load() {
		return
	}
	c.log.Warn("cluster: connection to NATS lost", zap.Error(err))
	c.cutAll(ErrServerLost)
	if h := c.cfg.ConnectionHandler; h != nil {
		h(Disconnected, err)
	}
}

// onReconnect announces the node again; every peer meets it in a new
// session.
func (c *Cluster) onReconnect(_ *nats.Conn) {
	if c.leaving.Load() {
		return
	}
	c.noteConn()
	c.connected.Store(true)
	c.names.rewatch()
	c.log.Info("cluster: reconnected to NATS", zap.String("server", c.nc.ConnectedUrlRedacted()))
	c.announce()
	c.announceAgain.Store(true)
	for _, p := range c.peers.all() {
		if st, s := p.load(); st != stGone {
			c.sendControl(p, wire.KHeartbeat, s)
		}
	}
	if h := c.cfg.ConnectionHandler; h != nil {
		h(Reconnected, nil)
	}
}

func (c *Cluster) onClosed(_ *nats.Conn) {
	c.connected.Store(false)
	if !c.leaving.Load() {
		c.log.Error("cluster: connection to NATS closed for good")
		c.cutAll(ErrServerLost)
	}
	if h := c.cfg.ConnectionHandler; h != nil {
		h(Closed, nil)
	}
}

func (c *Cluster) onAsyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if sub != nil && sub.Subject == c.cfg.AdvisorySubject {
		if c.advisoryOff.CompareAndSwap(false, true) {
			c.log.Warn("cluster: no disconnect advisories: crashed nodes are noticed by heartbeats only", zap.Error(err))
		}
		return
	}
	c.log.Error("cluster: NATS error", zap.Error(err))
}

// encoder returns a pooled encoder for a frame to node.
func (c *Cluster) encoder(to pid.NodeID) *wire.Enc {
	e := encoders.Get().(*wire.Enc)
	e.Reset(c.self, to)
	return e
}

func (c *Cluster) release(e *wire.Enc) {
	if cap(e.B) <= 64<<10 {
		encoders.Put(e)
	}
}

var encoders = sync.Pool{New: func() any { return &wire.Enc{B: make([]byte, 0, 256)} }}

// withDeadline returns ctx, bounded by d when it has no deadline of its
// own.
func withDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
