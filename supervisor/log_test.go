package supervisor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// TestLog_RestartsAndIntensityAreReported checks the supervisor's reports
// on a logger that records everything: a child's start, its abnormal exit,
// its restart, and the shutdown when the intensity is exceeded, each with
// its fields.
func TestLog_RestartsAndIntensityAreReported(t *testing.T) {
	logs := spawntest.NewLogs(zapcore.DebugLevel)
	n := spawntest.NewNode(t, process.WithLogger(logs.Logger()))
	ctx := spawntest.Context(t)
	ref := imStart(t, n, supervisor.Spec{
		Name: "logsup", Strategy: supervisor.OneForOne, Intensity: 1, Period: time.Hour,
		Children: []supervisor.ChildSpec{{ID: "w", Start: supervisor.GenServer(
			func() *pidServer { return &pidServer{} }, genserver.WithName("w"))}},
	})
	sup := imWhereIs(t, n, "logsup")
	w := genserver.Named[struct{}, pid.Pid, genserver.Never](n, "w")
	first, err := w.Call(ctx, struct{}{})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	started := logs.Expect(t, "child started")
	if started.Level != zapcore.DebugLevel || started.ContextMap()["id"] != "w" ||
		started.ContextMap()["pid"] != first.String() || started.ContextMap()["name"] != "logsup" {
		t.Fatalf("child started: %v %v", started.Level, started.ContextMap())
	}

	// The first crash is restarted.
	stratEnd(t, n, first, stratExit{"crash",
		func(t testing.TB, n *process.Node, p pid.Pid) { n.Exit(p, errW7Crash) },
		func(r error) bool { return errors.Is(r, errW7Crash) }})
	cs := imWhich(t, ref) // handled after the restart
	if len(cs) != 1 || cs[0].Pid.IsZero() || cs[0].Pid == first {
		t.Fatalf("WhichChildren = %+v", cs)
	}
	terminated := logs.Expect(t, "child terminated")
	if terminated.Level != zapcore.ErrorLevel || terminated.ContextMap()["id"] != "w" ||
		terminated.ContextMap()["reason"] != errW7Crash.Error() ||
		terminated.ContextMap()["pid"] != first.String() {
		t.Fatalf("child terminated: %v %v", terminated.Level, terminated.ContextMap())
	}
	restarted := logs.Expect(t, "child restarted")
	if restarted.Level != zapcore.InfoLevel || restarted.ContextMap()["id"] != "w" ||
		restarted.ContextMap()["pid"] != cs[0].Pid.String() {
		t.Fatalf("child restarted: %v %v", restarted.Level, restarted.ContextMap())
	}

	// The second exceeds the intensity.
	down := spawntest.WatchExit(t, n, sup)
	n.Exit(cs[0].Pid, errW7Crash)
	if r := down.Wait(); !errors.Is(r, process.Shutdown) {
		t.Fatalf("supervisor exited with %v, want shutdown", r)
	}
	gaveUp := logs.Expect(t, "reached max restart intensity; shutting down")
	if gaveUp.Level != zapcore.ErrorLevel || gaveUp.ContextMap()["intensity"] != int64(1) ||
		gaveUp.ContextMap()["period"] != time.Hour {
		t.Fatalf("intensity: %v %v", gaveUp.Level, gaveUp.ContextMap())
	}
}

// TestLog_FailedStartIsReported checks the report of a child whose start
// fails.
func TestLog_FailedStartIsReported(t *testing.T) {
	logs := spawntest.NewLogs(zapcore.InfoLevel)
	n := spawntest.NewNode(t, process.WithLogger(logs.Logger()))
	ctx := spawntest.Context(t)
	ref := imStart(t, n, supervisor.Spec{Strategy: supervisor.OneForOne, Intensity: 1, Period: time.Second})
	boom := errors.New("no start")
	if _, err := ref.StartChild(ctx, supervisor.ChildSpec{ID: "bad",
		Start: func(_ context.Context, _ *process.Process) (pid.Pid, error) { return pid.Pid{}, boom }}); !errors.Is(err, boom) {
		t.Fatalf("StartChild = %v, want %v", err, boom)
	}
	failed := logs.Expect(t, "child failed to start")
	if failed.Level != zapcore.ErrorLevel || failed.ContextMap()["id"] != "bad" || failed.ContextMap()["reason"] != boom.Error() {
		t.Fatalf("child failed to start: %v %v", failed.Level, failed.ContextMap())
	}
	for _, e := range logs.All() {
		if e.Level < zapcore.InfoLevel {
			t.Fatalf("a debug entry reached an info logger: %v", e)
		}
	}
}
