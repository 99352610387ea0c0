package genserver_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// scRegistrar is a minimal genserver.Registrar that records its calls.
type scRegistrar struct {
	mu         sync.Mutex
	names      map[string]pid.Pid
	registered []scRegCall
	unregs     []string
}

type scRegCall struct {
	name string
	pid  pid.Pid
	ok   bool
}

func (r *scRegistrar) RegisterName(name string, p pid.Pid) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, taken := r.names[name]
	if !taken {
		if r.names == nil {
			r.names = make(map[string]pid.Pid)
		}
		r.names[name] = p
	}
	r.registered = append(r.registered, scRegCall{name, p, !taken})
	return !taken
}

func (r *scRegistrar) UnregisterName(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.names, name)
	r.unregs = append(r.unregs, name)
}

func (r *scRegistrar) WhereIsName(name string) (pid.Pid, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.names[name]
	return p, ok
}

func (r *scRegistrar) calls() ([]scRegCall, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]scRegCall(nil), r.registered...), append([]string(nil), r.unregs...)
}

func TestXREG01_ViaRegistration(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		reg := &scRegistrar{}
		const name = "xreg01"

		first, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b), genserver.WithVia(reg, name))
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		regs, _ := reg.calls()
		if len(regs) != 1 || regs[0] != (scRegCall{name, first.Pid(), true}) {
			t.Fatalf("RegisterName calls %v, want one with %q %v", regs, name, first.Pid())
		}
		if p, ok := reg.WhereIsName(name); !ok || p != first.Pid() {
			t.Fatalf("WhereIsName = %v, %v; want %v", p, ok, first.Pid())
		}
		before := len(n.Processes())

		// A second start with the name fails and leaves nothing running.
		second := &scServer{}
		ref, err := genserver.Start(ctx, n, second, genserver.WithBackend(b), genserver.WithVia(reg, name))
		var ase *genserver.AlreadyStartedError
		if !errors.As(err, &ase) || !errors.Is(err, genserver.ErrAlreadyStarted) {
			t.Fatalf("second start: got %v, want *AlreadyStartedError", err)
		}
		if ase.Pid != first.Pid() || ase.Name != name {
			t.Fatalf("AlreadyStartedError names %q %v, want %q %v", ase.Name, ase.Pid, name, first.Pid())
		}
		if !ref.Pid().IsZero() {
			t.Fatalf("failed Start returned Pid %v", ref.Pid())
		}
		if got := second.inits.Load(); got != 0 {
			t.Fatalf("Init of the second server ran %d times", got)
		}
		scExpectProcesses(t, n, before)
		if p, ok := reg.WhereIsName(name); !ok || p != first.Pid() {
			t.Fatalf("after the failed start WhereIsName = %v, %v; want %v", p, ok, first.Pid())
		}
		if _, unregs := reg.calls(); len(unregs) != 0 {
			t.Fatalf("the failed start unregistered %v", unregs)
		}

		// Calls and casts by the via name resolve through WhereIsName.
		via := genserver.NamedVia[scReq, int, scMsg](n, reg, name)
		if v, err := via.Call(ctx, scReq{Op: "add", N: 2}); err != nil || v != 2 {
			t.Fatalf("NamedVia call: got (%d, %v), want (2, nil)", v, err)
		}
		if err := via.Cast(scMsg{N: 3}); err != nil {
			t.Fatalf("NamedVia cast: %v", err)
		}
		if v, err := first.ByName().Call(ctx, scReq{Op: "get"}); err != nil || v != 5 {
			t.Fatalf("ByName call: got (%d, %v), want (5, nil)", v, err)
		}

		// Stop unregisters the name before it returns.
		if err := first.Stop(ctx, nil); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if p, ok := reg.WhereIsName(name); ok {
			t.Fatalf("name still registered to %v after Stop returned", p)
		}
		_, err = via.Call(ctx, scReq{Op: "get"})
		var ce *genserver.CallError
		if !errors.As(err, &ce) || !errors.Is(err, process.NoProc) {
			t.Fatalf("NamedVia call after stop: got %v, want a *CallError wrapping NoProc", err)
		}

		// The name is free at once; a kill unregisters it too.
		again, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b), genserver.WithVia(reg, name))
		if err != nil {
			t.Fatalf("restart with the via name: %v", err)
		}
		if p, ok := reg.WhereIsName(name); !ok || p != again.Pid() {
			t.Fatalf("WhereIsName = %v, %v; want %v", p, ok, again.Pid())
		}
		if err := n.Exit(again.Pid(), process.Kill); err != nil {
			t.Fatalf("kill: %v", err)
		}
		reason := spawntest.WaitExit(t, n, again.Pid())
		if !errors.Is(reason, process.Killed) && !errors.Is(reason, process.NoProc) {
			t.Fatalf("killed server exited with %v", reason)
		}
		if p, ok := reg.WhereIsName(name); ok {
			t.Fatalf("name still registered to %v after the kill", p)
		}
		if _, unregs := reg.calls(); len(unregs) != 2 {
			t.Fatalf("UnregisterName calls %v, want 2 (stop and kill)", unregs)
		}
		if _, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b), genserver.WithVia(reg, name)); err != nil {
			t.Fatalf("restart after the kill: %v", err)
		}
	})
}

// TestXREG01_ViaFailedInitUnregisters: a failed, ignored or panicking Init
// leaves no via name behind.
func TestXREG01_ViaFailedInitUnregisters(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		reg := &scRegistrar{}
		for _, init := range []func(*genserver.Ctx) error{
			func(*genserver.Ctx) error { return errSCInitStop },
			func(*genserver.Ctx) error { return genserver.Ignore },
			func(*genserver.Ctx) error { panic("init boom") },
		} {
			if _, err := genserver.Start(ctx, n, &scServer{initFn: init}, genserver.WithBackend(b), genserver.WithVia(reg, "xreg01")); err == nil {
				t.Fatal("Start succeeded, want an error")
			}
			if p, ok := reg.WhereIsName("xreg01"); ok {
				t.Fatalf("name left registered to %v after a failed start", p)
			}
		}
		// A start that times out in Init: the killed server's name goes too.
		gate := spawntest.NewGate(t)
		_, err := genserver.Start(ctx, n, &scServer{initFn: func(*genserver.Ctx) error { gate.Wait(context.Background()); return nil }},
			genserver.WithBackend(b), genserver.WithVia(reg, "xreg01"), genserver.WithStartTimeout(50*time.Millisecond))
		if !errors.Is(err, genserver.ErrTimeout) {
			t.Fatalf("Start: got %v, want ErrTimeout", err)
		}
		if p, ok := reg.WhereIsName("xreg01"); ok {
			t.Fatalf("name left registered to %v after a start timeout", p)
		}
		gate.Open()
		if _, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b), genserver.WithVia(reg, "xreg01")); err != nil {
			t.Fatalf("start with the freed name: %v", err)
		}
	})
}
