package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// Helpers shared by intensity_test.go, manage_test.go, dynamic_test.go,
// tree_test.go and bench_test.go (prefix im).

var imErrBoom = errors.New("im: boom")

// imEvent is what an imWorker reports from Init and Terminate.
type imEvent struct {
	ID     string
	Kind   string // "init" or "terminate"
	Arg    string
	Pid    pid.Pid
	Reason error // terminate only
}

func (e imEvent) String() string { return fmt.Sprintf("%s:%s(%s)", e.Kind, e.ID, e.Arg) }

// imReq is both the call and the cast type of imWorker.
type imReq struct {
	Op     string // "ping" (reply id/arg), "panic", "stop" (ctx.Stop(Reason))
	Reason error
}

type imRef = genserver.Ref[imReq, string, imReq]

// imWorker is the test child. It reports to events (if set); a trapping
// one treats an abnormal exit signal from a non-parent as a crash.
type imWorker struct {
	id          string
	arg         string
	trap        bool
	events      chan<- imEvent
	initErr     error
	onTerminate func(reason error)
}

func (w *imWorker) emit(e imEvent) {
	if w.events != nil {
		w.events <- e
	}
}

func (w *imWorker) Init(ctx *genserver.Ctx) error {
	if w.initErr != nil {
		return w.initErr
	}
	if w.trap {
		ctx.Process().TrapExit(true)
	}
	w.emit(imEvent{ID: w.id, Kind: "init", Arg: w.arg, Pid: ctx.Self()})
	return nil
}

func (w *imWorker) do(ctx *genserver.Ctx, req imReq) string {
	switch req.Op {
	case "panic":
		panic("im: asked to crash")
	case "stop":
		ctx.Stop(req.Reason)
		return "stopping"
	}
	return w.id + "/" + w.arg
}

func (w *imWorker) HandleCall(ctx *genserver.CallCtx[string], req imReq) (string, error) {
	return w.do(ctx.Ctx, req), nil
}

func (w *imWorker) HandleCast(ctx *genserver.Ctx, req imReq) { w.do(ctx, req) }

func (w *imWorker) HandleInfo(ctx *genserver.Ctx, msg any) {
	if e, ok := msg.(link.Exit); ok && !process.IsNormal(e.Reason) {
		ctx.Stop(e.Reason)
	}
}

func (w *imWorker) Terminate(_ *genserver.Ctx, reason error) {
	w.emit(imEvent{ID: w.id, Kind: "terminate", Arg: w.arg, Reason: reason})
	if w.onTerminate != nil {
		w.onTerminate(reason)
	}
}

// imSpec is a named imWorker child on backend b.
func imSpec(id string, b process.Backend, events chan<- imEvent, trap bool) supervisor.ChildSpec {
	return supervisor.ChildSpec{ID: id, Start: supervisor.GenServer(
		func() *imWorker { return &imWorker{id: id, trap: trap, events: events} },
		genserver.WithName(id), genserver.WithBackend(b))}
}

// imStartRefs starts an imWorker from newW and hands its Ref to refs.
func imStartRefs(newW func() *imWorker, refs chan<- imRef, opts ...genserver.Option) supervisor.StartFunc {
	return func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		ref, err := genserver.StartLink(ctx, sup, newW(), opts...)
		if err == nil && refs != nil {
			refs <- ref
		}
		return ref.Pid(), err
	}
}

// imStartFails is a start function that fails with imErrBoom.
func imStartFails(calls *atomic.Int32) supervisor.StartFunc {
	return func(context.Context, *process.Process) (pid.Pid, error) {
		if calls != nil {
			calls.Add(1)
		}
		return pid.Pid{}, fmt.Errorf("im: start: %w", imErrBoom)
	}
}

func imEvents() chan imEvent { return make(chan imEvent, 256) }

// imNext returns the next event, failing after spawntest.Timeout.
func imNext(t testing.TB, events <-chan imEvent) imEvent {
	t.Helper()
	return spawntest.Recv(t, events)
}

// imExpect checks that the next event is kind of id.
func imExpect(t testing.TB, events <-chan imEvent, id, kind string) imEvent {
	t.Helper()
	e := imNext(t, events)
	if e.ID != id || e.Kind != kind {
		t.Fatalf("event %v, want %s:%s", e, kind, id)
	}
	return e
}

