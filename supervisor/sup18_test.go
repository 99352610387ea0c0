package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

var errS18 = errors.New("s18: not today")

// s18Case is a supervisor start that does not go through, and what its
// linked caller sees.
type s18Case struct {
	label string
	spec  func(self chan<- pid.Pid) supervisor.Spec // self receives the supervisor's Pid from its Init
	check func(err error) bool                      // Start's error
	exit  func(reason error) bool                   // the link.Exit's reason; nil: no process, no exit
}

func s18Cases(b process.Backend) []s18Case {
	initReporting := func(self chan<- pid.Pid, result error) func(context.Context, *process.Process) error {
		return func(_ context.Context, sup *process.Process) error {
			self <- sup.Self()
			return result
		}
	}
	isStartError := func(reason error) func(error) bool {
		return func(err error) bool {
			var se *genserver.StartError
			return errors.As(err, &se) && errors.Is(err, reason)
		}
	}
	return []s18Case{
		{"init ignores", func(self chan<- pid.Pid) supervisor.Spec {
			return supervisor.Spec{Name: "s18", Backend: b, Init: initReporting(self, fmt.Errorf("disabled: %w", supervisor.ErrIgnore)),
				Children: []supervisor.ChildSpec{{ID: "c", Start: supervisor.Func(sgChild)}}}
		}, func(err error) bool { return err == supervisor.ErrIgnore },
			func(reason error) bool { return reason == process.Normal }},
		{"init fails", func(self chan<- pid.Pid) supervisor.Spec {
			return supervisor.Spec{Name: "s18", Backend: b, Init: initReporting(self, errS18)}
		}, isStartError(errS18), func(reason error) bool { return reason == errS18 }},
		{"init panics", func(self chan<- pid.Pid) supervisor.Spec {
			return supervisor.Spec{Name: "s18", Backend: b, Init: func(_ context.Context, sup *process.Process) error {
				self <- sup.Self()
				panic("s18: init panics")
			}}
		}, func(err error) bool {
			var pe *process.PanicError
			return errors.As(err, &pe)
		}, func(reason error) bool {
			var pe *process.PanicError
			return errors.As(reason, &pe)
		}},
		{"a child fails to start", func(self chan<- pid.Pid) supervisor.Spec {
			return supervisor.Spec{Name: "s18", Backend: b, Init: initReporting(self, nil), Children: []supervisor.ChildSpec{
				{ID: "ok", Start: supervisor.Func(sgChild)},
				{ID: "bad", Start: func(context.Context, *process.Process) (pid.Pid, error) { return pid.Pid{}, errS18 }},
			}}
		}, func(err error) bool {
			var sce *supervisor.StartChildError
			return errors.As(err, &sce) && sce.ID == "bad" && errors.Is(err, errS18)
		}, func(reason error) bool {
			var sce *supervisor.StartChildError
			return errors.As(reason, &sce) && sce.ID == "bad"
		}},
		{"an invalid child spec", func(chan<- pid.Pid) supervisor.Spec {
			return supervisor.Spec{Name: "s18", Backend: b, Children: []supervisor.ChildSpec{{Start: supervisor.Func(sgChild)}}}
		}, func(err error) bool {
			var se *supervisor.SpecError
			return errors.As(err, &se)
		}, nil},
	}
}

