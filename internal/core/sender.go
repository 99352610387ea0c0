package core

import (
	"github.com/spawned-go/spawned/pid"
)

// Local returns the process p names on this node, for a sender that looks
// at the receiving process (its handler) before it sends. local is false
// when p is not for this node to deliver (the zero Pid, another node's, or
// the node is stopped): Send then has the error. q is nil when p names no
// live process of this node.
func (n *Node) Local(p pid.Pid) (q *Proc, local bool) {
	if !n.accepts(&p) {
		return nil, false
	}
	return n.table.get(p.Serial()), true
}

// Handler returns the handler the runtime runs the process with:
// Spec.Handler, or for a process started from a Func one of core's own,
// which no type assertion outside core matches.
func (p *Proc) Handler() Handler { return p.handler }

// Post queues msg for p from a goroutine that is not a process: what
// Node.Send does once it has found p, for a sender that found p with Local
// (a GenServer's call or cast). A full bounded mailbox refuses it with
// ErrMailboxFull.
func (p *Proc) Post(msg any) error {
	if t := p.node.obs.traces.Load(); t != nil {
		return p.sendTraced(t, msg, nil)
	}
	if r := p.mbox.push(msg, true); r != pushed || !p.scheduled() {
		return p.pushed(msg, r, nil)
	}
	return nil
}

// Deliver queues msg for p past its mailbox's bound, as the runtime's own
// signals are: for requests the runtime makes of a process (stopping a
// GenServer), which a full mailbox must not refuse.
func (p *Proc) Deliver(msg any) { p.deliver(msg) }
