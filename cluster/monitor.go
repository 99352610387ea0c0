package cluster

import (
	"fmt"
	"sync"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// NodeUp is what a process that called MonitorNodes receives when a node
// becomes reachable: when it joins, and when it is met again in a new
// session after it was lost.
type NodeUp struct {
	Node pid.NodeID
	Name string
}

// NodeDown is what a node monitor (MonitorNode) or a MonitorNodes
// subscriber receives when a node is lost: Erlang's {nodedown, Node}.
// Reason says why, and always wraps process.NoConnection (see
// ErrConnectionClosed and the errors after it).
type NodeDown struct {
	Node   pid.NodeID
	Name   string
	Reason error
}

// MonitorNode makes p monitor the node id (Erlang's monitor_node): when
// the node is lost, p receives one NodeDown, and the monitor is gone. A
// node that cannot be reached now (unknown, lost, or not yet met) gives
// the NodeDown at once. Monitors stack: each call makes one more, each
// DemonitorNode removes one. A process's node monitors end with it.
func (c *Cluster) MonitorNode(p *process.Process, id pid.NodeID) (pid.Ref, error) {
	return c.mons.add(p, id, false)
}

// MonitorNodes subscribes p to every node's NodeUp and NodeDown (Erlang's
// net_kernel:monitor_nodes), until DemonitorNode or p's exit. It tells of
// changes after the subscription: a node that reads as up already (Nodes,
// Node) gives no NodeUp, only its NodeDown when it is lost.
func (c *Cluster) MonitorNodes(p *process.Process) (pid.Ref, error) {
	return c.mons.add(p, pid.NodeID{}, true)
}

// DemonitorNode removes a node monitor or subscription made by
// MonitorNode or MonitorNodes, and reports whether it was active. No
// NodeDown or NodeUp of it arrives after it returns.
func (c *Cluster) DemonitorNode(ref pid.Ref) bool { return c.mons.remove(ref) }

// errNilProcess is returned for a nil process.
var errNilProcess = fmt.Errorf("cluster: %w", process.ErrNilProcess)

// nodeMonitors holds the node monitors and subscriptions of the node's
// processes.
type nodeMonitors struct {
	c      *Cluster
	mu     sync.Mutex
	byNode map[pid.NodeID]map[pid.Ref]pid.Pid
	subs   map[pid.Ref]subscriber
	seq    uint64 // counts the subscriptions ever made
	refs   map[pid.Ref]monitorOf
	owners map[pid.Pid]*monOwner
}

// subscriber is a MonitorNodes subscription: its owner, and its place in
// the order of subscriptions (see markUp).
type subscriber struct {
	owner pid.Pid
	seq   uint64
}

type monitorOf struct {
	owner pid.Pid
	node  pid.NodeID // zero for a subscription
	sub   bool
}

// monOwner is a process holding node monitors, watched so that they end
// with it.
type monOwner struct {
	watch pid.Ref
	refs  map[pid.Ref]struct{}
}

func (m *nodeMonitors) init(c *Cluster) {
	m.c = c
	m.byNode = map[pid.NodeID]map[pid.Ref]pid.Pid{}
	m.subs = map[pid.Ref]subscriber{}
	m.refs = map[pid.Ref]monitorOf{}
	m.owners = map[pid.Pid]*monOwner{}
}

func (m *nodeMonitors) add(p *process.Process, id pid.NodeID, sub bool) (pid.Ref, error) {
	c := m.c
	switch {
	case p == nil:
		return pid.Ref{}, errNilProcess
	case !sub && id.IsZero():
		return pid.Ref{}, process.ErrZeroPid
	case !p.Alive():
		return pid.Ref{}, process.ErrCallerExited
	case c.leaving.Load():
		return pid.Ref{}, ErrLeft
	}
	self := p.Self()
	ref := c.node.MakeRef()
	m.mu.Lock()
	o := m.owners[self]
	m.mu.Unlock()
	var spare pid.Ref
	if o == nil {
		// Watched outside the lock: a watch of a process that has just
		// died runs its notify at once, and that takes the lock.
		w, err := c.core.Watch(self, func(core.DownMsg) { m.ownerExited(self) })
		if err != nil {
			return pid.Ref{}, err
		}
		spare = w
	}
	defer func() {
		// An owner that died before it was recorded left no one to drop
		// its monitors.
		if !c.core.Alive(self) {
			m.ownerExited(self)
		}
	}()
	m.mu.Lock()
	if o = m.owners[self]; o == nil {
		o = &monOwner{refs: map[pid.Ref]struct{}{}, watch: spare}
		m.owners[self] = o
	} else if !spare.IsZero() {
		defer c.core.Unwatch(self, spare)
	}
	if sub {
		m.seq++
		m.subs[ref] = subscriber{owner: self, seq: m.seq}
	} else {
		var reachable bool
		if p := c.peers.get(id); p != nil {
			st, _ := p.load()
			reachable = st == stUp
		}
		if !reachable && id != c.self {
			m.mu.Unlock()
			name := ""
			if p := c.peers.get(id); p != nil {
				name = p.Name()
			}
			m.deliver(self, NodeDown{Node: id, Name: name, Reason: process.NoConnection})
			return ref, nil
		}
		set := m.byNode[id]
		if set == nil {
			set = map[pid.Ref]pid.Pid{}
			m.byNode[id] = set
		}
		set[ref] = self
	}
	m.refs[ref] = monitorOf{owner: self, node: id, sub: sub}
	o.refs[ref] = struct{}{}
	m.mu.Unlock()
	return ref, nil
}

func (m *nodeMonitors) remove(ref pid.Ref) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.removeLocked(ref)
}

