package genserver

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Errors of calls, starts and stops; test with errors.Is.
var (
	// ErrTimeout: the call or stop did not finish in time. The server was
	// not stopped by it.
	ErrTimeout = errors.New("genserver: timeout")
	// ErrCallingSelf: a server called itself, which could never finish.
	ErrCallingSelf = errors.New("genserver: calling self")
	// Ignore, returned by Init, makes Start return ErrIgnored and leaves no
	// process and no name behind.
	Ignore = errors.New("genserver: ignore")
	// ErrIgnored is what Start returns when Init returned Ignore.
	ErrIgnored = errors.New("genserver: init ignored")
	// ErrAlreadyStarted: a server with that name is running. The error is an
	// *AlreadyStartedError naming it.
	ErrAlreadyStarted = errors.New("genserver: already started")
	// ErrNilServer: Start was given a nil server.
	ErrNilServer = errors.New("genserver: nil server")
	// ErrZeroRef: the Ref names no server.
	ErrZeroRef = errors.New("genserver: zero Ref")
	// ErrWrongServer: the process the Ref names is not a GenServer of the
	// Ref's request, reply and cast types (a Ref made with At or Named for
	// another server), or not a GenServer at all. A Call, Cast or Stop to a
	// process of this node fails with it at once, naming the types the Ref
	// expects and what the process runs.
	ErrWrongServer = core.ErrWrongServer
)

// The operations a CallError names.
const (
	OpCall = "call"
	OpCast = "cast"
	OpStop = "stop"
)

// CallError is how a Call fails when the server does not answer it, and how
// a Stop or Cast fails: it names the operation (OpCall, OpStop, OpCast;
// empty means OpCall) and the server (by Pid, or by name when called by
// name), and wraps the reason: process.NoProc, the server's exit reason,
// ErrTimeout, ErrCallingSelf, ErrWrongServer, process.ErrNilContext or the
// context's error. Treat it as read-only, as any error: the callers that
// fail alike on a name no process holds may be given the same one.
type CallError struct {
	Op     string  // OpCall, OpStop or OpCast; empty means OpCall
	Server pid.Pid // the server, when known by Pid
	Name   string  // the name it was reached by, or ""
	Reason error   // why it failed
}

// Error describes the failure.
func (e *CallError) Error() string {
	target := e.Server.String()
	if e.Name != "" {
		target = fmt.Sprintf("%q", e.Name)
	}
	op := e.Op
	if op == "" {
		op = OpCall
	}
	return fmt.Sprintf("genserver: %s %s: %v", op, target, e.Reason)
}

// Unwrap returns the reason.
func (e *CallError) Unwrap() error { return e.Reason }

// noProcNames keeps the errors of recent operations on names that no
// process held, so that a caller that polls a name while its server
// restarts (a call by name in a loop until it answers) is not given a new
// error each time it fails. Each slot holds the last such error of the
// names that fall in it.
var noProcNames [64]atomic.Pointer[CallError]

// noProcByName returns the error of op on the name no process holds: a
// *CallError naming op and name and wrapping process.NoProc, shared with
// the callers that failed the same way before. A shared error that no
// longer says that (its holder changed a field) is not handed out again.
func noProcByName(op, name string) *CallError {
	k := len(name) + len(op)
	if len(name) > 0 {
		k = k*31 + int(name[0])*7 + int(name[len(name)-1])
	}
	slot := &noProcNames[k%len(noProcNames)]
	if e := slot.Load(); e != nil && e.Op == op && e.Name == name && e.Server.IsZero() && e.Reason == process.NoProc {
		return e
	}
	e := &CallError{Op: op, Name: name, Reason: process.NoProc}
	slot.Store(e)
	return e
}

// StartError reports a start that failed because Init failed, panicked or
// took too long: Reason is the error Init returned, a *process.PanicError,
// ErrTimeout or the context's error.
type StartError struct {
	Reason error // what Init returned, its panic, ErrTimeout or the context's error
}

// Error describes the failure.
func (e *StartError) Error() string { return "genserver: start: " + e.Reason.Error() }

// Unwrap returns the reason.
func (e *StartError) Unwrap() error { return e.Reason }

// AlreadyStartedError reports that the name given to Start belongs to a
// running process, Pid. It matches ErrAlreadyStarted under errors.Is.
type AlreadyStartedError struct {
	Name string  // the name asked for
	Pid  pid.Pid // the process that holds it
}

// Error describes the failure.
func (e *AlreadyStartedError) Error() string {
	return fmt.Sprintf("genserver: %q already started as %s", e.Name, e.Pid)
}

// Is reports whether target is ErrAlreadyStarted.
func (e *AlreadyStartedError) Is(target error) bool { return target == ErrAlreadyStarted }
