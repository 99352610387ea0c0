package supervisor

import (
	"context"
	"fmt"
	"reflect"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// DynamicSpec describes a dynamic supervisor (OTP's simple_one_for_one,
// Elixir's DynamicSupervisor): it starts no children of its own; each
// StartChild starts one more from the same template with its own argument
// of type A. Children restart one for one.
//
// A dynamic supervisor that is restarted (by its own supervisor, after it
// gave up or was killed) comes back empty, as in OTP: the children started
// with StartChild are not restored, since only their arguments' owner knows
// which ones should exist. To keep a pool at N workers across such
// restarts, either make the pool a static supervisor of N children, or put
// beside the dynamic supervisor, after it under RestForOne, a child that
// starts the N workers: see the package documentation.
type DynamicSpec[A any] struct {
	// Start starts one child linked to sup with arg. DynamicGenServer
	// makes one for a GenServer.
	Start func(ctx context.Context, sup *process.Process, arg A) (pid.Pid, error)
	// ID labels the child started with arg: its Child.ID, and the "id" of
	// its logs and events, kept across its restarts. It is a label, not a
	// key: two children may share one, and dynamic children are managed by
	// Pid. Without ID, a child is labelled with its argument (fmt's %v)
	// when A is a string, boolean or number type or implements
	// fmt.Stringer, and otherwise with the number of the StartChild call
	// that started it: "#1", "#2"... A panic in ID fails the StartChild.
	ID func(arg A) string
	// Restart, Shutdown and Type apply to every child, with ChildSpec's
	// defaults.
	Restart  Restart
	Shutdown Shutdown
	Type     ChildType
	// Significant makes every child significant for AutoShutdown, as
	// ChildSpec.Significant: only with a Transient or Temporary Restart
	// and an AutoShutdown other than NoAutoShutdown.
	Significant bool
	// AutoShutdown is as in Spec; with Significant children,
	// AllSignificant stops the supervisor when its last child ends by
	// itself.
	AutoShutdown AutoShutdown
	// MaxChildren bounds the children alive at once; 0 means no bound.
	MaxChildren int
	// Intensity, Period, Name, Backend, Init and Clock are as in Spec.
	Intensity int
	Period    time.Duration
	Name      string
	Backend   process.Backend
	Init      func(ctx context.Context, sup *process.Process) error
	Clock     func() time.Time
}

// Dynamic is a handle on a dynamic supervisor whose children take an
// argument of type A.
type Dynamic[A any] struct {
	gs genserver.Ref[request, any, genserver.Never]
}

// StartDynamic starts a dynamic supervisor on node, with no children yet.
// It fails as Start does: a *SpecError for an invalid spec, ErrIgnore when
// its Init asked for it.
func StartDynamic[A any](ctx context.Context, node *process.Node, spec DynamicSpec[A]) (Dynamic[A], error) {
	if node == nil {
		return Dynamic[A]{}, process.ErrNilNode
	}
	return startDynamic(ctx, node, nil, spec)
}

// StartDynamicLink is StartDynamic linked to parent, for use in a child's
// StartFunc.
func StartDynamicLink[A any](ctx context.Context, parent *process.Process, spec DynamicSpec[A]) (Dynamic[A], error) {
	if parent == nil {
		return Dynamic[A]{}, process.ErrNilProcess
	}
	return startDynamic(ctx, parent.Node(), parent, spec)
}

func startDynamic[A any](ctx context.Context, node *process.Node, parent *process.Process, d DynamicSpec[A]) (Dynamic[A], error) {
	if d.Start == nil {
		return Dynamic[A]{}, &SpecError{Reason: "missing start function"}
	}
	if d.MaxChildren < 0 {
		return Dynamic[A]{}, &SpecError{Reason: "negative max children"}
	}
	spec := Spec{Intensity: d.Intensity, Period: d.Period, Name: d.Name, Backend: d.Backend, Clock: d.Clock,
		AutoShutdown: d.AutoShutdown, Init: d.Init}
	// The template is checked as a child spec with a stand-in id and start.
	template := ChildSpec{ID: "template", Start: func(context.Context, *process.Process) (pid.Pid, error) { return pid.Pid{}, nil },
		Restart: d.Restart, Shutdown: d.Shutdown, Type: d.Type, Significant: d.Significant}
	if err := spec.validate(); err != nil {
		return Dynamic[A]{}, err
	}
	if err := template.validate(d.AutoShutdown); err != nil {
		return Dynamic[A]{}, err
	}
	s := newServer(spec)
	s.dynamic, s.max = true, d.MaxChildren
	byValue := labelledByValue[A]()
	s.template = func(arg any, seq uint64) (ChildSpec, error) {
		a, ok := arg.(A)
		if !ok {
			return ChildSpec{}, fmt.Errorf("%w: %T", ErrArgumentType, arg)
		}
		id, err := label(a, seq, d.ID, byValue)
		if err != nil {
			return ChildSpec{}, &StartChildError{Reason: err}
		}
		return ChildSpec{
			ID: id,
			Start: func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
				return d.Start(ctx, sup, a)
			},
			Restart: d.Restart, Shutdown: d.Shutdown, Type: d.Type, Significant: d.Significant,
		}.withDefaults(), nil
	}
	ref, err := startServer(ctx, node, parent, s, d.Name, d.Backend)
	return Dynamic[A]{gs: ref}, err
}