// imExpectTerminated checks that the next event is id's Terminate with
// reason Shutdown.
func imExpectTerminated(t testing.TB, events <-chan imEvent, id string) {
	t.Helper()
	e := imExpect(t, events, id, "terminate")
	if !errors.Is(e.Reason, process.Shutdown) {
		t.Fatalf("%s terminated with %v, want shutdown", id, e.Reason)
	}
}

// imNoEvents checks that no event is queued (every event that was due has
// been sent before the caller's synchronisation point).
func imNoEvents(t testing.TB, events <-chan imEvent) {
	t.Helper()
	select {
	case e := <-events:
		t.Fatalf("unexpected event %v", e)
	default:
	}
}

func imStart(t testing.TB, n *process.Node, spec supervisor.Spec) supervisor.Ref {
	t.Helper()
	ref, err := supervisor.Start(spawntest.Context(t), n, spec)
	if err != nil {
		t.Fatalf("supervisor.Start: %v", err)
	}
	return ref
}

func imWhich(t testing.TB, ref supervisor.Ref) []supervisor.Child {
	t.Helper()
	cs, err := ref.WhichChildren(spawntest.Context(t))
	if err != nil {
		t.Fatalf("WhichChildren: %v", err)
	}
	return cs
}

func imCount(t testing.TB, ref supervisor.Ref) supervisor.Counts {
	t.Helper()
	c, err := ref.CountChildren(spawntest.Context(t))
	if err != nil {
		t.Fatalf("CountChildren: %v", err)
	}
	return c
}

// imChildOf returns child id from cs.
func imChildOf(t testing.TB, cs []supervisor.Child, id string) supervisor.Child {
	t.Helper()
	i := slices.IndexFunc(cs, func(c supervisor.Child) bool { return c.ID == id })
	if i < 0 {
		t.Fatalf("no child %q in %+v", id, cs)
	}
	return cs[i]
}

func imIDs(cs []supervisor.Child) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// imNoProcesses checks that the node has no live process left.
func imNoProcesses(t testing.TB, n *process.Node) {
	t.Helper()
	if ps := n.Processes(); len(ps) != 0 {
		t.Fatalf("processes left: %v", ps)
	}
}

// imWhereIs returns the owner of name.
func imWhereIs(t testing.TB, n *process.Node, name string) pid.Pid {
	t.Helper()
	p, ok := registry.Of(n).WhereIs(name)
	if !ok {
		t.Fatalf("name %q is not registered", name)
	}
	return p
}

func TestSUP17_ChildFailingAtStartFailsTheSupervisorAndStopsTheOthers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		start func(events chan imEvent) supervisor.StartFunc
		check func(t *testing.T, reason error)
	}{
		{"start func error", func(chan imEvent) supervisor.StartFunc { return imStartFails(nil) },
			func(t *testing.T, reason error) {
				if !errors.Is(reason, imErrBoom) {
					t.Fatalf("reason %v, want boom", reason)
				}
			}},
		{"genserver init error", func(events chan imEvent) supervisor.StartFunc {
			return supervisor.GenServer(func() *imWorker { return &imWorker{id: "c", events: events, initErr: imErrBoom} },
				genserver.WithName("c"))
		}, func(t *testing.T, reason error) {
			var se *genserver.StartError
			if !errors.As(reason, &se) || !errors.Is(reason, imErrBoom) {
				t.Fatalf("reason %v, want a *genserver.StartError wrapping boom", reason)
			}
		}},
		{"start func panics", func(chan imEvent) supervisor.StartFunc {
			return func(context.Context, *process.Process) (pid.Pid, error) { panic("im: start panics") }
		}, func(t *testing.T, reason error) {
			var pe *process.PanicError
			if !errors.As(reason, &pe) {
				t.Fatalf("reason %v, want a *process.PanicError", reason)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
				events := imEvents()
				var after atomic.Int32
				ref, err := supervisor.Start(spawntest.Context(t), n, supervisor.Spec{
					Children: []supervisor.ChildSpec{
						imSpec("a", b, events, true),
						imSpec("b", b, events, true),
						{ID: "c", Start: tc.start(events)},
						{ID: "d", Start: imStartFails(&after)},
					},
				})
				var sce *supervisor.StartChildError
				if !errors.As(err, &sce) {
					t.Fatalf("Start: %v, want a *StartChildError", err)
				}
				if sce.ID != "c" {
					t.Fatalf("StartChildError.ID = %q, want c", sce.ID)
				}
				tc.check(t, sce.Reason)
				if !ref.Pid().IsZero() {
					t.Fatalf("failed Start returned pid %v", ref.Pid())
				}
				// Started in order, terminated in reverse order with Shutdown.
				imExpect(t, events, "a", "init")
				imExpect(t, events, "b", "init")
				imExpectTerminated(t, events, "b")
				imExpectTerminated(t, events, "a")
				imNoEvents(t, events)
				if after.Load() != 0 {
					t.Fatalf("child d after the failed one was started")
				}
				imNoProcesses(t, n)
				if names := registry.Of(n).Registered(); len(names) != 0 {
					t.Fatalf("names left: %v", names)
				}
			})
		})
	}
}

