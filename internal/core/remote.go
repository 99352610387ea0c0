package core

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/spawned-go/spawned/pid"
)

// Remote carries what a node does to processes of other nodes. A cluster
// installs one with Node.SetRemote; a node without one treats every Pid of
// another node as unreachable.
//
// Order is the Remote's first duty. The node calls it from many goroutines,
// but the calls made on behalf of one process come in that process's order
// (its sends, then the signals of its death), and a Remote must hand each
// frame to its transport before the call returns, on one ordered stream per
// pair of nodes. That is what keeps messages and signals between two
// processes in order across nodes (ORD-01..03, DIST-02, DIST-26).
//
// A Remote must not block for long, and must not call back into the node
// from within a call; it may from its own goroutines, through the Remote*
// and PeerDown methods of the node.
type Remote interface {
	// Send carries msg from from (the zero Pid when the sender is not a
	// process) to to. msg is a plain message, a CastMsg or a StopMsg. Its
	// error is about the sender's side only: a type with no codec, a
	// payload too large, a peer that takes no more for now. Delivery is
	// never confirmed, and a message to an unreachable node is dropped
	// without an error, as Erlang does.
	Send(from pid.Pid, to Target, msg any) error
	// Call carries a call to the server to and returns the call's
	// reference. a is answered once: by the server's reply, by the
	// server's exit reason, or with NoConnection when the peer is lost.
	// An *UnreachableError says the call was not sent.
	Call(from pid.Pid, to Target, req any, a RemoteAnswer) (pid.Ref, error)
	// Forget drops the call ref, whose caller stopped waiting: a late
	// answer is dropped.
	Forget(call pid.Ref)
	// Signal carries a link, monitor or exit signal. An *UnreachableError
	// says the peer is down or unknown: the node then applies the effect
	// at once (an Exit or Down with the error's reason).
	Signal(s Signal) error
}

// ErrPeerBusy is what a Remote's Send returns when the peer node has not
// yet taken enough of what was sent to it (flow control): the message was
// not sent. SendWait waits for room instead, when the Remote is a
// RemoteWaiter.
var ErrPeerBusy = errors.New("peer node busy: the flow-control window is full")

// RemoteWaiter is implemented by a Remote whose Send may refuse a message
// with ErrPeerBusy: WaitRoom returns once a Send to to may succeed, or
// with ctx's error.
type RemoteWaiter interface {
	WaitRoom(ctx context.Context, to Target) error
}

// RemoteLeaver is implemented by a Remote that must know when its node
// stops: Node.Stop calls Leave once every process of the node is dead (each
// has told its partners on other nodes why), bounded by Stop's context, so
// that a stopped node leaves its cluster without a separate call.
type RemoteLeaver interface {
	Leave(ctx context.Context) error
}

// Target names a process of another node: by Pid, or by registered name on
// a node (Erlang's {Name, Node}).
type Target struct {
	Pid  pid.Pid
	Node pid.NodeID // the name's node, when Pid is zero
	Name string     // the name, when Pid is zero
}

// NodeID returns the node the target lives on.
func (t Target) NodeID() pid.NodeID {
	if !t.Pid.IsZero() {
		return t.Pid.Node()
	}
	return t.Node
}

// String formats the target for errors and logs.
func (t Target) String() string {
	if !t.Pid.IsZero() {
		return t.Pid.String()
	}
	return fmt.Sprintf("%q on node %s", t.Name, t.Node)
}

// SignalKind says what a Signal does.
type SignalKind uint8

// The signals that cross between nodes.
const (
	// SigExit is exit/2: From sends an exit signal with Reason to To.
	SigExit SignalKind = iota + 1
	// SigLinkExit is the exit signal of a link: From, linked to To, exited
	// with Reason (or is dead: NoProc).
	SigLinkExit
	// SigLink asks To to record a link with From.
	SigLink
	// SigUnlink asks To to drop its link with From.
	SigUnlink
	// SigMonitor makes From monitor To (or the process registered as Name
	// on Node) under Ref. From is zero for a watch held by code that is not
	// a process; Ref's node is where the Down goes.
	SigMonitor
	// SigDemonitor removes the monitor Ref on To (or on Name).
	SigDemonitor
	// SigDown tells the monitor Ref held by To that From exited with
	// Reason.
	SigDown
)

