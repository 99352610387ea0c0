package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
)

// Errors of global names; test with errors.Is. A taken name is a
// *registry.NameTakenError naming its owner (errors.Is
// registry.ErrNameTaken); a Pid that has a global name already gives
// registry.ErrAlreadyNamed; an unknown name gives registry.ErrNotRegistered.
var (
	// ErrNotLocal: only a process of this node can be registered (its
	// node releases the name when it dies), or a group joined.
	ErrNotLocal = errors.New("cluster: not a process of this node")
	// ErrNamesUnavailable: the global names' store (JetStream) cannot be
	// reached from this node now: it is cut off from NATS, or the servers
	// have no JetStream. Registering needs the store; a node cut off cannot
	// register (consistency over availability).
	ErrNamesUnavailable = errors.New("cluster: global names unavailable")
)

// Names is the cluster's registry of global names (Erlang's global): a
// name belongs to one live process of the whole cluster, registered from
// any node by the owner's node, and is found from every node.
//
// Names live in a JetStream key-value bucket with compare-and-set: of
// concurrent registrations of one name, on any nodes, exactly one wins and
// the others fail with a *registry.NameTakenError naming the owner. A
// registration is visible from every node once Register returns. Lookups
// are answered from a local cache kept current by a watch of the bucket,
// with no network round trip; a name missing from the cache is looked up
// in the bucket once.
//
// A name is released when its owner dies, before the death can be
// observed from any node: the owner's node drops it and tells every peer
// on the stream that carries the death's Downs and exits, ahead of them;
// and when the owner's node is lost, before any Down of the loss. The
// name can be registered again at once: a Register that finds the name
// held by an owner known dead here takes it over.
//
// Names is a genserver.Registrar: genserver.WithVia(names, "svc") starts
// a globally named server, and genserver.NamedVia(node, names, "svc")
// reaches it from any node, following it to whichever node it runs on.
type Names struct {
	c       *Cluster
	timeout time.Duration

	kv    atomic.Pointer[kvHandle]
	ready chan struct{} // closed when the first watch has caught up
	once  sync.Once     // closes ready

	watchMu sync.Mutex // replacing the watch (rewatch) against close
	closed  bool
	bg      context.Context // the background work's, until close

	// cache maps a name to its owner. Writers hold mu, then cacheMu;
	// WhereIs holds cacheMu for reading only, so that a lookup waits for
	// no store work. A plain map keeps the names compact in memory: at
	// 10,000 names a lookup is about memory latency, and a sync.Map (a
	// trie of boxed keys and values) reads several times more cache lines.
	cacheMu sync.RWMutex
	cache   map[string]nameEntry

	mu     sync.Mutex
	seen   map[string]uint64                  // the latest revision applied, per name
	byNode map[pid.NodeID]map[string]struct{} // cached names by owner node
	tombs  map[string]pid.Pid                 // name -> a dead owner whose entries are stale
	byName map[string]*nameHold               // names held by processes of this node
	byPid  map[pid.Pid]*nameHold

	jobs   chan func(context.Context) // store work done in the background
	stop   context.CancelFunc
	wg     sync.WaitGroup
	joined time.Time
}

// kvHandle is the bucket and its watch.
type kvHandle struct {
	kv    jetstream.KeyValue
	watch jetstream.KeyWatcher
}

// nameEntry is a cached name: its owner and the entry's revision.
type nameEntry struct {
	owner pid.Pid
	rev   uint64
}

// nameHold is a global name held by a process of this node.
type nameHold struct {
	name     string
	pid      pid.Pid
	rev      uint64 // 0 until the store has it (under Names.mu)
	released bool   // the process died or gave the name up (under Names.mu)
	unreg    bool   // Unregister is deleting it (under Names.mu)
}

// nameTie drops a name as its process dies (see core.Tie).
type nameTie struct {
	n *Names
	h *nameHold
}

// Untie runs as the holder dies, before it reads as dead.
func (t *nameTie) Untie(pid.Pid) { t.n.died(t.h) }

var _ genserver.ContextRegistrar = (*Names)(nil)

