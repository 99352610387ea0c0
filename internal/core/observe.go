package core

import (
	"errors"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/pid"
)

// observability is what a node keeps for those who watch it: the event
// hub, exit counts by class, what exited processes had counted, and the
// switches of tracing, profile labels and call latency. With nobody
// watching, a spawn and an exit each load one pointer of it (the hub's),
// and an exit adds to a few counters.
type observability struct {
	hub   event.Hub
	exits [numExitClasses]atomic.Uint64 // by class; ExitNormal is left to Stats.Exited minus the others

	// What the processes that exited had counted, so that node totals
	// do not fall when a process goes.
	handled  atomic.Uint64
	sent     atomic.Uint64
	received atomic.Uint64

	labels atomic.Bool                   // profile labels on (see labels.go)
	traces atomic.Pointer[traceSet]      // the traced processes; nil when none (see trace.go)
	calls  atomic.Pointer[callObserverH] // GenServer call latency; nil when off

	traceState traceState
}

// Events returns the node's event hub. The node closes it when it has
// stopped and every goroutine it started has returned.
func (n *Node) Events() *event.Hub { return &n.obs.hub }

// ExitClass sorts exit reasons for counting.
type ExitClass uint8

// The exit classes.
const (
	ExitNormal       ExitClass = iota // Normal (or nil)
	ExitShutdown                      // Shutdown or a ShutdownError
	ExitKilled                        // Killed (a Kill signal)
	ExitNoProc                        // NoProc
	ExitNoConnection                  // NoConnection
	ExitPanic                         // a *PanicError: the process's code panicked
	ExitOther                         // any other error
	numExitClasses
)

// ExitClasses lists every class, in order.
var ExitClasses = [numExitClasses]ExitClass{ExitNormal, ExitShutdown, ExitKilled, ExitNoProc, ExitNoConnection, ExitPanic, ExitOther}

var exitClassNames = [numExitClasses]string{"normal", "shutdown", "killed", "noproc", "noconnection", "panic", "other"}

// String names the class, as metrics label it.
func (c ExitClass) String() string {
	if c < numExitClasses {
		return exitClassNames[c]
	}
	return "other"
}

// ClassOf returns the class of an exit reason. The runtime's own reasons
// are told apart by identity, without walking an error chain.
func ClassOf(reason error) ExitClass {
	switch reason {
	case nil, Normal:
		return ExitNormal
	case Shutdown:
		return ExitShutdown
	case Killed, Kill:
		return ExitKilled
	case NoProc:
		return ExitNoProc
	case NoConnection:
		return ExitNoConnection
	}
	if panicReason(reason) {
		return ExitPanic
	}
	switch reason.(type) {
	case *ShutdownError:
		return ExitShutdown
	case interface{ Unwrap() error }, interface{ Unwrap() []error }, interface{ Is(error) bool }:
	default:
		return ExitOther // wraps nothing: none of the above
	}
	switch {
	case errors.Is(reason, Normal):
		return ExitNormal
	case errors.Is(reason, Shutdown):
		return ExitShutdown
	case errors.Is(reason, Killed), errors.Is(reason, Kill):
		return ExitKilled
	case errors.Is(reason, NoProc):
		return ExitNoProc
	case errors.Is(reason, NoConnection):
		return ExitNoConnection
	case chainHas(reason, panicReason, 0):
		return ExitPanic
	}
	return ExitOther
}

// panicReason reports whether err itself (not what it wraps) is the exit
// reason of a panic: the runtime's own form until the process package
// installs its own with SetPanicCheck.
var panicReason = func(err error) bool { _, ok := err.(*PanicError); return ok }

// SetPanicCheck installs how ClassOf recognises the exit reason of a
// panic, in the form SetPanicForm installed. Package process calls it from
// its init function.
func SetPanicCheck(f func(error) bool) { panicReason = f }

