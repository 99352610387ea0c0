package supervisor_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// Helpers shared by strategy_test.go, restart_test.go and shutdown_test.go
// (prefix strat).

// stratEvent is what a strat child reports: "start" from Init (after its
// checks), "stop" from Terminate (before it may block).
type stratEvent struct {
	Kind   string
	ID     string
	Pid    pid.Pid
	Reason error
}

func (e stratEvent) String() string { return e.Kind + ":" + e.ID }

// stratLog is a mutex-protected event log that can be waited on.
type stratLog struct {
	mu      sync.Mutex
	events  []stratEvent
	changed chan struct{}
}

func newStratLog() *stratLog { return &stratLog{changed: make(chan struct{})} }

func (l *stratLog) add(e stratEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *stratLog) snapshot() []stratEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// wait returns the log once it holds at least n events.
func (l *stratLog) wait(t testing.TB, n int) []stratEvent {
	t.Helper()
	timeout := time.After(spawntest.Timeout)
	for {
		l.mu.Lock()
		if len(l.events) >= n {
			evs := slices.Clone(l.events)
			l.mu.Unlock()
			return evs
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("timed out waiting for %d events; have %v", n, l.snapshot())
			return nil
		}
	}
}

// stratNames renders events as "kind:id".
func stratNames(evs []stratEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.String()
	}
	return out
}

// stratExpect checks that the log holds exactly want (as "kind:id") and
// returns the events.
func stratExpect(t testing.TB, l *stratLog, want ...string) []stratEvent {
	t.Helper()
	evs := l.wait(t, len(want))
	if got := stratNames(evs); !slices.Equal(got, want) {
		t.Fatalf("events:\n got  %v\n want %v", got, want)
	}
	return evs
}

// stratCmd, sent to a strat child, makes it exit by itself with Exit
// (ctx.Stop) or panic when Crash is set.
type stratCmd struct {
	Exit  error
	Crash bool
}

// stratConf configures a strat child.
type stratConf struct {
	trap  bool                       // trap exits in Init
	hold  <-chan struct{}            // Terminate blocks on it once logged
	slow  time.Duration              // Terminate takes this long once logged
	check func(*genserver.Ctx) error // run in Init before logging start
	name  bool                       // register the child as its id
}

type stratOption func(*stratConf, *supervisor.ChildSpec)

func stratTrap(c *stratConf, _ *supervisor.ChildSpec)  { c.trap = true }
func stratNamed(c *stratConf, _ *supervisor.ChildSpec) { c.name = true }

func stratHold(ch <-chan struct{}) stratOption {
	return func(c *stratConf, _ *supervisor.ChildSpec) { c.trap, c.hold = true, ch }
}

func stratSlow(d time.Duration) stratOption {
	return func(c *stratConf, _ *supervisor.ChildSpec) { c.trap, c.slow = true, d }
}

func stratCheck(f func(*genserver.Ctx) error) stratOption {
	return func(c *stratConf, _ *supervisor.ChildSpec) { c.check = f }
}

func stratRestart(r supervisor.Restart) stratOption {
	return func(_ *stratConf, s *supervisor.ChildSpec) { s.Restart = r }
}

func stratShutdown(d supervisor.Shutdown) stratOption {
	return func(_ *stratConf, s *supervisor.ChildSpec) { s.Shutdown = d }
}

// stratWorker is a genserver child that reports to a stratLog.
type stratWorker struct {
	genserver.NoCalls
	genserver.NoCasts
	id   string
	log  *stratLog
	conf stratConf
}

func (w *stratWorker) Init(ctx *genserver.Ctx) error {
	if w.conf.trap {
		ctx.Process().TrapExit(true)
	}
	if w.conf.check != nil {
		if err := w.conf.check(ctx); err != nil {
			return err
		}
	}
	w.log.add(stratEvent{Kind: "start", ID: w.id, Pid: ctx.Self()})
	return nil
}