// DefaultNameTimeout bounds a Register made through the Registrar
// interface (genserver.WithVia), which has no context.
const DefaultNameTimeout = 5 * time.Second

func newNames(c *Cluster) *Names {
	return &Names{
		c:       c,
		timeout: DefaultNameTimeout,
		ready:   make(chan struct{}),
		cache:   map[string]nameEntry{},
		seen:    map[string]uint64{},
		byNode:  map[pid.NodeID]map[string]struct{}{},
		tombs:   map[string]pid.Pid{},
		byName:  map[string]*nameHold{},
		byPid:   map[pid.Pid]*nameHold{},
		jobs:    make(chan func(context.Context), 4096),
	}
}

// Names returns the cluster's global names.
func (c *Cluster) Names() *Names { return c.names }

// bucketName is the key-value bucket of the cluster's names.
func (c *Cluster) bucketName() string {
	return c.cfg.SubjectPrefix + "_" + c.cfg.Cluster + "_names"
}

// start opens (or creates) the bucket and starts the watch, within ctx;
// without JetStream the names are unavailable, and the node works on.
func (n *Names) start(ctx context.Context) {
	n.joined = time.Now()
	bg, cancel := context.WithCancel(context.Background())
	n.stop, n.bg = cancel, bg
	n.wg.Add(1)
	go n.work(bg)
	err := n.open(ctx)
	if err == nil {
		select {
		case <-n.ready:
		case <-ctx.Done():
			n.c.log.Warn("cluster: the global names' watch had not caught up when the join ended")
		}
		return
	}
	// The store may be electing a leader, or JetStream may come later:
	// names are unavailable until it answers.
	n.c.log.Warn("cluster: global names unavailable for now; trying again in the background", zap.Error(err))
	n.wg.Add(1)
	go n.reopen()
}

// open makes or finds the names' bucket and starts its watch.
func (n *Names) open(ctx context.Context) error {
	js, err := jetstream.New(n.c.nc)
	if err != nil {
		return err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      n.c.bucketName(),
		Description: "spawned global names of cluster " + n.c.cfg.Cluster,
		History:     1,
		Replicas:    n.c.cfg.NameReplicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(n.bg)
	if err != nil {
		return err
	}
	n.watchMu.Lock()
	defer n.watchMu.Unlock()
	if n.closed {
		_ = w.Stop()
		return ErrLeft
	}
	n.kv.Store(&kvHandle{kv: kv, watch: w})
	n.wg.Add(1)
	go n.follow(w)
	return nil
}

// reopen tries open again, less and less often (at most every
// reopenMaxWait), until it works or the node leaves.
func (n *Names) reopen() {
	defer n.wg.Done()
	wait := 250 * time.Millisecond
	for {
		t := time.NewTimer(wait)
		select {
		case <-n.bg.Done():
			t.Stop()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(n.bg, n.timeout)
		err := n.open(ctx)
		cancel()
		if err == nil {
			n.c.log.Info("cluster: global names available")
			return
		}
		if errors.Is(err, ErrLeft) {
			return
		}
		wait = min(2*wait, reopenMaxWait)
	}
}

// reopenMaxWait is the longest pause between two tries to reach the
// names' store.
const reopenMaxWait = 5 * time.Second

// close stops the watch and the background work.
func (n *Names) close() {
	if n.stop == nil {
		return
	}
	n.watchMu.Lock()
	n.closed = true
	h := n.kv.Load()
	n.watchMu.Unlock()
	if h != nil {
		_ = h.watch.Stop()
	}
	n.stop()
	n.wg.Wait()
}

// work runs the store work queued by deaths and losses, which must not
// wait for the network where they happen.
func (n *Names) work(ctx context.Context) {
	defer n.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-n.jobs:
			jctx, cancel := context.WithTimeout(ctx, n.timeout)
			job(jctx)
			cancel()
		}
	}
}

// later queues job for the background worker; when the queue is full the
// job is dropped with a log line (a deletion left undone is repaired by
// the next Register of the name, which takes it over).
func (n *Names) later(job func(context.Context)) {
	select {
	case n.jobs <- job:
	default:
		n.c.log.Warn("cluster: global names: background queue full, a store update was dropped")
	}
}

