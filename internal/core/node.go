// Package core is the engine behind the public packages process, link and
// registry: the process table, mailboxes, backends, exit signals, links,
// monitors, names, groups and timers. Process state, links, monitors and
// names change together under the owning process's lock, so "is it alive?"
// and "add this link, monitor or name" are one atomic step.
//
// Lock order: a process's mu before the node's group lock and before a
// name shard's writer lock; two process locks in ascending serial order.
// Mailbox locks, name shard locks, the process table's lock and the worker
// pool's lock are leaves.
package core

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spawned-go/spawned/pid"
)

// DefaultBlockingPool is the default bound on handlers of Blocking
// processes that run at the same time on one node.
const DefaultBlockingPool = 256

// Config holds what a node is created with.
type Config struct {
	Logger        *zap.Logger
	BlockingPool  int
	ProfileLabels bool          // see SetProfileLabels
	IdleSpin      time.Duration // how long an idle worker spins: 0 DefaultIdleSpin, negative not at all
}

// Node owns a process table, a name registry and process groups.
type Node struct {
	id     pid.NodeID
	refs   atomic.Uint64
	table  table
	names  nameTable
	logger atomic.Pointer[zap.Logger]
	remote atomic.Pointer[remoteState] // nil: no other node is reachable

	groupsMu sync.Mutex
	groups   map[string][]pid.Pid

	blocking chan struct{} // a slot per running Blocking handler
	workers  workers

	life    sync.RWMutex // spawn holds it shared; Stop exclusively
	stopped atomic.Bool
	// goroutines counts the goroutines the node started (and those
	// reserved for a start). Once Stop has begun it only falls; fewOnce
	// closes few when at most one is left (the one a Stop called from
	// the node's own code runs on), noneOnce closes none at zero.
	goroutines atomic.Int64
	few, none  chan struct{}
	fewOnce    sync.Once
	noneOnce   sync.Once
	stragglers atomic.Int64
	spawned    atomic.Uint64
	exited     atomic.Uint64

	obs observability // events, exit classes, tracing, labels: observe.go
}

// nodes routes a Pid to the node that owns it.
var nodes sync.Map // pid.NodeID -> *Node

