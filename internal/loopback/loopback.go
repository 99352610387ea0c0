// Package loopback connects nodes of one program as if they ran on
// different machines: a core.Remote that carries frames between nodes in
// memory, in order per pair of nodes, one frame at a time per receiving
// node, as a network transport would. It passes Go values as they are (no
// codec) and lets a test cut a node off. The runtime's tests use it to check
// the semantics of links, monitors, exits and calls across nodes without a
// network; the cluster package is the real transport.
package loopback

import (
	"fmt"
	"sync"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Net is a set of connected nodes.
type Net struct {
	mu    sync.Mutex
	nodes map[pid.NodeID]*station
	lost  map[pid.NodeID]bool // cut off for good
	wg    sync.WaitGroup
}

// New returns an empty network. Close it when done.
func New() *Net {
	return &Net{nodes: make(map[pid.NodeID]*station), lost: make(map[pid.NodeID]bool)}
}

// station is one node's end: its inbox of frames, handled in order by one
// goroutine, and the calls it is owed answers for.
type station struct {
	net  *Net
	node *core.Node

	mu     sync.Mutex
	queue  []func()
	wake   chan struct{}
	closed bool

	callsMu sync.Mutex
	calls   map[pid.Ref]pendingCall
}

type pendingCall struct {
	answer core.RemoteAnswer
	dest   pid.NodeID
}

// Join connects node to the network.
func (nt *Net) Join(node *process.Node) {
	n := (*core.Node)(node)
	s := &station{net: nt, node: n, wake: make(chan struct{}, 1), calls: make(map[pid.Ref]pendingCall)}
	nt.mu.Lock()
	nt.nodes[n.ID()] = s
	nt.mu.Unlock()
	n.SetRemote(s)
	nt.wg.Add(1)
	go s.run()
}

// Cut cuts node off for good, as a crash or a declared partition does: both
// sides fire every link, monitor, watch and owed call across the cut with
// NoConnection, and nothing the node sent is delivered afterwards.
func (nt *Net) Cut(node pid.NodeID) {
	nt.mu.Lock()
	s := nt.nodes[node]
	nt.lost[node] = true
	delete(nt.nodes, node)
	others := make([]*station, 0, len(nt.nodes))
	for _, o := range nt.nodes {
		others = append(others, o)
	}
	nt.mu.Unlock()
	if s == nil {
		return
	}
	s.stop()
	for _, o := range others {
		o.peerDown(node)
		s.peerDown(o.node.ID())
	}
	s.node.SetRemote(nil)
}

// Close cuts every node off and waits for the network's goroutines.
func (nt *Net) Close() {
	nt.mu.Lock()
	ids := make([]pid.NodeID, 0, len(nt.nodes))
	for id := range nt.nodes {
		ids = append(ids, id)
	}
	nt.mu.Unlock()
	for _, id := range ids {
		nt.Cut(id)
	}
	nt.wg.Wait()
}

// station returns the live station of node, or an error saying why there
// is none.
func (nt *Net) station(node pid.NodeID) (*station, error) {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	if s := nt.nodes[node]; s != nil {
		return s, nil
	}
	return nil, &core.UnreachableError{Node: node, Reason: core.NoConnection}
}

// post queues f for the station's goroutine; false when it is closed.
func (s *station) post(f func()) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.queue = append(s.queue, f)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

func (s *station) run() {
	defer s.net.wg.Done()
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		closed := s.closed
		s.mu.Unlock()
		for _, f := range batch {
			f()
		}
		if closed {
			return
		}
		if len(batch) == 0 {
			<-s.wake
		}
	}
}