// follow applies the watch's updates to the cache.
func (n *Names) follow(w jetstream.KeyWatcher) {
	defer n.wg.Done()
	caughtUp := false
	for e := range w.Updates() {
		if e == nil {
			if !caughtUp {
				caughtUp = true
				n.once.Do(func() { close(n.ready) })
			}
			continue
		}
		n.apply(e)
	}
	if !caughtUp {
		n.once.Do(func() { close(n.ready) })
	}
}

// rewatch replaces the watch of the store, after the node reconnected to
// NATS: the watch's consumer may have been lost with the server, and the
// watch would show nothing until its heartbeats tell it so, many seconds
// later, while the names change. The new watch shows every entry again;
// those seen already are skipped.
func (n *Names) rewatch() {
	if n.kv.Load() == nil { // not started (n.bg is set before kv)
		return
	}
	n.watchMu.Lock()
	defer n.watchMu.Unlock()
	if n.closed {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		retry := time.NewTicker(250 * time.Millisecond)
		defer retry.Stop()
		for n.bg.Err() == nil {
			old := n.kv.Load()
			w, err := old.kv.WatchAll(n.bg)
			if err == nil {
				n.watchMu.Lock()
				if n.closed {
					n.watchMu.Unlock()
					_ = w.Stop()
					return
				}
				n.kv.Store(&kvHandle{kv: old.kv, watch: w})
				n.wg.Add(1)
				go n.follow(w)
				n.watchMu.Unlock()
				_ = old.watch.Stop()
				return
			}
			select { // the store is electing a leader, or the connection is down again
			case <-retry.C:
			case <-n.bg.Done():
			}
		}
	}()
}

// key is a name's key in the bucket: readable for plain names, base64url
// for the others.
func key(name string) string {
	plain := true
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			plain = false
			break
		}
	}
	if plain {
		return "n." + name
	}
	return "b." + base64.RawURLEncoding.EncodeToString([]byte(name))
}

// nameOf decodes a key.
func nameOf(k string) (string, bool) {
	switch {
	case strings.HasPrefix(k, "n."):
		return k[2:], true
	case strings.HasPrefix(k, "b."):
		b, err := base64.RawURLEncoding.DecodeString(k[2:])
		return string(b), err == nil
	}
	return "", false
}

// ownerOf decodes an entry's value.
func ownerOf(v []byte) (pid.Pid, bool) {
	var p pid.Pid
	if err := p.UnmarshalBinary(v); err != nil || p.IsZero() {
		return pid.Pid{}, false
	}
	return p, true
}

// apply applies an entry of the watch.
func (n *Names) apply(e jetstream.KeyValueEntry) {
	name, ok := nameOf(e.Key())
	if !ok {
		return
	}
	var lost *nameHold
	n.mu.Lock()
	if e.Revision() <= n.seen[name] {
		n.mu.Unlock()
		return
	}
	n.seen[name] = e.Revision()
	var reassert *nameHold
	orphan := false
	if e.Operation() == jetstream.KeyValuePut {
		owner, ok := ownerOf(e.Value())
		orphan = ok && n.orphanLocked(name, owner)
		if ok && !orphan && !n.staleLocked(name, owner) {
			n.storeLocked(name, owner, e.Revision())
		} else {
			n.dropLocked(name)
		}
		if t, ok := n.tombs[name]; ok && t != owner {
			delete(n.tombs, name) // a newer owner: the dead one's entries are older
		}
		if !orphan {
			lost = n.takenLocked(name, owner, e.Revision())
		}
	} else {
		n.dropLocked(name)
		if h := n.byName[name]; h != nil && !h.released && !h.unreg && h.rev != 0 && e.Revision() > h.rev {
			// A node that lost this one deleted the name of a process
			// that is alive here: register it again.
			reassert = h
		}
	}
	n.mu.Unlock()
	if orphan {
		n.deleteLater(name, e.Revision())
	}
	if lost != nil {
		n.lostName(lost)
	}
	if reassert != nil {
		h := reassert
		n.later(func(ctx context.Context) { n.reassert(ctx, h, reassertFirstWait) })
	}
}

