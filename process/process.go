package process

import (
	"context"
	"time"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
)

// Process is a running process's handle on itself: its Pid, mailbox, trap
// flag and timers. The runtime passes it to a Func or Handler. A handle
// belongs to its process: call its methods only from that process's own code.
type Process core.Proc

// Func is the body of a process. Returning nil is a normal exit; any other
// error is the exit reason. A panic becomes a [PanicError] exit reason.
type Func func(p *Process) error

// Handler is the body of a message-driven process. The runtime calls
// HandleMessage once per message, one at a time, on the process's backend.
// Returning nil waits for the next message; returning an error ends the
// process with that reason (return Normal for a normal stop).
type Handler interface {
	HandleMessage(p *Process, msg any) error
}

// Initializer may be implemented by a Handler: Init runs on the process's
// backend before any message. An error ends the process with that reason.
type Initializer interface {
	Init(p *Process) error
}

// SpawnOption configures a spawn.
type SpawnOption func(*core.Spec)

// WithBackend runs the process on b (default Async).
func WithBackend(b Backend) SpawnOption { return func(s *core.Spec) { s.Backend = core.Backend(b) } }

// WithName registers the process under name in the same step that creates
// it: the spawn fails, leaving no process, when the name is taken.
func WithName(name string) SpawnOption { return func(s *core.Spec) { s.Name = name } }

// WithMailboxLimit bounds the messages other code may have queued for the
// process at once. When the mailbox is full, Send fails with ErrMailboxFull
// (nothing is dropped silently) and SendWait waits for room. The runtime's
// own signals (link.Exit, link.Down, timer messages) are never refused, so
// links, monitors and timers keep their guarantees. 0 means no bound.
func WithMailboxLimit(n int) SpawnOption { return func(s *core.Spec) { s.MailboxLimit = n } }

// WithLink links the new process to parent in the same step that creates
// it, so the link exists before the new process can exit.
func WithLink(parent *Process) SpawnOption {
	return func(s *core.Spec) {
		if parent != nil {
			s.Parent, s.Link = parent.core(), true
		}
	}
}

// OnExit calls fn once with the exit reason when the process has exited,
// from the goroutine that ended it: after its name was released and before
// its links and monitors are told, so what fn does is done before anyone can
// observe the exit. It is a watch that exists from the first moment, for
// code that is not a process (see link.Watch). fn must be quick and must not
// block. A panic in fn is contained and logged: it reaches neither the
// runtime nor whoever ended the process, and the links and monitors are
// still told. fn must not call runtime.Goexit (t.FailNow, require): it runs
// on the goroutine that tells the links and monitors, which would end.
func OnExit(fn func(reason error)) SpawnOption { return func(s *core.Spec) { s.OnExit = fn } }

func spec(fn core.Func, h core.Handler, opts []SpawnOption) core.Spec {
	s := core.Spec{Func: fn, Handler: h}
	for _, o := range opts {
		if o != nil { // a nil option sets nothing
			o(&s)
		}
	}
	return s
}

func adaptFunc(fn Func) core.Func {
	return func(p *core.Proc) error { return fn((*Process)(p)) }
}

type handlerAdapter struct{ h Handler }

func (a handlerAdapter) HandleMessage(p *core.Proc, msg any) error {
	return a.h.HandleMessage((*Process)(p), msg)
}

type initHandlerAdapter struct {
	handlerAdapter
	in Initializer
}

func (a initHandlerAdapter) Init(p *core.Proc) error { return a.in.Init((*Process)(p)) }

func adaptHandler(h Handler) core.Handler {
	if in, ok := h.(Initializer); ok {
		return initHandlerAdapter{handlerAdapter{h}, in}
	}
	return handlerAdapter{h}
}

func (p *Process) core() *core.Proc { return (*core.Proc)(p) }

// canceled is the context of a nil Process: already done.
var canceled = func() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(ErrNilProcess)
	return ctx
}()

// Self returns the process's Pid.
func (p *Process) Self() pid.Pid {
	if p == nil {
		return pid.Pid{}
	}
	return p.core().Pid()
}

// Node returns the node that runs the process.
func (p *Process) Node() *Node {
	if p == nil {
		return nil
	}
	return (*Node)(p.core().Node())
}

// Backend returns the backend the process runs on.
func (p *Process) Backend() Backend {
	if p == nil {
		return Async
	}
	return Backend(p.core().Backend())
}

// Name returns the process's registered name, or "".
func (p *Process) Name() string {
	if p == nil {
		return ""
	}
	return p.core().Name()
}

// Alive reports whether the process has not exited. Code still running after
// its process was killed sees false.
func (p *Process) Alive() bool {
	if p == nil {
		return false
	}
	return p.core().Alive()
}

// Context returns a context cancelled when the process exits; its cause
// (context.Cause) is the exit reason. Long-running code should watch it: a
// killed process's code is not stopped, only told.
func (p *Process) Context() context.Context {
	if p == nil {
		return canceled
	}
	return p.core().Context()
}

// Send queues msg for to. Sending to a dead process is not an error.
// Anything a process sends after it has exited is dropped. A full bounded
// mailbox (WithMailboxLimit) refuses the message with ErrMailboxFull.
func (p *Process) Send(to pid.Pid, msg any) error {
	if p == nil {
		return ErrNilProcess
	}
	return p.core().Send(to, msg)
}