func (m *nodeMonitors) removeLocked(ref pid.Ref) bool {
	mo, ok := m.refs[ref]
	if !ok {
		return false
	}
	delete(m.refs, ref)
	if mo.sub {
		delete(m.subs, ref)
	} else if set := m.byNode[mo.node]; set != nil {
		delete(set, ref)
		if len(set) == 0 {
			delete(m.byNode, mo.node)
		}
	}
	if o := m.owners[mo.owner]; o != nil {
		delete(o.refs, ref)
	}
	return true
}

// ownerExited drops the monitors of a process that exited.
func (m *nodeMonitors) ownerExited(owner pid.Pid) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.owners[owner]
	if o == nil {
		return
	}
	delete(m.owners, owner)
	for ref := range o.refs {
		m.removeLocked(ref)
	}
}

// down tells the monitors of p and every subscriber that p is lost.
func (m *nodeMonitors) down(p *peer, why error) {
	msg := NodeDown{Node: p.id, Name: p.Name(), Reason: why}
	m.mu.Lock()
	set := m.byNode[p.id]
	delete(m.byNode, p.id)
	var to []pid.Pid
	for ref, owner := range set {
		delete(m.refs, ref)
		if o := m.owners[owner]; o != nil {
			delete(o.refs, ref)
		}
		to = append(to, owner)
	}
	for _, s := range m.subs {
		to = append(to, s.owner)
	}
	// Delivered under the lock: a DemonitorNode that returned sees no more.
	for _, owner := range to {
		m.deliver(owner, msg)
	}
	m.mu.Unlock()
}

// markUp marks p up in session s and returns the subscriptions made
// so far, for up: both under the lock that MonitorNodes and MonitorNode
// take, so that a subscription made once p reads as up (in Nodes, Node,
// a MonitorNode) hears no NodeUp of it, as Erlang's monitor_nodes, and one
// made before does.
func (m *nodeMonitors) markUp(p *peer, s uint64) (subscribed uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p.store(stUp, s)
	return m.seq
}

// up tells the subscribers that were there when markUp marked p up that
// p is reachable.
func (m *nodeMonitors) up(p *peer, subscribed uint64) {
	msg := NodeUp{Node: p.id, Name: p.Name()}
	m.mu.Lock()
	for _, s := range m.subs {
		if s.seq <= subscribed {
			m.deliver(s.owner, msg)
		}
	}
	m.mu.Unlock()
}

// deliver queues a node message for owner, past a bounded mailbox's limit
// as the runtime's own messages go.
func (m *nodeMonitors) deliver(owner pid.Pid, msg any) {
	_ = m.c.core.SendSystem(core.Target{Pid: owner}, msg)
}

// clear drops everything, on Leave (after the final NodeDowns).
func (m *nodeMonitors) clear() {
	m.mu.Lock()
	owners := m.owners
	m.init(m.c)
	m.mu.Unlock()
	for owner, o := range owners {
		m.c.core.Unwatch(owner, o.watch)
	}
}
