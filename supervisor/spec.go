package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Strategy says which children restart when one exits.
type Strategy uint8

// The restart strategies.
const (
	// OneForOne restarts only the child that exited.
	OneForOne Strategy = iota
	// OneForAll terminates the other children (in reverse start order) and
	// restarts them all in start order.
	OneForAll
	// RestForOne terminates the children started after the one that exited
	// (in reverse order) and restarts it and them in start order.
	RestForOne
)

// String returns the name used in logs and in OTP.
func (s Strategy) String() string {
	switch s {
	case OneForOne:
		return "one_for_one"
	case OneForAll:
		return "one_for_all"
	case RestForOne:
		return "rest_for_one"
	}
	return fmt.Sprintf("strategy(%d)", uint8(s))
}

// Restart says when a child is restarted.
type Restart uint8

// The restart types.
const (
	// Permanent children are restarted whatever their exit reason, even
	// Normal. It is the default.
	Permanent Restart = iota
	// Transient children are restarted only after an abnormal exit: not
	// after Normal, Shutdown or ShutdownWith, but after Killed.
	Transient
	// Temporary children are never restarted, and their spec is removed
	// when they exit.
	Temporary
)

// String returns the name used in logs and in OTP.
func (r Restart) String() string {
	switch r {
	case Permanent:
		return "permanent"
	case Transient:
		return "transient"
	case Temporary:
		return "temporary"
	}
	return fmt.Sprintf("restart(%d)", uint8(r))
}

// Shutdown says how a child is stopped: the time it has to stop after an
// exit signal with reason Shutdown before it is killed, or BrutalKill or
// Infinity. The zero Shutdown is the default: 5 s for a worker, Infinity for
// a supervisor.
type Shutdown time.Duration

const (
	// BrutalKill kills the child at once (its reason is Killed); its
	// terminate callback does not run.
	BrutalKill Shutdown = -1
	// Infinity waits for the child to stop however long it takes; the
	// default for supervisors.
	Infinity Shutdown = Shutdown(1<<63 - 1)
	// DefaultWorkerShutdown is a worker's default.
	DefaultWorkerShutdown = Shutdown(5 * time.Second)
)

// ChildType says whether a child is a worker or a supervisor.
type ChildType uint8

// The child types.
const (
	Worker ChildType = iota
	SupervisorChild
)

// String returns the name used in logs and in OTP.
func (t ChildType) String() string {
	if t == SupervisorChild {
		return "supervisor"
	}
	return "worker"
}

// StartFunc starts a child linked to the supervisor sup (use
// genserver.StartLink or sup.SpawnLink) and returns its Pid. Returning an
// error wrapping ErrIgnore (or genserver.ErrIgnored) starts nothing; the
// child is then kept with no process, or dropped if Temporary.
type StartFunc func(ctx context.Context, sup *process.Process) (pid.Pid, error)

// ChildSpec describes a child of a static supervisor. ID and Start are
// required; the other fields default to OTP's: Permanent, a 5 s shutdown
// for workers and Infinity for supervisors, Worker, not significant.
type ChildSpec struct {
	// ID names the child among its siblings: the key of the by-ID calls,
	// and the "id" of its logs and events.
	ID string
	// Start starts the child linked to the supervisor.
	Start StartFunc
	// Restart says which exits lead to a restart (Permanent by default).
	Restart Restart
	// Shutdown says how the child is stopped (by default 5 s for a
	// worker, Infinity for a supervisor).
	Shutdown Shutdown
	// Type says whether the child is a worker or a supervisor.
	Type ChildType
	// Significant makes the child's own end count for the supervisor's
	// AutoShutdown (OTP's significant flag). Only a Transient or Temporary
	// child of a supervisor whose AutoShutdown is not NoAutoShutdown may be
	// significant; any other combination is an invalid spec.
	Significant bool
}

// withDefaults returns s with the zero fields given their defaults.
func (s ChildSpec) withDefaults() ChildSpec {
	if s.Shutdown == 0 {
		if s.Type == SupervisorChild {
			s.Shutdown = Infinity
		} else {
			s.Shutdown = DefaultWorkerShutdown
		}
	}
	return s
}