// takenLocked drops the hold of a process of this node on name when an
// entry newer than its own names another owner: another node took the
// name over while this node was cut off from it. It returns the dropped
// hold, for lostName once mu is let go.
func (n *Names) takenLocked(name string, owner pid.Pid, rev uint64) *nameHold {
	h := n.byName[name]
	if h == nil || h.pid == owner || h.released || h.rev == 0 || rev <= h.rev {
		return nil
	}
	n.forgetLocked(h)
	return h
}

// lostName tells the log, and unties the process, of a hold takenLocked
// dropped. The process lives on, unnamed.
func (n *Names) lostName(h *nameHold) {
	n.c.log.Warn("cluster: a global name was taken over by another node while this one was cut off",
		zap.String("name", h.name), zap.Stringer("owner", h.pid))
	_ = n.c.core.Tie(h.pid, n, func(core.Tie) (core.Tie, error) { return nil, nil })
}

// reassert registers again the name of a live local process that another
// node deleted (it had lost this node for a while). While the store does
// not answer (a leader election, a lost connection), it tries again after
// wait, and less and less often, for as long as the process holds the
// name: nothing else would write the name back, and the process's node
// would go on giving it the name (NameOf) that no node finds.
func (n *Names) reassert(ctx context.Context, h *nameHold, wait time.Duration) {
	kvh := n.kv.Load()
	if kvh == nil {
		return
	}
	val, _ := h.pid.MarshalBinary()
	rev, err := kvh.kv.Create(ctx, key(h.name), val)
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		return // taken: the watch tells this node
	case err != nil:
		if !h.released && !h.unreg && n.byName[h.name] == h {
			n.reassertLater(h, wait)
		}
		return
	case h.released || n.byName[h.name] != h:
		n.deleteLater(h.name, rev)
		return
	}
	h.rev = rev
	n.storeLocked(h.name, h.pid, rev)
	if rev > n.seen[h.name] {
		n.seen[h.name] = rev
	}
}

// reassertFirstWait is the pause before reassert's second try.
const reassertFirstWait = 250 * time.Millisecond

// reassertLater runs reassert for h again after wait, with the next pause
// doubled up to reopenMaxWait, unless the node leaves first. Called by the
// background worker (so the wait group is not at zero), under mu.
func (n *Names) reassertLater(h *nameHold, wait time.Duration) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-n.bg.Done():
			return
		case <-t.C:
		}
		next := min(2*wait, reopenMaxWait)
		n.later(func(ctx context.Context) { n.reassert(ctx, h, next) })
	}()
}

// staleLocked reports whether an entry naming owner is known stale here:
// the owner died (a local process, or one a peer said died), or its node
// is lost.
func (n *Names) staleLocked(name string, owner pid.Pid) bool {
	if t, ok := n.tombs[name]; ok && t == owner {
		return true
	}
	return n.deadHere(owner, time.Time{})
}

// orphanLocked reports whether an entry naming owner, a process of this
// node, was left by a registration that failed here: its write went
// through but the answer was lost with the connection, so Register
// returned an error and no process of this node holds the name. The
// owner's node is the one that knows; it deletes such an entry.
func (n *Names) orphanLocked(name string, owner pid.Pid) bool {
	if owner.Node() != n.c.self {
		return false
	}
	h := n.byName[name]
	return h == nil || h.pid != owner
}

// deadHere reports whether owner is known to be dead from this node: a
// dead process of this node, or one of a node that is lost here. A node
// never met is taken as dead only for an entry made before this node
// joined (every node alive then answered its announcement).
func (n *Names) deadHere(owner pid.Pid, created time.Time) bool {
	c := n.c
	if owner.Node() == c.self {
		return !c.core.Alive(owner)
	}
	p := c.peers.get(owner.Node())
	if p == nil {
		return !created.IsZero() && created.Before(n.joined)
	}
	st, _ := p.load()
	return st != stUp
}