func TestSUP18_InvalidSpecAndFailedStartThroughStartLink(t *testing.T) {
	t.Parallel()
	ok := supervisor.Func(func(p *process.Process) error { _, err := p.Receive(p.Context()); return err })
	invalid := []struct {
		name string
		spec supervisor.Spec
		id   string
	}{
		{"missing id", supervisor.Spec{Children: []supervisor.ChildSpec{{Start: ok}}}, ""},
		{"missing start", supervisor.Spec{Children: []supervisor.ChildSpec{{ID: "a"}}}, "a"},
		{"duplicate id", supervisor.Spec{Children: []supervisor.ChildSpec{{ID: "a", Start: ok}, {ID: "a", Start: ok}}}, "a"},
		{"bad restart", supervisor.Spec{Children: []supervisor.ChildSpec{{ID: "a", Start: ok, Restart: 9}}}, "a"},
		{"bad type", supervisor.Spec{Children: []supervisor.ChildSpec{{ID: "a", Start: ok, Type: 9}}}, "a"},
		{"bad shutdown", supervisor.Spec{Children: []supervisor.ChildSpec{{ID: "a", Start: ok, Shutdown: -2}}}, "a"},
		{"bad strategy", supervisor.Spec{Strategy: 9}, ""},
		{"negative intensity", supervisor.Spec{Intensity: -1, Period: time.Second}, ""},
		{"period under a second", supervisor.Spec{Intensity: 1, Period: 500 * time.Millisecond}, ""},
	}
	t.Run("invalid spec", func(t *testing.T) {
		t.Parallel()
		for _, tc := range invalid {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				n := spawntest.NewNode(t)
				check := func(err error) {
					t.Helper()
					var se *supervisor.SpecError
					if !errors.As(err, &se) || !errors.Is(err, supervisor.ErrInvalidSpec) {
						t.Fatalf("got %v, want a *SpecError", err)
					}
					if se.ID != tc.id {
						t.Fatalf("SpecError.ID = %q, want %q", se.ID, tc.id)
					}
				}
				_, err := supervisor.Start(spawntest.Context(t), n, tc.spec)
				check(err)
				pr := spawntest.NewProbe(t, n)
				pr.Do(func(p *process.Process) error {
					p.TrapExit(true)
					_, err = supervisor.StartLink(spawntest.Context(t), p, tc.spec)
					return nil
				})
				check(err)
				// The probe survives; nothing but it is left.
				pr.Do(func(*process.Process) error { return nil })
				if ps := n.Processes(); len(ps) != 1 || ps[0] != pr.Pid() {
					t.Fatalf("processes %v, want only the probe %v", ps, pr.Pid())
				}
			})
		}
	})
	t.Run("invalid dynamic spec", func(t *testing.T) {
		t.Parallel()
		n := spawntest.NewNode(t)
		start := func(context.Context, *process.Process, int) (pid.Pid, error) { return pid.Pid{}, nil }
		for _, spec := range []supervisor.DynamicSpec[int]{
			{},
			{Start: start, MaxChildren: -1},
			{Start: start, Restart: 9},
			{Start: start, Intensity: 1, Period: time.Millisecond},
		} {
			_, err := supervisor.StartDynamic(spawntest.Context(t), n, spec)
			var se *supervisor.SpecError
			if !errors.As(err, &se) || !errors.Is(err, supervisor.ErrInvalidSpec) {
				t.Fatalf("StartDynamic(%+v): %v, want a *SpecError", spec, err)
			}
		}
		imNoProcesses(t, n)
	})
	failing := supervisor.Spec{Children: []supervisor.ChildSpec{{ID: "bad", Start: imStartFails(nil)}}}
	t.Run("trapping caller", func(t *testing.T) {
		t.Parallel()
		spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
			pr := spawntest.NewProbe(t, n, process.WithBackend(b))
			var err error
			pr.Do(func(p *process.Process) error {
				p.TrapExit(true)
				_, err = supervisor.StartLink(spawntest.Context(t), p, failing)
				return nil
			})
			var sce *supervisor.StartChildError
			if !errors.As(err, &sce) || sce.ID != "bad" || !errors.Is(err, imErrBoom) {
				t.Fatalf("StartLink: %v, want a *StartChildError for bad", err)
			}
			msg := pr.Receive()
			ex, ok := msg.(link.Exit)
			if !ok {
				t.Fatalf("probe got %#v, want a link.Exit", msg)
			}
			if ex.From.IsZero() || ex.From == pr.Pid() {
				t.Fatalf("link.Exit from %v", ex.From)
			}
			if !errors.As(ex.Reason, &sce) || sce.ID != "bad" {
				t.Fatalf("link.Exit reason %v, want the *StartChildError", ex.Reason)
			}
			pr.ExpectEmpty()
			if !n.Alive(pr.Pid()) {
				t.Fatal("trapping caller died")
			}
			if ps := n.Processes(); len(ps) != 1 {
				t.Fatalf("processes %v, want only the probe", ps)
			}
		})
	})
	t.Run("non-trapping caller", func(t *testing.T) {
		t.Parallel()
		spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
			pr := spawntest.NewProbe(t, n, process.WithBackend(b))
			var err error
			pr.Do(func(p *process.Process) error {
				_, err = supervisor.StartLink(spawntest.Context(t), p, failing)
				return nil
			})
			var sce *supervisor.StartChildError
			if !errors.As(err, &sce) || sce.ID != "bad" {
				t.Fatalf("StartLink: %v, want a *StartChildError for bad", err)
			}
			pr.Do(func(*process.Process) error { return nil })
			pr.ExpectEmpty()
			if !n.Alive(pr.Pid()) {
				t.Fatal("non-trapping caller died")
			}
			if ps := n.Processes(); len(ps) != 1 {
				t.Fatalf("processes %v, want only the probe", ps)
			}
		})
	})
}

