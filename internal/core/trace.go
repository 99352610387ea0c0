package core

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/pid"
)

// DefaultTraceEntries is how many entries a trace keeps unless Trace is
// given another bound.
const DefaultTraceEntries = 256

// keptTraces bounds the logs of traces that ended (untraced, or their
// process exited) that a node keeps for TraceLog.
const keptTraces = 64

// ErrNotTraced reports a process with no trace log.
var ErrNotTraced = errors.New("process is not traced")

// tracer is one traced process's log: a ring of its last entries.
type tracer struct {
	pid  pid.Pid
	mu   sync.Mutex
	ring []event.Traced
	next int // where the next entry goes
	full bool
}

// add adds e to the log and publishes it to hub, under the log's lock, so
// that the events of one trace come in the log's order.
func (t *tracer) add(hub *event.Hub, e event.Traced) {
	t.mu.Lock()
	t.addLocked(hub, e)
	t.mu.Unlock()
}

// addLocked is add with t.mu held.
func (t *tracer) addLocked(hub *event.Hub, e event.Traced) {
	t.ring[t.next] = e
	if t.next++; t.next == len(t.ring) {
		t.next, t.full = 0, true
	}
	hub.Publish(e)
}

// log returns the entries, oldest first.
func (t *tracer) log() []event.Traced {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.full {
		return append([]event.Traced(nil), t.ring[:t.next]...)
	}
	out := make([]event.Traced, 0, len(t.ring))
	out = append(out, t.ring[t.next:]...)
	return append(out, t.ring[:t.next]...)
}

// traceSet is an immutable map of the traced live processes; a node
// replaces it whole when tracing starts or stops.
type traceSet struct {
	live map[*Proc]*tracer
}

// traceState is what a node keeps of traces besides the set that the hot
// paths read: guarded by its mutex.
type traceState struct {
	mu    sync.Mutex
	ended []*tracer // the logs of ended traces, oldest first, at most keptTraces
}

// Trace starts recording what happens to the live process p: every message
// queued for it, taken by its code and sent by it, the exit signals it
// receives, its links and monitors as they change, and its exit. The log
// keeps the last entries (DefaultTraceEntries if entries < 1); each entry
// is also published as an event.Traced. Tracing an already traced process
// starts its log afresh.
func (n *Node) Trace(p pid.Pid, entries int) error {
	if err := n.check(p); err != nil {
		return err
	}
	if entries < 1 {
		entries = DefaultTraceEntries
	}
	q := n.proc(p)
	if q == nil {
		return NoProc
	}
	st := &n.obs.traceState
	st.mu.Lock()
	defer st.mu.Unlock()
	if q.dead.Load() {
		return NoProc
	}
	live := make(map[*Proc]*tracer)
	if old := n.obs.traces.Load(); old != nil {
		for k, v := range old.live {
			live[k] = v
		}
	}
	live[q] = &tracer{pid: p, ring: make([]event.Traced, entries)}
	n.obs.traces.Store(&traceSet{live: live})
	n.dropEndedLocked(p)
	return nil
}

// Untrace stops tracing p. Its log stays readable with TraceLog until it is
// traced again or enough other traces end after it. It reports whether p
// was traced.
func (n *Node) Untrace(p pid.Pid) bool {
	st := &n.obs.traceState
	st.mu.Lock()
	defer st.mu.Unlock()
	return n.endTraceLocked(p) != nil
}

// endTraceLocked removes p's tracer from the live set and keeps its log
// among the ended ones. Caller holds the trace state's lock.
func (n *Node) endTraceLocked(p pid.Pid) *tracer {
	old := n.obs.traces.Load()
	if old == nil {
		return nil
	}
	var found *tracer
	live := make(map[*Proc]*tracer, len(old.live))
	for k, v := range old.live {
		if v.pid == p {
			found = v
			continue
		}
		live[k] = v
	}
	if found == nil {
		return nil
	}
	if len(live) == 0 {
		n.obs.traces.Store(nil)
	} else {
		n.obs.traces.Store(&traceSet{live: live})
	}
	st := &n.obs.traceState
	st.ended = append(st.ended, found)
	if len(st.ended) > keptTraces {
		st.ended[0] = nil
		st.ended = st.ended[1:]
	}
	return found
}

func (n *Node) dropEndedLocked(p pid.Pid) {
	st := &n.obs.traceState
	for i, t := range st.ended {
		if t.pid == p {
			st.ended = append(st.ended[:i:i], st.ended[i+1:]...)
			return
		}
	}
}

// Traced reports whether p is being traced now.
func (n *Node) Traced(p pid.Pid) bool {
	t := n.obs.traces.Load()
	if t == nil {
		return false
	}
	q := n.proc(p)
	return q != nil && t.live[q] != nil
}

// TraceLog returns the entries of p's trace, oldest first: of the trace
// running now, or of the last one that ended (ErrNotTraced if none).
func (n *Node) TraceLog(p pid.Pid) ([]event.Traced, error) {
	if t := n.obs.traces.Load(); t != nil {
		if q := n.proc(p); q != nil {
			if tr := t.live[q]; tr != nil {
				return tr.log(), nil
			}
		}
	}
	st := &n.obs.traceState
	st.mu.Lock()
	defer st.mu.Unlock()
	// A trace whose process exited has left the live set (traceExit);
	// look in the ended ones, newest first.
	for i := len(st.ended) - 1; i >= 0; i-- {
		if st.ended[i].pid == p {
			return st.ended[i].log(), nil
		}
	}
	return nil, ErrNotTraced
}