// String names the kind for logs and errors.
func (k SignalKind) String() string {
	switch k {
	case SigExit:
		return "exit"
	case SigLinkExit:
		return "link-exit"
	case SigLink:
		return "link"
	case SigUnlink:
		return "unlink"
	case SigMonitor:
		return "monitor"
	case SigDemonitor:
		return "demonitor"
	case SigDown:
		return "down"
	}
	return fmt.Sprintf("signal(%d)", uint8(k))
}

// Signal is a link, monitor or exit signal between processes of two nodes.
type Signal struct {
	Kind   SignalKind
	From   pid.Pid
	To     pid.Pid
	Node   pid.NodeID // with Name: a monitor by name on that node
	Name   string
	Ref    pid.Ref
	Reason error
}

// Dest returns the node the signal goes to.
func (s Signal) Dest() pid.NodeID {
	switch {
	case s.Kind == SigDown && s.To.IsZero():
		return s.Ref.Node() // a watch: the node that made the Ref holds it
	case !s.To.IsZero():
		return s.To.Node()
	}
	return s.Node
}

// RemoteAnswer receives the answer to a call made to another node: Reply
// with the server's answer, or Undelivered with the reason there will be
// none. Exactly one of them is called, once.
type RemoteAnswer interface {
	Undeliverable
	Reply(rep any, err error)
}

// IncomingCall is a call from a process of another node, queued for a local
// server as a message. A server answers it through Answer; when no server
// takes it, Undelivered fails it.
type IncomingCall struct {
	From   pid.Pid
	Req    any
	Answer RemoteAnswer
}

// Undelivered fails the call: no server will answer it.
func (c *IncomingCall) Undelivered(reason error) { c.Answer.Undelivered(reason) }

// CastMsg carries a cast across nodes: the receiving server takes Msg as
// its cast.
type CastMsg struct{ Msg any }

// StopMsg asks a server to stop with Reason. It is the runtime's own
// request: a bounded mailbox never refuses it.
type StopMsg struct{ Reason error }

// RemoteAccepter is implemented by handlers that take calls and casts from
// other nodes: AcceptRemote says why msg (an *IncomingCall or a CastMsg)
// is not for this server, or nil.
type RemoteAccepter interface {
	AcceptRemote(msg any) error
}

// ErrWrongServer reports a call or cast that reached a process that is not
// a server of the caller's types.
var ErrWrongServer = errors.New("genserver: wrong server")

// UnreachableError is what a Remote returns for a node it cannot reach.
// Reason is NoConnection, or NoProc for a node that has restarted as a new
// incarnation since: the old incarnation's Pids are dead.
type UnreachableError struct {
	Node   pid.NodeID
	Reason error
}

// Error describes the failure.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("node %s: %v", e.Node, e.Reason)
}

// Unwrap returns the reason.
func (e *UnreachableError) Unwrap() error { return e.Reason }

// unreachable returns the reason in err when it says the peer is
// unreachable.
func unreachable(err error) (error, bool) {
	var u *UnreachableError
	if errors.As(err, &u) {
		return u.Reason, true
	}
	return nil, false
}

// remoteState is a node's side of its Remote: which local processes hold
// links and monitors involving each peer node, so that losing a peer fires
// every one of them, and the watches of remote processes held by code that
// is not a process.
type remoteState struct {
	r Remote

	mu      sync.Mutex
	byNode  map[pid.NodeID]map[*Proc]struct{}
	watches map[pid.Ref]remoteWatch
}

type remoteWatch struct {
	target Target
	notify func(DownMsg)
}

// SetRemote installs r as the node's way to other nodes; nil removes it.
// Remove it only after every peer was declared down with PeerDown.
func (n *Node) SetRemote(r Remote) {
	if r == nil {
		n.remote.Store(nil)
		return
	}
	n.remote.Store(&remoteState{
		r:       r,
		byNode:  make(map[pid.NodeID]map[*Proc]struct{}),
		watches: make(map[pid.Ref]remoteWatch),
	})
}

// Remote returns the node's Remote, or nil.
func (n *Node) Remote() Remote {
	if rs := n.remote.Load(); rs != nil {
		return rs.r
	}
	return nil
}

