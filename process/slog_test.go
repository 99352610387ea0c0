package process_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// TestCrashReport_SlogAndZap: a crash report carries pid, name,
// behaviour, reason and stack, through zap and through log/slog alike.
func TestCrashReport_SlogAndZap(t *testing.T) {
	crash := func(t *testing.T, n *process.Node) string {
		p, err := n.Spawn(func(*process.Process) error { panic("kaboom") }, process.WithName("crasher"))
		if err != nil {
			t.Fatal(err)
		}
		spawntest.WaitExit(t, n, p)
		return p.String()
	}
	check := func(t *testing.T, m map[string]any, p string) {
		t.Helper()
		if m["pid"] != p || m["name"] != "crasher" || m["behaviour"] != "func" || m["reason"] != "panic: kaboom" {
			t.Errorf("report fields %v", m)
		}
		if s, _ := m["stack"].(string); !strings.Contains(s, "TestCrashReport_SlogAndZap") {
			t.Errorf("report stack does not show the panicking function: %q", s)
		}
	}
	t.Run("slog", func(t *testing.T) {
		var buf bytes.Buffer
		n := spawntest.NewNode(t, process.WithSlog(slog.New(slog.NewJSONHandler(&buf, nil))))
		p := crash(t, n)
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("not one JSON record: %v\n%s", err, buf.String())
		}
		if m["msg"] != "process crashed" || m["level"] != "ERROR" {
			t.Errorf("record %v", m)
		}
		check(t, m, p)
	})
	t.Run("zap", func(t *testing.T) {
		core, logs := observer.New(zapcore.ErrorLevel)
		n := spawntest.NewNode(t, process.WithLogger(zap.New(core)))
		p := crash(t, n)
		all := logs.FilterMessage("process crashed").All()
		if len(all) != 1 {
			t.Fatalf("%d crash reports", len(all))
		}
		check(t, all[0].ContextMap(), p)
	})
	t.Run("nil", func(t *testing.T) {
		n := spawntest.NewNode(t, process.WithSlog(nil))
		crash(t, n) // silenced: nothing to check but that it works
	})
}