// storeLocked caches name as owned by owner at rev.
func (n *Names) storeLocked(name string, owner pid.Pid, rev uint64) {
	if old, ok := n.cache[name]; ok {
		n.unindexLocked(name, old.owner.Node())
	}
	// A copy of its own, not a slice of the watch's subject: the
	// map's keys are small allocations packed together, which a lookup
	// compares in few cache lines.
	name = strings.Clone(name)
	n.cacheMu.Lock()
	n.cache[name] = nameEntry{owner: owner, rev: rev}
	n.cacheMu.Unlock()
	set := n.byNode[owner.Node()]
	if set == nil {
		set = map[string]struct{}{}
		n.byNode[owner.Node()] = set
	}
	set[name] = struct{}{}
}

// dropLocked removes name from the cache.
func (n *Names) dropLocked(name string) {
	if old, ok := n.cache[name]; ok {
		n.cacheMu.Lock()
		delete(n.cache, name)
		n.cacheMu.Unlock()
		n.unindexLocked(name, old.owner.Node())
	}
}

func (n *Names) unindexLocked(name string, node pid.NodeID) {
	if set := n.byNode[node]; set != nil {
		delete(set, name)
		if len(set) == 0 {
			delete(n.byNode, node)
		}
	}
}

// forgetLocked drops the local hold h.
func (n *Names) forgetLocked(h *nameHold) {
	h.released = true
	if n.byName[h.name] == h {
		delete(n.byName, h.name)
	}
	if n.byPid[h.pid] == h {
		delete(n.byPid, h.pid)
	}
}

// deleteLater deletes name from the store if it still has revision rev.
// Caller holds mu or not; it does not wait.
func (n *Names) deleteLater(name string, rev uint64) {
	if rev == 0 {
		return
	}
	n.later(func(ctx context.Context) {
		if h := n.kv.Load(); h != nil {
			_ = h.kv.Delete(ctx, key(name), jetstream.LastRevision(rev))
		}
	})
}

// died releases the name of a process that is dying, under its lock:
// dropped here, every peer told (ahead of the death's exits and Downs on
// each stream), and deleted from the store in the background.
func (n *Names) died(h *nameHold) {
	n.mu.Lock()
	if h.released {
		n.mu.Unlock()
		return
	}
	n.forgetLocked(h)
	n.tombs[h.name] = h.pid
	if e, ok := n.cache[h.name]; ok && e.owner == h.pid {
		n.dropLocked(h.name)
	}
	rev := h.rev
	n.mu.Unlock()
	n.c.broadcastSys(sysNameGone{Name: h.name, Owner: h.pid})
	n.deleteLater(h.name, rev)
}

// gone is a peer's word that the owner of a name died.
func (n *Names) gone(from pid.NodeID, m sysNameGone) {
	if m.Owner.Node() != from {
		return
	}
	n.mu.Lock()
	n.tombs[m.Name] = m.Owner
	if e, ok := n.cache[m.Name]; ok && e.owner == m.Owner {
		n.dropLocked(m.Name)
	}
	n.mu.Unlock()
}

// syncTo sends p the names this node's processes hold, at the start of
// session s: a peer that lost this node dropped them, and the store's
// watch may have nothing new to tell it (DIST: a node that comes back
// brings its names back). Under mu, so that a death after it is told
// after it.
func (n *Names) syncTo(p *peer, s uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	held := make(map[string]sysNameHeld, len(n.byName))
	for name, h := range n.byName {
		if h.rev != 0 && !h.released {
			held[name] = sysNameHeld{Owner: h.pid, Rev: h.rev}
		}
	}
	n.c.sendSys(p, s, sysNameSync{Names: held})
}

// remoteSync caches the names the node from holds, as it said at the start
// of a session, unless the store has shown something newer here.
func (n *Names) remoteSync(from pid.NodeID, m sysNameSync) {
	var lost []*nameHold
	defer func() {
		for _, h := range lost {
			n.lostName(h)
		}
	}()
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, e := range m.Names {
		switch {
		case e.Owner.Node() != from || e.Owner.IsZero() || name == "":
			continue // a node speaks only for its own processes
		case e.Rev < n.seen[name]:
			continue // changed since in the store
		case n.tombs[name] == e.Owner:
			continue
		case n.deadHere(e.Owner, time.Time{}):
			continue // from was lost again before its word was read
		}
		if old, ok := n.cache[name]; ok && old.rev >= e.Rev {
			continue
		}
		n.seen[name] = e.Rev
		n.storeLocked(name, e.Owner, e.Rev)
		if h := n.takenLocked(name, e.Owner, e.Rev); h != nil {
			lost = append(lost, h)
		}
	}
}