// route returns the node's remote state when p is a Pid of another node
// that a Remote can carry, or nil.
func (n *Node) route(p pid.Pid) *remoteState {
	if p.IsZero() || p.Node() == n.id || n.stopped.Load() {
		return nil
	}
	return n.remote.Load()
}

// mark records that p holds a link or monitor involving node. Caller
// holds p.mu.
func (rs *remoteState) mark(p *Proc, node pid.NodeID) {
	p.remote = true
	rs.mu.Lock()
	set := rs.byNode[node]
	if set == nil {
		set = make(map[*Proc]struct{})
		rs.byNode[node] = set
	}
	set[p] = struct{}{}
	rs.mu.Unlock()
}

// unmark forgets p, which died, wherever mark recorded it.
func (rs *remoteState) unmark(p *Proc) {
	rs.mu.Lock()
	for node, set := range rs.byNode {
		delete(set, p)
		if len(set) == 0 {
			delete(rs.byNode, node)
		}
	}
	rs.mu.Unlock()
}

// tellPeers sends what a dying process owes other nodes: the exit signal
// to each remote link partner, a Down to each remote monitor held on it,
// and a demonitor for each monitor it held on a remote process.
func (n *Node) tellPeers(d *death) {
	rs := n.remote.Load()
	if rs == nil {
		return
	}
	p := d.p
	self := p.Pid()
	for other := range d.links.all() {
		if other.Node() != n.id {
			rs.r.Signal(Signal{Kind: SigLinkExit, From: self, To: other, Reason: d.reason})
		}
	}
	for ref, w := range d.monIn {
		if w.remote {
			rs.r.Signal(Signal{Kind: SigDown, From: self, To: w.peer, Ref: ref, Reason: d.reason})
		}
	}
	for ref, t := range d.monOut {
		if t.node != n.id {
			rs.r.Signal(Signal{Kind: SigDemonitor, From: self, To: t.pid, Node: t.node, Name: t.name, Ref: ref})
		}
	}
	rs.unmark(p)
}

// sendRemote sends msg from from (nil when not a process) to a process of
// another node.
func (n *Node) sendRemote(rs *remoteState, from *Proc, to Target, msg any) error {
	if from == nil {
		return rs.r.Send(pid.Pid{}, to, msg)
	}
	from.inflight.Add(1)
	defer from.inflight.Add(-1)
	if from.dead.Load() {
		return nil
	}
	err := rs.r.Send(from.Pid(), to, msg)
	if err == nil {
		from.sent.Add(1)
	}
	return err
}

// sendRemoteWait is sendRemote that waits for room while the peer is busy,
// until ctx is done or from (when not nil) exits. It waits outside from's
// in-flight count, so that a death never waits for a peer.
func (n *Node) sendRemoteWait(ctx context.Context, rs *remoteState, from *Proc, to Target, msg any) error {
	for {
		err := n.sendRemote(rs, from, to, msg)
		if !errors.Is(err, ErrPeerBusy) {
			return err
		}
		w, ok := rs.r.(RemoteWaiter)
		if !ok {
			return err
		}
		wctx := ctx
		if from != nil {
			var cancel context.CancelFunc
			wctx, cancel = context.WithCancel(ctx)
			stop := context.AfterFunc(from.Context(), cancel)
			err = w.WaitRoom(wctx, to)
			stop()
			cancel()
			if from.dead.Load() {
				return ErrCallerExited
			}
		} else {
			err = w.WaitRoom(wctx, to)
		}
		if err != nil {
			return err
		}
	}
}

// SendTo sends msg to target, a Pid of this or another node or a name on
// another node, from a goroutine that is not a process.
func (n *Node) SendTo(target Target, msg any) error {
	if target.Pid.IsZero() && target.Node == n.id {
		return n.SendName(target.Name, msg)
	}
	if !target.Pid.IsZero() {
		return n.Send(target.Pid, msg)
	}
	rs, err := n.checkName(target)
	if err != nil {
		return err
	}
	return n.sendRemote(rs, nil, target, msg)
}

