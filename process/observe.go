package process

import (
	"reflect"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
)

// Describer may be implemented by a Handler to say what the process runs,
// as Info.Behaviour, events, profiles and the observer show it. Without it
// a Handler process is described by its type ("*main.Tally"), a Func
// process as "func"; a GenServer by its server type, a supervisor as
// "supervisor". Describe must be quick and must not call into the runtime.
type Describer interface {
	Describe() string
}

func init() {
	core.SetPanicCheck(func(err error) bool { _, ok := err.(*PanicError); return ok })
}

// Describe returns what the adapted handler runs.
func (a handlerAdapter) Describe() string {
	if d, ok := a.h.(Describer); ok {
		return d.Describe()
	}
	return reflect.TypeOf(a.h).String()
}

// Subscribe returns a subscription to the node's events (see package
// event): processes spawned and exited, supervisors' reports, traces.
// Close it when done. Publishing never waits for a subscriber: one that
// falls behind loses events, counted in a Gap event. A node with no
// subscription builds no event. When the node has stopped (every
// goroutine of the node has returned: see Stop), every subscription's
// channel is closed after the events already in it, among them the Exited
// of the processes the stop killed, so a loop over it ends. A nil or
// stopped node (one Stop was called on) has no events to come: a
// subscription made on it is closed already.
func (n *Node) Subscribe(opts ...event.Option) *event.Subscription {
	if n == nil || n.core().Stopped() {
		return (*event.Hub)(nil).Subscribe(opts...)
	}
	return n.core().Events().Subscribe(opts...)
}

// ErrNotTraced reports a process with no trace log.
var ErrNotTraced = core.ErrNotTraced

// DefaultTraceEntries is how many entries a trace log keeps.
const DefaultTraceEntries = 256

// The runtime keeps the same number: this fails to compile otherwise.
var _ [DefaultTraceEntries - core.DefaultTraceEntries]struct{}
var _ [core.DefaultTraceEntries - DefaultTraceEntries]struct{}

// Trace starts tracing the live process p, as Erlang's sys:trace and dbg
// do: every message queued for it, taken by its code and sent by it, every
// exit signal it receives, its links and monitors as they change, and its
// exit go to a log of its last DefaultTraceEntries entries (TraceLog) and
// to subscribers as event.Traced. Messages are kept as bounded text (see
// event.Traced), never as values. Tracing again starts the log afresh.
// While no process is traced, tracing costs one atomic load per message.
func (n *Node) Trace(p pid.Pid) error {
	if n == nil {
		return ErrNilNode
	}
	return n.core().Trace(p, 0)
}

// Untrace stops tracing p and reports whether it was traced. Its log
// stays readable with TraceLog.
func (n *Node) Untrace(p pid.Pid) bool {
	if n == nil {
		return false
	}
	return n.core().Untrace(p)
}

// Traced reports whether p is traced now.
func (n *Node) Traced(p pid.Pid) bool {
	if n == nil {
		return false
	}
	return n.core().Traced(p)
}

// TraceLog returns p's trace log, oldest entry first: of the trace running
// now, or of the last one that ended (after Untrace or p's exit, whose
// entry ends it). It fails with ErrNotTraced when p has none.
func (n *Node) TraceLog(p pid.Pid) ([]event.Traced, error) {
	if n == nil {
		return nil, ErrNilNode
	}
	return n.core().TraceLog(p)
}

// WithProfileLabels sets whether the node runs each process's code with
// runtime/pprof labels naming it: pid, name, backend and behaviour. CPU
// and goroutine profiles then tell which process burns the CPU or holds a
// goroutine (go tool pprof -tagfocus name=db). Off by default: labels
// cost each activation of a process a little (see docs/observability.md);
// switch them on and off at run time with SetProfileLabels.
func WithProfileLabels(on bool) NodeOption {
	return func(c *core.Config) { c.ProfileLabels = on }
}

// SetProfileLabels turns profile labels on or off (see WithProfileLabels).
// A process already running a Func keeps the labels its goroutine had.
func (n *Node) SetProfileLabels(on bool) {
	if n != nil {
		n.core().SetProfileLabels(on)
	}
}

// ProfileLabels reports whether profile labels are on.
func (n *Node) ProfileLabels() bool { return n != nil && n.core().ProfileLabels() }