// SendWait is Send that waits for room when to's bounded mailbox is full,
// until ctx is done (ctx's error) or p exits (ErrCallerExited). A nil ctx
// fails with ErrNilContext. When to is p itself, whose mailbox only p's
// own code empties, a full mailbox fails at once with ErrMailboxFull.
func (p *Process) SendWait(ctx context.Context, to pid.Pid, msg any) error {
	if p == nil {
		return ErrNilProcess
	}
	return p.core().SendWait(ctx, to, msg)
}

// Receive returns the next message in arrival order, waiting until one
// arrives, ctx is done (ctx.Err()) or the process exits (its exit reason).
// Only a process started from a Func may receive; a Handler process gets
// ErrNotReceiver. A nil ctx fails with ErrNilContext.
//
// A queued message is always taken first, whatever ctx: with a context that
// is already done, Receive returns the next message if there is one and
// ctx.Err() otherwise, without waiting. That is Erlang's receive ... after 0
// (see also ReceiveMatch with such a context):
//
//	done, cancel := context.WithCancel(ctx)
//	cancel()
//	msg, err := p.Receive(done) // err != nil: the mailbox was empty
func (p *Process) Receive(ctx context.Context) (any, error) {
	if p == nil {
		return nil, ErrNilProcess
	}
	return p.core().Receive(ctx)
}

// ReceiveMatch returns the oldest message for which match is true, leaving
// the others queued in order: Erlang's selective receive. match runs in the
// process's own code with no lock of the runtime held: a panic in it ends
// the process with a *PanicError like any panic of its code, and it may call
// the runtime (Info, Send, Alive) but not receive: a Receive or
// ReceiveMatch from inside match fails with ErrNestedReceive.
func (p *Process) ReceiveMatch(ctx context.Context, match func(msg any) bool) (any, error) {
	if p == nil {
		return nil, ErrNilProcess
	}
	if match == nil {
		return nil, ErrNilFunc
	}
	return p.core().ReceiveMatch(ctx, match)
}

// Exit sends an exit signal with reason to the process to (Erlang's
// exit/2), whether or not they are linked:
//   - Kill kills to even when it traps exits; links and monitors see Killed.
//   - A trapping process receives a link.Exit message with From = p.Self().
//   - Otherwise a Normal reason is ignored, unless to is p itself (then p
//     exits Normal), and any other reason makes to exit with that reason.
//
// An exit signal to a dead process is silently ignored. When Exit returns the
// signal has been applied: a process it ended is dead, its name is free, and
// its links and monitors have been told.
func (p *Process) Exit(to pid.Pid, reason error) error {
	if p == nil {
		return ErrNilProcess
	}
	return p.core().Exit(to, reason)
}

// TrapExit sets whether exit signals (other than Kill from Exit) become
// link.Exit messages instead of ending the process, and returns the
// previous setting. Exit messages already queued stay messages.
func (p *Process) TrapExit(on bool) (previous bool) {
	if p == nil {
		return false
	}
	return p.core().TrapExit(on)
}

// TrapsExits reports whether the process traps exits.
func (p *Process) TrapsExits() bool {
	if p == nil {
		return false
	}
	return p.core().TrapsExits()
}

// SpawnLink starts a process linked to p; the link exists before the new
// process can exit, so p always sees its exit.
func (p *Process) SpawnLink(fn Func, opts ...SpawnOption) (pid.Pid, error) {
	if p == nil {
		return pid.Pid{}, ErrNilProcess
	}
	if fn == nil {
		return pid.Pid{}, ErrNilFunc
	}
	s := spec(adaptFunc(fn), nil, opts)
	s.Parent, s.Link = p.core(), true
	c, _, err := p.core().Node().Spawn(s)
	return pidOf(c), err
}

// SpawnMonitor starts a process monitored by p and returns the monitor's
// Ref; the monitor exists before the new process can exit, so p always gets
// a link.Down with its real reason.
func (p *Process) SpawnMonitor(fn Func, opts ...SpawnOption) (pid.Pid, pid.Ref, error) {
	if p == nil {
		return pid.Pid{}, pid.Ref{}, ErrNilProcess
	}
	if fn == nil {
		return pid.Pid{}, pid.Ref{}, ErrNilFunc
	}
	s := spec(adaptFunc(fn), nil, opts)
	s.Parent, s.Monitor = p.core(), true
	c, ref, err := p.core().Node().Spawn(s)
	return pidOf(c), ref, err
}

// SendAfter sends msg to to after d, on p's behalf. The timer is cancelled
// when p exits. It returns the timer's Ref for CancelTimer.
func (p *Process) SendAfter(to pid.Pid, msg any, d time.Duration) (pid.Ref, error) {
	if p == nil {
		return pid.Ref{}, ErrNilProcess
	}
	return p.core().SendAfter(to, msg, d)
}

// SendInterval sends msg to to every d, on p's behalf, until p exits or
// the timer is cancelled.
func (p *Process) SendInterval(to pid.Pid, msg any, d time.Duration) (pid.Ref, error) {
	if p == nil {
		return pid.Ref{}, ErrNilProcess
	}
	return p.core().SendInterval(to, msg, d)
}

// CancelTimer stops a timer started by p and reports whether it was still
// pending. Once it returns the timer delivers nothing more.
func (p *Process) CancelTimer(ref pid.Ref) bool {
	if p == nil {
		return false
	}
	return p.core().CancelTimer(ref)
}
