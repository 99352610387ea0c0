package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// ChildStatus says whether a child has a process.
type ChildStatus uint8

// The child statuses of Child.
const (
	NotRunning ChildStatus = iota // no process: terminated, or its start ignored
	Running                       // its process is alive
	Restarting                    // a restart failed and will be tried again
)

// String returns the name used in logs and in OTP.
func (s ChildStatus) String() string {
	switch s {
	case Running:
		return "running"
	case Restarting:
		return "restarting"
	}
	return "undefined"
}

// Child describes one child, as WhichChildren lists them.
type Child struct {
	ID      string      // the child's ID; for a dynamic child, its label (see DynamicSpec.ID)
	Pid     pid.Pid     // its process, or the zero Pid when it has none
	Status  ChildStatus // Running, NotRunning or Restarting
	Type    ChildType   // Worker or SupervisorChild
	Restart Restart     // its restart type
}

// Counts is what CountChildren returns.
type Counts struct {
	Specs       int // child specs
	Active      int // children with a live process
	Supervisors int // specs of supervisor children
	Workers     int // specs of worker children
}

// Ref is a handle on a static supervisor.
type Ref struct {
	gs genserver.Ref[request, any, genserver.Never]
}

// Start starts a static supervisor on node with its children, in order;
// it returns once all have started. If a child fails to start, the ones
// already started are terminated in reverse order and Start fails with an
// error wrapping a *StartChildError. An invalid spec fails with a
// *SpecError before anything starts. When the spec's Init returns an error
// wrapping ErrIgnore, Start returns ErrIgnore and leaves no process and no
// name behind; another error from Init fails the start with it.
func Start(ctx context.Context, node *process.Node, spec Spec) (Ref, error) {
	if node == nil {
		return Ref{}, process.ErrNilNode
	}
	return start(ctx, node, nil, spec)
}

// StartLink is Start with the supervisor linked to parent, for supervisors
// of supervisors: use it in a child's StartFunc. When the start fails or is
// ignored after the supervisor's process began, a parent that traps exits
// also receives its link.Exit, with the reason of the failure (Normal for
// an ignored start); a parent that does not trap exits is not killed by it.
// An invalid spec starts no process, so there is no exit to receive.
func StartLink(ctx context.Context, parent *process.Process, spec Spec) (Ref, error) {
	if parent == nil {
		return Ref{}, process.ErrNilProcess
	}
	return start(ctx, parent.Node(), parent, spec)
}

func start(ctx context.Context, node *process.Node, parent *process.Process, spec Spec) (Ref, error) {
	if err := spec.validate(); err != nil {
		return Ref{}, err
	}
	ref, err := startServer(ctx, node, parent, newServer(spec), spec.Name, spec.Backend)
	return Ref{gs: ref}, err
}

func startServer(ctx context.Context, node *process.Node, parent *process.Process, s *server, name string, b process.Backend) (genserver.Ref[request, any, genserver.Never], error) {
	opts := []genserver.Option{genserver.WithBackend(b)}
	if name != "" {
		opts = append(opts, genserver.WithName(name))
	}
	var ref genserver.Ref[request, any, genserver.Never]
	var err error
	if parent != nil {
		ref, err = genserver.StartLink(ctx, parent, s, opts...)
	} else {
		ref, err = genserver.Start(ctx, node, s, opts...)
	}
	if errors.Is(err, genserver.ErrIgnored) {
		err = ErrIgnore // the spec's Init asked for it
	}
	return ref, err
}

// Named returns a Ref to the static supervisor registered as name on node,
// looked up at every use, so it follows the supervisor across restarts.
func Named(node *process.Node, name string) Ref {
	return Ref{gs: genserver.Named[request, any, genserver.Never](node, name)}
}

// At returns a Ref to the static supervisor running as p on node: for a
// subtree started by a Supervisor StartFunc, whose Pid WhichChildren gives.
func At(node *process.Node, p pid.Pid) Ref {
	return Ref{gs: genserver.At[request, any, genserver.Never](node, p)}
}

// Pid returns the supervisor's Pid (the zero Pid for a Ref by name).
func (r Ref) Pid() pid.Pid { return r.gs.Pid() }