// NamedDynamic returns a handle on the dynamic supervisor registered as
// name on node, looked up at every use. A must be the argument type it was
// started with; a mismatch makes StartChild fail.
func NamedDynamic[A any](node *process.Node, name string) Dynamic[A] {
	return Dynamic[A]{gs: genserver.Named[request, any, genserver.Never](node, name)}
}

// DynamicAt returns a handle on the dynamic supervisor running as p on
// node (see NamedDynamic).
func DynamicAt[A any](node *process.Node, p pid.Pid) Dynamic[A] {
	return Dynamic[A]{gs: genserver.At[request, any, genserver.Never](node, p)}
}

// Pid returns the supervisor's Pid (the zero Pid for a handle by name).
func (d Dynamic[A]) Pid() pid.Pid { return d.gs.Pid() }

// Stop terminates every child, all at once, then the supervisor.
// Without a deadline on ctx it waits as Ref.Stop does.
func (d Dynamic[A]) Stop(ctx context.Context) error { return stop(ctx, d.gs) }

// StartChild starts a child from the template with arg. It fails with
// ErrMaxChildren when the supervisor is full and a *StartChildError when
// the start fails. An ignored start returns the zero Pid and keeps nothing.
func (d Dynamic[A]) StartChild(ctx context.Context, arg A) (pid.Pid, error) {
	return call[pid.Pid](ctx, d.gs, "StartChild", startDynamicChild{arg: arg})
}

// TerminateChild stops the child p and forgets it; ErrNotFound if p is not
// a child of this supervisor.
func (d Dynamic[A]) TerminateChild(ctx context.Context, p pid.Pid) error {
	_, err := call[any](ctx, d.gs, "TerminateChild", terminateDynamicChild{pid: p})
	return err
}

// WhichChildren lists the children, oldest first.
func (d Dynamic[A]) WhichChildren(ctx context.Context) ([]Child, error) {
	return call[[]Child](ctx, d.gs, "WhichChildren", whichChildren{})
}

// CountChildren counts the children.
func (d Dynamic[A]) CountChildren(ctx context.Context) (Counts, error) {
	return call[Counts](ctx, d.gs, "CountChildren", countChildren{})
}

type startDynamicChild struct{ arg any }

func (r startDynamicChild) handle(s *server, ctx *genserver.Ctx) (any, error) {
	if !s.dynamic {
		return pid.Pid{}, ErrNotDynamic
	}
	if s.max > 0 && len(s.children) >= s.max {
		return pid.Pid{}, ErrMaxChildren
	}
	s.seq++
	spec, err := s.template(r.arg, s.seq)
	if err != nil {
		return pid.Pid{}, err
	}
	c := &child{spec: spec}
	ignored, err := s.start(ctx, c)
	if err != nil {
		return pid.Pid{}, &StartChildError{ID: spec.ID, Reason: err}
	}
	if !ignored {
		s.add(c)
	}
	return c.pid, nil
}

type terminateDynamicChild struct{ pid pid.Pid }

func (r terminateDynamicChild) handle(s *server, ctx *genserver.Ctx) (any, error) {
	if !s.dynamic {
		return nil, ErrNotDynamic
	}
	c, ok := s.childOf(r.pid)
	if !ok {
		return nil, ErrNotFound
	}
	s.terminate(ctx, c)
	s.remove(c)
	return nil, nil
}

// labelledByValue reports whether a child's argument of type A is its
// default label: a string, boolean or number, or a fmt.Stringer.
func labelledByValue[A any]() bool {
	t := reflect.TypeFor[A]()
	if t.Implements(reflect.TypeFor[fmt.Stringer]()) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	}
	return false
}

// label is the label of the child started seq-th with arg: id's, or the
// default one (see DynamicSpec.ID). A panic in id is an error.
func label[A any](arg A, seq uint64, id func(A) string, byValue bool) (l string, err error) {
	switch {
	case id != nil:
		defer func() {
			if v := recover(); v != nil {
				err = &process.PanicError{Value: v, Stack: debug.Stack()}
			}
		}()
		return id(arg), nil
	case byValue:
		return fmt.Sprint(arg), nil // fmt contains a panic in a String method
	}
	return "#" + strconv.FormatUint(seq, 10), nil
}