// nodeLost drops the names of a lost node's processes, before anything of
// the loss can be observed here, and deletes them from the store (every
// node that lost it tries; one wins).
func (n *Names) nodeLost(id pid.NodeID) {
	n.mu.Lock()
	set := n.byNode[id]
	type gone struct {
		name string
		rev  uint64
	}
	var drop []gone
	n.cacheMu.Lock()
	for name := range set {
		if e, ok := n.cache[name]; ok {
			drop = append(drop, gone{name, e.rev})
		}
		delete(n.cache, name)
	}
	n.cacheMu.Unlock()
	delete(n.byNode, id)
	n.mu.Unlock()
	for _, g := range drop {
		n.deleteLater(g.name, g.rev)
	}
}

// handle returns the store, or ErrNamesUnavailable.
func (n *Names) handle(op, name string) (*kvHandle, error) {
	if n == nil {
		return nil, fmt.Errorf("cluster: %s: nil Names", op)
	}
	if n.c.leaving.Load() {
		return nil, fmt.Errorf("cluster: %s %q: %w", op, name, ErrLeft)
	}
	h := n.kv.Load()
	if h == nil {
		return nil, fmt.Errorf("cluster: %s %q: %w: no JetStream key-value store", op, name, ErrNamesUnavailable)
	}
	return h, nil
}

// Register gives the global name to p, a live process of this node, for
// the whole cluster. It fails with a *registry.NameTakenError naming the
// owner when a live process holds the name (of concurrent registrations on
// any nodes exactly one succeeds), registry.ErrAlreadyNamed when p has a
// global name already (a process holds at most one), ErrNotLocal for a
// process of another node, process.NoProc for a dead one, and
// ErrNamesUnavailable when the store cannot be reached (a node cut off
// from NATS cannot register). A name held by a process known dead here (a
// dead process of this node, one a peer said died, one of a lost node) is
// taken over. ctx bounds the wait for the store.
func (n *Names) Register(ctx context.Context, name string, p pid.Pid) error {
	switch {
	case ctx == nil:
		return fmt.Errorf("cluster: register %q: %w", name, process.ErrNilContext)
	case name == "":
		return fmt.Errorf("cluster: register: %w", registry.ErrEmptyName)
	case p.IsZero():
		return fmt.Errorf("cluster: register %q: %w", name, process.ErrZeroPid)
	}
	kvh, err := n.handle("register", name)
	if err != nil {
		return err
	}
	if p.Node() != n.c.self {
		return fmt.Errorf("cluster: register %q to %s: %w", name, p, ErrNotLocal)
	}
	h := &nameHold{name: name, pid: p}
	n.mu.Lock()
	if old := n.byPid[p]; old != nil {
		n.mu.Unlock()
		return fmt.Errorf("cluster: register %q to %s: %w (as %q)", name, p, registry.ErrAlreadyNamed, old.name)
	}
	if old := n.byName[name]; old != nil {
		n.mu.Unlock()
		return &registry.NameTakenError{Name: name, Owner: old.pid}
	}
	n.byName[name], n.byPid[p] = h, h
	n.mu.Unlock()
	// Tied first: if p dies from now on, the name goes with it.
	err = n.c.core.Tie(p, n, func(core.Tie) (core.Tie, error) { return &nameTie{n: n, h: h}, nil })
	if err != nil {
		n.mu.Lock()
		n.forgetLocked(h)
		n.mu.Unlock()
		return fmt.Errorf("cluster: register %q to %s: %w", name, p, err)
	}
	rev, err := n.create(ctx, kvh, name, p)
	n.mu.Lock()
	switch {
	case err == nil && h.released:
		// p died meanwhile: its death released a name the store did not
		// have yet.
		n.mu.Unlock()
		n.deleteLater(name, rev)
		return fmt.Errorf("cluster: register %q to %s: %w", name, p, process.NoProc)
	case err == nil:
		h.rev = rev
		n.storeLocked(name, p, rev)
		if rev > n.seen[name] {
			n.seen[name] = rev
		}
		if n.tombs[name] != p {
			delete(n.tombs, name)
		}
		n.mu.Unlock()
		return nil
	}
	n.forgetLocked(h)
	// A write whose answer was lost may have gone through, and the watch
	// may have shown it already: it is an orphan now (see orphanLocked).
	var orphanRev uint64
	if e, ok := n.cache[name]; ok && e.owner == p {
		orphanRev = e.rev
		n.dropLocked(name)
	}
	n.mu.Unlock()
	n.deleteLater(name, orphanRev)
	_ = n.c.core.Tie(p, n, func(core.Tie) (core.Tie, error) { return nil, nil })
	return err
}