func (w *stratWorker) HandleInfo(ctx *genserver.Ctx, msg any) {
	if c, ok := msg.(stratCmd); ok {
		if c.Crash {
			panic("strat: asked to crash")
		}
		ctx.Stop(c.Exit)
	}
}

func (w *stratWorker) Terminate(ctx *genserver.Ctx, reason error) {
	w.log.add(stratEvent{Kind: "stop", ID: w.id, Pid: ctx.Self(), Reason: reason})
	if w.conf.hold != nil {
		<-w.conf.hold
	}
	if w.conf.slow > 0 {
		<-time.After(w.conf.slow) // slow cleanup, not a wait for an event
	}
}

// stratChild is the spec of a strat child with id, on backend b.
func stratChild(id string, log *stratLog, b process.Backend, opts ...stratOption) supervisor.ChildSpec {
	var conf stratConf
	spec := supervisor.ChildSpec{ID: id}
	for _, o := range opts {
		o(&conf, &spec)
	}
	gopts := []genserver.Option{genserver.WithBackend(b)}
	if conf.name {
		gopts = append(gopts, genserver.WithName(id))
	}
	spec.Start = supervisor.GenServer(func() *stratWorker {
		return &stratWorker{id: id, log: log, conf: conf}
	}, gopts...)
	return spec
}

// stratPids returns the pid of every child by id, checking the ids are
// listed in order want.
// stratStartTrapping starts a supervisor on n with strategy and a trapping
// child on b for each of ids, in order, and returns it, the log its children
// write, and the children's Pids by id.
func stratStartTrapping(t testing.TB, n *process.Node, b process.Backend, strategy supervisor.Strategy, ids ...string) (supervisor.Ref, *stratLog, map[string]pid.Pid) {
	t.Helper()
	log := newStratLog()
	children := make([]supervisor.ChildSpec, len(ids))
	for i, id := range ids {
		children[i] = stratChild(id, log, b, stratTrap)
	}
	ref := imStart(t, n, supervisor.Spec{Strategy: strategy, Backend: b, Children: children})
	return ref, log, stratPids(t, ref, ids...)
}

func stratPids(t testing.TB, ref supervisor.Ref, want ...string) map[string]pid.Pid {
	t.Helper()
	cs := imWhich(t, ref)
	ids := make([]string, len(cs))
	pids := make(map[string]pid.Pid, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
		pids[c.ID] = c.Pid
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("WhichChildren ids = %v, want %v", ids, want)
	}
	return pids
}

// stratSend sends a stratCmd to child p.
func stratSend(t testing.TB, n *process.Node, p pid.Pid, c stratCmd) {
	t.Helper()
	if err := n.Send(p, c); err != nil {
		t.Fatalf("send to %v: %v", p, err)
	}
}

// stratAfter is an Init check: prev is registered, alive, and its Init has
// finished (its start is the last event logged).
func stratAfter(log *stratLog, prev string) stratOption {
	return stratCheck(func(ctx *genserver.Ctx) error {
		p, ok := registry.Of(ctx.Node()).WhereIs(prev)
		if !ok {
			return fmt.Errorf("previous child %s not registered", prev)
		}
		if !ctx.Node().Alive(p) {
			return fmt.Errorf("previous child %s not alive", prev)
		}
		evs := log.snapshot()
		if len(evs) == 0 || evs[len(evs)-1].String() != "start:"+prev {
			return fmt.Errorf("previous child %s has not finished Init: log %v", prev, evs)
		}
		return nil
	})
}

var stratBoom = errors.New("boom")

