package reliability_test

import (
	"context"

	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// The orphan suite (issue 13, item 6): a supervisor killed at a random
// point of a restart or a shutdown must take every child with it. It used
// to unlink a child before sending it the exit signal, so a kill between
// the two left the child alive with no link and no supervisor (about 1 in
// 270 tries under -race for a one_for_all of six children on mixed
// backends). Every strategy and the dynamic supervisor; children that trap
// exits and children that do not, GenServers and plain processes, on every
// backend, and sometimes a nested supervisor.

// orphanWorker is a GenServer child; trapping ones trap exits in Init.
type orphanWorker struct{ trap bool }

func (w *orphanWorker) Init(ctx *genserver.Ctx) error {
	ctx.Process().TrapExit(w.trap)
	return nil
}

func (*orphanWorker) HandleCall(*genserver.CallCtx[int], int) (int, error) { return 0, nil }
func (*orphanWorker) HandleCast(*genserver.Ctx, int)                       {}

// orphanTrapper is a plain child that traps exits and leaves on the first
// exit signal: its supervisor's Shutdown, or its supervisor's death.
func orphanTrapper(p *process.Process) error {
	p.TrapExit(true)
	for {
		m, err := p.Receive(context.Background())
		if err != nil {
			return err
		}
		if e, ok := m.(link.Exit); ok {
			return e.Reason
		}
	}
}

// The kinds of children.
const (
	orphanServer = iota
	orphanTrappingServer
	orphanFunc
	orphanTrappingFunc
	orphanSubtree // a one_for_one supervisor of two children
	orphanKinds
)

// orphanShutdowns are the children's Shutdown settings: a kill, a short
// wait, and for ever (every child here stops on Shutdown).
var orphanShutdowns = []supervisor.Shutdown{supervisor.BrutalKill, supervisor.Shutdown(20 * time.Millisecond), supervisor.Infinity}

// orphanStart returns the start function of a child of kind on backend b.
func orphanStart(kind int, b process.Backend) supervisor.StartFunc {
	switch kind {
	case orphanServer, orphanTrappingServer:
		trap := kind == orphanTrappingServer
		return supervisor.GenServer(func() *orphanWorker { return &orphanWorker{trap: trap} }, genserver.WithBackend(b))
	case orphanFunc:
		return supervisor.Func(spawntest.Idle, process.WithBackend(b))
	case orphanTrappingFunc:
		return supervisor.Func(orphanTrapper, process.WithBackend(b))
	}
	return supervisor.Supervisor(supervisor.Spec{Backend: b, Intensity: 100, Period: time.Hour, Children: []supervisor.ChildSpec{
		{ID: "a", Start: orphanStart(orphanServer, b)},
		{ID: "b", Start: orphanStart(orphanTrappingFunc, process.Async), Shutdown: supervisor.Infinity},
	}})
}

// orphanChildKind picks a child's kind: a subtree now and then.
func orphanChildKind(r *rand.Rand) int {
	if r.IntN(8) == 0 {
		return orphanSubtree
	}
	return r.IntN(orphanSubtree)
}

// orphanAllDead waits until n has no live process left, watching every
// process it still has, and fails the test naming what outlived its
// supervisor.
func orphanAllDead(t *testing.T, f *raceFigures, n *process.Node, what string) {
	t.Helper()
	deadline := time.Now().Add(spawntest.Timeout)
	for {
		live := n.Processes()
		if len(live) == 0 {
			return
		}
		gone := make(chan struct{}, len(live))
		for _, p := range live {
			link.Watch(n, p, func(link.Down) { gone <- struct{}{} })
		}
		timeout := time.NewTimer(time.Until(deadline))
		for range live {
			select {
			case <-gone:
			case <-timeout.C:
				for _, p := range n.Processes() {
					info, _ := n.Info(p)
					f.add("orphans", 1)
					f.fail(t, "%s: %v outlived its supervisor: links %v, monitored by %v, status %v",
						what, p, info.Links, info.MonitoredBy, info.Status)
					n.Exit(p, process.Kill) // so the next try starts clean
				}
				return
			}
		}
		timeout.Stop()
	}
}

func TestHardening06_SupervisorKillsLeaveNoOrphan(t *testing.T) {
	t.Parallel()
	seed := seedFromEnv(t)
	f := newRaceFigures(t, "hardening/supervisor-kills", seed,
		"kills", "one_for_one", "one_for_all", "rest_for_one", "dynamic",
		"during-restart", "during-stop", "during-terminate-child", "during-intensity-shutdown", "during-start-child",
		"children", "subtrees", "orphans", "failed", "leaks")
	kills := raceIterations(3400, 10) // per backend of the supervisor: 10,200 in all, 102,000 long
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		r := raceRand(seed, t)
		n := raceNode(t, f)
		for i := range kills {
			orphanTry(t, f, r, n, b, i)
			if t.Failed() {
				return
			}
		}
	})
}