// validate checks the spec of a child of a supervisor whose AutoShutdown is
// auto.
func (s ChildSpec) validate(auto AutoShutdown) error {
	switch {
	case s.ID == "":
		return &SpecError{Reason: "missing id"}
	case s.Start == nil:
		return &SpecError{ID: s.ID, Reason: "missing start function"}
	case s.Restart > Temporary:
		return &SpecError{ID: s.ID, Reason: fmt.Sprintf("invalid restart type %d", s.Restart)}
	case s.Type > SupervisorChild:
		return &SpecError{ID: s.ID, Reason: fmt.Sprintf("invalid child type %d", s.Type)}
	case s.Shutdown < BrutalKill:
		return &SpecError{ID: s.ID, Reason: fmt.Sprintf("invalid shutdown %v", time.Duration(s.Shutdown))}
	case s.Significant && auto == NoAutoShutdown:
		return &SpecError{ID: s.ID, Reason: "bad combination: a significant child under a supervisor whose AutoShutdown is never"}
	case s.Significant && s.Restart == Permanent:
		return &SpecError{ID: s.ID, Reason: "bad combination: a significant child must be transient or temporary, not permanent"}
	}
	return nil
}

// AutoShutdown says whether a supervisor stops itself when its significant
// children end (OTP 24's auto_shutdown). Only the ends a child comes to by
// itself count: a Transient child's exit with Normal, Shutdown or
// ShutdownWith, or a Temporary child's exit with any reason. A child the
// supervisor stops (TerminateChild, a sibling's restart, its own stop) does
// not count, nor does a Transient child's crash, which restarts it. The
// supervisor then stops its other children as at any stop and exits with
// Shutdown, which its own supervisor sees as a normal shutdown.
type AutoShutdown uint8

// The automatic shutdown settings.
const (
	// NoAutoShutdown is the default: significant children are not
	// allowed, and the supervisor never stops itself for its children's
	// ends (OTP's never).
	NoAutoShutdown AutoShutdown = iota
	// AnySignificant stops the supervisor when any significant child ends
	// by itself (OTP's any_significant).
	AnySignificant
	// AllSignificant stops the supervisor when a significant child ends by
	// itself and no other significant child is running or being restarted
	// (OTP's all_significant). For a dynamic supervisor, whose children are
	// all significant, that is when its last child ends.
	AllSignificant
)

// String returns the name used in logs and in OTP.
func (a AutoShutdown) String() string {
	switch a {
	case NoAutoShutdown:
		return "never"
	case AnySignificant:
		return "any_significant"
	case AllSignificant:
		return "all_significant"
	}
	return fmt.Sprintf("auto_shutdown(%d)", uint8(a))
}

// Spec describes a static supervisor.
type Spec struct {
	// Strategy decides which children restart; OneForOne by default.
	Strategy Strategy
	// Intensity and Period bound restarts: more than Intensity restarts
	// within Period make the supervisor give up: it terminates its children
	// and exits with Shutdown. Both zero means OTP's default, 1 restart in
	// 5 s. Period is counted in whole seconds, inclusively, as in OTP.
	Intensity int
	Period    time.Duration
	// AutoShutdown says whether the supervisor stops itself when
	// significant children end; NoAutoShutdown by default.
	AutoShutdown AutoShutdown
	// Name registers the supervisor.
	Name string
	// Backend runs the supervisor's own process (default Async).
	Backend process.Backend
	// Init, if set, runs first at every start and restart of the
	// supervisor, in its process, before any child starts: the part of
	// OTP's init/1 that decides whether to start at all. It returns nil to
	// go on, an error wrapping ErrIgnore to start nothing (OTP's ignore:
	// Start then returns ErrIgnore, and a parent supervisor keeps the
	// child without a process), or another error to fail the start with
	// it. ctx is cancelled when the supervisor exits.
	Init func(ctx context.Context, sup *process.Process) error
	// Children are started in order at start, and stopped in reverse order.
	Children []ChildSpec
	// Clock returns the current time, by default a monotonic clock. The
	// intensity window counts its whole Unix seconds. Tests inject one to
	// check intensity windows without waiting.
	Clock func() time.Time
}

func (s Spec) withDefaults() Spec {
	if s.Intensity == 0 && s.Period == 0 {
		s.Intensity, s.Period = 1, 5*time.Second
	}
	if s.Clock == nil {
		s.Clock = monotonicNow
	}
	return s
}

