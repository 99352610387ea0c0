package process_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Helpers shared by this package's tests; the pk prefix keeps them apart
// from helpers in other files of the package.

// pkHandle adapts a function to process.Handler.
type pkHandle func(p *process.Process, msg any) error

func (f pkHandle) HandleMessage(p *process.Process, msg any) error { return f(p, msg) }

// pkInitHandler is a Handler with an Init.
type pkInitHandler struct {
	init   func(p *process.Process) error
	handle func(p *process.Process, msg any) error
}

func (h *pkInitHandler) Init(p *process.Process) error { return h.init(p) }
func (h *pkInitHandler) HandleMessage(p *process.Process, msg any) error {
	return h.handle(p, msg)
}

// pkEcho answers every pkPing with a pkPong to its sender.
type pkPing struct {
	From pid.Pid
	N    int
}

type pkPong struct {
	From pid.Pid
	N    int
}

func pkEchoHandler() process.Handler {
	return pkHandle(func(p *process.Process, msg any) error {
		if m, ok := msg.(pkPing); ok {
			return p.Send(m.From, pkPong{From: p.Self(), N: m.N})
		}
		return nil
	})
}

func pkEchoFunc(p *process.Process) error {
	for {
		msg, err := p.Receive(context.Background())
		if err != nil {
			return err
		}
		if m, ok := msg.(pkPing); ok {
			if err := p.Send(m.From, pkPong{From: p.Self(), N: m.N}); err != nil {
				return err
			}
		}
	}
}

// pkPingPong runs n round trips from the probe to echo.
func pkPingPong(t testing.TB, pr *spawntest.Probe, echo pid.Pid, n int) {
	t.Helper()
	for i := range n {
		pr.Do(func(p *process.Process) error { return p.Send(echo, pkPing{From: p.Self(), N: i}) })
		got := pr.Receive()
		if got != (pkPong{From: echo, N: i}) {
			t.Fatalf("round trip %d: got %#v", i, got)
		}
	}
}

func pkStopCtx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func TestNode_StopKillsEveryProcessWithShutdown(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	var pids []pid.Pid
	for _, b := range spawntest.Backends() {
		f, err := n.Spawn(func(p *process.Process) error {
			_, err := p.Receive(context.Background())
			return err
		}, process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		h, err := n.SpawnHandler(pkEchoHandler(), process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, f, h)
	}
	// A process that traps exits dies too: Stop is untrappable.
	trapper := spawntest.NewProbe(t, n)
	trapper.Do(func(p *process.Process) error { p.TrapExit(true); return nil })
	pids = append(pids, trapper.Pid())

	watches := make([]*spawntest.ExitWatch, len(pids))
	for i, p := range pids {
		watches[i] = spawntest.WatchExit(t, n, p)
	}
	ctx, cancel := pkStopCtx(spawntest.Timeout)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for i, w := range watches {
		if r := w.Wait(); !errors.Is(r, process.Shutdown) {
			t.Errorf("%v exited with %v, want Shutdown", pids[i], r)
		}
		if n.Alive(pids[i]) {
			t.Errorf("%v alive after Stop", pids[i])
		}
	}
	if ps := n.Processes(); len(ps) != 0 {
		t.Errorf("Processes after Stop = %v", ps)
	}
	if s := n.Stats(); s.Processes != 0 || s.Stragglers != 0 {
		t.Errorf("Stats after Stop = %+v", s)
	}
	// Idempotent.
	if err := n.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := n.Stop(ctx); err != nil {
		t.Errorf("third Stop: %v", err)
	}
}

func TestNode_StopReportsStragglerBeyondDeadline(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		gate := spawntest.NewGate(t)
		started := make(chan struct{})
		returned := make(chan struct{})
		p, err := n.Spawn(func(p *process.Process) error {
			close(started)
			gate.Wait(context.Background()) // ignores its context
			close(returned)
			return nil
		}, process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		w := spawntest.WatchExit(t, n, p)
		spawntest.Recv(t, started)

		ctx, cancel := pkStopCtx(50 * time.Millisecond)
		defer cancel()
		err = n.Stop(ctx)
		if err == nil {
			t.Fatal("Stop returned nil while a straggler ignores its context")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Stop error %v does not wrap the context's error", err)
		}
		if r := w.Wait(); !errors.Is(r, process.Shutdown) {
			t.Errorf("exit reason %v, want Shutdown", r)
		}
		if n.Alive(p) {
			t.Error("straggler still alive after Stop")
		}
		if s := n.Stats().Stragglers; s != 1 {
			t.Errorf("Stragglers = %d, want 1", s)
		}
		gate.Open()
		spawntest.Recv(t, returned)
		ctx2, cancel2 := pkStopCtx(spawntest.Timeout)
		defer cancel2()
		if err := n.Stop(ctx2); err != nil {
			t.Errorf("Stop after the straggler returned: %v", err)
		}
		if s := n.Stats().Stragglers; s != 0 {
			t.Errorf("Stragglers after return = %d, want 0", s)
		}
	})
}