func TestSUP01_ChildrenStartInSpecOrderSynchronously(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		log := newStratLog()
		ref := imStart(t, n, supervisor.Spec{Backend: b, Children: []supervisor.ChildSpec{
			stratChild("c7", log, b, stratNamed),
			stratChild("c3", log, b, stratNamed, stratAfter(log, "c7")),
			stratChild("c10", log, b, stratNamed, stratAfter(log, "c3")),
		}})
		// Start returned after every Init.
		evs := log.snapshot()
		if got, want := stratNames(evs), []string{"start:c7", "start:c3", "start:c10"}; !slices.Equal(got, want) {
			t.Fatalf("starts when Start returned = %v, want %v", got, want)
		}
		// Listed in start order (OTP 25 lists them reversed).
		cs := imWhich(t, ref)
		if len(cs) != 3 {
			t.Fatalf("WhichChildren = %+v", cs)
		}
		for i, c := range cs {
			if c.ID != evs[i].ID || c.Pid != evs[i].Pid || c.Status != supervisor.Running {
				t.Errorf("child %d = %+v, want id %s pid %v running", i, c, evs[i].ID, evs[i].Pid)
			}
		}
	})
}

func TestSUP03_OneForOneRestartsOnlyTheFailedChild(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ref, log, before := stratStartTrapping(t, n, b, supervisor.OneForOne, "a", "b")
		exit := spawntest.WatchExit(t, n, before["b"]) // before the crash: b may be gone by the time a later watch starts
		stratSend(t, n, before["b"], stratCmd{Crash: true})
		var pe *process.PanicError
		if r := exit.Wait(); !errors.As(r, &pe) {
			t.Fatalf("b exited with %v, want a panic", r)
		}
		evs := stratExpect(t, log, "start:a", "start:b", "stop:b", "start:b")
		after := stratPids(t, ref, "a", "b")
		if after["a"] != before["a"] || !n.Alive(after["a"]) {
			t.Errorf("a: pid %v -> %v, want untouched", before["a"], after["a"])
		}
		if after["b"] == before["b"] || after["b"] != evs[3].Pid || !n.Alive(after["b"]) {
			t.Errorf("b: pid %v -> %v, want the new pid %v", before["b"], after["b"], evs[3].Pid)
		}
	})
}

func TestSUP04_OneForAllTerminatesInReverseAndRestartsInOrder(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ref, log, before := stratStartTrapping(t, n, b, supervisor.OneForAll, "a", "b", "c")
		exits := map[string]*spawntest.ExitWatch{}
		for id, p := range before {
			exits[id] = spawntest.WatchExit(t, n, p)
		}
		stratSend(t, n, before["b"], stratCmd{Crash: true})
		evs := stratExpect(t, log,
			"start:a", "start:b", "start:c",
			"stop:b", "stop:c", "stop:a",
			"start:a", "start:b", "start:c")
		for _, e := range evs[4:6] {
			if !errors.Is(e.Reason, process.Shutdown) {
				t.Errorf("%v terminated with %v, want shutdown", e, e.Reason)
			}
		}
		for _, id := range []string{"a", "c"} {
			if r := exits[id].Wait(); !errors.Is(r, process.Shutdown) {
				t.Errorf("%s exited with %v, want shutdown", id, r)
			}
		}
		var pe *process.PanicError
		if r := exits["b"].Wait(); !errors.As(r, &pe) {
			t.Errorf("b exited with %v, want a panic", r)
		}
		after := stratPids(t, ref, "a", "b", "c")
		for i, id := range []string{"a", "b", "c"} {
			if after[id] == before[id] || after[id] != evs[6+i].Pid || !n.Alive(after[id]) {
				t.Errorf("%s: pid %v -> %v, want the new pid %v", id, before[id], after[id], evs[6+i].Pid)
			}
		}
	})
}