func TestSUP19_IgnoredChildStartKeepsOrDropsTheSpec(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		events := imEvents()
		ignoreFn := func(context.Context, *process.Process) (pid.Pid, error) {
			return pid.Pid{}, fmt.Errorf("im: not now: %w", supervisor.ErrIgnore)
		}
		ignoreGS := func(id string) supervisor.StartFunc {
			return supervisor.GenServer(func() *imWorker { return &imWorker{id: id, events: events, initErr: genserver.Ignore} },
				genserver.WithName(id), genserver.WithBackend(b))
		}
		ref := imStart(t, n, supervisor.Spec{Children: []supervisor.ChildSpec{
			{ID: "fn", Start: ignoreFn},
			{ID: "gs", Start: ignoreGS("gs"), Restart: supervisor.Transient},
			{ID: "tmp", Start: ignoreFn, Restart: supervisor.Temporary},
			{ID: "tmpgs", Start: ignoreGS("tmpgs"), Restart: supervisor.Temporary},
			imSpec("ok", b, events, false),
		}})
		imExpect(t, events, "ok", "init")

		check := func(wantIDs ...string) {
			t.Helper()
			cs := imWhich(t, ref)
			if got := imIDs(cs); !slices.Equal(got, wantIDs) {
				t.Fatalf("children %v, want %v", got, wantIDs)
			}
			for _, c := range cs {
				if c.ID == "ok" {
					continue
				}
				if c.Status != supervisor.NotRunning || !c.Pid.IsZero() {
					t.Fatalf("ignored child %+v: want NotRunning with no pid", c)
				}
			}
		}
		check("fn", "gs", "ok")
		if c := imCount(t, ref); c != (supervisor.Counts{Specs: 3, Active: 1, Workers: 3}) {
			t.Fatalf("counts %+v", c)
		}

		for _, tc := range []struct {
			spec supervisor.ChildSpec
			kept bool
		}{
			{supervisor.ChildSpec{ID: "fn2", Start: ignoreFn}, true},
			{supervisor.ChildSpec{ID: "gs2", Start: ignoreGS("gs2")}, true},
			{supervisor.ChildSpec{ID: "tmp2", Start: ignoreFn, Restart: supervisor.Temporary}, false},
			{supervisor.ChildSpec{ID: "tmpgs2", Start: ignoreGS("tmpgs2"), Restart: supervisor.Temporary}, false},
		} {
			p, err := ref.StartChild(ctx, tc.spec)
			if err != nil || !p.IsZero() {
				t.Fatalf("StartChild(%s) = %v, %v; want the zero Pid and nil", tc.spec.ID, p, err)
			}
		}
		check("fn", "gs", "ok", "fn2", "gs2")

		// Restarting an ignored child ignores again.
		p, err := ref.RestartChild(ctx, "gs")
		if err != nil || !p.IsZero() {
			t.Fatalf("RestartChild(gs) = %v, %v; want the zero Pid and nil", p, err)
		}
		check("fn", "gs", "ok", "fn2", "gs2")

		if names := registry.Of(n).Registered(); !slices.Equal(names, []string{"ok"}) {
			t.Fatalf("names %v, want [ok]", names)
		}
		if ps := n.Processes(); len(ps) != 2 {
			t.Fatalf("processes %v, want the supervisor and ok", ps)
		}
		imNoEvents(t, events)
	})
}