// SendToWait is SendTo that waits as SendWait does: for room in a full
// bounded mailbox of this node, or while the peer node of target is busy
// (ErrPeerBusy), until ctx is done.
func (n *Node) SendToWait(ctx context.Context, target Target, msg any) error {
	switch {
	case ctx == nil:
		return fmt.Errorf("send: %w", ErrNilContext)
	case target.Pid.IsZero() && target.Node == n.id:
		p, ok := n.WhereIs(target.Name)
		if !ok {
			return n.SendName(target.Name, msg) // what a send to no one does
		}
		return n.SendWait(ctx, p, msg)
	case !target.Pid.IsZero():
		return n.SendWait(ctx, target.Pid, msg)
	}
	rs, err := n.checkName(target)
	if err != nil {
		return err
	}
	return n.sendRemoteWait(ctx, rs, nil, target, msg)
}

// SendTo sends msg from p to target (see Node.SendTo).
func (p *Proc) SendTo(target Target, msg any) error {
	if target.Pid.IsZero() && target.Node == p.node.id {
		return p.SendName(target.Name, msg)
	}
	if !target.Pid.IsZero() {
		return p.Send(target.Pid, msg)
	}
	rs, err := p.node.checkName(target)
	if err != nil {
		return err
	}
	return p.node.sendRemote(rs, p, target, msg)
}

// checkName validates a name on another node as a target.
func (n *Node) checkName(t Target) (*remoteState, error) {
	switch {
	case t.Name == "":
		return nil, ErrEmptyName
	case t.Node.IsZero():
		return nil, fmt.Errorf("%w: a name on no node", ErrZeroPid)
	case n.stopped.Load():
		return nil, ErrNodeStopped
	}
	// Loaded once: a Leave may remove it at any time.
	rs := n.remote.Load()
	if rs == nil {
		return nil, fmt.Errorf("%w: node %s is not reachable from node %s", NoConnection, t.Node, n.id)
	}
	return rs, nil
}

// SendSystem queues a request of the runtime's own (a StopMsg) for to,
// past the bound of a bounded mailbox, on this or another node.
func (n *Node) SendSystem(to Target, msg any) error {
	if to.Pid.IsZero() && to.Node != n.id {
		rs, err := n.checkName(to)
		if err != nil {
			return err
		}
		return n.sendRemote(rs, nil, to, msg)
	}
	if !to.Pid.IsZero() {
		if rs := n.route(to.Pid); rs != nil {
			return n.sendRemote(rs, nil, to, msg)
		}
		if err := n.check(to.Pid); err != nil {
			return err
		}
	} else if n.stopped.Load() {
		return ErrNodeStopped
	}
	q := n.resolve(to)
	if q == nil {
		n.undeliverable(msg, NoProc)
		return nil
	}
	q.deliver(msg)
	return nil
}

// resolve finds the live local process named by t, or nil.
func (n *Node) resolve(t Target) *Proc {
	if !t.Pid.IsZero() {
		return n.proc(t.Pid)
	}
	q, ok := n.names.load(t.Name)
	if !ok {
		return nil
	}
	return q
}

// CallRemote sends a call to a server of another node (see Remote.Call).
// from is the calling process, or zero.
func (n *Node) CallRemote(from pid.Pid, to Target, req any, a RemoteAnswer) (pid.Ref, error) {
	var rs *remoteState
	if to.Pid.IsZero() {
		var err error
		if rs, err = n.checkName(to); err != nil {
			return pid.Ref{}, err
		}
	} else if to.Pid.Node() == n.id {
		return pid.Ref{}, fmt.Errorf("call %s: a local server", to)
	} else if rs = n.route(to.Pid); rs == nil { // check builds its error eagerly: not on the remote path
		if err := n.check(to.Pid); err != nil {
			return pid.Ref{}, err
		}
		return pid.Ref{}, fmt.Errorf("call %s: %w", to, NoConnection) // the node's way out went meanwhile
	}
	return rs.r.Call(from, to, req, a)
}

// ForgetCall drops a remote call its caller stopped waiting for.
func (n *Node) ForgetCall(ref pid.Ref) {
	if rs := n.remote.Load(); rs != nil {
		rs.r.Forget(ref)
	}
}

// linkRemote links p to a process of another node. The link is recorded
// here at once and the peer is asked to record it too; a dead peer answers
// with an exit signal NoProc, an unreachable one gives NoConnection at once
// (DIST-10, DIST-25). The signal goes out under p's lock, so that it stays
// in order with the exit signal of p's death.
func (p *Proc) linkRemote(rs *remoteState, target pid.Pid) error {
	p.mu.Lock()
	switch {
	case p.dead.Load():
		p.mu.Unlock()
		return ErrCallerExited
	case p.links.has(target):
		p.mu.Unlock()
		return nil
	}
	addTo(&p.links, target)
	rs.mark(p, target.Node())
	err := rs.r.Signal(Signal{Kind: SigLink, From: p.Pid(), To: target})
	p.mu.Unlock()
	if reason, ok := unreachable(err); ok {
		p.node.propagate(p.exitSignal(target, reason, true))
	}
	return nil
}

