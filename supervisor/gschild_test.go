package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// gcWorker answers "who" with the argument it was started with.
type gcWorker struct {
	genserver.NoCasts
	n int
}

func (w *gcWorker) HandleCall(_ *genserver.CallCtx[string], req string) (string, error) {
	return fmt.Sprintf("%s %d", req, w.n), nil
}

var gcWorkerName = genserver.NewName[string, string, genserver.Never]("gc-worker")

// TestDynamicGenServer_OneLine: DynamicGenServer makes a dynamic
// supervisor's start function from a constructor, as GenServer does for a
// static child; each restart calls it again with the child's argument.
func TestDynamicGenServer_OneLine(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		node, ctx := spawntest.NewNode(t), spawntest.Context(t)
		made := make(chan int, 8)
		pool, err := supervisor.StartDynamic(ctx, node, supervisor.DynamicSpec[int]{
			Start: supervisor.DynamicGenServer(func(n int) *gcWorker {
				made <- n
				return &gcWorker{n: n}
			}, genserver.WithBackend(b)),
			Backend: b, Intensity: 5, Period: time.Minute,
		})
		if err != nil {
			t.Fatalf("StartDynamic: %v", err)
		}
		for _, n := range []int{3, 4} {
			p, err := pool.StartChild(ctx, n)
			if err != nil {
				t.Fatalf("StartChild(%d): %v", n, err)
			}
			if got := spawntest.Recv(t, made); got != n {
				t.Fatalf("constructor got %d; want %d", got, n)
			}
			if info, err := node.Info(p); err != nil || info.Backend != b {
				t.Fatalf("child %d runs on %v, %v; want %v", n, info.Backend, err, b)
			}
			rep, err := genserver.At[string, string, genserver.Never](node, p).Call(ctx, "worker")
			if err != nil || rep != fmt.Sprintf("worker %d", n) {
				t.Fatalf("call child %d = %q, %v", n, rep, err)
			}
		}
		// A killed worker comes back from its argument, under its label.
		cs, err := pool.WhichChildren(ctx)
		if err != nil || len(cs) != 2 || cs[0].ID != "3" || cs[1].ID != "4" {
			t.Fatalf("children %+v, %v; want labels 3 and 4", cs, err)
		}
		spawntest.ExitAndWait(t, node, cs[1].Pid, process.Kill)
		if got := spawntest.Recv(t, made); got != 4 {
			t.Fatalf("restart constructed %d; want 4", got)
		}
		spawntest.Eventually(t, "worker 4 restarted", func() bool {
			now, err := pool.WhichChildren(ctx)
			return err == nil && len(now) == 2 && now[1].ID == "4" && now[1].Status == supervisor.Running && now[1].Pid != cs[1].Pid
		})
	})
}

// TestNamedGenServer_FollowsRestarts: a static child started under a typed
// name is reached by the name's Ref, across its restarts.
func TestNamedGenServer_FollowsRestarts(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		node, ctx := spawntest.NewNode(t), spawntest.Context(t)
		sup, err := supervisor.Start(ctx, node, supervisor.Spec{Backend: b, Children: []supervisor.ChildSpec{
			{ID: "w", Start: supervisor.NamedGenServer(gcWorkerName, func() *gcWorker { return &gcWorker{n: 7} }, genserver.WithBackend(b))},
		}})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		ref := gcWorkerName.Ref(node)
		if rep, err := ref.Call(ctx, "w"); err != nil || rep != "w 7" {
			t.Fatalf("Call = %q, %v", rep, err)
		}
		old := spawntest.WaitName(t, node, "gc-worker")
		spawntest.ExitAndWait(t, node, old, process.Kill)
		spawntest.WaitReregistered(t, node, "gc-worker", old)
		if rep, err := ref.Call(ctx, "again"); err != nil || rep != "again 7" {
			t.Fatalf("Call after the restart = %q, %v", rep, err)
		}
		if err := sup.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		// An empty name fails the child's start.
		_, err = supervisor.Start(ctx, node, supervisor.Spec{Children: []supervisor.ChildSpec{
			{ID: "w", Start: supervisor.NamedGenServer(genserver.NewName[string, string, genserver.Never](""), func() *gcWorker { return &gcWorker{} })},
		}})
		if !errors.Is(err, registry.ErrEmptyName) {
			t.Fatalf("Start with an empty name: %v", err)
		}
	})
}

// gcLabelArg is an argument without a value label: a struct.
type gcLabelArg struct{ Host string }

// gcStringer labels itself.
type gcStringer struct{ id int }

func (s gcStringer) String() string { return fmt.Sprintf("conn-%d", s.id) }

