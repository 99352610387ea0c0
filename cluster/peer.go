package cluster

import (
	"sync"
	"sync/atomic"

	"github.com/spawned-go/spawned/cluster/internal/wire"
	"github.com/spawned-go/spawned/pid"
)

// A peer's state. A pair of nodes talks in numbered sessions: every frame
// carries the sender's session with the receiver, and a receiver delivers
// only frames of the session it is in. Whoever loses the other (crash
// advisory, heartbeats, Disconnect, its own NATS connection) fires every
// link, monitor and call across the pair with NoConnection and moves to the
// next session; a frame of an older session is dropped and answered with a
// heartbeat of the newer one, so that the other side cuts too; a frame of a
// newer session makes the receiver cut the older one before delivering it.
// Nothing of a session is delivered after its cut.
const (
	stDown    = iota // not reachable; the session is the next one to use
	stUp             // reachable in the session
	stCutting        // firing what crossed the pair; reachable by no one
	stGone           // superseded by a node of the same name: its Pids are dead
)

// listed reports whether Nodes lists p: it is up, or being lost. A loss
// drops what p's processes held (peerLost) while p is cutting, so a node
// no longer listed has none of its names or group members left here.
func (p *peer) listed() bool {
	st, _ := p.load()
	return st == stUp || st == stCutting
}

// peer is another node of the cluster as this node sees it.
type peer struct {
	id   pid.NodeID
	subj string // its inbox

	state atomic.Uint64 // session<<2 | st
	name  atomic.Pointer[string]
	conn  atomic.Pointer[wire.Conn]

	// recvMu is held while a frame of the peer is checked and delivered,
	// and through a cut: a cut waits for the frame being delivered, and no
	// frame is delivered while relations are fired.
	recvMu   sync.Mutex
	taken    int64  // bytes delivered since the last credit was sent (under recvMu)
	answered uint64 // the stale session last answered (under recvMu)

	// sendMu orders what goes to the peer: frames wait in batch while the
	// client is still writing earlier ones, and go out together.
	sendMu sync.Mutex
	batch  []byte

	// Flow control of messages and casts to the peer.
	inflight atomic.Int64
	wake     atomic.Pointer[chan struct{}] // closed when credit comes back

	heard  atomic.Uint64 // frames received from it
	seen   uint64        // heard at the last tick (ticker only)
	silent atomic.Int32  // ticks without a frame
}

func newPeer(id pid.NodeID, subj string, session uint64) *peer {
	p := &peer{id: id, subj: subj}
	p.state.Store(session << 2)
	empty := ""
	p.name.Store(&empty)
	ch := make(chan struct{})
	p.wake.Store(&ch)
	return p
}

// load returns the peer's state and session.
func (p *peer) load() (st int, session uint64) {
	v := p.state.Load()
	return int(v & 3), v >> 2
}

func (p *peer) store(st int, session uint64) { p.state.Store(session<<2 | uint64(st)) }

// Name returns the peer's name, once known.
func (p *peer) Name() string { return *p.name.Load() }

func (p *peer) setName(n string) {
	if n != "" && n != p.Name() {
		p.name.Store(&n)
	}
}

func (p *peer) setConn(c wire.Conn) {
	if c.Server == "" {
		return
	}
	if old := p.conn.Load(); old == nil || *old != c {
		p.conn.Store(&c)
	}
}

// credit returns n bytes of window and wakes senders waiting for it.
func (p *peer) credit(n int64) {
	if p.inflight.Add(-n) < 0 {
		p.inflight.Store(0)
	}
	p.wakeAll()
}

// wakeAll wakes every sender waiting for window.
func (p *peer) wakeAll() {
	ch := make(chan struct{})
	old := p.wake.Swap(&ch)
	close(*old)
}

// waiter returns a channel closed at the next credit or cut.
func (p *peer) waiter() <-chan struct{} { return *p.wake.Load() }

// peerTable maps node ids to peers; readers take no lock.
type peerTable struct {
	mu sync.Mutex
	m  atomic.Pointer[map[pid.NodeID]*peer]
}

func (t *peerTable) init() {
	m := map[pid.NodeID]*peer{}
	t.m.Store(&m)
}

func (t *peerTable) get(id pid.NodeID) *peer { return (*t.m.Load())[id] }

func (t *peerTable) all() map[pid.NodeID]*peer { return *t.m.Load() }

// getOrAdd returns the peer id, made by mk if it is new.
func (t *peerTable) getOrAdd(id pid.NodeID, mk func() *peer) (p *peer, added bool) {
	if p := t.get(id); p != nil {
		return p, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.m.Load()
	if p := old[id]; p != nil {
		return p, false
	}
	next := make(map[pid.NodeID]*peer, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	p = mk()
	next[id] = p
	t.m.Store(&next)
	return p, true
}