// NewNode starts a node.
func NewNode(cfg Config) *Node {
	if cfg.BlockingPool <= 0 {
		cfg.BlockingPool = DefaultBlockingPool
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	n := &Node{
		id:       pid.NewNodeID(),
		groups:   make(map[string][]pid.Pid),
		blocking: make(chan struct{}, cfg.BlockingPool),
		few:      make(chan struct{}),
		none:     make(chan struct{}),
	}
	if cfg.IdleSpin == 0 {
		cfg.IdleSpin = DefaultIdleSpin
	}
	n.workers.spin.init(max(cfg.IdleSpin, 0), runtime.GOMAXPROCS(0))
	n.table.init()
	n.names.init()
	n.logger.Store(cfg.Logger)
	n.obs.labels.Store(cfg.ProfileLabels)
	nodes.Store(n.id, n)
	return n
}

// Lookup returns the running node with the given identity.
func Lookup(id pid.NodeID) (*Node, bool) {
	v, ok := nodes.Load(id)
	if !ok {
		return nil, false
	}
	return v.(*Node), true
}

// ID returns the node's identity.
func (n *Node) ID() pid.NodeID { return n.id }

// Logger returns the node's logger.
func (n *Node) Logger() *zap.Logger { return n.logger.Load() }

// SetLogger replaces the node's logger; nil silences it.
func (n *Node) SetLogger(l *zap.Logger) {
	if l == nil {
		l = zap.NewNop()
	}
	n.logger.Store(l)
}

// BlockingPool returns the bound on concurrently running Blocking handlers.
func (n *Node) BlockingPool() int { return cap(n.blocking) }

// BlockingInUse returns how many Blocking handlers run right now.
func (n *Node) BlockingInUse() int { return len(n.blocking) }

// MakeRef returns a reference unique within this node.
func (n *Node) MakeRef() pid.Ref { return pid.NewRef(n.id, n.refs.Add(1)) }

// Stopped reports whether Stop was called.
func (n *Node) Stopped() bool { return n.stopped.Load() }

// Stats counts what a node has done and holds.
type Stats struct {
	Processes  int    // live processes
	Spawned    uint64 // processes ever spawned
	Exited     uint64 // processes that have exited
	Stragglers int64  // killed processes whose code still runs
	Names      int    // registered names
	Groups     int    // non-empty process groups
	Workers    int    // parked worker goroutines kept for Async and Blocking activations
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	names := 0
	n.names.each(func(string, *Proc) { names++ })
	n.groupsMu.Lock()
	groups := len(n.groups)
	n.groupsMu.Unlock()
	return Stats{
		Processes:  n.table.len(),
		Spawned:    n.spawned.Load(),
		Exited:     n.exited.Load(),
		Stragglers: n.stragglers.Load(),
		Names:      names,
		Groups:     groups,
		Workers:    n.workers.parked(),
	}
}

// Stop kills every process with reason Shutdown (untrappably: no callback
// of the processes runs), refuses new work and waits until every goroutine
// the node started has returned or ctx is done. A process whose code
// ignores its context keeps Stop waiting; ctx bounds that wait, and the
// kills themselves (whose exit callbacks must not block, but might). Stop
// is idempotent. When the last goroutine has returned, the node's event hub
// is closed (see Events): before Stop returns, unless ctx ended the wait.
//
// Stop called from a goroutine of the runtime (a process's code, or an
// OnExit, Exited or Watch callback run on one) cannot wait for its own
// goroutine: it returns once at most that one goroutine is left. The stack
// shows a goroutine of the runtime, not of which node: from another node's
// goroutine, Stop may return while one of this node's is still finishing.
func (n *Node) Stop(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("node stop: %w", ErrNilContext)
	}
	wait := n.none
	if onRuntimeGoroutine() {
		wait = n.few
	}
	n.life.Lock()
	n.goroutines.Add(1) // the killer below, counted so that the count stays up until it is done
	n.stopped.Store(true)
	n.life.Unlock()
	killed := make(chan struct{})
	go n.killAll(killed) // a kill runs exit callbacks: ctx bounds them too
	for i, done := range []chan struct{}{killed, wait} {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("node stop: %d stragglers still running: %w", n.stragglers.Load(), context.Cause(ctx))
		}
		if i == 0 {
			if err := n.leaveCluster(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// leaveCluster tells the node's Remote, if it must know, that the node has
// stopped: its processes are dead.
func (n *Node) leaveCluster(ctx context.Context) error {
	rs := n.remote.Load()
	if rs == nil {
		return nil
	}
	l, ok := rs.r.(RemoteLeaver)
	if !ok {
		return nil
	}
	if err := l.Leave(ctx); err != nil {
		return fmt.Errorf("node stop: %w", err)
	}
	return nil
}

// killAll is Stop's killer: it kills every process, lets the parked
// workers go and closes killed.
func (n *Node) killAll(killed chan struct{}) {
	defer n.goroutineDone()
	for _, p := range n.table.all() {
		p.exit(Shutdown)
	}
	n.workers.stop()
	close(killed)
}

// addGoroutine counts a goroutine the node is about to start, and reports
// false instead once Stop has begun: after that the count only falls, so
// that Stop can wait for it to reach zero.
func (n *Node) addGoroutine() bool {
	n.life.RLock()
	defer n.life.RUnlock()
	if n.stopped.Load() {
		return false
	}
	n.goroutines.Add(1)
	return true
}

// goroutineDone uncounts a goroutine of the node that has ended (or a
// reserved one that was not started).
func (n *Node) goroutineDone() {
	if left := n.goroutines.Add(-1); left <= 1 && n.stopped.Load() {
		n.goroutinesLeft(left)
	}
}

// goroutinesLeft tells the waiting Stops that only left goroutines of the
// stopped node are still running. At zero the node is gone: its Pids no
// longer route to it, and its event hub is closed, after every event of
// its processes' exits and of their code, so that a loop over a
// subscription ends.
func (n *Node) goroutinesLeft(left int64) {
	if left > 1 || !n.stopped.Load() {
		return
	}
	n.fewOnce.Do(func() { close(n.few) })
	if left == 0 {
		n.noneOnce.Do(func() {
			nodes.Delete(n.id)
			n.obs.hub.Close()
			close(n.none)
		})
	}
}

// proc returns the live process named by p, or nil.
func (n *Node) proc(p pid.Pid) *Proc {
	if p.Node() != n.id {
		return nil
	}
	return n.table.get(p.Serial())
}

// Alive reports whether p names a live process of this node.
func (n *Node) Alive(p pid.Pid) bool {
	q := n.proc(p)
	return q != nil && !q.dead.Load()
}

// Processes lists the live processes.
func (n *Node) Processes() []pid.Pid {
	all := n.table.all()
	out := make([]pid.Pid, 0, len(all))
	for _, p := range all {
		if !p.dead.Load() {
			out = append(out, p.Pid())
		}
	}
	return out
}

// check validates a target Pid for operations that need one of this node.
func (n *Node) check(p pid.Pid) error {
	switch {
	case p.IsZero():
		return ErrZeroPid
	case n.stopped.Load():
		return ErrNodeStopped
	case p.Node() != n.id:
		return fmt.Errorf("%w: node %s is not reachable from node %s", NoConnection, p.Node(), n.id)
	}
	return nil
}

// accepts is check's common case, small enough to inline into the send
// paths so that they copy no Pid: it reports whether check would pass.
func (n *Node) accepts(p *pid.Pid) bool {
	return p.Node() == n.id && !p.IsZero() && !n.stopped.Load()
}

// Send queues msg in p's mailbox. A message to a dead process is dropped
// silently, as in Erlang; a full bounded mailbox refuses it with
// ErrMailboxFull.
func (n *Node) Send(p pid.Pid, msg any) error {
	if !n.accepts(&p) {
		if rs := n.route(p); rs != nil {
			return n.sendRemote(rs, nil, Target{Pid: p}, msg)
		}
		return n.check(p)
	}
	q := n.table.get(p.Serial())
	if q == nil {
		n.undeliverable(msg, NoProc)
		return nil
	}
	return q.Post(msg)
}

// SendWait is Send that waits for room in a full bounded mailbox until ctx
// is done; for a process of another node, it waits while the peer node is
// busy (ErrPeerBusy).
func (n *Node) SendWait(ctx context.Context, p pid.Pid, msg any) error {
	if ctx == nil {
		return fmt.Errorf("send: %w", ErrNilContext)
	}
	if rs := n.route(p); rs != nil {
		return n.sendRemoteWait(ctx, rs, nil, Target{Pid: p}, msg)
	}
	if err := n.check(p); err != nil {
		return err
	}
	for {
		q := n.table.get(p.Serial())
		if q == nil {
			n.undeliverable(msg, NoProc)
			return nil
		}
		err := q.Post(msg)
		if !errors.Is(err, ErrMailboxFull) {
			return err
		}
		if err := q.waitRoom(ctx, nil); err != nil {
			return err
		}
	}
}

// Exit sends an exit signal with reason to p from a goroutine that is not a
// process: the zero Pid is the sender. See Proc.Exit.
//
// A signal to a local process is applied at once, and the caller then
// yields its processor once (Yield): a process the signal woke, such as a
// supervisor told of its child's exit, runs next there, as a goroutine
// woken through a channel would, instead of the caller going on to look
// for a restarted child that is not there yet.
func (n *Node) Exit(p pid.Pid, reason error) error {
	local := n.route(p) == nil
	if local { // check builds its error eagerly: not on the remote path
		if err := n.check(p); err != nil {
			return err
		}
	}
	n.exitSignal(pid.Pid{}, p, orNormal(reason))
	if local {
		Yield()
	}
	return nil
}