// create writes name -> p in the store, taking over an entry whose owner
// is known dead here; it returns the entry's revision.
func (n *Names) create(ctx context.Context, kvh *kvHandle, name string, p pid.Pid) (uint64, error) {
	val, _ := p.MarshalBinary()
	k := key(name)
	for range 16 {
		rev, err := kvh.kv.Create(ctx, k, val)
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, n.storeError("register", name, err)
		}
		e, err := kvh.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return 0, n.storeError("register", name, err)
		}
		owner, ok := ownerOf(e.Value())
		if ok && owner == p {
			// This very write went through, though its answer was lost
			// (the client retried it).
			return e.Revision(), nil
		}
		n.mu.Lock()
		dead := !ok || n.tombs[name] == owner && owner != p || n.orphanLocked(name, owner) || n.deadHere(owner, e.Created())
		n.mu.Unlock()
		if !dead {
			return 0, &registry.NameTakenError{Name: name, Owner: owner}
		}
		rev, err = kvh.kv.Update(ctx, k, val, e.Revision())
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, n.storeError("register", name, err)
		}
	}
	return 0, fmt.Errorf("cluster: register %q: %w: the name keeps changing hands", name, ErrNamesUnavailable)
}

// storeError wraps an error of the store.
func (n *Names) storeError(op, name string, err error) error {
	if !n.c.nc.IsConnected() {
		// Publishing while disconnected fails at once (nothing is buffered
		// for the reconnect), with a message about a buffer: say what it
		// means.
		return fmt.Errorf("cluster: %s %q: %w: not connected to NATS: %w", op, name, ErrNamesUnavailable, err)
	}
	return fmt.Errorf("cluster: %s %q: %w: %w", op, name, ErrNamesUnavailable, err)
}

// Unregister removes the global name held by a process of this node. It
// fails with registry.ErrNotRegistered when no process of this node holds
// it (a name is given up by its owner's node), and ErrNamesUnavailable
// when the store cannot be reached (the name then stays).
func (n *Names) Unregister(ctx context.Context, name string) error {
	if ctx == nil {
		return fmt.Errorf("cluster: unregister %q: %w", name, process.ErrNilContext)
	}
	kvh, err := n.handle("unregister", name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	h := n.byName[name]
	if h == nil || h.rev == 0 {
		n.mu.Unlock()
		return fmt.Errorf("cluster: unregister %q: %w on this node", name, registry.ErrNotRegistered)
	}
	rev := h.rev
	h.unreg = true
	n.mu.Unlock()
	if err := kvh.kv.Delete(ctx, key(name), jetstream.LastRevision(rev)); err != nil &&
		!errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
		n.mu.Lock()
		h.unreg = false
		n.mu.Unlock()
		return n.storeError("unregister", name, err)
	}
	n.mu.Lock()
	n.forgetLocked(h)
	if e, ok := n.cache[name]; ok && e.owner == h.pid {
		n.dropLocked(name)
	}
	n.mu.Unlock()
	_ = n.c.core.Tie(h.pid, n, func(core.Tie) (core.Tie, error) { return nil, nil })
	return nil
}

