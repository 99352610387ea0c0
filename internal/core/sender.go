package core

import "github.com/spawned-go/spawned/pid"

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

// Post queues msg for p as Node.Send does, for a sender that found p with
// Local: a full bounded mailbox refuses it with ErrMailboxFull.
func (p *Proc) Post(msg any) error { return p.send(msg, nil) }

// Deliver queues msg for p past its mailbox's bound, as the runtime's own
// signals are: for requests the runtime makes of a process (stopping a
// GenServer), which a full mailbox must not refuse.
func (p *Proc) Deliver(msg any) { p.deliver(msg) }