// unlinkRemote removes p's link with a process of another node, here and
// there.
func (p *Proc) unlinkRemote(rs *remoteState, target pid.Pid) {
	p.mu.Lock()
	if p.links.remove(target) && !p.dead.Load() {
		rs.r.Signal(Signal{Kind: SigUnlink, From: p.Pid(), To: target})
	}
	p.mu.Unlock()
}

// monitorRemote makes p monitor t, a process of another node. The Down
// for a dead or unknown process comes later, one round trip away (DIST-09);
// for an unreachable node it is queued at once.
func (p *Proc) monitorRemote(rs *remoteState, t Target) (pid.Ref, error) {
	ref := p.node.MakeRef()
	node := t.NodeID()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead.Load() {
		return pid.Ref{}, ErrCallerExited
	}
	c := p.coldLocked()
	if c.monOut == nil {
		c.monOut = make(map[pid.Ref]monTarget)
	}
	c.monOut[ref] = monTarget{pid: t.Pid, node: node, name: t.Name}
	rs.mark(p, node)
	err := rs.r.Signal(Signal{Kind: SigMonitor, From: p.Pid(), To: t.Pid, Node: node, Name: t.Name, Ref: ref})
	if reason, ok := unreachable(err); ok {
		delete(c.monOut, ref)
		p.deliver(downMessage(downFor(ref, monTarget{pid: t.Pid, node: node, name: t.Name}, reason)))
	}
	return ref, nil
}

// downFor returns the Down of the monitor ref on t.
func downFor(ref pid.Ref, t monTarget, reason error) DownMsg {
	m := DownMsg{Ref: ref, Pid: t.pid, Reason: reason}
	if t.name != "" {
		m.Name, m.Node = t.name, t.node
	}
	return m
}

// watchRemote is Watch for a process of another node.
func (n *Node) watchRemote(rs *remoteState, t Target, notify func(DownMsg)) (pid.Ref, error) {
	ref := n.MakeRef()
	rs.mu.Lock()
	rs.watches[ref] = remoteWatch{target: t, notify: notify}
	rs.mu.Unlock()
	err := rs.r.Signal(Signal{Kind: SigMonitor, To: t.Pid, Node: t.NodeID(), Name: t.Name, Ref: ref})
	if reason, ok := unreachable(err); ok {
		if w, ok := rs.takeWatch(ref); ok {
			w.fire(n, ref, pid.Pid{}, reason)
		}
	}
	return ref, nil
}

// takeWatch removes the watch ref and returns it.
func (rs *remoteState) takeWatch(ref pid.Ref) (remoteWatch, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	w, ok := rs.watches[ref]
	delete(rs.watches, ref)
	return w, ok
}

// unwatchRemote removes a watch of a remote process.
func (n *Node) unwatchRemote(rs *remoteState, ref pid.Ref) bool {
	w, ok := rs.takeWatch(ref)
	if ok {
		rs.r.Signal(Signal{Kind: SigDemonitor, To: w.target.Pid, Node: w.target.NodeID(), Name: w.target.Name, Ref: ref})
	}
	return ok
}

// RemoteDeliver queues msg, sent by a process of another node, for the
// local process to (by Pid or by name). Messages from other nodes are not
// held back by a bounded mailbox: the Remote's flow control bounds them.
// A call or cast for a process that does not take it is failed or dropped.
func (n *Node) RemoteDeliver(to Target, msg any) {
	q := n.resolve(to)
	if q == nil {
		n.undeliverable(msg, NoProc)
		return
	}
	switch msg.(type) {
	case *IncomingCall, CastMsg:
		var err error
		if a, ok := q.handler.(RemoteAccepter); ok {
			err = a.AcceptRemote(msg)
		} else {
			err = fmt.Errorf("%w: %s is not a server", ErrWrongServer, q.Pid())
		}
		if err != nil {
			n.undeliverable(msg, err)
			return
		}
	}
	q.deliver(msg)
}