// stop drops whatever is queued and ends the goroutine.
func (s *station) stop() {
	s.mu.Lock()
	s.queue, s.closed = nil, true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// peerDown fires what s holds on peer, and its calls owed by peer.
func (s *station) peerDown(peer pid.NodeID) {
	s.callsMu.Lock()
	var failed []core.RemoteAnswer
	for ref, c := range s.calls {
		if c.dest == peer {
			failed = append(failed, c.answer)
			delete(s.calls, ref)
		}
	}
	s.callsMu.Unlock()
	reason := fmt.Errorf("node %s: %w", peer, core.NoConnection)
	for _, a := range failed {
		a.Undelivered(reason)
	}
	s.node.PeerDown(peer, core.NoConnection)
}

// to finds the station a frame goes to, unless the sender is cut off.
func (s *station) to(node pid.NodeID) (*station, error) {
	s.net.mu.Lock()
	cut := s.net.lost[s.node.ID()]
	s.net.mu.Unlock()
	if cut {
		return nil, &core.UnreachableError{Node: node, Reason: core.NoConnection}
	}
	return s.net.station(node)
}

// Send implements core.Remote.
func (s *station) Send(from pid.Pid, to core.Target, msg any) error {
	d, err := s.to(to.NodeID())
	if err != nil {
		return nil // dropped, as on a real network: a send never fails for delivery
	}
	d.post(func() { d.node.RemoteDeliver(to, msg) })
	return nil
}

// Call implements core.Remote.
func (s *station) Call(from pid.Pid, to core.Target, req any, a core.RemoteAnswer) (pid.Ref, error) {
	d, err := s.to(to.NodeID())
	if err != nil {
		return pid.Ref{}, err
	}
	ref := s.node.MakeRef()
	s.callsMu.Lock()
	s.calls[ref] = pendingCall{answer: a, dest: d.node.ID()}
	s.callsMu.Unlock()
	back := &answer{caller: s, server: d, ref: ref}
	d.post(func() { d.node.RemoteDeliver(to, &core.IncomingCall{From: from, Req: req, Answer: back}) })
	return ref, nil
}

// Forget implements core.Remote.
func (s *station) Forget(ref pid.Ref) {
	s.callsMu.Lock()
	delete(s.calls, ref)
	s.callsMu.Unlock()
}

// Signal implements core.Remote.
func (s *station) Signal(sig core.Signal) error {
	d, err := s.to(sig.Dest())
	if err != nil {
		return err
	}
	d.post(func() { d.node.RemoteSignal(sig) })
	return nil
}

// answer carries a server's answer back to the calling node.
type answer struct {
	caller, server *station
	ref            pid.Ref
}

func (a *answer) Reply(rep any, err error) { a.back(func(r core.RemoteAnswer) { r.Reply(rep, err) }) }
func (a *answer) Undelivered(reason error) {
	a.back(func(r core.RemoteAnswer) { r.Undelivered(reason) })
}

func (a *answer) back(settle func(core.RemoteAnswer)) {
	s := a.caller
	if _, err := a.server.to(s.node.ID()); err != nil {
		return // the server's node is cut off: the caller was told NoConnection
	}
	s.post(func() {
		s.callsMu.Lock()
		c, ok := s.calls[a.ref]
		delete(s.calls, a.ref)
		s.callsMu.Unlock()
		if ok {
			settle(c.answer)
		}
	})
}

// Spawn starts f on the node at as a remote spawn asked for by the process
// parent of another node of the network, linked to it (link) and/or
// monitored by it (monitor), as a transport's remote spawn does: the
// relations are recorded on at's side before the process runs, and the
// parent's side is recorded by a frame that goes to the parent's node ahead
// of anything the new process sends. It returns the new Pid and the
// monitor's Ref.
func (nt *Net) Spawn(parent pid.Pid, at *process.Node, f process.Func, link, monitor bool) (pid.Pid, pid.Ref, error) {
	n := (*core.Node)(at)
	home, err := nt.station(parent.Node())
	if err != nil {
		return pid.Pid{}, pid.Ref{}, err
	}
	s := core.Spec{Func: core.Func(func(p *core.Proc) error { return f((*process.Process)(p)) }),
		RemoteParent: parent, Link: link, Monitor: monitor}
	if monitor {
		s.MonitorRef = home.node.MakeRef()
	}
	s.Announce = func(child pid.Pid) error {
		ref := s.MonitorRef
		if !home.post(func() {
			if dead := home.node.AdoptRemote(parent, child, link, ref); dead != nil {
				if link {
					_ = home.Signal(core.Signal{Kind: core.SigLinkExit, From: parent, To: child, Reason: dead})
				}
				if monitor {
					_ = home.Signal(core.Signal{Kind: core.SigDemonitor, From: parent, To: child, Ref: ref})
				}
			}
		}) {
			return &core.UnreachableError{Node: parent.Node(), Reason: core.NoConnection}
		}
		return nil
	}
	p, ref, err := n.Spawn(s)
	if err != nil {
		return pid.Pid{}, pid.Ref{}, err
	}
	return p.Pid(), ref, nil
}
