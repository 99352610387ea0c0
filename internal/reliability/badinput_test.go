package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// TestBadInput_EveryPublicFunction calls every exported function and
// method of process, link, registry, genserver and supervisor with zero,
// dead, foreign-node and nil arguments, empty and 1 MiB names, invalid
// specs, and after the node was stopped. Each case must return one of the
// documented errors (errors.Is against the exported sentinels), or be a
// documented no-op, within a deadline and without panicking.

// badBig is a 1 MiB name: no length limit is documented, so it is a name
// like any other.
var badBig = strings.Repeat("n", 1<<20)

var (
	errBadTrue    = errors.New("bad input: got true, want false")
	errBadNonZero = errors.New("bad input: got a non-zero value")
	errBadMissing = errors.New("bad input: an expected message or callback did not come")
)

func badFalse(b bool) error {
	if b {
		return errBadTrue
	}
	return nil
}

func badZero(zero bool) error {
	if !zero {
		return errBadNonZero
	}
	return nil
}

// badPanic carries a panic out of a process.
type badPanic struct{ v any }

func (p *badPanic) Error() string { return fmt.Sprintf("panic: %v", p.v) }

// badJob is a closure run inside an actor process.
type badJob struct {
	fn   func(p *process.Process) error
	done chan error
}

func badIsJob(m any) bool { _, ok := m.(badJob); return ok }

func (j badJob) run(p *process.Process) {
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				err = &badPanic{v}
			}
		}()
		err = j.fn(p)
	}()
	j.done <- err
}

// badActorLoop runs jobs and leaves every other message queued for the
// jobs to receive.
func badActorLoop(p *process.Process) error {
	for {
		m, err := p.ReceiveMatch(context.Background(), badIsJob)
		if err != nil {
			return err
		}
		m.(badJob).run(p)
	}
}

// badHandler is a Handler actor.
type badHandler struct{}

func (badHandler) HandleMessage(p *process.Process, msg any) error {
	if j, ok := msg.(badJob); ok {
		j.run(p)
	}
	return nil
}

// badServer is a minimal genserver: it echoes calls.
type badServer struct{}

func (*badServer) HandleCall(_ *genserver.CallCtx[int], req int) (int, error) { return req, nil }
func (*badServer) HandleCast(*genserver.Ctx, int)                             {}

// badSlowInit is a server whose Init waits until it is killed.
type badSlowInit struct{ badServer }

func (*badSlowInit) Init(ctx *genserver.Ctx) error {
	<-ctx.Context().Done()
	return nil
}

// badVia is a Registrar over a map.
type badVia struct{ names map[string]pid.Pid }

func (v *badVia) RegisterName(name string, p pid.Pid) bool {
	if _, ok := v.names[name]; ok {
		return false
	}
	v.names[name] = p
	return true
}
func (v *badVia) UnregisterName(name string) { delete(v.names, name) }
func (v *badVia) WhereIsName(name string) (pid.Pid, bool) {
	p, ok := v.names[name]
	return p, ok
}

// badEnv is what the cases act on.
type badEnv struct {
	t         *testing.T
	n         *process.Node
	reg       registry.Registry
	actor     pid.Pid // a Func process running jobs
	handler   pid.Pid // a Handler process running jobs
	dead      pid.Pid // a dead process of n
	deadProc  *process.Process
	foreign   pid.Pid // a pid of a node that does not exist
	gs        genserver.Ref[int, int, int]
	deadGS    genserver.Ref[int, int, int]
	sup       supervisor.Ref
	dyn       supervisor.Dynamic[int]
	fullBox   pid.Pid // a process whose bounded mailbox is full
	stopped   *process.Node
	stPid     pid.Pid
	stProc    *process.Process
	stGS      genserver.Ref[int, int, int]
	stSup     supervisor.Ref
	stDyn     supervisor.Dynamic[int]
	stoppedGS genserver.Ref[int, int, int] // a server stopped on a live node
}

