package supervisor_test

import (
	"context"
	"errors"
	"testing"

	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// TestHardening06_KilledSupervisorTakesItsChildren: a supervisor killed
// while it stops a child, or while it starts one, used to leave the child
// alive with no link and no supervisor: it unlinked a child before sending
// it the exit signal, and a start function's child it could no longer link
// to was left running. (internal/reliability's
// TestHardening06_SupervisorKillsLeaveNoOrphan kills supervisors at random
// points of restarts and shutdowns.)
func TestHardening06_KilledSupervisorTakesItsChildren(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("while stopping a child", func(t *testing.T) {
			n := spawntest.NewNode(t)
			shutdownSeen := make(chan struct{})
			child := make(chan pid.Pid, 1)
			// A child that traps exits and outlasts the supervisor's
			// Shutdown, but not the supervisor's death.
			stubborn := func(p *process.Process) error {
				p.TrapExit(true)
				child <- p.Self()
				for {
					m, err := p.Receive(context.Background())
					if err != nil {
						return err
					}
					if e, ok := m.(link.Exit); ok {
						if errors.Is(e.Reason, process.Shutdown) {
							close(shutdownSeen)
							continue
						}
						return e.Reason
					}
				}
			}
			sup, err := supervisor.Start(spawntest.Context(t), n, supervisor.Spec{Backend: b, Children: []supervisor.ChildSpec{
				{ID: "stubborn", Start: supervisor.Func(stubborn, process.WithBackend(b)), Shutdown: supervisor.Infinity},
			}})
			if err != nil {
				t.Fatal(err)
			}
			c := spawntest.Recv(t, child)
			exit := spawntest.WatchExit(t, n, c)
			go sup.TerminateChild(context.Background(), "stubborn") // waits for ever
			spawntest.Recv(t, shutdownSeen)
			if err := n.Exit(sup.Pid(), process.Kill); err != nil {
				t.Fatal(err)
			}
			if r := exit.Wait(); !errors.Is(r, process.Killed) {
				t.Errorf("child exit %v; want Killed, from its supervisor's death", r)
			}
		})
		t.Run("while starting a child", func(t *testing.T) {
			n := spawntest.NewNode(t)
			sup, err := supervisor.Start(spawntest.Context(t), n, supervisor.Spec{Backend: b})
			if err != nil {
				t.Fatal(err)
			}
			child := make(chan *spawntest.ExitWatch, 1)
			// A start function that does not link, and during which the
			// supervisor is killed.
			start := func(ctx context.Context, s *process.Process) (pid.Pid, error) {
				p, err := s.Node().Spawn(spawntest.Idle, process.WithBackend(b))
				if err != nil {
					return p, err
				}
				child <- spawntest.WatchExit(t, n, p)
				s.Node().Exit(s.Self(), process.Kill)
				return p, nil
			}
			go sup.StartChild(context.Background(), supervisor.ChildSpec{ID: "unlinked", Start: start})
			exit := spawntest.Recv(t, child)
			if r := exit.Wait(); !errors.Is(r, process.Killed) {
				t.Errorf("child exit %v; want Killed", r)
			}
		})
	})
}

// TestHardening08_NilContext: the supervisor functions that take a
// context fail at once with process.ErrNilContext for a nil one.
func TestHardening08_NilContext(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	sup, err := supervisor.Start(spawntest.Context(t), n, supervisor.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := supervisor.StartDynamic(spawntest.Context(t), n, supervisor.DynamicSpec[int]{
		Start: func(ctx context.Context, s *process.Process, _ int) (pid.Pid, error) {
			return s.SpawnLink(spawntest.Idle)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	parent := spawntest.NewProbe(t, n)
	var nilCtx context.Context
	spec := supervisor.ChildSpec{ID: "c", Start: supervisor.Func(spawntest.Idle)}
	cases := []struct {
		name string
		call func() error
	}{
		{"Start", func() error { _, err := supervisor.Start(nilCtx, n, supervisor.Spec{}); return err }},
		{"StartLink", func() (err error) {
			parent.Do(func(p *process.Process) error {
				_, err = supervisor.StartLink(nilCtx, p, supervisor.Spec{})
				return nil
			})
			return err
		}},
		{"StartDynamic", func() error {
			_, err := supervisor.StartDynamic(nilCtx, n, supervisor.DynamicSpec[int]{
				Start: func(context.Context, *process.Process, int) (pid.Pid, error) { return pid.Pid{}, nil },
			})
			return err
		}},
		{"Ref.StartChild", func() error { _, err := sup.StartChild(nilCtx, spec); return err }},
		{"Ref.TerminateChild", func() error { return sup.TerminateChild(nilCtx, "c") }},
		{"Ref.RestartChild", func() error { _, err := sup.RestartChild(nilCtx, "c"); return err }},
		{"Ref.DeleteChild", func() error { return sup.DeleteChild(nilCtx, "c") }},
		{"Ref.WhichChildren", func() error { _, err := sup.WhichChildren(nilCtx); return err }},
		{"Ref.CountChildren", func() error { _, err := sup.CountChildren(nilCtx); return err }},
		{"Ref.Stop", func() error { return sup.Stop(nilCtx) }},
		{"Dynamic.StartChild", func() error { _, err := dyn.StartChild(nilCtx, 1); return err }},
		{"Dynamic.TerminateChild", func() error { return dyn.TerminateChild(nilCtx, sup.Pid()) }},
		{"Dynamic.WhichChildren", func() error { _, err := dyn.WhichChildren(nilCtx); return err }},
		{"Dynamic.CountChildren", func() error { _, err := dyn.CountChildren(nilCtx); return err }},
		{"Dynamic.Stop", func() error { return dyn.Stop(nilCtx) }},
	}
	for _, c := range cases {
		testkit.ExpectError(t, c.name, process.ErrNilContext, c.call)
	}
	if got := n.Stats().Processes; got != 3 {
		t.Errorf("%d processes; want the two supervisors and the probe only", got)
	}
}
