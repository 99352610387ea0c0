package event

import (
	"fmt"
	"time"

	"github.com/spawned-go/spawned/pid"
)

// Traced is one entry of a traced process's log (process.Node.Trace):
// a message in or out, a signal, a change of its links or monitors, or its
// exit. Messages and reasons are kept as bounded text, never as the values
// themselves.
type Traced struct {
	Time time.Time // when it happened
	Pid  pid.Pid   // the traced process
	Op   TraceOp   // what happened
	Peer pid.Pid   // the other side: sender, receiver, link partner, monitored process; zero if none
	Text string    // the message or reason, rendered (see TraceOp)
}

// Kind returns KindTraced.
func (Traced) Kind() Kind { return KindTraced }

// When returns the time of the event.
func (e Traced) When() time.Time { return e.Time }

// String formats the entry on one line.
func (e Traced) String() string {
	s := e.Time.Format("15:04:05.000000") + " " + e.Op.String()
	if !e.Peer.IsZero() {
		s += " " + e.Peer.String()
	}
	if e.Text != "" {
		s += " " + e.Text
	}
	return s
}

// TraceOp says what a Traced entry records.
type TraceOp uint8

// The operations a trace records.
const (
	TraceIn         TraceOp = iota // a message was queued for the process; Peer sent it (zero: not a process)
	TraceHandled                   // the process's code took a message from its mailbox
	TraceOut                       // the process sent a message to Peer
	TraceExitSignal                // an exit signal from Peer reached it; Text is the reason
	TraceLink                      // it was linked to Peer
	TraceUnlink                    // its link to Peer was removed
	TraceMonitor                   // it began to monitor Peer (Text: the name, for a monitor by name)
	TraceDemonitor                 // it removed a monitor; Text is its reference
	TraceExit                      // it exited; Text is the reason
	numTraceOps
)

var traceOpNames = [numTraceOps]string{"in", "handled", "out", "exit-signal", "link", "unlink", "monitor", "demonitor", "exit"}

// String names the operation.
func (o TraceOp) String() string {
	if o < numTraceOps {
		return traceOpNames[o]
	}
	return fmt.Sprintf("traceop(%d)", uint8(o))
}