// chainHas reports whether f holds for err or an error it wraps.
func chainHas(err error, f func(error) bool, depth int) bool {
	for ; err != nil && depth < 64; depth++ {
		if f(err) {
			return true
		}
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				if chainHas(inner, f, depth+1) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// ExitCounts returns how many processes exited in each class.
func (n *Node) ExitCounts() [numExitClasses]uint64 {
	var out [numExitClasses]uint64
	total := n.exited.Load()
	var others uint64
	for c := ExitShutdown; c < numExitClasses; c++ {
		out[c] = n.obs.exits[c].Load()
		others += out[c]
	}
	if total > others {
		out[ExitNormal] = total - others
	}
	return out
}

// Describer is an optional Handler method that says what the process
// runs, for Info, events, profiles and the observer: a GenServer answers
// its type ("*main.Counter"), a supervisor "supervisor". It must be quick,
// and must not call into the runtime.
type Describer interface {
	Describe() string
}

// describe returns what a handler runs: its Describe, "func" for a Func
// process, or the handler's type.
func describe(h Handler) string {
	switch h := h.(type) {
	case nil:
		return ""
	case funcHandler:
		return "func"
	case Describer:
		return h.Describe()
	}
	return reflect.TypeOf(h).String()
}

// Behaviour returns what the process runs (see Describer).
func (p *Proc) Behaviour() string { return describe(p.handler) }

// addProc adds p to the table. When someone subscribed to spawns, it
// publishes Spawned holding p's lock, before anyone can find p: p's exit,
// which takes that lock, is published after it.
func (n *Node) addProc(p *Proc, s *Spec) bool {
	if !n.obs.hub.Wants(event.KindSpawned) {
		return n.table.add(p)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !n.table.add(p) {
		return false
	}
	e := event.Spawned{Time: time.Now(), Pid: p.Pid(), Name: s.Name, Backend: p.backend.String(), Behaviour: describe(p.handler)}
	if s.Parent != nil && (s.Link || s.Monitor) {
		e.Parent = s.Parent.Pid()
	}
	n.obs.hub.Publish(e)
	return true
}

// exited records the exit of d.p: its class, what it counted, its trace,
// and the Exited event. propagate calls it once per death, before the
// death's links and monitors are told.
func (n *Node) observeExit(d *death) {
	p := d.p
	if c := ClassOf(d.reason); c != ExitNormal {
		n.obs.exits[c].Add(1)
	}
	if h := p.handled.Load(); h != 0 {
		n.obs.handled.Add(h)
	}
	if s := p.sent.Load(); s != 0 {
		n.obs.sent.Add(s)
	}
	if r := p.received(p.mbox.tail()); r != 0 {
		n.obs.received.Add(r)
	}
	if t := n.obs.traces.Load(); t != nil {
		n.traceExit(t, p, d.reason)
	}
	if n.obs.hub.Wants(event.KindExited) {
		n.obs.hub.Publish(event.Exited{Time: time.Now(), Pid: p.Pid(), Name: d.name, Reason: d.reason})
	}
}

// ProcStat is what Each reads of one process without taking its lock.
type ProcStat struct {
	Pid      pid.Pid
	Backend  Backend
	Status   Status
	Queued   int    // messages queued (approximate while messages move)
	Received uint64 // messages ever queued for it
	Handled  uint64
	Sent     uint64
}

// Each calls f with a lock-free snapshot of every live process, in table
// order. It takes no process's lock, so it may run as often as a scrape
// wants; the figures of a busy process are approximate.
func (n *Node) Each(f func(ProcStat)) {
	for _, p := range n.table.all() {
		if p.dead.Load() {
			continue
		}
		tail := p.mbox.tail()
		queued := int64(tail-p.mbox.head.Load()) - p.mbox.removed.Load()
		if queued < 0 || tail < p.mbox.head.Load() {
			queued = 0
		}
		f(ProcStat{
			Pid: p.Pid(), Backend: p.backend, Status: Status(p.status.Load()), Queued: int(queued),
			Received: p.received(tail), Handled: p.handled.Load(), Sent: p.sent.Load(),
		})
	}
}

// Totals is what a node's processes have counted, the exited ones
// included.
type Totals struct {
	Received uint64 // messages queued for processes
	Handled  uint64 // messages taken by processes' code
	Sent     uint64 // messages sent by processes
}

// ExitedTotals returns what the processes that have exited had counted;
// add what Each reports of the live ones for node totals.
func (n *Node) ExitedTotals() Totals {
	return Totals{Received: n.obs.received.Load(), Handled: n.obs.handled.Load(), Sent: n.obs.sent.Load()}
}

// HandlerOf returns the Handler of the live process p (nil for a Func
// process, or when p is not alive), for packages that recognise their own
// handlers (a GenServer answering a system request).
func (n *Node) HandlerOf(p pid.Pid) Handler {
	q := n.proc(p)
	if q == nil || q.dead.Load() {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead.Load() || q.body() != nil {
		return nil
	}
	return q.handler
}

// Behaviour returns what the live process p runs (see Describer).
func (n *Node) Behaviour(p pid.Pid) (string, bool) {
	q := n.proc(p)
	if q == nil {
		return "", false
	}
	q.mu.Lock()
	h, dead := q.handler, q.dead.Load()
	q.mu.Unlock()
	if dead {
		return "", false
	}
	return describe(h), true
}
