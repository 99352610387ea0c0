package supervisor_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// TestSUP25_APIOnMissingSupervisor: every call of the API on a supervisor
// that does not exist (an unknown name, a dead Pid) fails at once with
// process.NoProc, in a *supervisor.CallError that names the method and
// the supervisor (OTP: {noproc, {gen_server, call, [Name, which_children,
// infinity]}}); the *genserver.CallError underneath stays reachable.
func TestSUP25_APIOnMissingSupervisor(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	ctx := genserver.WithoutTimeout(context.Background()) // NoProc must come at once, not after a wait
	dead, err := supervisor.Start(spawntest.Context(t), node, supervisor.Spec{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := dead.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	child := supervisor.ChildSpec{ID: "c", Start: supervisor.Func(func(*process.Process) error { return nil })}
	type target struct {
		label string
		name  string
		sup   supervisor.Ref
		dyn   supervisor.Dynamic[int]
	}
	for _, tg := range []target{
		{"unknown name", "sg-nobody", supervisor.Named(node, "sg-nobody"), supervisor.NamedDynamic[int](node, "sg-nobody")},
		{"dead Pid", "", supervisor.At(node, dead.Pid()), supervisor.DynamicAt[int](node, dead.Pid())},
	} {
		calls := map[string]func() error{
			"Ref.Stop":           func() error { return tg.sup.Stop(ctx) },
			"Ref.StartChild":     func() error { _, err := tg.sup.StartChild(ctx, child); return err },
			"Ref.TerminateChild": func() error { return tg.sup.TerminateChild(ctx, "c") },
			"Ref.RestartChild":   func() error { _, err := tg.sup.RestartChild(ctx, "c"); return err },
			"Ref.DeleteChild":    func() error { return tg.sup.DeleteChild(ctx, "c") },
			"Ref.WhichChildren":  func() error { _, err := tg.sup.WhichChildren(ctx); return err },
			"Ref.CountChildren":  func() error { _, err := tg.sup.CountChildren(ctx); return err },
			"Ref.Inspect":        func() error { _, err := tg.sup.Inspect(ctx); return err },
			"Dynamic.Stop":       func() error { return tg.dyn.Stop(ctx) },
			"Dynamic.StartChild": func() error { _, err := tg.dyn.StartChild(ctx, 1); return err },
			"Dynamic.TerminateChild": func() error {
				return tg.dyn.TerminateChild(ctx, dead.Pid())
			},
			"Dynamic.WhichChildren": func() error { _, err := tg.dyn.WhichChildren(ctx); return err },
			"Dynamic.CountChildren": func() error { _, err := tg.dyn.CountChildren(ctx); return err },
			"Dynamic.Inspect":       func() error { _, err := tg.dyn.Inspect(ctx); return err },
		}
		for method, call := range calls {
			t.Run(tg.label+"/"+method, func(t *testing.T) {
				err := call()
				op := method[strings.Index(method, ".")+1:]
				var ce *supervisor.CallError
				var gce *genserver.CallError
				switch {
				case !errors.Is(err, process.NoProc):
					t.Fatalf("%v; want NoProc", err)
				case !errors.As(err, &ce) || ce.Op != op || !errors.Is(ce.Reason, process.NoProc):
					t.Fatalf("%v; want a *supervisor.CallError with Op %s", err, op)
				case !errors.As(err, &gce):
					t.Fatalf("%v; want the *genserver.CallError underneath", err)
				case !strings.HasPrefix(err.Error(), "supervisor: "+op+" "):
					t.Fatalf("text %q; want it to begin with %q", err, "supervisor: "+op)
				case strings.Contains(err.Error(), "genserver"):
					t.Fatalf("text %q names genserver", err)
				case tg.name != "" && (ce.Name != tg.name || !strings.Contains(err.Error(), `"`+tg.name+`"`)):
					t.Fatalf("%v (Name %q); want the name %q", err, ce.Name, tg.name)
				case tg.name == "" && ce.Supervisor != dead.Pid():
					t.Fatalf("%v (Supervisor %v); want %v", err, ce.Supervisor, dead.Pid())
				}
			})
		}
	}
	// The package function Inspect, and a zero handle.
	_, err = supervisor.Inspect(ctx, node, dead.Pid())
	var ce *supervisor.CallError
	if !errors.Is(err, process.NoProc) || !errors.As(err, &ce) || ce.Op != "Inspect" {
		t.Fatalf("Inspect(dead): %v; want a NoProc *CallError with Op Inspect", err)
	}
	var zero supervisor.Ref
	if _, err := zero.WhichChildren(ctx); !errors.Is(err, genserver.ErrZeroRef) || !strings.HasPrefix(err.Error(), "supervisor: WhichChildren") {
		t.Fatalf("zero Ref: %v; want ErrZeroRef, named by the supervisor's method", err)
	}
	// The supervisor's own answers are not wrapped.
	live, err := supervisor.Start(ctx, node, supervisor.Spec{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := live.TerminateChild(ctx, "none"); err != supervisor.ErrNotFound {
		t.Fatalf("TerminateChild(unknown id) = %v; want ErrNotFound itself", err)
	}
}