// TestSUP18_SupervisorStartIgnoredOrFailed: what a supervisor's start gives
// when it does not go through. Spec.Init returning ErrIgnore is OTP's init
// returning ignore: Start returns ErrIgnore and leaves no process and no
// name. A failing Init or child start fails it. A caller linked by
// StartLink that traps exits also receives the link.Exit with the matching
// reason (Normal for ignore), and one that does not trap is not killed. An
// invalid spec starts no process, so there is nothing to exit.
func TestSUP18_SupervisorStartIgnoredOrFailed(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, tc := range s18Cases(b) {
			for _, trap := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/trap=%v", tc.label, trap), func(t *testing.T) {
					node, ctx := spawntest.NewNode(t), spawntest.Context(t)
					self := make(chan pid.Pid, 1)
					spec := tc.spec(self)

					// Unlinked.
					if _, err := supervisor.Start(ctx, node, spec); !tc.check(err) {
						t.Fatalf("Start: %v", err)
					}
					if tc.exit != nil {
						if p := spawntest.Recv(t, self); node.Alive(p) {
							t.Fatalf("the supervisor %v is alive after Start failed", p)
						}
					}

					// Linked.
					pr := spawntest.NewProbe(t, node)
					pr.TrapExit(trap)
					var err error
					pr.Do(func(p *process.Process) error {
						_, err = supervisor.StartLink(ctx, p, spec)
						return nil
					})
					if !tc.check(err) {
						t.Fatalf("StartLink: %v", err)
					}
					if tc.exit == nil {
						pr.ExpectEmpty()
					} else {
						sup := spawntest.Recv(t, self)
						if trap {
							if e := pr.ExpectExit(sup); !tc.exit(e.Reason) {
								t.Fatalf("link.Exit reason %v", e.Reason)
							}
						}
					}
					pr.Do(func(*process.Process) error { return nil }) // the caller lives on
					if _, taken := registry.Of(node).WhereIs("s18"); taken {
						t.Fatalf("the name is left registered")
					}
					if n := node.Stats().Processes; n != 1 {
						t.Fatalf("%d processes alive; want the probe alone", n)
					}
				})
			}
		}
	})
}

// TestSUP18_IgnoredSubtreeAndDynamic: a supervisor child whose Init ignores
// is kept without a process by its parent (SUP-19), or dropped if
// temporary, and its Init runs again at RestartChild; a dynamic
// supervisor's Init can ignore too.
func TestSUP18_IgnoredSubtreeAndDynamic(t *testing.T) {
	t.Parallel()
	node, ctx := spawntest.NewNode(t), spawntest.Context(t)
	enabled := make(chan bool, 2)
	enabled <- false
	sub := supervisor.Spec{Init: func(context.Context, *process.Process) error {
		if !<-enabled {
			return supervisor.ErrIgnore
		}
		return nil
	}, Children: []supervisor.ChildSpec{{ID: "w", Start: supervisor.Func(sgChild)}}}
	top, err := supervisor.Start(ctx, node, supervisor.Spec{Children: []supervisor.ChildSpec{
		{ID: "sub", Type: supervisor.SupervisorChild, Start: supervisor.Supervisor(sub)},
		{ID: "never", Type: supervisor.SupervisorChild, Restart: supervisor.Temporary,
			Start: supervisor.Supervisor(supervisor.Spec{Init: func(context.Context, *process.Process) error { return supervisor.ErrIgnore }})},
	}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	cs, err := top.WhichChildren(ctx)
	if err != nil || len(cs) != 1 || cs[0].ID != "sub" || cs[0].Status != supervisor.NotRunning {
		t.Fatalf("children %+v, %v; want sub kept without a process, the temporary one dropped", cs, err)
	}
	enabled <- true
	p, err := top.RestartChild(ctx, "sub")
	if err != nil || p.IsZero() {
		t.Fatalf("RestartChild: %v, %v", p, err)
	}
	if n, err := supervisor.At(node, p).CountChildren(ctx); err != nil || n.Active != 1 {
		t.Fatalf("the subtree's children: %+v, %v", n, err)
	}

	_, err = supervisor.StartDynamic(ctx, node, supervisor.DynamicSpec[int]{Name: "s18-dyn",
		Init:  func(context.Context, *process.Process) error { return supervisor.ErrIgnore },
		Start: func(_ context.Context, sup *process.Process, _ int) (pid.Pid, error) { return sup.SpawnLink(sgChild) }})
	if err != supervisor.ErrIgnore {
		t.Fatalf("StartDynamic: %v; want ErrIgnore", err)
	}
	if _, taken := registry.Of(node).WhereIs("s18-dyn"); taken {
		t.Fatalf("the dynamic supervisor's name is left registered")
	}
}
