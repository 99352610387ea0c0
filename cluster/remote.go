package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/spawned-go/spawned/cluster/internal/wire"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// remote is the Cluster as the node's core.Remote: what the node does to
// processes of other nodes becomes frames on the peer's inbox.
type remote Cluster

var (
	_ core.Remote       = (*remote)(nil)
	_ core.RemoteWaiter = (*remote)(nil)
)

// reach returns the peer a frame to node goes to and its session, or why
// it cannot go.
func (r *remote) reach(node pid.NodeID) (*peer, uint64, error) {
	c := (*Cluster)(r)
	p := c.peers.get(node)
	if p == nil {
		return nil, 0, &core.UnreachableError{Node: node, Reason: process.NoConnection}
	}
	switch st, s := p.load(); st {
	case stUp:
		return p, s, nil
	case stGone:
		return nil, 0, &core.UnreachableError{Node: node, Reason: process.NoProc}
	default:
		return nil, 0, &core.UnreachableError{Node: node, Reason: process.NoConnection}
	}
}

// Send carries a message, cast or stop request. A node that cannot be
// reached drops it silently (DIST-01); only what fails here is an error.
func (r *remote) Send(from pid.Pid, to core.Target, msg any) error {
	c := (*Cluster)(r)
	node := to.NodeID()
	p, s, unreachable := r.reach(node)
	f := wire.Frame{Kind: wire.KMsg, Cluster: c.tag, Session: s, From: from, To: to.Pid, Name: to.Name}
	switch m := msg.(type) {
	case core.CastMsg:
		f.Kind, f.Value = wire.KCast, m.Msg
	case core.StopMsg:
		f.Kind, f.Reason = wire.KStop, m.Reason
	default:
		f.Value = msg
	}
	e := c.encoder(node)
	defer c.release(e)
	e.AppendFrame(&f)
	if err := e.Err(); err != nil {
		return fmt.Errorf("cluster: send to %v: %w", to, err)
	}
	if len(e.B) > c.maxPayload {
		return fmt.Errorf("%w: %d bytes to %v, the limit is %d", ErrTooLarge, len(e.B), to, c.maxPayload)
	}
	if unreachable != nil {
		return nil
	}
	n := int64(len(e.B))
	if f.Kind != wire.KStop && p.inflight.Load()+n > c.window {
		return ErrPeerBusy
	}
	p.inflight.Add(n)
	_ = c.publish(p, e.B) // an error means the connection is lost: the message is, too
	return nil
}

