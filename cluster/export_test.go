package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/spawned-go/spawned/cluster/internal/wire"
	"github.com/spawned-go/spawned/pid"
)

// Crash makes the node vanish from the cluster as a killed program does:
// its connection closes with no goodbye, and it does nothing more. Its
// peers learn it from the server's advisory.
func (c *Cluster) Crash() {
	if !c.leaving.CompareAndSwap(false, true) {
		return
	}
	close(c.done)
	c.wg.Wait()
	c.names.close()
	c.nc.Close()
	c.core.SetRemote(nil)
	if c.embedded {
		_ = releaseEmbedded(context.Background())
	}
	joined.Lock()
	delete(joined.m, c.core)
	joined.Unlock()
}

// Window returns the flow-control window in use.
func (c *Cluster) Window() int64 { return c.window }

// HoldPeer stops the node from taking frames from the peer id until
// release is called: its inbox backs up, as a busy node's does.
func (c *Cluster) HoldPeer(id pid.NodeID) (release func()) {
	p := c.peerOf(id)
	p.recvMu.Lock()
	var once sync.Once
	return func() { once.Do(p.recvMu.Unlock) }
}

// HoldGoodbyeFrom makes the node's inbox stop when it takes peer's goodbye,
// before handling it, until release: held is closed when it has stopped
// there. advised is closed when an advisory that peer's connection closed
// has been taken.
func (c *Cluster) HoldGoodbyeFrom(peer pid.NodeID) (held, advised <-chan struct{}, release func()) {
	h, a, r := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var holdOnce, advisedOnce, releaseOnce sync.Once
	c.hooks.Store(&hooks{
		received: func(from pid.NodeID, kind wire.Kind) {
			if from == peer && kind == wire.KBye {
				holdOnce.Do(func() {
					close(h)
					<-r
				})
			}
		},
		delivered: func(pid.NodeID, uint64, wire.Kind) {},
		cut:       func(pid.NodeID, uint64) {},
		advised: func(from pid.NodeID) {
			if from == peer {
				advisedOnce.Do(func() { close(a) })
			}
		},
	})
	return h, a, func() { releaseOnce.Do(func() { close(r) }) }
}

// SessionAudit checks, from the moment it is called, that no frame of a
// session is delivered after that session was cut. Violations returns what
// went wrong.
type SessionAudit struct {
	mu         sync.Mutex
	cut        map[pid.NodeID]uint64 // the highest session cut, per peer
	delivered  map[pid.NodeID]int
	violations []string
}

// Audit starts a SessionAudit of c.
func (c *Cluster) Audit() *SessionAudit {
	a := &SessionAudit{cut: map[pid.NodeID]uint64{}, delivered: map[pid.NodeID]int{}}
	c.hooks.Store(&hooks{
		delivered: func(peer pid.NodeID, session uint64, kind wire.Kind) {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.delivered[peer]++
			if cut, ok := a.cut[peer]; ok && session <= cut {
				a.violations = append(a.violations, fmt.Sprintf("a %v frame of session %d from %v delivered after session %d was cut", kind, session, peer, cut))
			}
		},
		cut: func(peer pid.NodeID, session uint64) {
			a.mu.Lock()
			defer a.mu.Unlock()
			if session > a.cut[peer] {
				a.cut[peer] = session
			}
		},
	})
	return a
}

// Violations returns the audit's findings, and how many cuts and
// deliveries it saw.
func (a *SessionAudit) Violations() (violations []string, cuts, delivered int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range a.delivered {
		delivered += n
	}
	return append([]string(nil), a.violations...), len(a.cut), delivered
}

// PutName writes name -> p in the store as a registration does, without
// the node's bookkeeping: what a Register leaves behind when its write went
// through but its answer was lost with the connection.
func (n *Names) PutName(ctx context.Context, name string, p pid.Pid) error {
	h := n.kv.Load()
	if h == nil {
		return ErrNamesUnavailable
	}
	val, _ := p.MarshalBinary()
	_, err := h.kv.Create(ctx, key(name), val)
	return err
}

// OnCut calls f, with the peer's receive lock held, as c begins to lose
// each peer: the peer is cutting, and what its processes held is not yet
// dropped.
func (c *Cluster) OnCut(f func(peer pid.NodeID)) {
	c.hooks.Store(&hooks{
		delivered: func(pid.NodeID, uint64, wire.Kind) {},
		cut:       func(peer pid.NodeID, _ uint64) { f(peer) },
	})
}

// DropAnnouncements makes c ignore the next k announcements of the node
// from, as a node that never heard them. The channel it returns is closed
// once k are dropped.
func (c *Cluster) DropAnnouncements(from pid.NodeID, k int) <-chan struct{} {
	dropped := make(chan struct{})
	var left atomic.Int64
	left.Store(int64(k))
	c.hooks.Store(&hooks{
		delivered: func(pid.NodeID, uint64, wire.Kind) {},
		cut:       func(pid.NodeID, uint64) {},
		hello: func(sender pid.NodeID) bool {
			if sender != from {
				return false
			}
			n := left.Add(-1)
			if n == 0 {
				close(dropped)
			}
			return n >= 0
		},
	})
	return dropped
}

// DeleteName deletes name from the store, as a node that lost the owner's
// node does, whatever this node holds.
func (n *Names) DeleteName(ctx context.Context, name string) error {
	h := n.kv.Load()
	if h == nil {
		return ErrNamesUnavailable
	}
	return h.kv.Delete(ctx, key(name))
}

// FailCreates makes the node's next k creations of an entry in the store
// fail, as they do while the store is electing a leader or cannot be
// reached. The channel it returns is closed at the first failure.
func (n *Names) FailCreates(k int) <-chan struct{} {
	h := n.kv.Load()
	f := &failingKV{KeyValue: h.kv, failed: make(chan struct{})}
	f.left.Store(int64(k))
	n.kv.Store(&kvHandle{kv: f, watch: h.watch})
	return f.failed
}

// failingKV is a store whose next creations fail.
type failingKV struct {
	jetstream.KeyValue
	left   atomic.Int64
	once   sync.Once
	failed chan struct{}
}

// errStoreDown is the error of a failingKV's failed creations.
var errStoreDown = errors.New("test: the store does not answer")

func (f *failingKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	if f.left.Add(-1) >= 0 {
		f.once.Do(func() { close(f.failed) })
		return 0, errStoreDown
	}
	return f.KeyValue.Create(ctx, key, value, opts...)
}

// DropCached drops name from the node's cache and nothing else, as the
// node does with an entry it finds stale when the watch shows it (its
// owner's node not up here at that moment): the revision stays seen.
func (n *Names) DropCached(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dropLocked(name)
}

// OnMarkedUp calls fn each time c has marked a peer up and is about to
// tell its NodeUp; the peer's frames wait until fn returns.
func (c *Cluster) OnMarkedUp(fn func(peer pid.NodeID)) {
	c.hooks.Store(&hooks{
		delivered: func(pid.NodeID, uint64, wire.Kind) {},
		cut:       func(pid.NodeID, uint64) {},
		markedUp:  fn,
	})
}