func TestNode_PackageFunctionsRouteByNodeID(t *testing.T) {
	t.Parallel()
	n1 := spawntest.NewNode(t)
	n2 := spawntest.NewNode(t)
	pr1 := spawntest.NewProbe(t, n1)
	pr2 := spawntest.NewProbe(t, n2)

	if err := process.Send(pr1.Pid(), "to-1"); err != nil {
		t.Fatal(err)
	}
	if err := process.Send(pr2.Pid(), "to-2"); err != nil {
		t.Fatal(err)
	}
	if got := pr1.Receive(); got != "to-1" {
		t.Errorf("node 1 probe got %v", got)
	}
	if got := pr2.Receive(); got != "to-2" {
		t.Errorf("node 2 probe got %v", got)
	}
	pr1.ExpectEmpty()
	pr2.ExpectEmpty()
	if !process.Alive(pr1.Pid()) || !process.Alive(pr2.Pid()) {
		t.Fatal("process.Alive false for live probes")
	}
	// A node does not answer for another node's pids.
	if n1.Alive(pr2.Pid()) || n2.Alive(pr1.Pid()) {
		t.Error("Node.Alive true for another node's pid")
	}

	victim, err := n2.Spawn(func(p *process.Process) error {
		_, err := p.Receive(context.Background())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w := spawntest.WatchExit(t, n2, victim)
	reason := errors.New("routed exit")
	if err := process.Exit(victim, reason); err != nil {
		t.Fatal(err)
	}
	if r := w.Wait(); !errors.Is(r, reason) {
		t.Errorf("victim exited with %v, want %v", r, reason)
	}
	if process.Alive(victim) {
		t.Error("process.Alive true for a dead process")
	}
	// Dead pid of a running node: nil, as in Erlang.
	if err := process.Send(victim, "late"); err != nil {
		t.Errorf("Send to dead pid: %v", err)
	}
	if err := process.Exit(victim, process.Kill); err != nil {
		t.Errorf("Exit to dead pid: %v", err)
	}

	ctx, cancel := pkStopCtx(spawntest.Timeout)
	defer cancel()
	if err := n2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := process.Send(pr2.Pid(), "x"); !errors.Is(err, process.NoConnection) {
		t.Errorf("Send to a stopped node's pid: %v, want NoConnection", err)
	}
	if err := process.Exit(pr2.Pid(), process.Kill); !errors.Is(err, process.NoConnection) {
		t.Errorf("Exit to a stopped node's pid: %v, want NoConnection", err)
	}
	if process.Alive(pr2.Pid()) {
		t.Error("Alive true for a stopped node's pid")
	}
	// Node 1 is unaffected.
	if err := process.Send(pr1.Pid(), "still"); err != nil {
		t.Fatal(err)
	}
	if got := pr1.Receive(); got != "still" {
		t.Errorf("node 1 probe got %v", got)
	}
}

func TestNode_DefaultNode(t *testing.T) {
	t.Parallel()
	d := process.Default()
	if d == nil || d != process.Default() {
		t.Fatal("Default is not one node")
	}
	got := make(chan any, 1)
	p, err := process.Spawn(func(p *process.Process) error {
		msg, err := p.Receive(context.Background())
		got <- msg
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Node() != d.ID() {
		t.Fatalf("process.Spawn pid %v not on the default node %v", p, d.ID())
	}
	w := spawntest.WatchExit(t, d, p)
	if !process.Alive(p) {
		t.Error("Alive false for a live default-node process")
	}
	if err := process.Send(p, "hello"); err != nil {
		t.Fatal(err)
	}
	if m := spawntest.Recv(t, got); m != "hello" {
		t.Errorf("got %v", m)
	}
	if r := w.Wait(); !errors.Is(r, process.Normal) {
		t.Errorf("exit %v, want Normal", r)
	}
}

func TestNode_FuncPanicNeverCrashes(t *testing.T) {
	t.Parallel()
	values := []struct {
		name  string
		panic func()
		check func(t *testing.T, v any)
	}{
		{"string", func() { panic("boom") }, func(t *testing.T, v any) {
			if v != "boom" {
				t.Errorf("Value = %#v", v)
			}
		}},
		{"error", func() { panic(errPkBoom) }, func(t *testing.T, v any) {
			if v != errPkBoom {
				t.Errorf("Value = %#v", v)
			}
		}},
		{"nil", func() { panic(nil) }, func(t *testing.T, v any) {
			var pe *runtime.PanicNilError
			if err, ok := v.(error); !ok || !errors.As(err, &pe) {
				t.Errorf("Value = %#v, want *runtime.PanicNilError", v)
			}
		}},
		{"runtime", func() {
			var m map[string]int
			m["x"] = 1
		}, func(t *testing.T, v any) {
			if _, ok := v.(runtime.Error); !ok {
				t.Errorf("Value = %#v, want runtime.Error", v)
			}
		}},
	}
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		for _, tc := range values {
			start := make(chan struct{})
			p, err := n.Spawn(func(*process.Process) error { <-start; tc.panic(); return nil }, process.WithBackend(b))
			if err != nil {
				t.Fatal(err)
			}
			w := spawntest.WatchExit(t, n, p)
			close(start)
			r := w.Wait()
			var pe *process.PanicError
			if !errors.As(r, &pe) {
				t.Fatalf("%s: exit %v, want *PanicError", tc.name, r)
			}
			if process.IsNormal(r) || process.IsShutdown(r) {
				t.Errorf("%s: panic counted as a normal exit", tc.name)
			}
			if len(pe.Stack) == 0 {
				t.Errorf("%s: empty stack", tc.name)
			}
			tc.check(t, pe.Value)
		}
		// The node keeps working.
		echo, err := n.SpawnHandler(pkEchoHandler(), process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		pkPingPong(t, spawntest.NewProbe(t, n), echo, 3)
	})
}

var errPkBoom = errors.New("boom")

func TestNode_ShutdownWith(t *testing.T) {
	t.Parallel()
	cause := errors.New("cause")
	cases := []struct {
		name   string
		reason error
	}{
		{"cause", process.ShutdownWith(cause)},
		{"normal", process.ShutdownWith(process.Normal)},
		{"nil", process.ShutdownWith(nil)},
		{"wrapped", errors.Join(errors.New("context"), process.ShutdownWith(cause))},
	}
	for _, tc := range cases {
		if !errors.Is(tc.reason, process.Shutdown) {
			t.Errorf("%s: errors.Is(%v, Shutdown) false", tc.name, tc.reason)
		}
		if !process.IsShutdown(tc.reason) {
			t.Errorf("%s: IsShutdown false", tc.name)
		}
		if process.IsNormal(tc.reason) {
			t.Errorf("%s: IsNormal true", tc.name)
		}
		if errors.Is(tc.reason, process.Normal) {
			t.Errorf("%s: errors.Is(.., Normal) true", tc.name)
		}
	}
	var se *process.ShutdownError
	if !errors.As(process.ShutdownWith(cause), &se) || se.Cause != cause {
		t.Errorf("ShutdownError.Cause not kept: %+v", se)
	}
	if errors.Is(process.ShutdownWith(cause), cause) {
		t.Error("the cause is in the error chain; a shutdown could be mistaken for it")
	}
	// The plain reasons.
	if !process.IsNormal(nil) || !process.IsNormal(process.Normal) || !process.IsShutdown(process.Normal) {
		t.Error("Normal/nil not normal")
	}
	if !process.IsShutdown(process.Shutdown) || process.IsNormal(process.Shutdown) {
		t.Error("Shutdown misclassified")
	}
	for _, r := range []error{process.Kill, process.Killed, process.NoProc, process.NoConnection, cause} {
		if process.IsNormal(r) || process.IsShutdown(r) {
			t.Errorf("%v classified as normal or shutdown", r)
		}
	}

	// A process exiting with ShutdownWith(Normal) is seen as a shutdown.
	n := spawntest.NewNode(t)
	start := make(chan struct{})
	p, err := n.Spawn(func(*process.Process) error { <-start; return process.ShutdownWith(process.Normal) })
	if err != nil {
		t.Fatal(err)
	}
	w := spawntest.WatchExit(t, n, p)
	close(start)
	r := w.Wait()
	if !errors.Is(r, process.Shutdown) || process.IsNormal(r) {
		t.Errorf("exit reason %v: want a shutdown that is not normal", r)
	}
}

// TestNode_IdleSpin: however long its idle workers spin, a node delivers
// every message, also to a process whose worker spins at that moment, and
// stops at once: Stop hands a spinning worker its stop like any other.
func TestNode_IdleSpin(t *testing.T) {
	t.Parallel()
	if process.DefaultIdleSpin != core.DefaultIdleSpin {
		t.Errorf("process.DefaultIdleSpin %v, core.DefaultIdleSpin %v: a node made by core alone spins otherwise", process.DefaultIdleSpin, core.DefaultIdleSpin)
	}
	for _, tc := range []struct {
		name string
		opts []process.NodeOption
	}{
		{"default", nil},
		{"off", []process.NodeOption{process.WithIdleSpin(0)}},
		{"negative is off", []process.NodeOption{process.WithIdleSpin(-time.Second)}},
		{"an hour", []process.NodeOption{process.WithIdleSpin(time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := process.NewNode(append([]process.NodeOption{process.WithLogger(nil)}, tc.opts...)...)
			echo, err := n.SpawnHandler(pkEchoHandler())
			if err != nil {
				t.Fatal(err)
			}
			const rounds = 200
			got := make(chan int, 1)
			if _, err := n.Spawn(func(p *process.Process) error {
				for i := range rounds {
					if err := p.Send(echo, pkPing{From: p.Self(), N: i}); err != nil {
						return err
					}
					msg, err := p.Receive(context.Background())
					if err != nil {
						return err
					}
					if pong, ok := msg.(pkPong); !ok || pong.N != i {
						return errors.New("a pong out of turn")
					}
				}
				got <- rounds
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-got:
				if r != rounds {
					t.Fatalf("%d rounds; want %d", r, rounds)
				}
			case <-time.After(spawntest.Timeout):
				t.Fatal("the pings went unanswered")
			}
			ctx, cancel := pkStopCtx(spawntest.Timeout)
			defer cancel()
			if err := n.Stop(ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if s := n.Stats(); s.Processes != 0 || s.Stragglers != 0 || s.Workers != 0 {
				t.Errorf("Stats after Stop = %+v", s)
			}
		})
	}
}