// WhereIs returns the process that holds the global name. A name in the
// local cache costs no round trip; one missing from it is looked up in the
// store once (bounded by the name timeout), so a name registered anywhere
// is found as soon as its Register has returned.
func (n *Names) WhereIs(name string) (pid.Pid, bool) {
	return n.WhereIsNameContext(context.Background(), name)
}

// miss looks a name up in the store, within ctx and the name timeout, and
// caches what it finds.
func (n *Names) miss(ctx context.Context, name string) (pid.Pid, bool) {
	kvh := n.kv.Load()
	if kvh == nil || name == "" || n.c.leaving.Load() {
		return pid.Pid{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	e, err := kvh.kv.Get(ctx, key(name))
	if err != nil {
		return pid.Pid{}, false
	}
	owner, ok := ownerOf(e.Value())
	if !ok {
		return pid.Pid{}, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.staleLocked(name, owner) || n.orphanLocked(name, owner) || e.Revision() < n.seen[name] {
		// Dead, or older than what the watch has shown: a stale read.
		return pid.Pid{}, false
	}
	// The entry the watch showed last, or a newer one. The last one shown
	// may have been dropped then as stale (its owner's node was not up
	// here yet), and nothing else brings it back: cache it now that it is
	// not.
	if _, cached := n.cache[name]; !cached || e.Revision() > n.seen[name] {
		n.seen[name] = e.Revision()
		n.storeLocked(name, owner, e.Revision())
	}
	return owner, true
}

// Registered returns the global names this node knows, sorted.
func (n *Names) Registered() []string {
	var out []string
	n.cacheMu.RLock()
	for name := range n.cache {
		out = append(out, name)
	}
	n.cacheMu.RUnlock()
	sort.Strings(out)
	return out
}

// Send sends msg to the process that holds the global name, from outside
// any process. It fails with registry.ErrNotRegistered for a name no
// process holds; delivery itself is not confirmed (DIST-01).
func (n *Names) Send(name string, msg any) error {
	p, ok := n.WhereIs(name)
	if !ok {
		return fmt.Errorf("cluster: send to global name %q: %w", name, registry.ErrNotRegistered)
	}
	return n.c.node.Send(p, msg)
}

// SendFrom is Send from the process self, in order with what self sends
// to that process otherwise.
func (n *Names) SendFrom(self *process.Process, name string, msg any) error {
	if self == nil {
		return process.ErrNilProcess
	}
	p, ok := n.WhereIs(name)
	if !ok {
		return fmt.Errorf("cluster: send to global name %q: %w", name, registry.ErrNotRegistered)
	}
	return self.Send(p, msg)
}

// NameOf returns the global name a process of this node holds.
func (n *Names) NameOf(p pid.Pid) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if h := n.byPid[p]; h != nil && h.rev != 0 {
		return h.name, true
	}
	return "", false
}

// RegisterName is Register bounded by the name timeout, for
// genserver.WithVia: it reports whether p got the name.
func (n *Names) RegisterName(name string, p pid.Pid) bool {
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	err := n.Register(ctx, name, p)
	if err != nil && !errors.Is(err, registry.ErrNameTaken) {
		n.c.log.Warn("cluster: global name not registered", zap.String("name", name), zap.Error(err))
	}
	return err == nil
}

// UnregisterName does nothing: a genserver calls it as it exits, but a
// process's global name goes as it dies, before anyone can observe the
// exit, and may be held by a successor by then. Use Unregister to take a
// name from a live process.
func (n *Names) UnregisterName(string) {}

// WhereIsName is WhereIs, for genserver.NamedVia.
func (n *Names) WhereIsName(name string) (pid.Pid, bool) { return n.WhereIs(name) }

// WhereIsNameContext is WhereIs within ctx: a call by name through
// genserver.NamedVia looks a name missing from the cache up in the store
// within the call's context, and so returns by its deadline.
func (n *Names) WhereIsNameContext(ctx context.Context, name string) (pid.Pid, bool) {
	if n == nil {
		return pid.Pid{}, false
	}
	n.cacheMu.RLock()
	e, ok := n.cache[name]
	n.cacheMu.RUnlock()
	if ok {
		return e.owner, true
	}
	return n.miss(ctx, name)
}