func TestSUP20_ChildStartErrorsThroughTheAPI(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		events := imEvents()
		var fail atomic.Bool
		flaky := func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
			if fail.Load() {
				return pid.Pid{}, fmt.Errorf("im: flaky: %w", imErrBoom)
			}
			ref, err := genserver.StartLink(ctx, sup, &imWorker{id: "flaky", trap: true, events: events},
				genserver.WithName("flaky"), genserver.WithBackend(b))
			return ref.Pid(), err
		}
		ref := imStart(t, n, supervisor.Spec{Children: []supervisor.ChildSpec{{ID: "flaky", Start: flaky}}})
		imExpect(t, events, "flaky", "init")

		// StartChild with a failing start: *StartChildError, no spec kept.
		_, err := ref.StartChild(ctx, supervisor.ChildSpec{ID: "bad", Start: imStartFails(nil)})
		var sce *supervisor.StartChildError
		if !errors.As(err, &sce) || sce.ID != "bad" || !errors.Is(err, imErrBoom) {
			t.Fatalf("StartChild(bad): %v, want a *StartChildError wrapping boom", err)
		}
		badInit := supervisor.GenServer(func() *imWorker { return &imWorker{id: "bad", initErr: imErrBoom} },
			genserver.WithName("bad"), genserver.WithBackend(b))
		_, err = ref.StartChild(ctx, supervisor.ChildSpec{ID: "bad", Start: badInit})
		var gse *genserver.StartError
		if !errors.As(err, &sce) || sce.ID != "bad" || !errors.As(err, &gse) || !errors.Is(err, imErrBoom) {
			t.Fatalf("StartChild(bad init): %v, want a *StartChildError wrapping a *genserver.StartError", err)
		}
		if got := imIDs(imWhich(t, ref)); !slices.Equal(got, []string{"flaky"}) {
			t.Fatalf("children %v, want [flaky]", got)
		}
		if c := imCount(t, ref); c.Specs != 1 {
			t.Fatalf("counts %+v, want 1 spec", c)
		}
		if _, ok := registry.Of(n).WhereIs("bad"); ok {
			t.Fatal("failed child left its name")
		}
		// The id is free: no spec was kept.
		p, err := ref.StartChild(ctx, imSpec("bad", b, events, false))
		if err != nil || p.IsZero() {
			t.Fatalf("StartChild(bad) with a good start: %v, %v", p, err)
		}
		imExpect(t, events, "bad", "init")

		// RestartChild of a stopped child whose start now fails.
		if err := ref.TerminateChild(ctx, "flaky"); err != nil {
			t.Fatalf("TerminateChild: %v", err)
		}
		imExpectTerminated(t, events, "flaky")
		fail.Store(true)
		p, err = ref.RestartChild(ctx, "flaky")
		if !errors.Is(err, imErrBoom) || !p.IsZero() {
			t.Fatalf("RestartChild = %v, %v; want the zero Pid and boom", p, err)
		}
		c := imChildOf(t, imWhich(t, ref), "flaky")
		if c.Status != supervisor.NotRunning || !c.Pid.IsZero() {
			t.Fatalf("flaky after a failed restart: %+v, want NotRunning", c)
		}
		fail.Store(false)
		p, err = ref.RestartChild(ctx, "flaky")
		if err != nil || p.IsZero() {
			t.Fatalf("RestartChild once the start works: %v, %v", p, err)
		}
		if e := imExpect(t, events, "flaky", "init"); e.Pid != p {
			t.Fatalf("restarted pid %v, RestartChild said %v", e.Pid, p)
		}
		imNoEvents(t, events)
	})
}

