package process

import (
	"fmt"

	"github.com/spawned-go/spawned/internal/core"
)

// Exit reasons with a meaning of their own. A process's exit reason is an
// error; compare it with errors.Is.
var (
	// Normal is the reason of a process that finished its work. A Func
	// returning nil exits with Normal. Linked processes that do not trap
	// exits ignore it; monitors still see it.
	Normal = core.Normal
	// Shutdown is an orderly stop asked for by someone else, typically a
	// supervisor. See also ShutdownWith.
	Shutdown = core.Shutdown
	// Kill, sent with Exit by another process, kills the target even when
	// it traps exits; its links and monitors then see Killed. A process that
	// itself exits with Kill sends an ordinary, trappable Kill to its links.
	Kill = core.Kill
	// Killed is the reason of a process killed by Exit(pid, Kill).
	Killed = core.Killed
	// NoProc is the reason given for a process that does not exist (a dead
	// Pid): monitors and links to it report NoProc at once.
	NoProc = core.NoProc
	// NoConnection is the reason given for a Pid of a node that cannot be
	// reached.
	NoConnection = core.NoConnection
	// Goexit is the reason of a process whose goroutine ended through
	// runtime.Goexit while running its code (a Func, a Handler's Init or
	// HandleMessage, a GenServer callback): t.FailNow, t.Fatal and
	// testify's require functions call it. It is abnormal: links,
	// monitors and supervisors treat it as a crash, and the process's
	// name, pool slot and pending calls are released as for any exit.
	Goexit = core.Goexit
)

// ShutdownError is a shutdown with a cause, Erlang's {shutdown, Cause}.
// errors.Is(err, Shutdown) holds for it. The cause is kept in the Cause field
// rather than in the error chain, so a shutdown is never mistaken for its
// cause: ShutdownWith(Normal) is a shutdown, not a normal exit.
type ShutdownError struct {
	// Cause is why the shutdown was asked for; nil for a plain one.
	Cause error
}

// Error describes the shutdown.
func (e *ShutdownError) Error() string {
	if e.Cause == nil {
		return "shutdown"
	}
	return "shutdown: " + e.Cause.Error()
}

// Is reports whether target is Shutdown.
func (e *ShutdownError) Is(target error) bool { return target == Shutdown }

// PanicError is the exit reason of a process whose code panicked: the value
// given to panic (Value) and the stack of the panicking goroutine (Stack). A
// panic never crashes the program and is never a normal exit.
type PanicError struct {
	// Value is the value given to panic.
	Value any
	// Stack is the stack of the panicking goroutine, as debug.Stack
	// prints it.
	Stack []byte
}

// Error describes the failure.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

func init() {
	core.SetPanicForm(func(v any, stack []byte) error { return &PanicError{Value: v, Stack: stack} })
}

// ShutdownWith returns a Shutdown reason carrying cause.
func ShutdownWith(cause error) error { return &ShutdownError{Cause: cause} }

// IsNormal reports whether reason is a normal exit: nil or Normal.
func IsNormal(reason error) bool { return core.IsNormal(reason) }

// IsShutdown reports whether reason is Normal, Shutdown or a ShutdownError:
// the exits a supervisor treats as intended.
func IsShutdown(reason error) bool { return core.IsShutdown(reason) }

// Errors for bad input and misuse. Each is returned wrapped with detail;
// test with errors.Is.
var (
	ErrZeroPid        = core.ErrZeroPid        // the zero Pid names no process
	ErrNilProcess     = core.ErrNilProcess     // a nil *Process was passed
	ErrNilNode        = core.ErrNilNode        // a nil *Node was passed
	ErrNodeStopped    = core.ErrNodeStopped    // the node was stopped
	ErrTableFull      = core.ErrTableFull      // 2³²−1 processes are alive on the node
	ErrNilFunc        = core.ErrNilFunc        // a nil Func or Handler was passed
	ErrCallerExited   = core.ErrCallerExited   // the calling process has already exited
	ErrNotReceiver    = core.ErrNotReceiver    // Receive was called by a Handler process
	ErrInvalidBackend = core.ErrInvalidBackend // not Async, Blocking or Thread
	ErrBadInterval    = core.ErrBadInterval    // an interval timer needs a positive period
	// ErrMailboxFull: the receiver's bounded mailbox (WithMailboxLimit) is
	// full, so the message was not queued. Use SendWait to wait for room.
	ErrMailboxFull     = core.ErrMailboxFull
	ErrBadMailboxLimit = core.ErrBadMailboxLimit // a mailbox limit must not be negative
	// ErrNilContext: a nil context.Context was passed where one is
	// needed; the function returns at once. Pass context.Background()
	// for no deadline.
	ErrNilContext = core.ErrNilContext
	// ErrNestedReceive: Receive or ReceiveMatch was called from inside a
	// ReceiveMatch predicate, which must only look at the message.
	ErrNestedReceive = core.ErrNestedReceive
)
