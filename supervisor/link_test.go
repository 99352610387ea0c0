package supervisor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// linkStarts are start functions whose children are not linked to the
// supervisor by the start function itself: the supervisor must link them.
var linkStarts = map[string]func(n *process.Node, other *process.Process) supervisor.StartFunc{
	// A plain process spawned without a link.
	"unlinked": func(n *process.Node, _ *process.Process) supervisor.StartFunc {
		return func(context.Context, *process.Process) (pid.Pid, error) {
			return n.Spawn(func(p *process.Process) error {
				_, err := p.Receive(p.Context())
				return err
			})
		}
	},
	// A server started by this package's GenServer, linked to another
	// process than the supervisor.
	"linked elsewhere": func(_ *process.Node, other *process.Process) supervisor.StartFunc {
		start := supervisor.GenServer(func() *pidServer { return &pidServer{} })
		return func(ctx context.Context, _ *process.Process) (pid.Pid, error) {
			return start(ctx, other)
		}
	},
}

// TestSupervisorLinksChildrenItsStartFunctionDidNotLink checks that a
// child whose start function does not link it to the supervisor is still
// watched: its crash is restarted.
func TestSupervisorLinksChildrenItsStartFunctionDidNotLink(t *testing.T) {
	for name, mk := range linkStarts {
		t.Run(name, func(t *testing.T) {
			n := spawntest.NewNode(t)
			other := spawntest.NewProbe(t, n)
			otherProc := make(chan *process.Process, 1)
			other.Do(func(p *process.Process) error {
				p.TrapExit(true) // the crash must not take it down
				otherProc <- p
				return nil
			})
			ref := imStart(t, n, supervisor.Spec{Strategy: supervisor.OneForOne, Intensity: 5, Period: time.Hour,
				Children: []supervisor.ChildSpec{{ID: "c", Start: mk(n, <-otherProc)}}})
			first := imWhich(t, ref)[0].Pid
			stratEnd(t, n, first, stratExit{"crash",
				func(t testing.TB, n *process.Node, p pid.Pid) { n.Exit(p, errW7Crash) },
				func(r error) bool { return errors.Is(r, errW7Crash) }})
			ctx := spawntest.Context(t)
			spawntest.Eventually(t, "c restarted", func() bool {
				cs, err := ref.WhichChildren(ctx)
				return err == nil && len(cs) == 1 && !cs[0].Pid.IsZero() && cs[0].Pid != first
			})
		})
	}
}

// TestSupervisorStartFunctionsOfThePackageLinkTheirChildren checks each
// start function of this package: a crash of its child is restarted.
func TestSupervisorStartFunctionsOfThePackageLinkTheirChildren(t *testing.T) {
	starts := map[string]supervisor.StartFunc{
		"GenServer":  supervisor.GenServer(func() *pidServer { return &pidServer{} }),
		"Supervisor": supervisor.Supervisor(supervisor.Spec{Strategy: supervisor.OneForOne}),
		"DynamicSupervisor": supervisor.DynamicSupervisor(supervisor.DynamicSpec[int]{
			Start: func(context.Context, *process.Process, int) (pid.Pid, error) { return pid.Pid{}, supervisor.ErrIgnore }}),
		"Func": supervisor.Func(func(p *process.Process) error {
			_, err := p.Receive(p.Context())
			return err
		}),
	}
	for name, start := range starts {
		t.Run(name, func(t *testing.T) {
			n := spawntest.NewNode(t)
			ref := imStart(t, n, supervisor.Spec{Strategy: supervisor.OneForOne, Intensity: 5, Period: time.Hour,
				Children: []supervisor.ChildSpec{{ID: "c", Start: start}}})
			for range 3 {
				old := imWhich(t, ref)[0].Pid
				stratEnd(t, n, old, stratExit{"crash",
					func(t testing.TB, n *process.Node, p pid.Pid) { n.Exit(p, process.Kill) },
					func(r error) bool { return errors.Is(r, process.Killed) }})
				ctx := spawntest.Context(t)
				spawntest.Eventually(t, name+" restarted", func() bool {
					cs, err := ref.WhichChildren(ctx)
					return err == nil && len(cs) == 1 && !cs[0].Pid.IsZero() && cs[0].Pid != old
				})
			}
		})
	}
}
