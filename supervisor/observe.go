package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Behaviour is what a supervisor's process runs, as process.Info.Behaviour,
// events and the observer name it.
const Behaviour = "supervisor"

// Describe names what the supervisor's process runs.
func (s *server) Describe() string { return Behaviour }

// history is what a supervisor remembers of a child across its processes.
type history struct {
	old        pid.Pid // its last process, once one has ended
	restarts   int
	lastExit   error
	lastExitAt time.Time
}

// reports is a supervisor's side of the node's event hub.
type reports struct {
	hub        *event.Hub
	name       string
	cause      *child // while restart runs: the child whose exit caused it
	reachedMax bool   // the restart intensity was reached
}

func (s *server) initReports(ctx *genserver.Ctx) {
	s.hub = (*core.Node)(ctx.Node()).Events()
	s.name = ctx.Process().Name()
}

// started records a child started by start: a restart while restart runs.
func (s *server) started(c *child) {
	if s.cause != nil {
		c.restarts++
		if s.hub.Wants(event.KindChildRestarted) {
			s.hub.Publish(event.ChildRestarted{Time: time.Now(), Supervisor: s.self, SupervisorName: s.name,
				ID: c.spec.ID, Pid: c.pid, Old: c.lastPid(), Reason: s.cause.lastExit, Cause: s.cause.spec.ID})
		}
		return
	}
	if s.hub.Wants(event.KindChildStarted) {
		s.hub.Publish(event.ChildStarted{Time: time.Now(), Supervisor: s.self, SupervisorName: s.name, ID: c.spec.ID, Pid: c.pid})
	}
}

// lastPid returns the child's last process.
func (c *child) lastPid() pid.Pid { return c.old }

func (s *server) startFailed(c *child, reason error) {
	if s.hub.Wants(event.KindChildStartFailed) {
		s.hub.Publish(event.ChildStartFailed{Time: time.Now(), Supervisor: s.self, SupervisorName: s.name, ID: c.spec.ID, Reason: reason})
	}
}

// terminated records that c's process p ended with reason.
func (s *server) terminated(c *child, p pid.Pid, reason error) {
	s.terminatedAt(c, p, reason, time.Now())
}

// terminatedAt is terminated at now.
func (s *server) terminatedAt(c *child, p pid.Pid, reason error, now time.Time) {
	c.lastExit, c.lastExitAt, c.old = reason, now, p
	s.publishTerminated(c, p, reason)
}

// publishTerminated publishes ChildTerminated; safe from any goroutine.
func (s *server) publishTerminated(c *child, p pid.Pid, reason error) {
	if s.hub.Wants(event.KindChildTerminated) {
		s.hub.Publish(event.ChildTerminated{Time: time.Now(), Supervisor: s.self, SupervisorName: s.name, ID: c.spec.ID, Pid: p, Reason: reason})
	}
}

func (s *server) intensityReached() {
	s.reachedMax = true
	if s.hub.Wants(event.KindIntensityReached) {
		s.hub.Publish(event.IntensityReached{Time: time.Now(), Supervisor: s.self, SupervisorName: s.name,
			Intensity: s.spec.Intensity, Period: s.spec.Period})
	}
}

// gaveUp publishes GaveUp once a supervisor that reached its intensity has
// stopped its children.
func (s *server) gaveUp(reason error) {
	if s.reachedMax && s.hub != nil && s.hub.Wants(event.KindGaveUp) {
		s.hub.Publish(event.GaveUp{Time: time.Now(), Supervisor: s.self, SupervisorName: s.name, Reason: reason})
	}
}

// reasonFields returns the fields of a report about reason: first, the
// reason, and the stack when it is a panic.
func reasonFields(first zap.Field, reason error, more ...zap.Field) []zap.Field {
	fields := append([]zap.Field{first}, more...)
	fields = append(fields, zap.NamedError("reason", reason))
	var pe *process.PanicError
	if errors.As(reason, &pe) && len(pe.Stack) > 0 {
		fields = append(fields, zap.ByteString("stack", pe.Stack))
	}
	return fields
}

// Report is a supervisor's account of itself and its children, for tools
// such as the observer, and for debugging: what WhichChildren lists, with
// each child's restarts and last exit, and the supervisor's own settings.
type Report struct {
	Pid       pid.Pid       // the supervisor
	Name      string        // its registered name, or ""
	Dynamic   bool          // whether it is a dynamic supervisor
	Strategy  Strategy      // OneForOne for a dynamic supervisor
	Intensity int           // the restarts it allows within Period
	Period    time.Duration // its intensity window
	Restarts  int           // restarts counted in the current intensity window
	Children  []ChildReport // its children, as WhichChildren lists them
}

// ChildReport is one child in a Report: the Child of WhichChildren, how
// many times this supervisor restarted it, and how its last process ended
// (nil and the zero time if none has).
type ChildReport struct {
	Child
	Restarts   int       // how many times this supervisor restarted it
	LastExit   error     // how its last process ended, or nil
	LastExitAt time.Time // when, or the zero time
}

// ErrNotSupervisor: Inspect was given a process that is not a supervisor.
var ErrNotSupervisor = errors.New("supervisor: not a supervisor")

// Inspect returns the report of the supervisor, static or dynamic,
// running as p on node: a call to it, answered between two of its
// callbacks. It fails at once with ErrNotSupervisor for a process that
// does not describe itself as one, and with a *CallError wrapping
// process.NoProc for a dead one.
func Inspect(ctx context.Context, node *process.Node, p pid.Pid) (Report, error) {
	if node == nil {
		return Report{}, process.ErrNilNode
	}
	if b, ok := (*core.Node)(node).Behaviour(p); ok && b != Behaviour {
		return Report{}, fmt.Errorf("inspect %v: %w (it runs %s)", p, ErrNotSupervisor, b)
	}
	return call[Report](ctx, genserver.At[request, any, genserver.Never](node, p), "Inspect", inspect{})
}

// Inspect returns the supervisor's report (see the function Inspect).
func (r Ref) Inspect(ctx context.Context) (Report, error) {
	return call[Report](ctx, r.gs, "Inspect", inspect{})
}

// Inspect returns the supervisor's report (see the function Inspect).
func (d Dynamic[A]) Inspect(ctx context.Context) (Report, error) {
	return call[Report](ctx, d.gs, "Inspect", inspect{})
}

type inspect struct{}

func (inspect) handle(s *server, _ *genserver.Ctx) (any, error) {
	r := Report{Pid: s.self, Name: s.name, Dynamic: s.dynamic, Strategy: s.spec.Strategy,
		Intensity: s.spec.Intensity, Period: s.spec.Period, Restarts: s.inWindow}
	r.Children = make([]ChildReport, 0, len(s.children))
	for _, c := range s.children {
		r.Children = append(r.Children, ChildReport{
			Child:    Child{ID: c.spec.ID, Pid: c.pid, Status: c.status(), Type: c.spec.Type, Restart: c.spec.Restart},
			Restarts: c.restarts, LastExit: c.lastExit, LastExitAt: c.lastExitAt,
		})
	}
	return r, nil
}