func (s Spec) validate() error {
	switch {
	case s.Strategy > RestForOne:
		return &SpecError{Reason: fmt.Sprintf("invalid strategy %d", s.Strategy)}
	case s.Intensity < 0:
		return &SpecError{Reason: "negative intensity"}
	case s.Period < 0 || (s.Period < time.Second && s.Intensity > 0):
		return &SpecError{Reason: fmt.Sprintf("period %v: it must be at least one second", s.Period)}
	case !s.Backend.Valid():
		return &SpecError{Reason: fmt.Sprintf("invalid backend %d", s.Backend)}
	case s.AutoShutdown > AllSignificant:
		return &SpecError{Reason: fmt.Sprintf("invalid auto shutdown %d", s.AutoShutdown)}
	}
	seen := make(map[string]bool, len(s.Children))
	for _, c := range s.Children {
		if err := c.validate(s.AutoShutdown); err != nil {
			return err
		}
		if seen[c.ID] {
			return &SpecError{ID: c.ID, Reason: "duplicate id"}
		}
		seen[c.ID] = true
	}
	return nil
}

// Errors of child management; test with errors.Is.
var (
	// ErrIgnore, returned (wrapped or not) by a StartFunc or a Spec's
	// Init, starts nothing. Start and StartDynamic return it when their
	// Init did.
	ErrIgnore = errors.New("supervisor: ignore")
	// ErrNotFound: no child has that id (or that Pid).
	ErrNotFound = errors.New("supervisor: child not found")
	// ErrRunning: the child is running, so it cannot be restarted or deleted.
	ErrRunning = errors.New("supervisor: child is running")
	// ErrRestarting: the child is waiting to be restarted.
	ErrRestarting = errors.New("supervisor: child is restarting")
	// ErrAlreadyPresent: a child with that id exists but is not running.
	ErrAlreadyPresent = errors.New("supervisor: child already present")
	// ErrAlreadyStarted: a child with that id is running; the error is an
	// *AlreadyStartedError naming it.
	ErrAlreadyStarted = errors.New("supervisor: child already started")
	// ErrInvalidSpec: a spec was rejected; the error is a *SpecError.
	ErrInvalidSpec = errors.New("supervisor: invalid spec")
	// ErrMaxChildren: a dynamic supervisor has as many children as allowed.
	ErrMaxChildren = errors.New("supervisor: max children reached")
	// ErrNotDynamic: a Dynamic handle names a static supervisor.
	ErrNotDynamic = errors.New("supervisor: not a dynamic supervisor")
	// ErrArgumentType: a Dynamic handle's argument type is not the one the
	// supervisor was started with.
	ErrArgumentType = errors.New("supervisor: wrong child argument type")
	// ErrDynamic: a static Ref's by-id call names a dynamic supervisor.
	ErrDynamic = errors.New("supervisor: dynamic supervisor: children are managed by Pid")
)

// SpecError reports an invalid supervisor or child spec.
type SpecError struct {
	ID     string // the child, if the problem is a child spec
	Reason string // what is wrong with it
}

// Error describes the failure.
func (e *SpecError) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("supervisor: invalid child spec %q: %s", e.ID, e.Reason)
	}
	return "supervisor: invalid spec: " + e.Reason
}

// Is reports whether target is ErrInvalidSpec.
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

// StartChildError reports a child that failed to start: during the
// supervisor's start (which then fails, after terminating the children it
// had started) or through StartChild and RestartChild.
type StartChildError struct {
	ID     string // the child's ID; for a dynamic child, its label
	Reason error  // why the start failed: the start function's error or panic
}

// Error describes the failure.
func (e *StartChildError) Error() string {
	return fmt.Sprintf("supervisor: failed to start child %q: %v", e.ID, e.Reason)
}

// Unwrap returns the reason.
func (e *StartChildError) Unwrap() error { return e.Reason }

// AlreadyStartedError reports that child ID is running as Pid.
type AlreadyStartedError struct {
	ID  string  // the child's ID
	Pid pid.Pid // the process it runs as
}

// Error describes the failure.
func (e *AlreadyStartedError) Error() string {
	return fmt.Sprintf("supervisor: child %q already started as %s", e.ID, e.Pid)
}

// Is reports whether target is ErrAlreadyStarted.
func (e *AlreadyStartedError) Is(target error) bool { return target == ErrAlreadyStarted }
