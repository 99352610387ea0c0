package zapslog_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/internal/zapslog"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Records is a slog.Handler that keeps what it is given.
type Records struct {
	mu    sync.Mutex
	level slog.Level
	attrs []slog.Attr
	all   *[]slog.Record
}

func (h *Records) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *Records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	*h.all = append(*h.all, r)
	return nil
}
func (h *Records) WithAttrs(as []slog.Attr) slog.Handler {
	return &Records{level: h.level, attrs: append(append([]slog.Attr(nil), h.attrs...), as...), all: h.all}
}
func (h *Records) WithGroup(string) slog.Handler { return h }

func attrs(r slog.Record) map[string]any {
	m := map[string]any{}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	return m
}

func TestCore_FieldsLevelsAndWith(t *testing.T) {
	var all []slog.Record
	l := zap.New(zapslog.NewCore(&Records{level: slog.LevelInfo, all: &all})).With(zap.String("node", "n1"))
	l.Debug("hidden")
	l.Error("boom", zap.Int("n", 3), zap.Duration("d", time.Second), zap.NamedError("reason", errors.New("bad")),
		zap.ByteString("stack", []byte("goroutine 1")), zap.Stringer("level", zapcore.WarnLevel), zap.Skip())
	l.Warn("careful")
	l.Info("note")
	if len(all) != 3 {
		t.Fatalf("%d records, want 3 (debug is below the handler's level)", len(all))
	}
	r := all[0]
	if r.Message != "boom" || r.Level != slog.LevelError {
		t.Fatalf("record %q at %v", r.Message, r.Level)
	}
	m := attrs(r)
	for k, want := range map[string]any{"node": "n1", "n": int64(3), "d": time.Second, "reason": "bad", "stack": "goroutine 1", "level": "warn"} {
		if m[k] != want {
			t.Errorf("attr %s = %#v, want %#v", k, m[k], want)
		}
	}
	if all[1].Level != slog.LevelWarn || all[2].Level != slog.LevelInfo {
		t.Errorf("levels %v %v", all[1].Level, all[2].Level)
	}
	for l, want := range map[zapcore.Level]slog.Level{zapcore.DebugLevel: slog.LevelDebug, zapcore.PanicLevel: slog.LevelError + 4} {
		if got := zapslog.Level(l); got != want {
			t.Errorf("Level(%v) = %v, want %v", l, got, want)
		}
	}
	if err := l.Sync(); err != nil {
		t.Errorf("Sync: %v", err)
	}
}