func TestSUP05_RestForOneRestartsTheFailedChildAndLaterOnes(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ref, log, before := stratStartTrapping(t, n, b, supervisor.RestForOne, "a", "b", "c")
		cExit := spawntest.WatchExit(t, n, before["c"])
		stratSend(t, n, before["b"], stratCmd{Crash: true})
		evs := stratExpect(t, log,
			"start:a", "start:b", "start:c",
			"stop:b", "stop:c",
			"start:b", "start:c")
		if !errors.Is(evs[4].Reason, process.Shutdown) {
			t.Errorf("c terminated with %v, want shutdown", evs[4].Reason)
		}
		if r := cExit.Wait(); !errors.Is(r, process.Shutdown) {
			t.Errorf("c exited with %v, want shutdown", r)
		}
		after := stratPids(t, ref, "a", "b", "c")
		if after["a"] != before["a"] || !n.Alive(after["a"]) {
			t.Errorf("a: pid %v -> %v, want untouched", before["a"], after["a"])
		}
		for i, id := range []string{"b", "c"} {
			if after[id] == before[id] || after[id] != evs[5+i].Pid || !n.Alive(after[id]) {
				t.Errorf("%s: pid %v -> %v, want the new pid %v", id, before[id], after[id], evs[5+i].Pid)
			}
		}
	})
}

func TestSUP24_TemporaryBystanderIsNotRestarted(t *testing.T) {
	t.Parallel()
	cases := []struct {
		strategy supervisor.Strategy
		ids      []string // spec order; "tmp" is temporary, "b" crashes
		events   []string // after the starts
		left     []string // WhichChildren afterwards
	}{
		{supervisor.OneForAll, []string{"a", "tmp", "b", "c"},
			[]string{"stop:b", "stop:c", "stop:tmp", "stop:a", "start:a", "start:b", "start:c"},
			[]string{"a", "b", "c"}},
		{supervisor.RestForOne, []string{"a", "b", "tmp", "c"},
			[]string{"stop:b", "stop:c", "stop:tmp", "start:b", "start:c"},
			[]string{"a", "b", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.strategy.String(), func(t *testing.T) {
			t.Parallel()
			spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
				log := newStratLog()
				var specs []supervisor.ChildSpec
				var want []string
				for _, id := range tc.ids {
					opts := []stratOption{stratTrap}
					if id == "tmp" {
						opts = append(opts, stratRestart(supervisor.Temporary))
					}
					specs = append(specs, stratChild(id, log, b, opts...))
					want = append(want, "start:"+id)
				}
				// Intensity 1 in a window that never moves: one restart
				// allowed, a second would bring the supervisor down.
				clock := time.Unix(1000, 0)
				ref := imStart(t, n, supervisor.Spec{
					Strategy: tc.strategy, Intensity: 1, Period: 5 * time.Second, Backend: b,
					Clock: func() time.Time { return clock }, Children: specs,
				})
				before := stratPids(t, ref, tc.ids...)
				tmpExit := spawntest.WatchExit(t, n, before["tmp"])
				supExit := spawntest.WatchExit(t, n, ref.Pid())
				stratSend(t, n, before["b"], stratCmd{Crash: true})
				evs := stratExpect(t, log, append(want, tc.events...)...)
				for _, e := range evs[len(want):] {
					if e.Kind == "stop" && e.ID != "b" && !errors.Is(e.Reason, process.Shutdown) {
						t.Errorf("%v with %v, want shutdown", e, e.Reason)
					}
				}
				if r := tmpExit.Wait(); !errors.Is(r, process.Shutdown) {
					t.Errorf("tmp exited with %v, want shutdown", r)
				}
				// The call is queued after anything the restart caused.
				stratPids(t, ref, tc.left...)
				counts, err := ref.CountChildren(spawntest.Context(t))
				if err != nil || counts.Specs != len(tc.left) || counts.Active != len(tc.left) {
					t.Errorf("CountChildren = %+v, %v; want %d specs, all active", counts, err, len(tc.left))
				}
				if supExit.Exited() {
					t.Fatalf("supervisor exited with %v", supExit.Wait())
				}
				if got := log.snapshot(); len(got) != len(evs) {
					t.Errorf("more events than expected: %v", stratNames(got))
				}
			})
		})
	}
}