func TestSUP21_WhichChildrenAndCountChildren(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		events := imEvents()
		plain := supervisor.Func(func(p *process.Process) error {
			_, err := p.Receive(p.Context())
			return err
		}, process.WithBackend(b), process.WithName("plain"))
		ref := imStart(t, n, supervisor.Spec{Children: []supervisor.ChildSpec{
			imSpec("w1", b, events, false),
			{ID: "s1", Type: supervisor.SupervisorChild, Start: supervisor.Supervisor(supervisor.Spec{
				Name: "s1", Backend: b, Children: []supervisor.ChildSpec{imSpec("s1w", b, events, false)}})},
			imSpec("w2", b, events, false),
			{ID: "d1", Type: supervisor.SupervisorChild, Restart: supervisor.Transient,
				Start: supervisor.DynamicSupervisor(supervisor.DynamicSpec[int]{
					Name: "d1", Backend: b,
					Start: func(context.Context, *process.Process, int) (pid.Pid, error) { return pid.Pid{}, nil }})},
			{ID: "w3", Start: plain, Restart: supervisor.Temporary},
		}})
		imExpect(t, events, "w1", "init")
		imExpect(t, events, "s1w", "init")
		imExpect(t, events, "w2", "init")
		if err := ref.TerminateChild(ctx, "w2"); err != nil {
			t.Fatalf("TerminateChild(w2): %v", err)
		}

		want := []supervisor.Child{
			{ID: "w1", Pid: imWhereIs(t, n, "w1"), Status: supervisor.Running, Type: supervisor.Worker},
			{ID: "s1", Pid: imWhereIs(t, n, "s1"), Status: supervisor.Running, Type: supervisor.SupervisorChild},
			{ID: "w2", Status: supervisor.NotRunning, Type: supervisor.Worker},
			{ID: "d1", Pid: imWhereIs(t, n, "d1"), Status: supervisor.Running, Type: supervisor.SupervisorChild, Restart: supervisor.Transient},
			{ID: "w3", Pid: imWhereIs(t, n, "plain"), Status: supervisor.Running, Type: supervisor.Worker, Restart: supervisor.Temporary},
		}
		if got := imWhich(t, ref); !slices.Equal(got, want) {
			t.Fatalf("WhichChildren:\n got %+v\nwant %+v", got, want)
		}
		if got, want := imCount(t, ref), (supervisor.Counts{Specs: 5, Active: 4, Supervisors: 2, Workers: 3}); got != want {
			t.Fatalf("CountChildren = %+v, want %+v", got, want)
		}
		imNoEvents(t, events)
	})
}