// orphanTry starts a supervisor, starts a restart or a shutdown in it, and
// kills it at a random moment; then every process must die.
func orphanTry(t *testing.T, f *raceFigures, r *rand.Rand, n *process.Node, b process.Backend, i int) {
	strategy := r.IntN(4) // 3: dynamic
	intensity := 1000
	event := r.IntN(4)
	if event == 3 {
		intensity = 0 // the first restart exceeds it: the supervisor shuts down
	}
	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	defer cancel()
	var sup pid.Pid
	var children []pid.Pid
	var terminate func(p pid.Pid) error
	var stop func() error
	var startChild func() error
	k := 2 + r.IntN(5)
	f.add("children", int64(k))
	if strategy < 3 {
		spec := supervisor.Spec{Strategy: supervisor.Strategy(strategy), Intensity: intensity, Period: time.Hour, Backend: b}
		for j := range k {
			kind := orphanChildKind(r)
			if kind == orphanSubtree {
				f.add("subtrees", 1)
			}
			spec.Children = append(spec.Children, supervisor.ChildSpec{
				ID: fmt.Sprint(j), Start: orphanStart(kind, spawntest.Backends()[r.IntN(3)]),
				Shutdown: orphanShutdowns[r.IntN(len(orphanShutdowns))],
			})
		}
		ref, err := supervisor.Start(ctx, n, spec)
		if err != nil {
			t.Fatalf("start supervisor: %v", err)
		}
		sup = ref.Pid()
		which, err := ref.WhichChildren(ctx)
		if err != nil {
			t.Fatalf("which children: %v", err)
		}
		for _, c := range which {
			children = append(children, c.Pid)
		}
		terminate = func(p pid.Pid) error {
			for _, c := range which {
				if c.Pid == p {
					return ref.TerminateChild(ctx, c.ID)
				}
			}
			return nil
		}
		stop = func() error { return ref.Stop(ctx) }
		late := supervisor.ChildSpec{ID: "late", Start: orphanStart(orphanChildKind(r), spawntest.Backends()[r.IntN(3)])}
		startChild = func() error { _, err := ref.StartChild(ctx, late); return err }
		f.add([]string{"one_for_one", "one_for_all", "rest_for_one"}[strategy], 1)
	} else {
		dyn, err := supervisor.StartDynamic(ctx, n, supervisor.DynamicSpec[[2]int]{
			Start: func(ctx context.Context, s *process.Process, arg [2]int) (pid.Pid, error) {
				return orphanStart(arg[0], spawntest.Backends()[arg[1]])(ctx, s)
			},
			Shutdown: orphanShutdowns[r.IntN(len(orphanShutdowns))], Intensity: intensity, Period: time.Hour, Backend: b,
		})
		if err != nil {
			t.Fatalf("start dynamic supervisor: %v", err)
		}
		sup = dyn.Pid()
		for range k {
			kind := orphanChildKind(r)
			if kind == orphanSubtree {
				f.add("subtrees", 1)
			}
			c, err := dyn.StartChild(ctx, [2]int{kind, r.IntN(3)})
			if err != nil {
				t.Fatalf("start child: %v", err)
			}
			children = append(children, c)
		}
		terminate = func(p pid.Pid) error { return dyn.TerminateChild(ctx, p) }
		stop = func() error { return dyn.Stop(ctx) }
		arg := [2]int{orphanChildKind(r), r.IntN(3)}
		startChild = func() error { _, err := dyn.StartChild(ctx, arg); return err }
		f.add("dynamic", 1)
	}

	// Set the supervisor to work, and kill it at a random moment of it.
	victim := children[r.IntN(len(children))]
	done := make(chan error, 1)
	switch event {
	case 0, 3:
		if event == 0 {
			f.add("during-restart", 1)
		} else {
			f.add("during-intensity-shutdown", 1)
		}
		reason := []error{process.Kill, errRace}[r.IntN(2)]
		go func() { done <- n.Exit(victim, reason) }()
	case 1:
		f.add("during-stop", 1)
		go func() { done <- stop() }()
	case 2:
		if r.IntN(2) == 0 {
			f.add("during-terminate-child", 1)
			go func() { done <- terminate(victim) }()
		} else {
			f.add("during-start-child", 1)
			go func() { done <- startChild() }()
		}
	}
	raceSpin(r.IntN(1 + r.IntN(2000))) // mostly short, sometimes long
	n.Exit(sup, process.Kill)
	f.add("kills", 1)
	select {
	case <-done: // whatever it returned: its supervisor is dead
	case <-ctx.Done():
		f.fail(t, "try %d: an operation on the killed supervisor hangs", i)
	}
	orphanAllDead(t, f, n, fmt.Sprintf("try %d (strategy %d, event %d)", i, strategy, event))
}