// TestDynamicChildLabels: a dynamic child is labelled, in WhichChildren,
// logs and events, by DynamicSpec.ID, by its argument when that is a
// string, number, boolean or fmt.Stringer, and otherwise by the number of
// the StartChild that started it; the label stays across restarts.
func TestDynamicChildLabels(t *testing.T) {
	t.Parallel()
	t.Run("int", func(t *testing.T) {
		gcLabels(t, supervisor.DynamicSpec[int]{}, []int{3, 4, 3}, []string{"3", "4", "3"})
	})
	t.Run("string", func(t *testing.T) {
		gcLabels(t, supervisor.DynamicSpec[string]{}, []string{"a", "b"}, []string{"a", "b"})
	})
	t.Run("float and bool", func(t *testing.T) {
		gcLabels(t, supervisor.DynamicSpec[float64]{}, []float64{1.5}, []string{"1.5"})
		gcLabels(t, supervisor.DynamicSpec[bool]{}, []bool{true}, []string{"true"})
	})
	t.Run("stringer", func(t *testing.T) {
		gcLabels(t, supervisor.DynamicSpec[gcStringer]{}, []gcStringer{{1}, {2}}, []string{"conn-1", "conn-2"})
	})
	t.Run("struct", func(t *testing.T) {
		gcLabels(t, supervisor.DynamicSpec[gcLabelArg]{}, []gcLabelArg{{"x"}, {"y"}, {"z"}}, []string{"#1", "#2", "#3"})
	})
	t.Run("pointer", func(t *testing.T) {
		gcLabels(t, supervisor.DynamicSpec[*gcLabelArg]{}, []*gcLabelArg{{"x"}, nil}, []string{"#1", "#2"})
	})
	t.Run("ID", func(t *testing.T) {
		gcLabels(t, supervisor.DynamicSpec[gcLabelArg]{ID: func(a gcLabelArg) string { return "host " + a.Host }},
			[]gcLabelArg{{"x"}, {"y"}}, []string{"host x", "host y"})
	})
}

// gcLabels starts a child per argument under spec (its Start filled in)
// and checks the labels: in WhichChildren, in ChildStarted events, and in
// the logs of a restart.
func gcLabels[A any](t *testing.T, spec supervisor.DynamicSpec[A], args []A, want []string) {
	t.Helper()
	logs := spawntest.NewLogs(zapcore.InfoLevel)
	node, ctx := spawntest.NewNode(t, process.WithLogger(logs.Logger())), spawntest.Context(t)
	sub := node.Subscribe(event.Kinds(event.KindChildStarted, event.KindChildRestarted))
	defer sub.Close()
	spec.Start = func(_ context.Context, sup *process.Process, _ A) (pid.Pid, error) { return sup.SpawnLink(sgChild) }
	spec.Intensity, spec.Period = 5, time.Minute
	pool, err := supervisor.StartDynamic(ctx, node, spec)
	if err != nil {
		t.Fatalf("StartDynamic: %v", err)
	}
	for _, a := range args {
		if _, err := pool.StartChild(ctx, a); err != nil {
			t.Fatalf("StartChild(%v): %v", a, err)
		}
	}
	cs, err := pool.WhichChildren(ctx)
	if err != nil || len(cs) != len(want) {
		t.Fatalf("children %+v, %v", cs, err)
	}
	for i, c := range cs {
		if c.ID != want[i] {
			t.Fatalf("child %d labelled %q; want %q", i, c.ID, want[i])
		}
		ev, ok := spawntest.Recv(t, sub.C()).(event.ChildStarted)
		if !ok || ev.ID != want[i] || ev.Pid != c.Pid {
			t.Fatalf("event %+v; want ChildStarted of %q", ev, want[i])
		}
	}
	// A crash and a restart are logged with the label, and the label stays.
	if err := node.Send(cs[0].Pid, errSgBoom); err != nil {
		t.Fatalf("send: %v", err)
	}
	restarted, ok := spawntest.Recv(t, sub.C()).(event.ChildRestarted)
	if !ok || restarted.ID != want[0] || restarted.Old != cs[0].Pid {
		t.Fatalf("event %+v; want ChildRestarted of %q", restarted, want[0])
	}
	logs.Expect(t, "child terminated", zap.String("id", want[0]))
	logs.Expect(t, "child restarted", zap.String("id", want[0]))
	now, err := pool.WhichChildren(ctx)
	if err != nil || now[0].ID != want[0] || now[0].Pid == cs[0].Pid {
		t.Fatalf("after the restart %+v, %v; want %q on a new process", now, err, want[0])
	}
}

// TestDynamicChildLabels_IDPanics: a panic in DynamicSpec.ID fails that
// StartChild with a *StartChildError and harms nothing else.
func TestDynamicChildLabels_IDPanics(t *testing.T) {
	t.Parallel()
	node, ctx := spawntest.NewNode(t), spawntest.Context(t)
	pool, err := supervisor.StartDynamic(ctx, node, supervisor.DynamicSpec[int]{
		ID: func(n int) string {
			if n < 0 {
				panic("gc: negative")
			}
			return fmt.Sprint("w", n)
		},
		Start: func(_ context.Context, sup *process.Process, _ int) (pid.Pid, error) { return sup.SpawnLink(sgChild) },
	})
	if err != nil {
		t.Fatalf("StartDynamic: %v", err)
	}
	_, err = pool.StartChild(ctx, -1)
	var pe *process.PanicError
	var sce *supervisor.StartChildError
	if !errors.As(err, &sce) || !errors.As(err, &pe) || !strings.Contains(err.Error(), "gc: negative") {
		t.Fatalf("StartChild(-1): %v; want a *StartChildError wrapping the panic", err)
	}
	if _, err := pool.StartChild(ctx, 1); err != nil {
		t.Fatalf("StartChild(1) after the panic: %v", err)
	}
	if cs, err := pool.WhichChildren(ctx); err != nil || len(cs) != 1 || cs[0].ID != "w1" {
		t.Fatalf("children %+v, %v; want w1 alone", cs, err)
	}
}