// Stop terminates the children in reverse start order, then the
// supervisor. Without a deadline on ctx it waits at most
// genserver.DefaultCallTimeout, or as long as it takes under
// genserver.WithoutTimeout; when the wait ends first, the shutdown goes on
// and Stop fails with a *CallError wrapping genserver.ErrTimeout.
func (r Ref) Stop(ctx context.Context) error { return stop(ctx, r.gs) }

// StartChild adds a child and starts it. It fails with an
// *AlreadyStartedError if a child with that id is running, ErrAlreadyPresent
// if one exists but is not running, a *SpecError for an invalid spec, and a
// *StartChildError if the start fails (no spec is then kept). An ignored
// start keeps the spec without a process (unless Temporary) and returns the
// zero Pid.
func (r Ref) StartChild(ctx context.Context, spec ChildSpec) (pid.Pid, error) {
	return call[pid.Pid](ctx, r.gs, "StartChild", startChild{spec: spec})
}

// TerminateChild stops child id, keeping its spec (a Temporary child's spec
// is removed). Terminating a child that is not running is not an error.
func (r Ref) TerminateChild(ctx context.Context, id string) error {
	_, err := call[any](ctx, r.gs, "TerminateChild", terminateChild{id: id})
	return err
}

// RestartChild starts again a child that is not running; ErrRunning if it
// is, ErrNotFound if no child has that id. If the start fails the child
// stays without a process.
func (r Ref) RestartChild(ctx context.Context, id string) (pid.Pid, error) {
	return call[pid.Pid](ctx, r.gs, "RestartChild", restartChild{id: id})
}

// DeleteChild removes the spec of a child that is not running; ErrRunning
// if it is, ErrNotFound if no child has that id.
func (r Ref) DeleteChild(ctx context.Context, id string) error {
	_, err := call[any](ctx, r.gs, "DeleteChild", deleteChild{id: id})
	return err
}

// WhichChildren lists the children in start order.
func (r Ref) WhichChildren(ctx context.Context) ([]Child, error) {
	return call[[]Child](ctx, r.gs, "WhichChildren", whichChildren{})
}

// CountChildren counts the children.
func (r Ref) CountChildren(ctx context.Context) (Counts, error) {
	return call[Counts](ctx, r.gs, "CountChildren", countChildren{})
}

// call makes the request req of the API method op to the supervisor gs.
func call[T any](ctx context.Context, gs genserver.Ref[request, any, genserver.Never], op string, req request) (T, error) {
	var zero T
	v, err := gs.Call(ctx, req)
	if err != nil {
		return zero, callFailed(op, gs, err)
	}
	t, _ := v.(T) // nil for a call that answers nothing
	return t, nil
}

// stop stops the supervisor gs.
func stop(ctx context.Context, gs genserver.Ref[request, any, genserver.Never]) error {
	if err := gs.Stop(ctx, process.Shutdown); err != nil {
		return callFailed("Stop", gs, err)
	}
	return nil
}

// answerError carries an error the supervisor answered a request with, so
// that call tells it from a failure of the call itself.
type answerError struct{ err error }

func (e *answerError) Error() string { return e.err.Error() }

// callFailed is the error of the API method op whose call to gs failed
// with err: the supervisor's answer as it is, or a *CallError for a call
// that got no answer.
func callFailed(op string, gs genserver.Ref[request, any, genserver.Never], err error) error {
	if a, ok := err.(*answerError); ok {
		return a.err
	}
	ce := &CallError{Op: op, Supervisor: gs.Pid(), Name: gs.Name(), Reason: err, call: err}
	if gce, ok := err.(*genserver.CallError); ok {
		ce.Reason = gce.Reason
		if ce.Supervisor.IsZero() {
			ce.Supervisor = gce.Server
		}
	}
	return ce
}