// RemoteSignal applies a signal from a process of another node to a local
// one.
func (n *Node) RemoteSignal(s Signal) {
	rs := n.remote.Load()
	if rs == nil || n.stopped.Load() {
		return
	}
	switch s.Kind {
	case SigExit:
		n.exitSignal(s.From, s.To, orNormal(s.Reason))
	case SigLinkExit:
		if q := n.proc(s.To); q != nil {
			n.propagate(q.exitSignal(s.From, orNormal(s.Reason), true))
		}
	case SigLink:
		n.remoteLink(rs, s)
	case SigUnlink:
		if q := n.proc(s.To); q != nil {
			q.mu.Lock()
			q.links.remove(s.From)
			q.mu.Unlock()
		}
	case SigMonitor:
		n.remoteMonitor(rs, s)
	case SigDemonitor:
		if q := n.resolve(Target{Pid: s.To, Node: n.id, Name: s.Name}); q != nil {
			q.mu.Lock()
			if w, ok := q.coldOf().monIn[s.Ref]; ok && w.remote {
				delete(q.cold.monIn, s.Ref)
			}
			q.mu.Unlock()
		}
	case SigDown:
		n.remoteDown(rs, s)
	}
}

// remoteLink records a link asked for by a process of another node, or
// answers NoProc when the local process is gone.
func (n *Node) remoteLink(rs *remoteState, s Signal) {
	if q := n.proc(s.To); q != nil {
		q.mu.Lock()
		if !q.dead.Load() {
			addTo(&q.links, s.From)
			rs.mark(q, s.From.Node())
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
	}
	rs.r.Signal(Signal{Kind: SigLinkExit, From: s.To, To: s.From, Reason: NoProc})
}

// remoteMonitor records a monitor held by a process (or a watch) of
// another node, or answers NoProc at once.
func (n *Node) remoteMonitor(rs *remoteState, s Signal) {
	if q := n.resolve(Target{Pid: s.To, Node: n.id, Name: s.Name}); q != nil {
		q.mu.Lock()
		if !q.dead.Load() {
			c := q.coldLocked()
			if c.monIn == nil {
				c.monIn = make(map[pid.Ref]watcher)
			}
			c.monIn[s.Ref] = watcher{remote: true, peer: s.From}
			rs.mark(q, s.Ref.Node())
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
	}
	rs.r.Signal(Signal{Kind: SigDown, From: s.To, To: s.From, Ref: s.Ref, Reason: NoProc})
}

// remoteDown delivers the Down of a monitor or watch held here on a
// process of another node, unless it was removed meanwhile.
func (n *Node) remoteDown(rs *remoteState, s Signal) {
	if s.To.IsZero() {
		if w, ok := rs.takeWatch(s.Ref); ok {
			w.fire(n, s.Ref, s.From, s.Reason)
		}
		return
	}
	q := n.proc(s.To)
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	t, ok := q.coldOf().monOut[s.Ref]
	if !ok || q.dead.Load() {
		return
	}
	delete(q.cold.monOut, s.Ref)
	if t.pid.IsZero() {
		t.pid = s.From // a monitor by name: the holder, if there was one
	}
	q.deliver(downMessage(downFor(s.Ref, t, orNormal(s.Reason))))
}

// fire tells a watch of a remote process that it is gone.
func (w remoteWatch) fire(n *Node, ref pid.Ref, holder pid.Pid, reason error) {
	t := monTarget{pid: w.target.Pid, node: w.target.NodeID(), name: w.target.Name}
	if t.pid.IsZero() {
		t.pid = holder
	}
	n.contain("Watch notify", t.pid, func() { w.notify(downFor(ref, t, orNormal(reason))) })
}

// PeerDown is what a Remote calls when it has lost the node peer, after it
// has made sure that nothing more from that incarnation of the peer will be
// delivered: every link with a process of peer fires with reason, every
// monitor and watch on one gets a Down with reason, and every monitor the
// peer's processes held here is dropped.
func (n *Node) PeerDown(peer pid.NodeID, reason error) {
	rs := n.remote.Load()
	if rs == nil {
		return
	}
	rs.mu.Lock()
	procs := rs.byNode[peer]
	delete(rs.byNode, peer)
	var watches []pid.Ref
	for ref, w := range rs.watches {
		if w.target.NodeID() == peer {
			watches = append(watches, ref)
		}
	}
	rs.mu.Unlock()
	for p := range procs {
		n.peerDownAt(p, peer, reason)
	}
	for _, ref := range watches {
		if w, ok := rs.takeWatch(ref); ok {
			w.fire(n, ref, pid.Pid{}, reason)
		}
	}
}

// peerDownAt fires what p holds involving peer.
func (n *Node) peerDownAt(p *Proc, peer pid.NodeID, reason error) {
	var partners []pid.Pid
	p.mu.Lock()
	if p.dead.Load() {
		p.mu.Unlock()
		return
	}
	for other := range p.links.all() {
		if other.Node() == peer {
			partners = append(partners, other)
		}
	}
	c := p.coldOf()
	for ref, w := range c.monIn {
		if w.remote && (w.peer.Node() == peer || w.peer.IsZero() && ref.Node() == peer) {
			delete(c.monIn, ref)
		}
	}
	for ref, t := range c.monOut {
		if t.node == peer {
			delete(c.monOut, ref)
			p.deliver(downMessage(downFor(ref, t, reason)))
		}
	}
	p.mu.Unlock()
	for _, other := range partners {
		n.propagate(p.exitSignal(other, reason, true))
	}
}

// checkRemoteParent validates a spawn asked for by a process of another
// node.
func (n *Node) checkRemoteParent(s *Spec) error {
	switch {
	case s.Parent != nil:
		return fmt.Errorf("%w: a spawn with both a local and a remote parent", ErrBadSpec)
	case s.RemoteParent.Node() == n.id:
		return fmt.Errorf("%w: remote parent %s is a process of this node", ErrBadSpec, s.RemoteParent)
	case s.Monitor && (s.MonitorRef.IsZero() || s.MonitorRef.Node() != s.RemoteParent.Node()):
		return fmt.Errorf("%w: a remote monitor needs a ref of the parent's node", ErrBadSpec)
	case n.route(s.RemoteParent) == nil:
		return fmt.Errorf("%w: node %s is not reachable from node %s", NoConnection, s.RemoteParent.Node(), n.id)
	}
	return nil
}

// attachRemoteParent records, on the new process p (not yet running), its
// link to the remote parent and the parent's monitor on it, and marks p as
// holding relations with the parent's node, so that losing that node fires
// them.
func (p *Proc) attachRemoteParent(s *Spec) error {
	rs := p.node.route(s.RemoteParent)
	if rs == nil {
		return fmt.Errorf("%w: node %s is not reachable", NoConnection, s.RemoteParent.Node())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.Link {
		addTo(&p.links, s.RemoteParent)
	}
	if s.Monitor {
		c := p.coldLocked()
		if c.monIn == nil {
			c.monIn = make(map[pid.Ref]watcher)
		}
		c.monIn[s.MonitorRef] = watcher{remote: true, peer: s.RemoteParent}
	}
	if s.Link || s.Monitor {
		rs.mark(p, s.RemoteParent.Node())
	}
	return nil
}

// AdoptRemote records, on the side of the local process parent, the
// relations of a process that a remote spawn it asked for has just created
// on another node: with link, the link to child; with a non-zero ref, the
// monitor ref on child. The child's node recorded its side before the child
// ran (Spec.RemoteParent), and the Remote calls AdoptRemote before it
// delivers anything else from that node, so the relations exist on both
// sides before anything of the child can be observed. When parent is dead,
// nothing is recorded and NoProc is returned, for the Remote to tell the
// child's node (as to a link with a dead process: DIST-25).
func (n *Node) AdoptRemote(parent, child pid.Pid, link bool, ref pid.Ref) (dead error) {
	rs := n.route(child)
	q := n.proc(parent)
	if rs == nil || q == nil {
		return NoProc
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead.Load() {
		return NoProc
	}
	if link {
		addTo(&q.links, child)
	}
	if !ref.IsZero() {
		c := q.coldLocked()
		if c.monOut == nil {
			c.monOut = make(map[pid.Ref]monTarget)
		}
		c.monOut[ref] = monTarget{pid: child, node: child.Node()}
	}
	if link || !ref.IsZero() {
		rs.mark(q, child.Node())
	}
	return nil
}