// WaitRoom waits until the peer of to has taken enough to have room again.
func (r *remote) WaitRoom(ctx context.Context, to core.Target) error {
	c := (*Cluster)(r)
	p := c.peers.get(to.NodeID())
	if p == nil {
		return nil
	}
	// With room for the largest frame there is room for this one; without
	// it, more than a quarter of the window is yet to be taken, so a
	// credit is on its way.
	w := p.waiter()
	if st, _ := p.load(); st != stUp || p.inflight.Load()+int64(c.maxPayload) <= c.window {
		return nil
	}
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Call carries a call; the answer comes back as a KReply or KCallFail, or
// the call fails with NoConnection when the peer is lost first.
func (r *remote) Call(from pid.Pid, to core.Target, req any, a core.RemoteAnswer) (pid.Ref, error) {
	c := (*Cluster)(r)
	node := to.NodeID()
	p, s, err := r.reach(node)
	if err != nil {
		return pid.Ref{}, err
	}
	ref := c.core.MakeRef()
	e := c.encoder(node)
	defer c.release(e)
	e.AppendFrame(&wire.Frame{Kind: wire.KCall, Cluster: c.tag, Session: s, From: from, To: to.Pid, Name: to.Name, Ref: ref, Value: req})
	if err := e.Err(); err != nil {
		return pid.Ref{}, fmt.Errorf("cluster: call %v: %w", to, err)
	}
	if len(e.B) > c.maxPayload {
		return pid.Ref{}, fmt.Errorf("%w: a call of %d bytes to %v, the limit is %d", ErrTooLarge, len(e.B), to, c.maxPayload)
	}
	c.calls.add(ref.ID(), node, a)
	// A cut that began before the call was recorded may have missed it.
	if st, now := p.load(); st != stUp || now != s {
		if c.calls.forget(ref.ID()) {
			return pid.Ref{}, &core.UnreachableError{Node: node, Reason: process.NoConnection}
		}
		return ref, nil // the cut failed it already
	}
	p.inflight.Add(int64(len(e.B)))
	if err := c.publish(p, e.B); err != nil {
		if c.calls.forget(ref.ID()) {
			return pid.Ref{}, &core.UnreachableError{Node: node, Reason: process.NoConnection}
		}
	}
	return ref, nil
}

// Forget drops a call whose caller stopped waiting.
// Leave implements core.RemoteLeaver: a node that stops leaves its
// cluster, once its processes are dead.
func (r *remote) Leave(ctx context.Context) error { return (*Cluster)(r).Leave(ctx) }

func (r *remote) Forget(ref pid.Ref) { (*Cluster)(r).calls.forget(ref.ID()) }

// Signal carries a link, monitor or exit signal.
func (r *remote) Signal(sig core.Signal) error {
	c := (*Cluster)(r)
	node := sig.Dest()
	p, s, err := r.reach(node)
	if err != nil {
		return err
	}
	e := c.encoder(node)
	defer c.release(e)
	name := sig.Name
	if !sig.To.IsZero() {
		name = ""
	}
	e.AppendFrame(&wire.Frame{Kind: wire.KSignal, Cluster: c.tag, Session: s, Signal: byte(sig.Kind),
		From: sig.From, To: sig.To, Name: name, Ref: sig.Ref, Reason: sig.Reason})
	if e.Err() != nil || len(e.B) > c.maxPayload {
		// A reason that cannot cross whole crosses as its text.
		e.Reset(c.self, node)
		reason := sig.Reason
		if reason != nil {
			reason = &wire.RemoteError{Text: clip(reason.Error(), 1024)}
		}
		e.AppendFrame(&wire.Frame{Kind: wire.KSignal, Cluster: c.tag, Session: s, Signal: byte(sig.Kind),
			From: sig.From, To: sig.To, Name: name, Ref: sig.Ref, Reason: reason})
	}
	p.inflight.Add(int64(len(e.B)))
	if err := c.publish(p, e.B); err != nil {
		return &core.UnreachableError{Node: node, Reason: process.NoConnection}
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…[cut]"
}

// incoming is a call from another node and the way to answer it, in one
// allocation.
type incoming struct {
	call   core.IncomingCall
	answer answer
}

// answer is how a local server answers a call from another node.
type answer struct {
	c       *Cluster
	p       *peer
	ref     pid.Ref
	session uint64
	done    atomic.Bool
}

// Reply sends the server's answer back; a reply that cannot cross fails
// the call with the reason instead.
func (a *answer) Reply(rep any, err error) {
	if a.done.Swap(true) {
		return
	}
	a.send(&wire.Frame{Kind: wire.KReply, Value: rep, Reason: err})
}

// Undelivered fails the call: no server answers it.
func (a *answer) Undelivered(reason error) {
	if a.done.Swap(true) {
		return
	}
	a.send(&wire.Frame{Kind: wire.KCallFail, Reason: reason})
}

func (a *answer) send(f *wire.Frame) {
	c, p := a.c, a.p
	// An answer of a session that was cut is not owed any more: the
	// caller's side failed the call with NoConnection.
	if st, s := p.load(); st != stUp || s != a.session {
		return
	}
	f.Cluster, f.Session, f.Ref = c.tag, a.session, a.ref
	e := c.encoder(p.id)
	defer c.release(e)
	e.AppendFrame(f)
	if err := e.Err(); err != nil || len(e.B) > c.maxPayload {
		if err == nil {
			err = fmt.Errorf("%w: a reply of %d bytes, the limit is %d", ErrTooLarge, len(e.B), c.maxPayload)
		}
		e.Reset(c.self, p.id)
		e.AppendFrame(&wire.Frame{Kind: wire.KCallFail, Cluster: c.tag, Session: a.session, Ref: a.ref,
			Reason: fmt.Errorf("cluster: the answer cannot cross from node %s: %w", c.cfg.Name, err)})
	}
	p.inflight.Add(int64(len(e.B)))
	_ = c.publish(p, e.B)
}

// callTable holds the calls this node owes answers to: ref id -> answer.
type callTable struct {
	mu sync.Mutex
	m  map[uint64]pendingCall
}

type pendingCall struct {
	node pid.NodeID
	a    core.RemoteAnswer
}

func (t *callTable) init() { t.m = make(map[uint64]pendingCall) }

func (t *callTable) add(id uint64, node pid.NodeID, a core.RemoteAnswer) {
	t.mu.Lock()
	t.m[id] = pendingCall{node: node, a: a}
	t.mu.Unlock()
}

// take removes the call id and returns its answer.
func (t *callTable) take(id uint64) (core.RemoteAnswer, bool) {
	t.mu.Lock()
	pc, ok := t.m[id]
	delete(t.m, id)
	t.mu.Unlock()
	return pc.a, ok
}

// forget removes the call id and reports whether it was there.
func (t *callTable) forget(id uint64) bool {
	_, ok := t.take(id)
	return ok
}

// takeNode removes and returns every call to node.
func (t *callTable) takeNode(node pid.NodeID) []core.RemoteAnswer {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []core.RemoteAnswer
	for id, pc := range t.m {
		if pc.node == node {
			out = append(out, pc.a)
			delete(t.m, id)
		}
	}
	return out
}
