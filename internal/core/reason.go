package core

import (
	"errors"
	"fmt"
)

// Exit reasons with a meaning of their own. They are compared with errors.Is.
var (
	Normal       = errors.New("normal")
	Shutdown     = errors.New("shutdown")
	Kill         = errors.New("kill")
	Killed       = errors.New("killed")
	NoProc       = errors.New("noproc")
	NoConnection = errors.New("noconnection")
	// Goexit is the reason of a process whose goroutine ended through
	// runtime.Goexit while its code ran (t.FailNow and testify's require
	// call it): abnormal, so links and supervisors treat it as a crash.
	Goexit = errors.New("goexit: the process's goroutine exited through runtime.Goexit")
)

// Errors returned for bad input and misuse.
var (
	ErrZeroPid         = errors.New("zero pid: it names no process")
	ErrNilProcess      = errors.New("nil process")
	ErrNilNode         = errors.New("nil node")
	ErrNodeStopped     = errors.New("node stopped")
	ErrNilFunc         = errors.New("nil function or handler")
	ErrCallerExited    = errors.New("the calling process has exited")
	ErrNotReceiver     = errors.New("receive is only for processes started from a Func")
	ErrInvalidBackend  = errors.New("invalid backend")
	ErrEmptyName       = errors.New("empty name")
	ErrNameTaken       = errors.New("name already registered")
	ErrAlreadyNamed    = errors.New("process already has a registered name")
	ErrNotRegistered   = errors.New("name not registered")
	ErrNotJoined       = errors.New("process is not a member of the group")
	ErrBadInterval     = errors.New("timer interval must be positive")
	ErrMailboxFull     = errors.New("mailbox full")
	ErrBadMailboxLimit = errors.New("mailbox limit must not be negative")
	ErrTableFull       = errors.New("process table full: 2³²−1 processes alive")
	ErrNilContext      = errors.New("nil context.Context")
	ErrNestedReceive   = errors.New("receive called from inside a ReceiveMatch predicate")
	ErrBadSpec         = errors.New("invalid spawn spec")
)

// ShutdownError is an orderly shutdown with a cause: Erlang's {shutdown, Cause}.
// errors.Is(e, Shutdown) holds; the cause is a field, not part of the error
// chain, so a shutdown caused by Normal is still a shutdown and never Normal.
type ShutdownError struct{ Cause error }

// ShutdownWith returns a shutdown reason that carries cause.
func ShutdownWith(cause error) error { return &ShutdownError{Cause: cause} }

// Error describes the failure.
func (e *ShutdownError) Error() string {
	if e.Cause == nil {
		return "shutdown"
	}
	return "shutdown: " + e.Cause.Error()
}

// Is reports whether target is Shutdown.
func (e *ShutdownError) Is(target error) bool { return target == Shutdown }

// PanicError is the exit reason of a process whose code panicked: the value
// passed to panic and the stack of the panicking goroutine.
type PanicError struct {
	Value any
	Stack []byte
}

// Error describes the failure.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// IsNormal reports whether reason is a normal exit (nil counts as Normal).
func IsNormal(reason error) bool { return reason == nil || errors.Is(reason, Normal) }

// IsShutdown reports whether reason is Normal, Shutdown or a ShutdownError:
// the reasons a transient child does not restart on.
func IsShutdown(reason error) bool { return IsNormal(reason) || errors.Is(reason, Shutdown) }

func orNormal(reason error) error {
	if reason == nil {
		return Normal
	}
	return reason
}