func badStart(t *testing.T, n *process.Node) (pid.Pid, *process.Process) {
	t.Helper()
	handles := make(chan *process.Process, 1)
	p, err := n.Spawn(func(p *process.Process) error {
		handles <- p
		return badActorLoop(p)
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, <-handles
}

func badNewEnv(t *testing.T) *badEnv {
	ctx := spawntest.Context(t)
	e := &badEnv{t: t, n: spawntest.NewNode(t), foreign: pid.New(pid.NewNodeID(), 1)}
	e.reg = registry.Of(e.n)
	e.actor, _ = badStart(t, e.n)
	var err error
	if e.handler, err = e.n.SpawnHandler(badHandler{}); err != nil {
		t.Fatal(err)
	}
	handles := make(chan *process.Process, 1)
	if e.dead, err = e.n.Spawn(func(p *process.Process) error { handles <- p; return nil }); err != nil {
		t.Fatal(err)
	}
	e.deadProc = <-handles
	spawntest.WaitExit(t, e.n, e.dead)
	if e.gs, err = genserver.Start(ctx, e.n, &badServer{}); err != nil {
		t.Fatal(err)
	}
	if e.deadGS, err = genserver.Start(ctx, e.n, &badServer{}); err != nil {
		t.Fatal(err)
	}
	if err := e.deadGS.Stop(ctx, nil); err != nil {
		t.Fatal(err)
	}
	e.stoppedGS = e.deadGS
	worker := supervisor.Func(badActorLoop)
	if e.sup, err = supervisor.Start(ctx, e.n, supervisor.Spec{Intensity: 100, Period: time.Second,
		Children: []supervisor.ChildSpec{{ID: "w", Start: worker}}}); err != nil {
		t.Fatal(err)
	}
	if e.dyn, err = supervisor.StartDynamic(ctx, e.n, supervisor.DynamicSpec[int]{MaxChildren: 1,
		Start: func(ctx context.Context, sup *process.Process, _ int) (pid.Pid, error) {
			return sup.SpawnLink(badActorLoop)
		}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dyn.StartChild(ctx, 1); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	if e.fullBox, err = e.n.Spawn(func(p *process.Process) error {
		select {
		case <-gate:
		case <-p.Context().Done():
		}
		return nil
	}, process.WithMailboxLimit(1)); err != nil {
		t.Fatal(err)
	}
	if err := e.n.Send(e.fullBox, "fill"); err != nil {
		t.Fatal(err)
	}

	// A node with a process, a server and supervisors, then stopped.
	e.stopped = process.NewNode(process.WithLogger(nil))
	e.stPid, e.stProc = badStart(t, e.stopped)
	if e.stGS, err = genserver.Start(ctx, e.stopped, &badServer{}); err != nil {
		t.Fatal(err)
	}
	if e.stSup, err = supervisor.Start(ctx, e.stopped, supervisor.Spec{}); err != nil {
		t.Fatal(err)
	}
	if e.stDyn, err = supervisor.StartDynamic(ctx, e.stopped, supervisor.DynamicSpec[int]{
		Start: func(ctx context.Context, sup *process.Process, _ int) (pid.Pid, error) {
			return sup.SpawnLink(badActorLoop)
		}}); err != nil {
		t.Fatal(err)
	}
	if err := e.stopped.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// in runs fn inside the Func actor.
func (e *badEnv) in(fn func(self *process.Process) error) error { return e.inPid(e.n, e.actor, fn) }

// inHandler runs fn inside the Handler actor.
func (e *badEnv) inHandler(fn func(self *process.Process) error) error {
	return e.inPid(e.n, e.handler, fn)
}

func (e *badEnv) inPid(n *process.Node, p pid.Pid, fn func(self *process.Process) error) error {
	j := badJob{fn: fn, done: make(chan error, 1)}
	if err := n.Send(p, j); err != nil {
		return fmt.Errorf("send job: %w", err)
	}
	select {
	case err := <-j.done:
		return err
	case <-time.After(spawntest.Timeout):
		return errors.New("the actor did not run the job (hung or dead)")
	}
}

// receive takes the oldest message matching match from self's mailbox,
// waiting a little for it.
func badReceive(self *process.Process, match func(any) bool) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	defer cancel()
	m, err := self.ReceiveMatch(ctx, match)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadMissing, err)
	}
	return m, nil
}

// badWant is how a case's result is judged.
type badWant struct {
	errs []error // one of these, under errors.Is
	noop string  // a documented no-op: nil, with this description
	ok   string  // valid input, accepted: nil, with this description
}

func wantErr(errs ...error) badWant { return badWant{errs: errs} }
func wantNoop(why string) badWant   { return badWant{noop: why} }
func wantOK(why string) badWant     { return badWant{ok: why} }

// either accepts nil or one of errs: races the documentation allows.
func either(why string, errs ...error) badWant { return badWant{errs: errs, ok: why} }

type badCase struct {
	name string
	want badWant
	call func() error
}

// badKinds names the sentinels, for the figures.
var badKinds = []struct {
	err  error
	name string
}{
	{process.ErrZeroPid, "ErrZeroPid"}, {process.ErrNilProcess, "ErrNilProcess"}, {process.ErrNilNode, "ErrNilNode"},
	{process.ErrNodeStopped, "ErrNodeStopped"}, {process.ErrNilFunc, "ErrNilFunc"}, {process.ErrCallerExited, "ErrCallerExited"},
	{process.ErrNotReceiver, "ErrNotReceiver"}, {process.ErrInvalidBackend, "ErrInvalidBackend"},
	{process.ErrBadInterval, "ErrBadInterval"}, {process.ErrMailboxFull, "ErrMailboxFull"},
	{process.ErrBadMailboxLimit, "ErrBadMailboxLimit"}, {process.ErrNilContext, "ErrNilContext"},
	{registry.ErrEmptyName, "ErrEmptyName"}, {registry.ErrNameTaken, "ErrNameTaken"}, {registry.ErrNotRegistered, "ErrNotRegistered"},
	{registry.ErrAlreadyNamed, "ErrAlreadyNamed"}, {registry.ErrNotJoined, "ErrNotJoined"},
	{registry.ErrKeyTaken, "ErrKeyTaken"}, {registry.ErrNotOwner, "ErrNotOwner"}, {registry.ErrNotUnique, "ErrNotUnique"},
	{registry.ErrInvalidOptions, "ErrInvalidOptions"}, {registry.ErrNilKeys, "ErrNilKeys"}, {registry.ErrUnhashableKey, "ErrUnhashableKey"},
	{genserver.ErrZeroRef, "ErrZeroRef"}, {genserver.ErrNilServer, "ErrNilServer"}, {genserver.ErrTimeout, "ErrTimeout"},
	{genserver.ErrWrongServer, "ErrWrongServer"},
	{genserver.ErrAlreadyStarted, "genserver.ErrAlreadyStarted"},
	{supervisor.ErrInvalidSpec, "ErrInvalidSpec"}, {supervisor.ErrNotFound, "ErrNotFound"}, {supervisor.ErrRunning, "ErrRunning"},
	{supervisor.ErrAlreadyPresent, "ErrAlreadyPresent"}, {supervisor.ErrAlreadyStarted, "supervisor.ErrAlreadyStarted"},
	{supervisor.ErrMaxChildren, "ErrMaxChildren"}, {supervisor.ErrDynamic, "ErrDynamic"},
	{supervisor.ErrNotDynamic, "ErrNotDynamic"}, {supervisor.ErrArgumentType, "ErrArgumentType"},
	{process.NoProc, "NoProc"}, {process.NoConnection, "NoConnection"}, {process.Normal, "Normal"},
	{context.Canceled, "context.Canceled"},
}

func badKind(err error) string {
	var prefix string
	var ce *genserver.CallError
	var sce *supervisor.StartChildError
	var se *genserver.StartError
	switch {
	case errors.As(err, &sce):
		prefix = "StartChildError/"
	case errors.As(err, &se):
		prefix = "StartError/"
	case errors.As(err, &ce):
		prefix = "CallError/"
	}
	for _, k := range badKinds {
		if errors.Is(err, k.err) {
			return prefix + k.name
		}
	}
	var pe *process.PanicError
	if errors.As(err, &pe) {
		return prefix + "PanicError"
	}
	return prefix + "its-own-error"
}

func TestBadInput_EveryPublicFunction(t *testing.T) {
	t.Parallel()
	seed := seedFromEnv(t) // the cases are fixed; the seed only orders them
	e := badNewEnv(t)
	n, z, dead, foreign := e.n, pid.Pid{}, e.dead, e.foreign
	var cases []badCase
	add := func(name string, want badWant, call func() error) {
		cases = append(cases, badCase{name, want, call})
	}
	fn := func(p *process.Process) error { return nil }
	var nilNode *process.Node
	var nilProc *process.Process
	badBackend := process.WithBackend(process.Backend(9))
	done, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	targets := []struct {
		name string
		p    pid.Pid
		send badWant // Send, Exit and the like
	}{
		{"zero", z, wantErr(process.ErrZeroPid)},
		{"foreign", foreign, wantErr(process.NoConnection)},
		{"dead", dead, wantNoop("a signal or message to a dead process is dropped, as in Erlang")},
	}

	// ---- process: Node with a nil receiver.
	add("(*Node)(nil).ID", wantNoop("zero NodeID"), func() error { return badZero(nilNode.ID().IsZero()) })
	add("(*Node)(nil).Logger", wantNoop("a no-op logger"), func() error { nilNode.Logger().Info("x"); return nil })
	add("(*Node)(nil).SetLogger", wantNoop("ignored"), func() error { nilNode.SetLogger(nil); return nil })
	add("(*Node)(nil).MakeRef", wantNoop("zero Ref"), func() error { return badZero(nilNode.MakeRef().IsZero()) })
	add("(*Node)(nil).Spawn", wantErr(process.ErrNilNode), func() error { _, err := nilNode.Spawn(fn); return err })
	add("(*Node)(nil).SpawnHandler", wantErr(process.ErrNilNode), func() error { _, err := nilNode.SpawnHandler(badHandler{}); return err })
	add("(*Node)(nil).Send", wantErr(process.ErrNilNode), func() error { return nilNode.Send(e.actor, 1) })
	add("(*Node)(nil).SendWait", wantErr(process.ErrNilNode), func() error { return nilNode.SendWait(bg, e.actor, 1) })
	add("(*Node)(nil).Exit", wantErr(process.ErrNilNode), func() error { return nilNode.Exit(e.actor, process.Kill) })
	add("(*Node)(nil).Alive", wantNoop("false"), func() error { return badFalse(nilNode.Alive(e.actor)) })
	add("(*Node)(nil).Processes", wantNoop("nil"), func() error { return badZero(nilNode.Processes() == nil) })
	add("(*Node)(nil).Info", wantErr(process.ErrNilNode), func() error { _, err := nilNode.Info(e.actor); return err })
	add("(*Node)(nil).Stats", wantNoop("zero Stats"), func() error { return badZero(nilNode.Stats() == process.Stats{}) })
	add("(*Node)(nil).BlockingPool", wantNoop("0, 0"), func() error { b, u := nilNode.BlockingPool(); return badZero(b == 0 && u == 0) })
	add("(*Node)(nil).Stop", wantErr(process.ErrNilNode), func() error { return nilNode.Stop(bg) })

	// ---- process: Node methods with bad arguments.
	add("Node.Spawn(nil)", wantErr(process.ErrNilFunc), func() error { _, err := n.Spawn(nil); return err })
	add("Node.SpawnHandler(nil)", wantErr(process.ErrNilFunc), func() error { _, err := n.SpawnHandler(nil); return err })
	add("Node.Spawn(WithBackend(9))", wantErr(process.ErrInvalidBackend), func() error { _, err := n.Spawn(fn, badBackend); return err })
	add("Node.SpawnHandler(WithBackend(9))", wantErr(process.ErrInvalidBackend), func() error {
		_, err := n.SpawnHandler(badHandler{}, badBackend)
		return err
	})
	add("Node.Spawn(WithMailboxLimit(-1))", wantErr(process.ErrBadMailboxLimit), func() error {
		_, err := n.Spawn(fn, process.WithMailboxLimit(-1))
		return err
	})
	add("Node.Spawn(WithName(\"\"))", wantOK("an empty WithName registers nothing"), func() error {
		p, err := n.Spawn(fn, process.WithName(""))
		if err == nil && p.IsZero() {
			return errBadNonZero
		}
		return err
	})
	add("Node.Spawn(WithName(1MiB))", wantOK("no name length limit is documented"), func() error {
		p, err := n.Spawn(badActorLoop, process.WithName(badBig))
		if err != nil {
			return err
		}
		if got, ok := e.reg.WhereIs(badBig); !ok || got != p {
			return errBadMissing
		}
		return n.Exit(p, process.Kill)
	})
	add("Node.Spawn(WithName(taken))", wantErr(registry.ErrNameTaken), func() error {
		if err := e.reg.Register("bad-taken", e.actor); err != nil {
			return err
		}
		defer e.reg.Unregister("bad-taken")
		_, err := n.Spawn(fn, process.WithName("bad-taken"))
		return err
	})
	add("Node.Spawn(WithLink(nil))", wantNoop("WithLink(nil) links nothing"), func() error { _, err := n.Spawn(fn, process.WithLink(nil)); return err })
	add("Node.Spawn(WithLink(dead parent))", wantErr(process.ErrCallerExited), func() error {
		_, err := n.Spawn(fn, process.WithLink(e.deadProc))
		return err
	})
	add("Node.Spawn(WithLink(parent on a stopped node))", wantErr(process.NoConnection), func() error {
		_, err := n.Spawn(fn, process.WithLink(e.stProc))
		return err
	})
	add("Node.Spawn(OnExit(nil))", wantOK("no exit callback"), func() error { _, err := n.Spawn(fn, process.OnExit(nil)); return err })
	add("Node.SpawnHandler(typed nil Handler)", wantOK("the process crashes with a *PanicError; the program does not"), func() error {
		p, err := n.SpawnHandler((*badNilHandler)(nil))
		if err != nil {
			return err
		}
		exited := make(chan error, 1)
		if _, err := link.Watch(n, p, func(d link.Down) { exited <- d.Reason }); err != nil {
			return err
		}
		if err := n.Send(p, 1); err != nil {
			return err
		}
		var pe *process.PanicError
		select {
		case r := <-exited:
			if !errors.As(r, &pe) {
				return fmt.Errorf("exit reason %v, want a *PanicError", r)
			}
			return nil
		case <-time.After(spawntest.Timeout):
			return errBadMissing
		}
	})
	for _, tg := range targets {
		p := tg.p
		add("Node.Send/"+tg.name, tg.send, func() error { return n.Send(p, 1) })
		add("Node.SendWait/"+tg.name, tg.send, func() error { return n.SendWait(bg, p, 1) })
		add("Node.Exit/"+tg.name, tg.send, func() error { return n.Exit(p, errors.New("x")) })
		add("Node.Exit(Kill)/"+tg.name, tg.send, func() error { return n.Exit(p, process.Kill) })
		add("Node.Alive/"+tg.name, wantNoop("false"), func() error { return badFalse(n.Alive(p)) })
		info := tg.send
		if tg.name == "dead" {
			info = wantErr(process.NoProc)
		}
		add("Node.Info/"+tg.name, info, func() error { _, err := n.Info(p); return err })
		add("process.Send/"+tg.name, tg.send, func() error { return process.Send(p, 1) })
		add("process.Exit/"+tg.name, tg.send, func() error { return process.Exit(p, process.Kill) })
		add("process.Alive/"+tg.name, wantNoop("false"), func() error { return badFalse(process.Alive(p)) })
	}
	add("Node.Send(nil message)", wantOK("nil is a message like any other"), func() error { return n.Send(e.handler, nil) })
	add("Node.Exit(live, nil reason)", wantNoop("nil is Normal, which a process that does not trap ignores"), func() error {
		if err := n.Exit(e.actor, nil); err != nil {
			return err
		}
		return badZero(n.Alive(e.actor))
	})
	add("Node.Send(full bounded mailbox)", wantErr(process.ErrMailboxFull), func() error { return n.Send(e.fullBox, 2) })
	add("Node.SendWait(full, done ctx)", wantErr(context.Canceled), func() error { return n.SendWait(done, e.fullBox, 2) })
	add("Node.Stop(done ctx) of an idle node", either("Stop may finish before it sees ctx is done", context.Canceled), func() error {
		return process.NewNode(process.WithLogger(nil)).Stop(done)
	})
	for _, size := range []int{0, -1} {
		add(fmt.Sprintf("NewNode(WithBlockingPool(%d))", size), wantOK("the default bound is used"), func() error {
			nn := process.NewNode(process.WithLogger(nil), process.WithBlockingPool(size))
			defer nn.Stop(bg)
			if b, _ := nn.BlockingPool(); b <= 0 {
				return fmt.Errorf("bound %d", b)
			}
			return nil
		})
	}
	add("process.Spawn(nil)", wantErr(process.ErrNilFunc), func() error { _, err := process.Spawn(nil); return err })
	add("process.Spawn(WithBackend(9))", wantErr(process.ErrInvalidBackend), func() error { _, err := process.Spawn(fn, badBackend); return err })
	add("process.Send(pid of a stopped node)", wantErr(process.NoConnection), func() error { return process.Send(e.stPid, 1) })
	add("process.Exit(pid of a stopped node)", wantErr(process.NoConnection), func() error { return process.Exit(e.stPid, process.Kill) })
	add("process.Alive(pid of a stopped node)", wantNoop("false"), func() error { return badFalse(process.Alive(e.stPid)) })
	add("process.ShutdownWith(nil)", wantOK("a shutdown without a cause"), func() error {
		r := process.ShutdownWith(nil)
		if !errors.Is(r, process.Shutdown) || r.Error() == "" || !process.IsShutdown(r) || process.IsNormal(r) {
			return fmt.Errorf("ShutdownWith(nil) = %v", r)
		}
		return nil
	})
	add("process.IsNormal(nil), IsShutdown(nil)", wantOK("nil is a normal exit"), func() error {
		return badZero(process.IsNormal(nil) && process.IsShutdown(nil))
	})
	add("Backend(9).String/Valid, Status(9).String", wantOK("printable"), func() error {
		b := process.Backend(9)
		return badZero(b.String() != "" && !b.Valid() && process.Status(9).String() != "")
	})

	// ---- process: Process with a nil receiver.
	add("(*Process)(nil).Self", wantNoop("zero Pid"), func() error { return badZero(nilProc.Self().IsZero()) })
	add("(*Process)(nil).Node", wantNoop("nil"), func() error { return badZero(nilProc.Node() == nil) })
	add("(*Process)(nil).Backend", wantNoop("Async"), func() error { return badZero(nilProc.Backend() == process.Async) })
	add("(*Process)(nil).Name", wantNoop("\"\""), func() error { return badZero(nilProc.Name() == "") })
	add("(*Process)(nil).Alive", wantNoop("false"), func() error { return badFalse(nilProc.Alive()) })
	add("(*Process)(nil).Context", wantErr(process.ErrNilProcess), func() error {
		ctx := nilProc.Context()
		<-ctx.Done()
		return context.Cause(ctx)
	})
	add("(*Process)(nil).Send", wantErr(process.ErrNilProcess), func() error { return nilProc.Send(e.actor, 1) })
	add("(*Process)(nil).SendWait", wantErr(process.ErrNilProcess), func() error { return nilProc.SendWait(bg, e.actor, 1) })
	add("(*Process)(nil).Receive", wantErr(process.ErrNilProcess), func() error { _, err := nilProc.Receive(bg); return err })
	add("(*Process)(nil).ReceiveMatch", wantErr(process.ErrNilProcess), func() error { _, err := nilProc.ReceiveMatch(bg, nil); return err })
	add("(*Process)(nil).Exit", wantErr(process.ErrNilProcess), func() error { return nilProc.Exit(e.actor, process.Kill) })
	add("(*Process)(nil).TrapExit", wantNoop("false"), func() error { return badFalse(nilProc.TrapExit(true)) })
	add("(*Process)(nil).TrapsExits", wantNoop("false"), func() error { return badFalse(nilProc.TrapsExits()) })
	add("(*Process)(nil).SpawnLink", wantErr(process.ErrNilProcess), func() error { _, err := nilProc.SpawnLink(fn); return err })
	add("(*Process)(nil).SpawnMonitor", wantErr(process.ErrNilProcess), func() error { _, _, err := nilProc.SpawnMonitor(fn); return err })
	add("(*Process)(nil).SendAfter", wantErr(process.ErrNilProcess), func() error { _, err := nilProc.SendAfter(e.actor, 1, 0); return err })
	add("(*Process)(nil).SendInterval", wantErr(process.ErrNilProcess), func() error {
		_, err := nilProc.SendInterval(e.actor, 1, time.Second)
		return err
	})
	add("(*Process)(nil).CancelTimer", wantNoop("false"), func() error { return badFalse(nilProc.CancelTimer(pid.Ref{})) })

	// ---- process: a live Process with bad arguments, from its own code.
	for _, tg := range targets {
		p := tg.p
		add("Process.Send/"+tg.name, tg.send, func() error { return e.in(func(s *process.Process) error { return s.Send(p, 1) }) })
		add("Process.SendWait/"+tg.name, tg.send, func() error {
			return e.in(func(s *process.Process) error { return s.SendWait(bg, p, 1) })
		})
		add("Process.Exit/"+tg.name, tg.send, func() error {
			return e.in(func(s *process.Process) error { return s.Exit(p, errors.New("x")) })
		})
		add("Process.SendAfter/"+tg.name, tg.send, func() error {
			return e.in(func(s *process.Process) error { _, err := s.SendAfter(p, 1, time.Millisecond); return err })
		})
		add("Process.SendInterval/"+tg.name, tg.send, func() error {
			return e.in(func(s *process.Process) error {
				ref, err := s.SendInterval(p, 1, time.Hour)
				s.CancelTimer(ref)
				return err
			})
		})
		add("Handler Process.Send/"+tg.name, tg.send, func() error {
			return e.inHandler(func(s *process.Process) error { return s.Send(p, 1) })
		})
	}
	add("Process.Send(full bounded mailbox)", wantErr(process.ErrMailboxFull), func() error {
		return e.in(func(s *process.Process) error { return s.Send(e.fullBox, 2) })
	})
	add("Process.SendWait(full, done ctx)", wantErr(context.Canceled), func() error {
		return e.in(func(s *process.Process) error { return s.SendWait(done, e.fullBox, 2) })
	})
	add("Process.ReceiveMatch(nil)", wantErr(process.ErrNilFunc), func() error {
		return e.in(func(s *process.Process) error { _, err := s.ReceiveMatch(bg, nil); return err })
	})
	add("Process.Receive(done ctx)", wantErr(context.Canceled), func() error {
		return e.in(func(s *process.Process) error { _, err := s.Receive(done); return err })
	})
	add("Handler Process.Receive", wantErr(process.ErrNotReceiver), func() error {
		return e.inHandler(func(s *process.Process) error { _, err := s.Receive(bg); return err })
	})
	add("Handler Process.ReceiveMatch", wantErr(process.ErrNotReceiver), func() error {
		return e.inHandler(func(s *process.Process) error { _, err := s.ReceiveMatch(bg, badIsJob); return err })
	})
	add("Process.SpawnLink(nil)", wantErr(process.ErrNilFunc), func() error {
		return e.in(func(s *process.Process) error { _, err := s.SpawnLink(nil); return err })
	})
	add("Process.SpawnLink(WithBackend(9))", wantErr(process.ErrInvalidBackend), func() error {
		return e.in(func(s *process.Process) error { _, err := s.SpawnLink(fn, badBackend); return err })
	})
	add("Process.SpawnMonitor(nil)", wantErr(process.ErrNilFunc), func() error {
		return e.in(func(s *process.Process) error { _, _, err := s.SpawnMonitor(nil); return err })
	})
	add("Process.SpawnMonitor(WithBackend(9))", wantErr(process.ErrInvalidBackend), func() error {
		return e.in(func(s *process.Process) error { _, _, err := s.SpawnMonitor(fn, badBackend); return err })
	})
	add("Process.SpawnMonitor(WithMailboxLimit(-1))", wantErr(process.ErrBadMailboxLimit), func() error {
		return e.in(func(s *process.Process) error {
			_, _, err := s.SpawnMonitor(fn, process.WithMailboxLimit(-1))
			return err
		})
	})
	add("Process.SendAfter(negative duration)", wantOK("fires at once"), func() error {
		return e.in(func(s *process.Process) error {
			if _, err := s.SendAfter(s.Self(), "neg", -time.Hour); err != nil {
				return err
			}
			_, err := badReceive(s, func(m any) bool { return m == "neg" })
			return err
		})
	})
	for _, d := range []time.Duration{0, -time.Second} {
		add(fmt.Sprintf("Process.SendInterval(%v)", d), wantErr(process.ErrBadInterval), func() error {
			return e.in(func(s *process.Process) error { _, err := s.SendInterval(s.Self(), 1, d); return err })
		})
	}
	for name, ref := range map[string]pid.Ref{"zero": {}, "unknown": n.MakeRef(), "foreign": pid.NewRef(pid.NewNodeID(), 1)} {
		add("Process.CancelTimer/"+name, wantNoop("false"), func() error {
			return e.in(func(s *process.Process) error { return badFalse(s.CancelTimer(ref)) })
		})
	}

	// ---- process and link: the handle of a process that has exited.
	dp := e.deadProc
	add("dead Process.Alive", wantNoop("false"), func() error { return badFalse(dp.Alive()) })
	add("dead Process.Context", wantErr(process.Normal), func() error {
		<-dp.Context().Done()
		return context.Cause(dp.Context())
	})
	add("dead Process.Receive", wantErr(process.Normal), func() error { _, err := dp.Receive(bg); return err })
	add("dead Process.Send", wantNoop("what a dead process sends is dropped"), func() error { return dp.Send(e.handler, 1) })
	add("dead Process.SendWait", wantNoop("what a dead process sends is dropped"), func() error {
		return dp.SendWait(bg, e.handler, 1)
	})
	add("dead Process.Exit", wantErr(process.ErrCallerExited), func() error { return dp.Exit(e.handler, process.Kill) })
	add("dead Process.SpawnLink", wantErr(process.ErrCallerExited), func() error { _, err := dp.SpawnLink(fn); return err })
	add("dead Process.SpawnMonitor", wantErr(process.ErrCallerExited), func() error { _, _, err := dp.SpawnMonitor(fn); return err })
	add("dead Process.SendAfter", wantErr(process.ErrCallerExited), func() error { _, err := dp.SendAfter(e.handler, 1, 0); return err })
	add("dead Process.SendInterval", wantErr(process.ErrCallerExited), func() error {
		_, err := dp.SendInterval(e.handler, 1, time.Second)
		return err
	})
	add("dead Process.CancelTimer", wantNoop("false"), func() error { return badFalse(dp.CancelTimer(n.MakeRef())) })
	add("dead link.Link", wantErr(process.ErrCallerExited), func() error { return link.Link(dp, e.handler) })
	add("dead link.Unlink", wantNoop("nothing to unlink"), func() error { return link.Unlink(dp, e.handler) })
	add("dead link.Monitor", wantErr(process.ErrCallerExited), func() error { _, err := link.Monitor(dp, e.handler); return err })
	add("dead link.Demonitor", wantNoop("false"), func() error { return badFalse(link.Demonitor(dp, n.MakeRef())) })
	add("dead registry.SendFrom", wantNoop("what a dead process sends is dropped"), func() error {
		if err := e.reg.Register("bad-sendfrom", e.handler); err != nil {
			return err
		}
		defer e.reg.Unregister("bad-sendfrom")
		return registry.SendFrom(dp, "bad-sendfrom", 1)
	})
	add("dead genserver.StartLink", wantErr(process.ErrCallerExited), func() error {
		_, err := genserver.StartLink(bg, dp, &badServer{})
		return err
	})

	// ---- link.
	add("link.Link(nil)", wantErr(process.ErrNilProcess), func() error { return link.Link(nil, e.actor) })
	add("link.Unlink(nil)", wantErr(process.ErrNilProcess), func() error { return link.Unlink(nil, e.actor) })
	add("link.Monitor(nil)", wantErr(process.ErrNilProcess), func() error { _, err := link.Monitor(nil, e.actor); return err })
	add("link.Demonitor(nil)", wantNoop("false"), func() error { return badFalse(link.Demonitor(nil, n.MakeRef())) })
	add("link.DemonitorFlush(nil)", wantNoop("false"), func() error { return badFalse(link.DemonitorFlush(nil, n.MakeRef())) })
	linkErr := func(target pid.Pid, reason error) func() error {
		return func() error {
			return e.in(func(s *process.Process) error {
				err := link.Link(s, target)
				var le *link.Error
				if err != nil && (!errors.As(err, &le) || le.Pid != target || !errors.Is(le.Reason, reason)) {
					return fmt.Errorf("not a *link.Error for %v with %v: %w", target, reason, err)
				}
				return err
			})
		}
	}
	add("link.Link/zero", wantErr(process.ErrZeroPid), func() error { return e.in(func(s *process.Process) error { return link.Link(s, z) }) })
	add("link.Link/foreign", wantErr(process.NoConnection), linkErr(foreign, process.NoConnection))
	add("link.Link/dead", wantErr(process.NoProc), linkErr(dead, process.NoProc))
	add("link.Link/self", wantNoop("linking to oneself changes nothing"), func() error {
		return e.in(func(s *process.Process) error { return link.Link(s, s.Self()) })
	})
	for name, reason := range map[string]error{"dead": process.NoProc, "foreign": process.NoConnection} {
		target := dead
		if name == "foreign" {
			target = foreign
		}
		add("link.Link(trapping)/"+name, wantNoop("nil, and an Exit message with the reason"), func() error {
			return e.in(func(s *process.Process) error {
				s.TrapExit(true)
				defer s.TrapExit(false)
				if err := link.Link(s, target); err != nil {
					return err
				}
				m, err := badReceive(s, func(m any) bool { x, ok := m.(link.Exit); return ok && x.From == target })
				if err != nil {
					return err
				}
				if r := m.(link.Exit).Reason; !errors.Is(r, reason) {
					return fmt.Errorf("exit reason %v, want %v", r, reason)
				}
				return nil
			})
		})
	}
	add("link.Unlink/zero", wantErr(process.ErrZeroPid), func() error { return e.in(func(s *process.Process) error { return link.Unlink(s, z) }) })
	for name, target := range map[string]pid.Pid{"foreign": foreign, "dead": dead, "not linked": e.handler} {
		add("link.Unlink/"+name, wantNoop("harmless"), func() error { return e.in(func(s *process.Process) error { return link.Unlink(s, target) }) })
	}
	add("link.Monitor/zero", wantErr(process.ErrZeroPid), func() error {
		return e.in(func(s *process.Process) error { _, err := link.Monitor(s, z); return err })
	})
	for name, reason := range map[string]error{"dead": process.NoProc, "foreign": process.NoConnection} {
		target := dead
		if name == "foreign" {
			target = foreign
		}
		add("link.Monitor/"+name, wantNoop("a Ref, and a Down with the reason at once"), func() error {
			return e.in(func(s *process.Process) error {
				ref, err := link.Monitor(s, target)
				if err != nil {
					return err
				}
				m, err := badReceive(s, func(m any) bool { d, ok := m.(link.Down); return ok && d.Ref == ref })
				if err != nil {
					return err
				}
				if d := m.(link.Down); !errors.Is(d.Reason, reason) || d.Pid != target {
					return fmt.Errorf("down %+v, want %v from %v", d, reason, target)
				}
				return nil
			})
		})
	}
	add("link.Monitor/self", wantNoop("a monitor that never fires"), func() error {
		return e.in(func(s *process.Process) error {
			ref, err := link.Monitor(s, s.Self())
			if err != nil {
				return err
			}
			if !link.Demonitor(s, ref) {
				return errors.New("the monitor of oneself was not active")
			}
			return nil
		})
	})
	for name, ref := range map[string]pid.Ref{"zero": {}, "unknown": n.MakeRef(), "foreign": pid.NewRef(pid.NewNodeID(), 3)} {
		add("link.Demonitor/"+name, wantNoop("false"), func() error {
			return e.in(func(s *process.Process) error { return badFalse(link.Demonitor(s, ref)) })
		})
		add("link.DemonitorFlush/"+name, wantNoop("false"), func() error {
			return e.in(func(s *process.Process) error { return badFalse(link.DemonitorFlush(s, ref)) })
		})
	}
	notify := func(link.Down) {}
	add("link.Watch(nil node)", wantErr(process.ErrNilNode), func() error { _, err := link.Watch(nil, e.actor, notify); return err })
	add("link.Watch/zero", wantErr(process.ErrZeroPid), func() error { _, err := link.Watch(n, z, notify); return err })
	add("link.Watch(nil notify)", wantErr(process.ErrNilFunc), func() error { _, err := link.Watch(n, e.actor, nil); return err })
	add("link.Watch(stopped node)", wantErr(process.ErrNodeStopped), func() error { _, err := link.Watch(e.stopped, e.stPid, notify); return err })
	for name, reason := range map[string]error{"dead": process.NoProc, "foreign": process.NoConnection} {
		target := dead
		if name == "foreign" {
			target = foreign
		}
		add("link.Watch/"+name, wantNoop("notify runs with the reason before Watch returns"), func() error {
			var got error
			if _, err := link.Watch(n, target, func(d link.Down) { got = d.Reason }); err != nil {
				return err
			}
			if !errors.Is(got, reason) {
				return fmt.Errorf("notify got %v, want %v", got, reason)
			}
			return nil
		})
	}
	add("link.Unwatch(nil node)", wantNoop("false"), func() error { return badFalse(link.Unwatch(nil, e.actor, n.MakeRef())) })
	for name, target := range map[string]pid.Pid{"zero": z, "foreign": foreign, "dead": dead, "live": e.actor} {
		add("link.Unwatch/"+name, wantNoop("false"), func() error { return badFalse(link.Unwatch(n, target, n.MakeRef())) })
	}

	// ---- registry.
	for rname, r := range map[string]registry.Registry{"zero Registry": {}, "registry.Of(nil)": registry.Of(nil)} {
		add(rname+".Register", wantErr(process.ErrNilNode), func() error { return r.Register("x", e.actor) })
		add(rname+".Unregister", wantErr(process.ErrNilNode), func() error { return r.Unregister("x") })
		add(rname+".WhereIs", wantNoop("not found"), func() error { _, ok := r.WhereIs("x"); return badFalse(ok) })
		add(rname+".NameOf", wantNoop("not found"), func() error { _, ok := r.NameOf(e.actor); return badFalse(ok) })
		add(rname+".Registered", wantNoop("nil"), func() error { return badZero(r.Registered() == nil) })
		add(rname+".Send", wantErr(process.ErrNilNode), func() error { return r.Send("x", 1) })
		add(rname+".Join", wantErr(process.ErrNilNode), func() error { return r.Join("g", e.actor) })
		add(rname+".Leave", wantErr(process.ErrNilNode), func() error { return r.Leave("g", e.actor) })
		add(rname+".Members", wantNoop("nil"), func() error { return badZero(r.Members("g") == nil) })
		add(rname+".Groups", wantNoop("nil"), func() error { return badZero(r.Groups() == nil) })
	}
	reg := e.reg
	add("Registry.Register(\"\")", wantErr(registry.ErrEmptyName), func() error { return reg.Register("", e.actor) })
	add("Registry.Register/zero", wantErr(process.ErrZeroPid), func() error { return reg.Register("bad-r", z) })
	add("Registry.Register/foreign", wantErr(process.NoConnection), func() error { return reg.Register("bad-r", foreign) })
	add("Registry.Register/dead", wantErr(process.NoProc), func() error { return reg.Register("bad-r", dead) })
	add("Registry.Register(1MiB)", wantOK("no name length limit is documented"), func() error {
		if err := reg.Register(badBig, e.actor); err != nil {
			return err
		}
		if got, ok := reg.WhereIs(badBig); !ok || got != e.actor {
			return errBadMissing
		}
		return reg.Unregister(badBig)
	})
	add("Registry.Register(same name twice)", wantErr(registry.ErrNameTaken), func() error {
		if err := reg.Register("bad-twice", e.actor); err != nil {
			return err
		}
		defer reg.Unregister("bad-twice")
		return reg.Register("bad-twice", e.actor)
	})
	add("Registry.Register(second name)", wantErr(registry.ErrAlreadyNamed), func() error {
		if err := reg.Register("bad-first", e.actor); err != nil {
			return err
		}
		defer reg.Unregister("bad-first")
		return reg.Register("bad-second", e.actor)
	})
	add("Registry.Unregister(\"\")", wantErr(registry.ErrEmptyName), func() error { return reg.Unregister("") })
	add("Registry.Unregister(unknown)", wantErr(registry.ErrNotRegistered), func() error { return reg.Unregister("bad-unknown") })
	add("Registry.Unregister(1MiB unknown)", wantErr(registry.ErrNotRegistered), func() error { return reg.Unregister(badBig) })
	for _, name := range []string{"", badBig} {
		label := fmt.Sprintf("(%d bytes)", len(name))
		add("Registry.WhereIs"+label, wantNoop("not found"), func() error { _, ok := reg.WhereIs(name); return badFalse(ok) })
		add("Registry.Send"+label, wantErr(registry.ErrEmptyName, registry.ErrNotRegistered), func() error { return reg.Send(name, 1) })
		add("registry.SendFrom"+label, wantErr(registry.ErrEmptyName, registry.ErrNotRegistered), func() error {
			return e.in(func(s *process.Process) error { return registry.SendFrom(s, name, 1) })
		})
		add("Registry.Members"+label, wantNoop("empty"), func() error { return badZero(len(reg.Members(name)) == 0) })
	}
	add("registry.SendFrom(nil)", wantErr(process.ErrNilProcess), func() error { return registry.SendFrom(nil, "x", 1) })
	for _, tg := range targets {
		p := tg.p
		add("Registry.NameOf/"+tg.name, wantNoop("not found"), func() error { _, ok := reg.NameOf(p); return badFalse(ok) })
		join := tg.send
		leave := tg.send
		if tg.name == "dead" {
			join, leave = wantErr(process.NoProc), wantErr(registry.ErrNotJoined)
		}
		add("Registry.Join/"+tg.name, join, func() error { return reg.Join("bad-g", p) })
		add("Registry.Leave/"+tg.name, leave, func() error { return reg.Leave("bad-g", p) })
	}
	add("Registry.Join(\"\")", wantErr(registry.ErrEmptyName), func() error { return reg.Join("", e.actor) })
	add("Registry.Leave(\"\")", wantErr(registry.ErrEmptyName), func() error { return reg.Leave("", e.actor) })
	add("Registry.Leave(not a member)", wantErr(registry.ErrNotJoined), func() error { return reg.Leave("bad-none", e.actor) })
	add("Registry.Join(1MiB)", wantOK("no group name length limit is documented"), func() error {
		if err := reg.Join(badBig, e.actor); err != nil {
			return err
		}
		if ms := reg.Members(badBig); len(ms) != 1 || ms[0] != e.actor {
			return errBadMissing
		}
		return reg.Leave(badBig, e.actor)
	})
	sreg := registry.Of(e.stopped)
	add("stopped Registry.Register", wantErr(process.ErrNodeStopped), func() error { return sreg.Register("x", e.stPid) })
	add("stopped Registry.Unregister", wantErr(process.ErrNodeStopped), func() error { return sreg.Unregister("x") })
	add("stopped Registry.Send", wantErr(process.ErrNodeStopped), func() error { return sreg.Send("x", 1) })
	add("stopped Registry.Join", wantErr(process.ErrNodeStopped), func() error { return sreg.Join("g", e.stPid) })
	add("stopped Registry.Leave", wantErr(process.ErrNodeStopped), func() error { return sreg.Leave("g", e.stPid) })
	add("stopped Registry.WhereIs/Registered/Groups", wantNoop("empty"), func() error {
		_, ok := sreg.WhereIs("x")
		return badZero(!ok && len(sreg.Registered()) == 0 && len(sreg.Groups()) == 0)
	})

	// ---- registry: keyed registries.
	add("registry.NewKeys(nil node)", wantErr(process.ErrNilNode), func() error {
		_, err := registry.NewKeys[string, int](nilNode, registry.KeysOptions{Kind: registry.Unique})
		return err
	})
	for oname, opts := range map[string]registry.KeysOptions{
		"zero options": {}, "kind 9": {Kind: 9}, "partitions -1": {Kind: registry.Unique, Partitions: -1},
		"partitions MaxPartitions+1": {Kind: registry.Duplicate, Partitions: registry.MaxPartitions + 1},
	} {
		add("registry.NewKeys("+oname+")", wantErr(registry.ErrInvalidOptions), func() error {
			_, err := registry.NewKeys[string, int](n, opts)
			return err
		})
	}
	for kname, k := range map[string]*registry.Keys[string, int]{"nil Keys": nil, "zero Keys": {}} {
		add(kname+".Register", wantErr(registry.ErrNilKeys), func() error { return k.Register("x", e.actor, 1) })
		add(kname+".Unregister", wantErr(registry.ErrNilKeys), func() error { return k.Unregister("x", e.actor) })
		add(kname+".UnregisterMatch", wantErr(registry.ErrNilKeys), func() error {
			_, err := k.UnregisterMatch("x", e.actor, func(int) bool { return true })
			return err
		})
		add(kname+".UpdateValue", wantErr(registry.ErrNilKeys), func() error {
			_, err := k.UpdateValue("x", e.actor, func(v int) int { return v })
			return err
		})
		add(kname+".Dispatch", wantErr(registry.ErrNilKeys), func() error {
			return k.Dispatch("x", func([]registry.Entry[int]) {})
		})
		add(kname+" lookups", wantNoop("empty"), func() error {
			_, found := k.Find("x")
			m, err := k.Match("x", func(int) bool { return true })
			return badZero(!found && k.Lookup("x") == nil && k.Count("x") == 0 && k.Len() == 0 &&
				k.Keys(e.actor) == nil && m == nil && err == nil && k.Kind() == 0 && k.Partitions() == 0)
		})
	}
	for _, kind := range []registry.Kind{registry.Unique, registry.Duplicate} {
		keys, err := registry.NewKeys[string, int](n, registry.KeysOptions{Kind: kind, Partitions: 2})
		if err != nil {
			t.Fatal(err)
		}
		kn := "Keys(" + kind.String() + ")"
		for _, tg := range targets {
			p := tg.p
			reg, unreg := wantErr(process.ErrZeroPid), wantErr(process.ErrZeroPid)
			switch tg.name {
			case "foreign":
				reg, unreg = wantErr(process.NoConnection), wantErr(process.NoConnection)
			case "dead":
				reg, unreg = wantErr(process.NoProc), wantOK("Unregister always succeeds for a dead process, as Elixir's")
			}
			add(kn+".Register/"+tg.name, reg, func() error { return keys.Register("bad-k", p, 1) })
			add(kn+".Unregister/"+tg.name, unreg, func() error { return keys.Unregister("bad-k", p) })
			add(kn+".UnregisterMatch/"+tg.name, unreg, func() error {
				_, err := keys.UnregisterMatch("bad-k", p, func(int) bool { return true })
				return err
			})
			add(kn+".Keys/"+tg.name, wantNoop("nil"), func() error { return badZero(keys.Keys(p) == nil) })
		}
		add(kn+".Dispatch(nil fn)", wantErr(process.ErrNilFunc), func() error { return keys.Dispatch("x", nil) })
		add(kn+".Match(nil)", wantErr(process.ErrNilFunc), func() error { _, err := keys.Match("x", nil); return err })
		add(kn+".CountMatch(nil)", wantErr(process.ErrNilFunc), func() error { _, err := keys.CountMatch("x", nil); return err })
		add(kn+".UnregisterMatch(nil)", wantErr(process.ErrNilFunc), func() error {
			_, err := keys.UnregisterMatch("x", e.actor, nil)
			return err
		})
		update := wantErr(process.ErrNilFunc)
		if kind == registry.Duplicate {
			update = wantErr(registry.ErrNotUnique)
		}
		add(kn+".UpdateValue(nil fn)", update, func() error { _, err := keys.UpdateValue("x", e.actor, nil); return err })
		add(kn+".Register(1MiB key)", wantOK("no key size limit is documented"), func() error {
			if err := keys.Register(badBig, e.actor, 1); err != nil {
				return err
			}
			if got, ok := keys.Find(badBig); !ok || got.Pid != e.actor {
				return errBadMissing
			}
			return keys.Unregister(badBig, e.actor)
		})
	}
	anyKeys, err := registry.NewKeys[any, int](n, registry.KeysOptions{Kind: registry.Duplicate})
	if err != nil {
		t.Fatal(err)
	}
	add("Keys[any].Register(slice key)", wantErr(registry.ErrUnhashableKey), func() error { return anyKeys.Register([]int{1}, e.actor, 1) })
	add("Keys[any].Lookup(map key)", wantNoop("nil"), func() error { return badZero(anyKeys.Lookup(map[int]int{}) == nil) })
	skeys, err := registry.NewKeys[string, int](e.stopped, registry.KeysOptions{Kind: registry.Unique})
	if err != nil {
		t.Fatal(err)
	}
	add("stopped Keys.Register", wantErr(process.ErrNodeStopped), func() error { return skeys.Register("x", e.stPid, 1) })
	add("stopped Keys.Unregister", wantOK("nothing is registered on a stopped node"), func() error { return skeys.Unregister("x", e.stPid) })
	add("registry.Via(nil).RegisterName", wantNoop("false"), func() error { return badFalse(registry.Via[int](nil).RegisterName("x", e.actor)) })

	// ---- genserver.
	srv := &badServer{}
	add("genserver.Start(nil node)", wantErr(process.ErrNilNode), func() error { _, err := genserver.Start(bg, nil, srv); return err })
	add("genserver.Start(nil server)", wantErr(genserver.ErrNilServer), func() error {
		_, err := genserver.Start[int, int, int](bg, n, nil)
		return err
	})
	add("genserver.Start(typed nil server)", wantErr(genserver.ErrNilServer), func() error {
		_, err := genserver.Start(bg, n, (*badServer)(nil))
		return err
	})
	add("genserver.Start(WithBackend(9))", wantErr(process.ErrInvalidBackend), func() error {
		_, err := genserver.Start(bg, n, srv, genserver.WithBackend(process.Backend(9)))
		return err
	})
	add("genserver.Start(WithMailboxLimit(-1))", wantErr(process.ErrBadMailboxLimit), func() error {
		_, err := genserver.Start(bg, n, srv, genserver.WithMailboxLimit(-1))
		return err
	})
	add("genserver.Start(WithVia(r, \"\"))", wantErr(registry.ErrEmptyName), func() error {
		_, err := genserver.Start(bg, n, srv, genserver.WithVia(&badVia{names: map[string]pid.Pid{}}, ""))
		return err
	})
	add("genserver.Start(WithName(\"\"))", wantOK("an empty name registers nothing"), func() error {
		ref, err := genserver.Start(bg, n, srv, genserver.WithName(""))
		if err != nil {
			return err
		}
		return ref.Stop(bg, nil)
	})
	add("genserver.Start(WithName(1MiB))", wantOK("no name length limit is documented"), func() error {
		ref, err := genserver.Start(bg, n, srv, genserver.WithName(badBig))
		if err != nil {
			return err
		}
		if got, err := genserver.Named[int, int, int](n, badBig).Call(bg, 7); err != nil || got != 7 {
			return fmt.Errorf("call by the 1 MiB name: %v, %v", got, err)
		}
		return ref.Stop(bg, nil)
	})
	add("genserver.Start(WithName(taken))", wantErr(genserver.ErrAlreadyStarted), func() error {
		if err := reg.Register("bad-gs-taken", e.actor); err != nil {
			return err
		}
		defer reg.Unregister("bad-gs-taken")
		_, err := genserver.Start(bg, n, srv, genserver.WithName("bad-gs-taken"))
		var ae *genserver.AlreadyStartedError
		if err != nil && (!errors.As(err, &ae) || ae.Pid != e.actor) {
			return fmt.Errorf("not an *AlreadyStartedError naming %v: %w", e.actor, err)
		}
		return err
	})
	add("genserver.Start(WithStartTimeout(-1))", wantOK("no bound but the context"), func() error {
		ref, err := genserver.Start(bg, n, srv, genserver.WithStartTimeout(-1))
		if err != nil {
			return err
		}
		return ref.Stop(bg, nil)
	})
	add("genserver.Start(done ctx, slow Init)", wantErr(context.Canceled), func() error {
		_, err := genserver.Start(done, n, &badSlowInit{})
		var se *genserver.StartError
		if err != nil && !errors.As(err, &se) {
			return fmt.Errorf("not a *StartError: %w", err)
		}
		return err
	})
	add("genserver.Start(stopped node)", wantErr(process.ErrNodeStopped), func() error {
		_, err := genserver.Start(bg, e.stopped, srv)
		return err
	})
	add("genserver.StartLink(nil parent)", wantErr(process.ErrNilProcess), func() error { _, err := genserver.StartLink(bg, nil, srv); return err })
	add("genserver.StartLink(nil server)", wantErr(genserver.ErrNilServer), func() error {
		return e.in(func(s *process.Process) error { _, err := genserver.StartLink[int, int, int](bg, s, nil); return err })
	})
	var zref genserver.Ref[int, int, int]
	add("zero genserver.Ref.Call", wantErr(genserver.ErrZeroRef), func() error { _, err := zref.Call(bg, 1); return err })
	add("zero genserver.Ref.Cast", wantErr(genserver.ErrZeroRef), func() error { return zref.Cast(1) })
	add("zero genserver.Ref.Stop", wantErr(genserver.ErrZeroRef), func() error { return zref.Stop(bg, nil) })
	add("zero genserver.Ref.Pid/Name/ByName", wantNoop("zero values"), func() error {
		return badZero(zref.Pid().IsZero() && zref.Name() == "" && zref.ByName() == zref)
	})
	for name, r := range map[string]genserver.Ref[int, int, int]{
		"Named(nil node)": genserver.Named[int, int, int](nil, "x"),
		"Named(\"\")":     genserver.Named[int, int, int](n, ""),
		"NamedVia(\"\")":  genserver.NamedVia[int, int, int](n, &badVia{}, ""),
	} {
		add(name+".Call", wantErr(genserver.ErrZeroRef), func() error { _, err := r.Call(bg, 1); return err })
		add(name+".Cast", wantErr(genserver.ErrZeroRef), func() error { return r.Cast(1) })
		add(name+".Stop", wantErr(genserver.ErrZeroRef), func() error { return r.Stop(bg, nil) })
	}
	callErr := func(reason error) func(err error) error {
		return func(err error) error {
			var ce *genserver.CallError
			if err != nil && (!errors.As(err, &ce) || !errors.Is(ce.Reason, reason)) {
				return fmt.Errorf("not a *CallError with %v: %w", reason, err)
			}
			return err
		}
	}
	noproc := callErr(process.NoProc)
	for name, r := range map[string]genserver.Ref[int, int, int]{
		"Named(unknown)":          genserver.Named[int, int, int](n, "bad-nobody"),
		"Named(1MiB unknown)":     genserver.Named[int, int, int](n, badBig),
		"NamedVia(nil, unknown)":  genserver.NamedVia[int, int, int](n, nil, "bad-nobody"),
		"NamedVia(unknown)":       genserver.NamedVia[int, int, int](n, &badVia{names: map[string]pid.Pid{}}, "bad-nobody"),
		"Ref of a stopped server": e.stoppedGS,
	} {
		add(name+".Call", wantErr(process.NoProc), func() error { _, err := r.Call(bg, 1); return noproc(err) })
		add(name+".Cast", wantNoop("a cast to a dead server or an unknown name is dropped"), func() error { return r.Cast(1) })
		add(name+".Stop", wantErr(process.NoProc), func() error { return noproc(r.Stop(bg, nil)) })
	}
	for name, r := range map[string]genserver.Ref[int, int, int]{
		"At(nil node)": genserver.At[int, int, int](nil, e.gs.Pid()),
		"At(zero)":     genserver.At[int, int, int](n, z),
	} {
		add("genserver."+name+".Call", wantErr(genserver.ErrZeroRef), func() error { _, err := r.Call(bg, 1); return err })
		add("genserver."+name+".Cast", wantErr(genserver.ErrZeroRef), func() error { return r.Cast(1) })
		add("genserver."+name+".Stop", wantErr(genserver.ErrZeroRef), func() error { return r.Stop(bg, nil) })
	}
	for name, c := range map[string]struct {
		p      pid.Pid
		reason error
	}{"At(foreign)": {foreign, process.NoConnection}, "At(dead)": {dead, process.NoProc}} {
		r := genserver.At[int, int, int](n, c.p)
		chk := callErr(c.reason)
		add("genserver."+name+".Call", wantErr(c.reason), func() error { _, err := r.Call(bg, 1); return chk(err) })
		add("genserver."+name+".Cast", wantNoop("a cast that cannot be delivered is dropped"), func() error { return r.Cast(1) })
		add("genserver."+name+".Stop", wantErr(c.reason), func() error { return chk(r.Stop(bg, nil)) })
	}
	add("genserver.At(a plain process).Call", wantErr(genserver.ErrWrongServer), func() error {
		_, err := genserver.At[int, int, int](n, e.handler).Call(bg, 1)
		return callErr(genserver.ErrWrongServer)(err)
	})
	add("genserver.At(a plain process).Cast", wantErr(genserver.ErrWrongServer), func() error {
		return callErr(genserver.ErrWrongServer)(genserver.At[int, int, int](n, e.handler).Cast(1))
	})
	add("genserver.At(a plain process).Stop", wantErr(genserver.ErrWrongServer), func() error {
		return callErr(genserver.ErrWrongServer)(genserver.At[int, int, int](n, e.handler).Stop(bg, nil))
	})
	add("genserver.At(a server of other types).Cast", wantErr(genserver.ErrWrongServer), func() error {
		return callErr(genserver.ErrWrongServer)(genserver.At[int, int, string](n, e.gs.Pid()).Cast("x"))
	})
	add("genserver.At(a server of other types).Call", wantErr(genserver.ErrWrongServer), func() error {
		_, err := genserver.At[string, int, int](n, e.gs.Pid()).Call(bg, "x")
		return callErr(genserver.ErrWrongServer)(err)
	})
	add("genserver.Ref.Call(expired ctx)", either("the reply may come before the deadline is seen", genserver.ErrTimeout), func() error {
		ctx, cancel := context.WithDeadline(bg, time.Now().Add(-time.Second))
		defer cancel()
		_, err := e.gs.Call(ctx, 1)
		return callErr(genserver.ErrTimeout)(err)
	})
	add("genserver.Ref.Call(cancelled ctx)", either("the reply may come before the cancel is seen", context.Canceled), func() error {
		_, err := e.gs.Call(done, 1)
		return callErr(context.Canceled)(err)
	})
	add("stopped node genserver.Ref.Call", wantErr(process.ErrNodeStopped), func() error {
		_, err := e.stGS.Call(bg, 1)
		return callErr(process.ErrNodeStopped)(err)
	})
	add("stopped node genserver.Ref.Cast", wantNoop("dropped"), func() error { return e.stGS.Cast(1) })
	add("stopped node genserver.Ref.Stop", wantErr(process.ErrNodeStopped), func() error {
		return callErr(process.ErrNodeStopped)(e.stGS.Stop(bg, nil))
	})
	add("zero genserver.Ctx methods", wantNoop("zero values; SendAfter and SendInterval fail with ErrNilProcess"), func() error {
		c := &genserver.Ctx{}
		c.Stop(nil)
		c.Continue(nil)
		c.IdleTimeout(-1)
		c.Logger().Info("x")
		if !c.Self().IsZero() || c.Process() != nil || c.Node() != nil || !c.Parent().IsZero() || c.CancelTimer(pid.Ref{}) {
			return errBadNonZero
		}
		if c.Context().Err() == nil {
			return errors.New("the context of a Ctx without a process is not done")
		}
		if _, err := c.SendAfter(1, 0); !errors.Is(err, process.ErrNilProcess) {
			return fmt.Errorf("SendAfter: %v", err)
		}
		_, err := c.SendInterval(1, time.Second)
		if !errors.Is(err, process.ErrNilProcess) {
			return fmt.Errorf("SendInterval: %v", err)
		}
		return nil
	})
	add("zero genserver.From.Reply", wantNoop("false"), func() error { return badFalse(genserver.From[int]{}.Reply(1, nil)) })
	add("zero genserver.CallCtx.From/NoReply", wantNoop("a From whose Reply is false"), func() error {
		c := &genserver.CallCtx[int]{}
		c.NoReply()
		return badFalse(c.From().Reply(1, nil))
	})

	// ---- supervisor.
	okStart := supervisor.Func(badActorLoop)
	child := func(mod func(*supervisor.ChildSpec)) supervisor.ChildSpec {
		c := supervisor.ChildSpec{ID: "c", Start: okStart}
		mod(&c)
		return c
	}
	badChildren := map[string]supervisor.ChildSpec{
		"missing id":         child(func(c *supervisor.ChildSpec) { c.ID = "" }),
		"nil start":          child(func(c *supervisor.ChildSpec) { c.Start = nil }),
		"restart 9":          child(func(c *supervisor.ChildSpec) { c.Restart = 9 }),
		"type 9":             child(func(c *supervisor.ChildSpec) { c.Type = 9 }),
		"shutdown -2":        child(func(c *supervisor.ChildSpec) { c.Shutdown = -2 }),
		"shutdown -1 second": child(func(c *supervisor.ChildSpec) { c.Shutdown = supervisor.Shutdown(-time.Second) }),
	}
	badSpecs := map[string]supervisor.Spec{
		"strategy 9":         {Strategy: 9},
		"negative intensity": {Intensity: -1, Period: time.Second},
		"period 500ms":       {Intensity: 1, Period: 500 * time.Millisecond},
		"negative period":    {Period: -time.Second},
		"backend 9":          {Backend: 9},
		"duplicate ids":      {Children: []supervisor.ChildSpec{child(func(*supervisor.ChildSpec) {}), child(func(*supervisor.ChildSpec) {})}},
	}
	for name, c := range badChildren {
		badSpecs["child "+name] = supervisor.Spec{Children: []supervisor.ChildSpec{c}}
	}
	specErr := func(err error) error {
		var se *supervisor.SpecError
		if err != nil && !errors.As(err, &se) {
			return fmt.Errorf("not a *SpecError: %w", err)
		}
		return err
	}
	for name, spec := range badSpecs {
		add("supervisor.Start/"+name, wantErr(supervisor.ErrInvalidSpec), func() error {
			_, err := supervisor.Start(bg, n, spec)
			return specErr(err)
		})
	}
	for name, c := range badChildren {
		add("supervisor.Ref.StartChild/"+name, wantErr(supervisor.ErrInvalidSpec), func() error {
			_, err := e.sup.StartChild(bg, c)
			return specErr(err)
		})
	}
	add("supervisor.Start(nil node)", wantErr(process.ErrNilNode), func() error { _, err := supervisor.Start(bg, nil, supervisor.Spec{}); return err })
	add("supervisor.StartLink(nil parent)", wantErr(process.ErrNilProcess), func() error {
		_, err := supervisor.StartLink(bg, nil, supervisor.Spec{})
		return err
	})
	add("supervisor.Start(stopped node)", wantErr(process.ErrNodeStopped), func() error {
		_, err := supervisor.Start(bg, e.stopped, supervisor.Spec{})
		return err
	})
	add("supervisor.Start(Name taken)", wantErr(genserver.ErrAlreadyStarted), func() error {
		if err := reg.Register("bad-sup-taken", e.actor); err != nil {
			return err
		}
		defer reg.Unregister("bad-sup-taken")
		_, err := supervisor.Start(bg, n, supervisor.Spec{Name: "bad-sup-taken"})
		return err
	})
	add("supervisor.Start(Name 1MiB, child ID 1MiB)", wantOK("no length limit is documented"), func() error {
		ref, err := supervisor.Start(bg, n, supervisor.Spec{Name: badBig, Children: []supervisor.ChildSpec{{ID: badBig, Start: okStart}}})
		if err != nil {
			return err
		}
		return ref.Stop(bg)
	})
	startChildErr := func(reason error) func(error) error {
		return func(err error) error {
			var sce *supervisor.StartChildError
			if err != nil && (!errors.As(err, &sce) || !errors.Is(sce.Reason, reason)) {
				return fmt.Errorf("not a *StartChildError with %v: %w", reason, err)
			}
			return err
		}
	}
	errFails := errors.New("bad input: start fails")
	failing := map[string]struct {
		start  supervisor.StartFunc
		reason error
	}{
		"start returns an error":       {func(context.Context, *process.Process) (pid.Pid, error) { return pid.Pid{}, errFails }, errFails},
		"start returns the zero pid":   {func(context.Context, *process.Process) (pid.Pid, error) { return pid.Pid{}, nil }, process.ErrZeroPid},
		"start panics":                 {func(context.Context, *process.Process) (pid.Pid, error) { panic("bad start") }, nil},
		"Func(nil)":                    {supervisor.Func(nil), process.ErrNilFunc},
		"GenServer(nil)":               {supervisor.GenServer[*badServer, int, int, int](nil), nil},
		"GenServer(typed nil server)":  {supervisor.GenServer[*badServer, int, int, int](func() *badServer { return nil }), genserver.ErrNilServer},
		"Supervisor(invalid spec)":     {supervisor.Supervisor(supervisor.Spec{Strategy: 9}), supervisor.ErrInvalidSpec},
		"DynamicSupervisor(nil start)": {supervisor.DynamicSupervisor(supervisor.DynamicSpec[int]{}), supervisor.ErrInvalidSpec},
	}
	for name, f := range failing {
		check := func(err error) error {
			if f.reason == nil { // a panic
				var pe *process.PanicError
				var sce *supervisor.StartChildError
				if err != nil && (!errors.As(err, &sce) || !errors.As(err, &pe)) {
					return fmt.Errorf("not a *StartChildError with a *PanicError: %w", err)
				}
				return err
			}
			return startChildErr(f.reason)(err)
		}
		want := wantErr(f.reason)
		if f.reason == nil {
			want = wantErr(errBadPanicked)
		}
		add("supervisor.Start/"+name, want, func() error {
			_, err := supervisor.Start(bg, n, supervisor.Spec{Children: []supervisor.ChildSpec{{ID: "f", Start: f.start}}})
			return badPanickedAs(check(err))
		})
		add("supervisor.Ref.StartChild/"+name, want, func() error {
			_, err := e.sup.StartChild(bg, supervisor.ChildSpec{ID: "f", Start: f.start})
			return badPanickedAs(check(err))
		})
	}
	var zsup supervisor.Ref
	var zdyn supervisor.Dynamic[int]
	asIs := func(err error) error { return err }
	sups := map[string]struct {
		sup  supervisor.Ref
		dyn  supervisor.Dynamic[int]
		want badWant
		chk  func(error) error
	}{
		"zero":         {zsup, zdyn, wantErr(genserver.ErrZeroRef), asIs},
		"stopped node": {e.stSup, e.stDyn, wantErr(process.ErrNodeStopped), callErr(process.ErrNodeStopped)},
		"Named(nil node)": {supervisor.Named(nil, "x"), supervisor.NamedDynamic[int](nil, "x"),
			wantErr(genserver.ErrZeroRef), asIs},
		"Named(\"\")": {supervisor.Named(n, ""), supervisor.NamedDynamic[int](n, ""), wantErr(genserver.ErrZeroRef), asIs},
		"Named(unknown)": {supervisor.Named(n, "bad-nobody"), supervisor.NamedDynamic[int](n, "bad-nobody"),
			wantErr(process.NoProc), noproc},
		"Named(1MiB unknown)": {supervisor.Named(n, badBig), supervisor.NamedDynamic[int](n, badBig),
			wantErr(process.NoProc), noproc},
		"At(zero)": {supervisor.At(n, z), supervisor.DynamicAt[int](n, z), wantErr(genserver.ErrZeroRef), asIs},
		"At(nil node)": {supervisor.At(nil, e.sup.Pid()), supervisor.DynamicAt[int](nil, e.dyn.Pid()),
			wantErr(genserver.ErrZeroRef), asIs},
		"At(foreign)": {supervisor.At(n, foreign), supervisor.DynamicAt[int](n, foreign),
			wantErr(process.NoConnection), callErr(process.NoConnection)},
		"At(dead)": {supervisor.At(n, dead), supervisor.DynamicAt[int](n, dead), wantErr(process.NoProc), noproc},
	}
	for name, s := range sups {
		sup, dyn, chk := s.sup, s.dyn, s.chk
		add(name+" supervisor.Ref.Pid", wantNoop("the Pid it had, or zero"), func() error { _ = sup.Pid(); return nil })
		add(name+" supervisor.Ref.Stop", s.want, func() error { return chk(sup.Stop(bg)) })
		add(name+" supervisor.Ref.StartChild", s.want, func() error {
			_, err := sup.StartChild(bg, supervisor.ChildSpec{ID: "x", Start: okStart})
			return chk(err)
		})
		add(name+" supervisor.Ref.TerminateChild", s.want, func() error { return chk(sup.TerminateChild(bg, "x")) })
		add(name+" supervisor.Ref.RestartChild", s.want, func() error { _, err := sup.RestartChild(bg, "x"); return chk(err) })
		add(name+" supervisor.Ref.DeleteChild", s.want, func() error { return chk(sup.DeleteChild(bg, "x")) })
		add(name+" supervisor.Ref.WhichChildren", s.want, func() error { _, err := sup.WhichChildren(bg); return chk(err) })
		add(name+" supervisor.Ref.CountChildren", s.want, func() error { _, err := sup.CountChildren(bg); return chk(err) })
		add(name+" supervisor.Dynamic.Stop", s.want, func() error { return chk(dyn.Stop(bg)) })
		add(name+" supervisor.Dynamic.StartChild", s.want, func() error { _, err := dyn.StartChild(bg, 1); return chk(err) })
		add(name+" supervisor.Dynamic.TerminateChild", s.want, func() error { return chk(dyn.TerminateChild(bg, e.actor)) })
		add(name+" supervisor.Dynamic.WhichChildren", s.want, func() error { _, err := dyn.WhichChildren(bg); return chk(err) })
		add(name+" supervisor.Dynamic.CountChildren", s.want, func() error { _, err := dyn.CountChildren(bg); return chk(err) })
	}
	for _, id := range []string{"", "bad-none", badBig} {
		label := fmt.Sprintf("(%d-byte unknown id)", len(id))
		add("supervisor.Ref.TerminateChild"+label, wantErr(supervisor.ErrNotFound), func() error { return e.sup.TerminateChild(bg, id) })
		add("supervisor.Ref.RestartChild"+label, wantErr(supervisor.ErrNotFound), func() error { _, err := e.sup.RestartChild(bg, id); return err })
		add("supervisor.Ref.DeleteChild"+label, wantErr(supervisor.ErrNotFound), func() error { return e.sup.DeleteChild(bg, id) })
	}
	// Handles of the wrong kind.
	atDyn := supervisor.At(n, e.dyn.Pid())
	add("supervisor.At(dynamic).StartChild", wantErr(supervisor.ErrDynamic), func() error {
		_, err := atDyn.StartChild(bg, supervisor.ChildSpec{ID: "x", Start: okStart})
		return err
	})
	add("supervisor.At(dynamic).TerminateChild", wantErr(supervisor.ErrDynamic), func() error { return atDyn.TerminateChild(bg, "x") })
	add("supervisor.At(dynamic).RestartChild", wantErr(supervisor.ErrDynamic), func() error { _, err := atDyn.RestartChild(bg, "x"); return err })
	add("supervisor.At(dynamic).DeleteChild", wantErr(supervisor.ErrDynamic), func() error { return atDyn.DeleteChild(bg, "x") })
	dynAtStatic := supervisor.DynamicAt[int](n, e.sup.Pid())
	add("supervisor.DynamicAt(static).StartChild", wantErr(supervisor.ErrNotDynamic), func() error {
		_, err := dynAtStatic.StartChild(bg, 1)
		return err
	})
	add("supervisor.DynamicAt(static).TerminateChild", wantErr(supervisor.ErrNotDynamic), func() error {
		return dynAtStatic.TerminateChild(bg, e.actor)
	})
	add("supervisor.DynamicAt(wrong argument type).StartChild", wantErr(supervisor.ErrArgumentType), func() error {
		d, err := supervisor.StartDynamic(bg, n, supervisor.DynamicSpec[int]{Start: func(ctx context.Context, sup *process.Process, _ int) (pid.Pid, error) {
			return sup.SpawnLink(badActorLoop)
		}})
		if err != nil {
			return err
		}
		defer d.Stop(bg)
		_, err = supervisor.DynamicAt[string](n, d.Pid()).StartChild(bg, "x")
		return err
	})
	add("supervisor.At(a genserver that is not a supervisor).CountChildren", wantErr(genserver.ErrWrongServer), func() error {
		// Bounded as the other waits are: 200 ms, as it was, is a speed
		// limit on a loaded machine, not a bound on a hang.
		ctx, cancel := context.WithTimeout(bg, spawntest.Timeout)
		defer cancel()
		_, err := supervisor.At(n, e.gs.Pid()).CountChildren(ctx)
		return callErr(genserver.ErrWrongServer)(err)
	})
	add("supervisor.At(a plain process).WhichChildren", wantErr(genserver.ErrWrongServer), func() error {
		_, err := supervisor.At(n, e.handler).WhichChildren(bg)
		return callErr(genserver.ErrWrongServer)(err)
	})
	add("supervisor.Ref.RestartChild(running)", wantErr(supervisor.ErrRunning), func() error { _, err := e.sup.RestartChild(bg, "w"); return err })
	add("supervisor.Ref.DeleteChild(running)", wantErr(supervisor.ErrRunning), func() error { return e.sup.DeleteChild(bg, "w") })
	add("supervisor.Ref.StartChild(running id)", wantErr(supervisor.ErrAlreadyStarted), func() error {
		_, err := e.sup.StartChild(bg, supervisor.ChildSpec{ID: "w", Start: okStart})
		return err
	})
	add("supervisor.Ref.StartChild(terminated id)", wantErr(supervisor.ErrAlreadyPresent), func() error {
		if _, err := e.sup.StartChild(bg, supervisor.ChildSpec{ID: "t", Start: okStart}); err != nil {
			return err
		}
		if err := e.sup.TerminateChild(bg, "t"); err != nil {
			return err
		}
		defer e.sup.DeleteChild(bg, "t")
		_, err := e.sup.StartChild(bg, supervisor.ChildSpec{ID: "t", Start: okStart})
		return err
	})
	add("supervisor.Ref.TerminateChild(not running)", wantNoop("terminating a child that is not running is not an error"), func() error {
		if _, err := e.sup.StartChild(bg, supervisor.ChildSpec{ID: "t2", Start: okStart}); err != nil {
			return err
		}
		defer e.sup.DeleteChild(bg, "t2")
		if err := e.sup.TerminateChild(bg, "t2"); err != nil {
			return err
		}
		return e.sup.TerminateChild(bg, "t2")
	})
	add("supervisor.StartDynamic(nil node)", wantErr(process.ErrNilNode), func() error {
		_, err := supervisor.StartDynamic(bg, nil, supervisor.DynamicSpec[int]{})
		return err
	})
	add("supervisor.StartDynamicLink(nil parent)", wantErr(process.ErrNilProcess), func() error {
		_, err := supervisor.StartDynamicLink(bg, nil, supervisor.DynamicSpec[int]{})
		return err
	})
	dstart := func(ctx context.Context, sup *process.Process, _ int) (pid.Pid, error) {
		return sup.SpawnLink(badActorLoop)
	}
	for name, d := range map[string]supervisor.DynamicSpec[int]{
		"nil start":          {},
		"negative max":       {Start: dstart, MaxChildren: -1},
		"restart 9":          {Start: dstart, Restart: 9},
		"type 9":             {Start: dstart, Type: 9},
		"shutdown -2":        {Start: dstart, Shutdown: -2},
		"negative intensity": {Start: dstart, Intensity: -1, Period: time.Second},
		"period 1ns":         {Start: dstart, Intensity: 1, Period: 1},
		"backend 9":          {Start: dstart, Backend: 9},
	} {
		add("supervisor.StartDynamic/"+name, wantErr(supervisor.ErrInvalidSpec), func() error {
			_, err := supervisor.StartDynamic(bg, n, d)
			return specErr(err)
		})
	}
	for name, p := range map[string]pid.Pid{"zero": z, "dead": dead, "foreign": foreign, "not a child": e.actor} {
		add("supervisor.Dynamic.TerminateChild/"+name, wantErr(supervisor.ErrNotFound), func() error { return e.dyn.TerminateChild(bg, p) })
	}
	add("supervisor.Dynamic.StartChild(full)", wantErr(supervisor.ErrMaxChildren), func() error { _, err := e.dyn.StartChild(bg, 2); return err })
	add("supervisor.Dynamic.StartChild(start fails)", wantErr(errFails), func() error {
		d, err := supervisor.StartDynamic(bg, n, supervisor.DynamicSpec[int]{
			Start: func(context.Context, *process.Process, int) (pid.Pid, error) { return pid.Pid{}, errFails }})
		if err != nil {
			return err
		}
		defer d.Stop(bg)
		_, err = d.StartChild(bg, 1)
		return startChildErr(errFails)(err)
	})
	add("supervisor enums: String of invalid values", wantOK("printable"), func() error {
		return badZero(supervisor.Strategy(9).String() != "" && supervisor.Restart(9).String() != "" &&
			supervisor.ChildType(9).String() != "" && supervisor.ChildStatus(9).String() != "")
	})

	// ---- a nil context.Context, wherever one is taken: an error at once.
	var nilCtx context.Context
	nilCtxErr := wantErr(process.ErrNilContext)
	add("Node.SendWait(nil ctx)", nilCtxErr, func() error { return n.SendWait(nilCtx, e.actor, 1) })
	add("Node.Stop(nil ctx)", nilCtxErr, func() error { return n.Stop(nilCtx) })
	add("Process.SendWait(nil ctx)", nilCtxErr, func() error {
		return e.in(func(s *process.Process) error { return s.SendWait(nilCtx, e.actor, 1) })
	})
	add("Process.Receive(nil ctx)", nilCtxErr, func() error {
		return e.in(func(s *process.Process) error { _, err := s.Receive(nilCtx); return err })
	})
	add("Process.ReceiveMatch(nil ctx)", nilCtxErr, func() error {
		return e.in(func(s *process.Process) error { _, err := s.ReceiveMatch(nilCtx, badIsJob); return err })
	})
	add("genserver.Start(nil ctx)", nilCtxErr, func() error { _, err := genserver.Start(nilCtx, n, &badServer{}); return err })
	add("genserver.StartLink(nil ctx)", nilCtxErr, func() error {
		return e.in(func(s *process.Process) error { _, err := genserver.StartLink(nilCtx, s, &badServer{}); return err })
	})
	add("genserver.Ref.Call(nil ctx)", nilCtxErr, func() error { _, err := e.gs.Call(nilCtx, 1); return callErr(process.ErrNilContext)(err) })
	add("genserver.Ref.Stop(nil ctx)", nilCtxErr, func() error { return callErr(process.ErrNilContext)(e.gs.Stop(nilCtx, nil)) })
	add("supervisor.Start(nil ctx)", nilCtxErr, func() error { _, err := supervisor.Start(nilCtx, n, supervisor.Spec{}); return err })
	add("supervisor.StartLink(nil ctx)", nilCtxErr, func() error {
		return e.in(func(s *process.Process) error {
			_, err := supervisor.StartLink(nilCtx, s, supervisor.Spec{})
			return err
		})
	})
	add("supervisor.StartDynamic(nil ctx)", nilCtxErr, func() error {
		_, err := supervisor.StartDynamic(nilCtx, n, supervisor.DynamicSpec[int]{Start: dstart})
		return err
	})
	add("supervisor.StartDynamicLink(nil ctx)", nilCtxErr, func() error {
		return e.in(func(s *process.Process) error {
			_, err := supervisor.StartDynamicLink(nilCtx, s, supervisor.DynamicSpec[int]{Start: dstart})
			return err
		})
	})
	add("supervisor.Ref.Stop(nil ctx)", nilCtxErr, func() error { return e.sup.Stop(nilCtx) })
	add("supervisor.Ref.StartChild(nil ctx)", nilCtxErr, func() error {
		_, err := e.sup.StartChild(nilCtx, supervisor.ChildSpec{ID: "x", Start: okStart})
		return err
	})
	add("supervisor.Ref.TerminateChild(nil ctx)", nilCtxErr, func() error { return e.sup.TerminateChild(nilCtx, "w") })
	add("supervisor.Ref.RestartChild(nil ctx)", nilCtxErr, func() error { _, err := e.sup.RestartChild(nilCtx, "w"); return err })
	add("supervisor.Ref.DeleteChild(nil ctx)", nilCtxErr, func() error { return e.sup.DeleteChild(nilCtx, "w") })
	add("supervisor.Ref.WhichChildren(nil ctx)", nilCtxErr, func() error { _, err := e.sup.WhichChildren(nilCtx); return err })
	add("supervisor.Ref.CountChildren(nil ctx)", nilCtxErr, func() error { _, err := e.sup.CountChildren(nilCtx); return err })
	add("supervisor.Dynamic.Stop(nil ctx)", nilCtxErr, func() error { return e.dyn.Stop(nilCtx) })
	add("supervisor.Dynamic.StartChild(nil ctx)", nilCtxErr, func() error { _, err := e.dyn.StartChild(nilCtx, 1); return err })
	add("supervisor.Dynamic.TerminateChild(nil ctx)", nilCtxErr, func() error { return e.dyn.TerminateChild(nilCtx, e.actor) })
	add("supervisor.Dynamic.WhichChildren(nil ctx)", nilCtxErr, func() error { _, err := e.dyn.WhichChildren(nilCtx); return err })
	add("supervisor.Dynamic.CountChildren(nil ctx)", nilCtxErr, func() error { _, err := e.dyn.CountChildren(nilCtx); return err })

	// Run every case with a recover and a deadline (testkit.Try), in an
	// order shuffled by the seed: no case may depend on another.
	rng := rand.New(rand.NewPCG(seed, 0xbad))
	rng.Shuffle(len(cases), func(i, j int) { cases[i], cases[j] = cases[j], cases[i] })
	kinds := map[string]int{}
	var noops, accepted []string
	panics, hangs, undocumented := 0, 0, 0
	for _, c := range cases {
		o := testkit.Try(c.call, 2*spawntest.Timeout)
		var bp *badPanic
		switch {
		case o.Hung:
			hangs++
			t.Errorf("%s: hung for %v", c.name, 2*spawntest.Timeout)
			continue
		case o.Panicked != nil:
			panics++
			t.Errorf("%s: panicked: %v", c.name, o.Panicked)
			continue
		case errors.As(o.Err, &bp):
			panics++
			t.Errorf("%s: panicked inside a process: %v", c.name, bp.v)
			continue
		}
		w := c.want
		switch {
		case o.Err == nil && w.noop != "":
			noops = append(noops, c.name+": "+w.noop)
		case o.Err == nil && w.ok != "":
			accepted = append(accepted, c.name+": "+w.ok)
		case o.Err != nil && len(w.errs) > 0 && slices.ContainsFunc(w.errs, func(x error) bool { return errors.Is(o.Err, x) }):
			kinds[badKind(o.Err)]++
		default:
			undocumented++
			t.Errorf("%s: got %v (%T), want %s", c.name, o.Err, o.Err, w)
		}
	}
	t.Logf("documented no-ops (%d):\n\t%s", len(noops), strings.Join(noops, "\n\t"))
	t.Logf("valid input accepted (%d):\n\t%s", len(accepted), strings.Join(accepted, "\n\t"))
	t.Logf("FIGURES badinput: seed=%d cases=%d documented-errors=%d no-ops=%d accepted=%d panics=%d hangs=%d undocumented=%d errors-by-kind=%s",
		seed, len(cases), sumKinds(kinds), len(noops), len(accepted), panics, hangs, undocumented, fzFormatKinds(kinds))
}

// errBadPanicked stands for a start function that panicked: the error must
// be a *StartChildError holding a *process.PanicError.
var errBadPanicked = errors.New("bad input: a *StartChildError holding a *process.PanicError")

// badPanickedAs maps a StartChildError holding a PanicError to
// errBadPanicked so the table can name it.
func badPanickedAs(err error) error {
	var pe *process.PanicError
	var sce *supervisor.StartChildError
	if errors.As(err, &sce) && errors.As(err, &pe) {
		return fmt.Errorf("%w: %w", errBadPanicked, err)
	}
	return err
}

func (w badWant) String() string {
	var parts []string
	for _, e := range w.errs {
		parts = append(parts, e.Error())
	}
	if w.noop != "" {
		parts = append(parts, "nil (no-op: "+w.noop+")")
	}
	if w.ok != "" {
		parts = append(parts, "nil ("+w.ok+")")
	}
	return strings.Join(parts, " or ")
}

func sumKinds(m map[string]int) int {
	s := 0
	for _, v := range m {
		s += v
	}
	return s
}

// badNilHandler is a Handler whose nil pointer panics when used.
type badNilHandler struct{ n int }

func (h *badNilHandler) HandleMessage(*process.Process, any) error { h.n++; return nil }