func TestSUP22_TerminateRestartDeleteLifeCycle(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		events := imEvents()
		ref := imStart(t, n, supervisor.Spec{Children: []supervisor.ChildSpec{
			imSpec("a", b, events, true),
			imSpec("b", b, events, true),
		}})
		a0 := imExpect(t, events, "a", "init")
		b0 := imExpect(t, events, "b", "init")

		// terminate_child: ok, the child dies with Shutdown, its spec stays.
		down := spawntest.WatchExit(t, n, a0.Pid)
		if err := ref.TerminateChild(ctx, "a"); err != nil {
			t.Fatalf("TerminateChild(a): %v", err)
		}
		imExpectTerminated(t, events, "a")
		if r := down.Wait(); !errors.Is(r, process.Shutdown) {
			t.Fatalf("a exited with %v, want shutdown", r)
		}
		if c := imChildOf(t, imWhich(t, ref), "a"); c.Status != supervisor.NotRunning || !c.Pid.IsZero() {
			t.Fatalf("a after TerminateChild: %+v", c)
		}
		// A second terminate_child is ok too.
		if err := ref.TerminateChild(ctx, "a"); err != nil {
			t.Fatalf("second TerminateChild(a): %v", err)
		}

		// restart_child gives a new pid; then running; unknown id not found.
		p, err := ref.RestartChild(ctx, "a")
		if err != nil || p.IsZero() || p == a0.Pid {
			t.Fatalf("RestartChild(a) = %v, %v; want a new pid", p, err)
		}
		if e := imExpect(t, events, "a", "init"); e.Pid != p {
			t.Fatalf("a restarted as %v, RestartChild said %v", e.Pid, p)
		}
		if c := imChildOf(t, imWhich(t, ref), "a"); c.Status != supervisor.Running || c.Pid != p {
			t.Fatalf("a after RestartChild: %+v", c)
		}
		if _, err := ref.RestartChild(ctx, "a"); !errors.Is(err, supervisor.ErrRunning) {
			t.Fatalf("RestartChild(running a): %v, want ErrRunning", err)
		}
		if _, err := ref.RestartChild(ctx, "nope"); !errors.Is(err, supervisor.ErrNotFound) {
			t.Fatalf("RestartChild(nope): %v, want ErrNotFound", err)
		}

		// delete_child: running gives ErrRunning; after terminate it is ok,
		// and then the id is unknown.
		if err := ref.DeleteChild(ctx, "a"); !errors.Is(err, supervisor.ErrRunning) {
			t.Fatalf("DeleteChild(running a): %v, want ErrRunning", err)
		}
		if err := ref.TerminateChild(ctx, "a"); err != nil {
			t.Fatalf("TerminateChild(a): %v", err)
		}
		imExpectTerminated(t, events, "a")
		if err := ref.DeleteChild(ctx, "a"); err != nil {
			t.Fatalf("DeleteChild(a): %v", err)
		}
		if _, err := ref.RestartChild(ctx, "a"); !errors.Is(err, supervisor.ErrNotFound) {
			t.Fatalf("RestartChild(deleted a): %v, want ErrNotFound", err)
		}
		if err := ref.DeleteChild(ctx, "a"); !errors.Is(err, supervisor.ErrNotFound) {
			t.Fatalf("DeleteChild(deleted a): %v, want ErrNotFound", err)
		}
		if err := ref.TerminateChild(ctx, "a"); !errors.Is(err, supervisor.ErrNotFound) {
			t.Fatalf("TerminateChild(deleted a): %v, want ErrNotFound", err)
		}

		// start_child with a running id, then with a present but stopped id.
		_, err = ref.StartChild(ctx, imSpec("b", b, events, true))
		var ase *supervisor.AlreadyStartedError
		if !errors.As(err, &ase) || ase.ID != "b" || ase.Pid != b0.Pid || !errors.Is(err, supervisor.ErrAlreadyStarted) {
			t.Fatalf("StartChild(running b): %v, want *AlreadyStartedError{b, %v}", err, b0.Pid)
		}
		if err := ref.TerminateChild(ctx, "b"); err != nil {
			t.Fatalf("TerminateChild(b): %v", err)
		}
		imExpectTerminated(t, events, "b")
		if _, err := ref.StartChild(ctx, imSpec("b", b, events, true)); !errors.Is(err, supervisor.ErrAlreadyPresent) {
			t.Fatalf("StartChild(stopped b): %v, want ErrAlreadyPresent", err)
		}
		want := []supervisor.Child{{ID: "b", Status: supervisor.NotRunning, Type: supervisor.Worker}}
		if got := imWhich(t, ref); !slices.Equal(got, want) {
			t.Fatalf("children %+v, want %+v", got, want)
		}
		imNoEvents(t, events)
		if ps := n.Processes(); !slices.Equal(ps, []pid.Pid{ref.Pid()}) {
			t.Fatalf("processes %v, want only the supervisor", ps)
		}
	})
}