// record adds an entry to q's trace, if q is traced, and publishes it.
func (n *Node) record(t *traceSet, q *Proc, op event.TraceOp, peer pid.Pid, text func() string) {
	tr := t.live[q]
	if tr == nil {
		return
	}
	e := event.Traced{Time: time.Now(), Pid: tr.pid, Op: op, Peer: peer}
	if text != nil {
		e.Text = text()
	}
	tr.add(&n.obs.hub, e)
}

// traceSend records a message sent by from (nil: not a process) and
// queued for to.
func (n *Node) traceSend(t *traceSet, from, to *Proc, msg any) {
	text := func() string { return Render(msg) }
	if from != nil {
		n.record(t, from, event.TraceOut, to.Pid(), text)
		n.record(t, to, event.TraceIn, from.Pid(), text)
		return
	}
	n.record(t, to, event.TraceIn, pid.Pid{}, text)
}

// traceHandled records a message taken by p's code.
func (p *Proc) traceHandled(msg any) {
	if t := p.node.obs.traces.Load(); t != nil {
		p.node.record(t, p, event.TraceHandled, pid.Pid{}, func() string { return Render(msg) })
	}
}

// traceSignal records a signal reaching p, or a change of its links or
// monitors.
func (p *Proc) traceSignal(t *traceSet, op event.TraceOp, peer pid.Pid, reason error, text string) {
	p.node.record(t, p, op, peer, func() string {
		if reason != nil {
			return Render(reason)
		}
		return text
	})
}

// traceExit records p's exit and ends its trace.
func (n *Node) traceExit(t *traceSet, p *Proc, reason error) {
	if t.live[p] == nil {
		return
	}
	n.record(t, p, event.TraceExit, pid.Pid{}, func() string { return Render(reason) })
	st := &n.obs.traceState
	st.mu.Lock()
	n.endTraceLocked(p.Pid())
	st.mu.Unlock()
}

// traceLink records a link or unlink between a and b on whichever of
// them is traced.
func traceLink(t *traceSet, a, b *Proc, op event.TraceOp) {
	a.node.record(t, a, op, b.Pid(), nil)
	a.node.record(t, b, op, a.Pid(), nil)
}

// sendTraced is send for a node that traces some process: the entries of
// a traced receiver and a traced sender are added under their traces'
// locks around the push (see pushTraced).
func (p *Proc) sendTraced(t *traceSet, msg any, from *Proc) error {
	in := t.live[p]
	var out *tracer
	if from != nil {
		out = t.live[from]
	}
	var text string
	if in != nil || out != nil {
		text = Render(msg)
	}
	var sender pid.Pid
	if from != nil {
		sender = from.Pid()
	}
	res := p.pushTraced(in, out, msg, true, sender, text)
	switch res {
	case refused:
		p.node.undeliverable(msg, NoProc)
	case full:
		return fmt.Errorf("send to %s: %w", p.Pid(), ErrMailboxFull)
	default:
		p.wakeUp(from)
		if res == behind {
			runtime.Gosched()
		}
	}
	return nil
}

// deliverTraced is deliver for a node that traces some process.
func (p *Proc) deliverTraced(t *traceSet, msg any) {
	in := t.live[p]
	var text string
	if in != nil {
		text = Render(msg)
	}
	if !p.pushTraced(in, nil, msg, false, pid.Pid{}, text).queued() {
		p.node.undeliverable(msg, NoProc)
		return
	}
	p.wakeUp(nil)
}

// pushTraced pushes msg for p, and once it is queued records it in in
// (p's trace) and out (the sender's), either of which may be nil. Both
// entries are added under both traces' locks, taken in the order of their
// processes' serials, with the push between: the receiver cannot take msg
// before the send is in the sender's log, so nothing the message causes,
// in any trace, comes before it.
func (p *Proc) pushTraced(in, out *tracer, msg any, bounded bool, from pid.Pid, text string) pushResult {
	first, second := in, out
	if first == nil || second != nil && second.pid.Serial() < first.pid.Serial() {
		first, second = second, first
	}
	if second == first {
		second = nil // a process sending to itself
	}
	if first == nil {
		return p.mbox.push(msg, bounded)
	}
	first.mu.Lock()
	if second != nil {
		second.mu.Lock()
	}
	res := p.mbox.push(msg, bounded)
	if res.queued() {
		hub, now := &p.node.obs.hub, time.Now()
		if out != nil {
			out.addLocked(hub, event.Traced{Time: now, Pid: out.pid, Op: event.TraceOut, Peer: p.Pid(), Text: text})
		}
		if in != nil {
			in.addLocked(hub, event.Traced{Time: now, Pid: in.pid, Op: event.TraceIn, Peer: from, Text: text})
		}
	}
	if second != nil {
		second.mu.Unlock()
	}
	first.mu.Unlock()
	return res
}