// CallError is how a supervisor's API fails when the supervisor gives no
// answer: it is dead or its name unknown (process.NoProc, at once), the
// wait ran out (genserver.ErrTimeout), the context is nil or done, or the
// handle is zero (genserver.ErrZeroRef). It names the method and the
// supervisor. The supervisor is a GenServer: the error also wraps the
// *genserver.CallError of the call underneath, so errors.As finds either,
// and errors.Is the reason.
type CallError struct {
	Op         string  // the method that failed: "StartChild", "WhichChildren", "Stop"...
	Supervisor pid.Pid // the supervisor's Pid, when known
	Name       string  // the name it was reached by, or ""
	Reason     error   // why the call failed
	call       error   // what the call underneath returned
}

// Error describes the failure, as in
// `supervisor: WhichChildren "top": noproc`.
func (e *CallError) Error() string {
	target := ""
	switch {
	case e.Name != "":
		target = " " + strconv.Quote(e.Name)
	case !e.Supervisor.IsZero():
		target = " " + e.Supervisor.String()
	}
	return fmt.Sprintf("supervisor: %s%s: %v", e.Op, target, e.Reason)
}

// Unwrap returns the error of the call underneath, which wraps Reason.
func (e *CallError) Unwrap() error {
	if e.call != nil {
		return e.call
	}
	return e.Reason
}

type startChild struct{ spec ChildSpec }

func (r startChild) handle(s *server, ctx *genserver.Ctx) (any, error) {
	if s.dynamic {
		return nil, ErrDynamic
	}
	if err := r.spec.validate(s.spec.AutoShutdown); err != nil {
		return pid.Pid{}, err
	}
	if c := s.find(r.spec.ID); c != nil {
		if !c.pid.IsZero() {
			return pid.Pid{}, &AlreadyStartedError{ID: c.spec.ID, Pid: c.pid}
		}
		return pid.Pid{}, ErrAlreadyPresent
	}
	c := &child{spec: r.spec.withDefaults()}
	ignored, err := s.start(ctx, c)
	if err != nil {
		return pid.Pid{}, &StartChildError{ID: c.spec.ID, Reason: err}
	}
	if !ignored || c.spec.Restart != Temporary {
		s.add(c)
	}
	return c.pid, nil
}

type terminateChild struct{ id string }

func (r terminateChild) handle(s *server, ctx *genserver.Ctx) (any, error) {
	if s.dynamic {
		return nil, ErrDynamic
	}
	c := s.find(r.id)
	if c == nil {
		return nil, ErrNotFound
	}
	s.terminate(ctx, c)
	if c.spec.Restart == Temporary {
		s.remove(c)
	}
	return nil, nil
}

type restartChild struct{ id string }

func (r restartChild) handle(s *server, ctx *genserver.Ctx) (any, error) {
	if s.dynamic {
		return nil, ErrDynamic
	}
	c := s.find(r.id)
	switch {
	case c == nil:
		return pid.Pid{}, ErrNotFound
	case !c.pid.IsZero():
		return pid.Pid{}, ErrRunning
	case c.restarting:
		return pid.Pid{}, ErrRestarting
	}
	if _, err := s.start(ctx, c); err != nil {
		return pid.Pid{}, err
	}
	return c.pid, nil
}

type deleteChild struct{ id string }

func (r deleteChild) handle(s *server, _ *genserver.Ctx) (any, error) {
	if s.dynamic {
		return nil, ErrDynamic
	}
	c := s.find(r.id)
	switch {
	case c == nil:
		return nil, ErrNotFound
	case !c.pid.IsZero():
		return nil, ErrRunning
	case c.restarting:
		return nil, ErrRestarting
	}
	s.remove(c)
	return nil, nil
}

type whichChildren struct{}

func (whichChildren) handle(s *server, _ *genserver.Ctx) (any, error) {
	out := make([]Child, 0, len(s.children))
	for _, c := range s.children {
		out = append(out, Child{ID: c.spec.ID, Pid: c.pid, Status: c.status(), Type: c.spec.Type, Restart: c.spec.Restart})
	}
	return out, nil
}

type countChildren struct{}

func (countChildren) handle(s *server, _ *genserver.Ctx) (any, error) {
	var n Counts
	for _, c := range s.children {
		n.Specs++
		if !c.pid.IsZero() {
			n.Active++
		}
		if c.spec.Type == SupervisorChild {
			n.Supervisors++
		} else {
			n.Workers++
		}
	}
	return n, nil
}
