package spawntest_test

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// crasher is a server that panics when asked to.
type crasher struct{ genserver.NoCasts }

func (crasher) HandleCall(_ *genserver.CallCtx[string], req string) (string, error) {
	if req == "crash" {
		panic("asked to crash")
	}
	return req, nil
}

func TestLogs_RecordsACrashReport(t *testing.T) {
	t.Parallel()
	logs := spawntest.NewLogs(zapcore.InfoLevel)
	node := spawntest.NewNode(t, process.WithLogger(logs.Logger()))
	ctx := spawntest.Context(t)
	ref, err := genserver.Start(ctx, node, crasher{}, genserver.WithName("crasher"))
	if err != nil {
		t.Fatal(err)
	}
	exit := spawntest.WatchExit(t, node, ref.Pid())
	if _, err := ref.Call(ctx, "crash"); err == nil {
		t.Fatal("the crashing call succeeded")
	}
	exit.Wait()

	e := logs.Expect(t, "genserver terminated", zap.Stringer("pid", ref.Pid()), zap.String("name", "crasher"))
	if got := e.ContextMap()["reason"]; got != "panic: asked to crash" {
		t.Errorf("reason field %q", got)
	}
	if n := len(logs.Filter("genserver terminated")); n != 1 {
		t.Errorf("%d crash reports, want 1", n)
	}
	if n := len(logs.All()); n == 0 {
		t.Error("All is empty")
	}
	logs.ExpectNone(t, "genserver terminated", zap.String("name", "someone else"))
}

// A supervisor reports a restart after the exit the test sees: Expect waits
// for it.
func TestLogs_ExpectWaitsForALaterEntry(t *testing.T) {
	t.Parallel()
	logs := spawntest.NewLogs(zapcore.InfoLevel)
	node := spawntest.NewNode(t, process.WithLogger(logs.Logger()))
	sup, err := supervisor.Start(spawntest.Context(t), node, supervisor.Spec{
		Intensity: 5, Period: time.Hour,
		Children: []supervisor.ChildSpec{{ID: "w", Start: supervisor.Func(spawntest.ProbeLoop)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	old := spawntest.WaitChild(t, sup, "w", pid.Pid{})
	spawntest.ExitAndWait(t, node, old, errBoom)
	e := logs.Expect(t, "child restarted", zap.String("id", "w"))
	if e.Level != zapcore.InfoLevel {
		t.Errorf("child restarted at level %v", e.Level)
	}

	// Fields given to With are matched too; numbers match whatever their
	// integer type.
	go logs.Logger().With(zap.String("who", "goroutine")).Info("later", zap.Int("n", 3))
	logs.Expect(t, "later", zap.String("who", "goroutine"), zap.Int64("n", 3))
}

func TestLogs_RecordsOnlyItsLevel(t *testing.T) {
	t.Parallel()
	logs := spawntest.NewLogs(zapcore.WarnLevel)
	logs.Logger().Info("too low")
	logs.Logger().Warn("high enough")
	if got := logs.All(); len(got) != 1 || got[0].Message != "high enough" {
		t.Fatalf("recorded %v, want only the warning", got)
	}
	logs.ExpectNone(t, "too low")
}

func TestLogs_FailingExpectationsFail(t *testing.T) {
	logs := spawntest.NewLogs(zapcore.InfoLevel)
	logs.Logger().Info("child started", zap.String("id", "a"))

	f := runFake(func(t testing.TB) {
		within(short, func() { logs.Expect(t, "child started", zap.String("id", "b")) })
	})
	wantFail(t, f, `no log entry "child started" with map[id:b] within 50ms`, `recorded: info "child started" map[id:a]`)

	f = runFake(func(t testing.TB) { logs.ExpectNone(t, "child started") })
	wantFail(t, f, `log entry "child started" recorded, want none`, "map[id:a]")

	f = runFake(func(t testing.TB) { logs.ExpectNone(t, "", zap.String("id", "a")) })
	if fs := f.Failures(); len(fs) != 1 || !strings.Contains(fs[0], "(any message) with map[id:a]") {
		t.Fatalf("failures %q", fs)
	}
}
