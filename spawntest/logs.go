package spawntest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Logs records the entries logged through its Logger, for assertions on
// crash reports and supervisor reports. Give a node its logger:
//
//	logs := spawntest.NewLogs(zapcore.InfoLevel)
//	node := spawntest.NewNode(t, process.WithLogger(logs.Logger()))
//
// Logs is safe for concurrent use.
type Logs struct {
	logger   *zap.Logger
	observed *observer.ObservedLogs
	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every entry
}

// NewLogs returns a recorder of the entries at level and above (for example
// zapcore.InfoLevel for crash reports, zapcore.DebugLevel to include
// supervisors' "child started"). A nil level records every entry.
func NewLogs(level zapcore.LevelEnabler) *Logs {
	if level == nil {
		level = zapcore.DebugLevel
	}
	core, observed := observer.New(level)
	l := &Logs{observed: observed, changed: make(chan struct{})}
	l.logger = zap.New(notifyCore{Core: core, logs: l})
	return l
}

// notifyCore wakes the waiters of a Logs after each entry it writes.
type notifyCore struct {
	zapcore.Core
	logs *Logs
}

func (c notifyCore) With(fields []zapcore.Field) zapcore.Core {
	return notifyCore{Core: c.Core.With(fields), logs: c.logs}
}

func (c notifyCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c notifyCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	err := c.Core.Write(e, fields)
	c.logs.mu.Lock()
	close(c.logs.changed)
	c.logs.changed = make(chan struct{})
	c.logs.mu.Unlock()
	return err
}

// Logger returns the logger whose entries are recorded.
func (l *Logs) Logger() *zap.Logger { return l.logger }

// All returns every entry recorded so far, oldest first.
func (l *Logs) All() []observer.LoggedEntry { return l.observed.All() }

// Filter returns the entries recorded so far with message msg (any message
// if msg is "") and every one of fields. A field matches when the entry has a
// field of that key whose value, as the entry's ContextMap shows it, equals
// the wanted field's: zap.String("id", "w"), zap.Stringer("pid", p) and
// zap.Error(err) each match the value the runtime logs.
func (l *Logs) Filter(msg string, fields ...zap.Field) []observer.LoggedEntry {
	want := fieldValues(fields)
	var out []observer.LoggedEntry
	for _, e := range l.observed.All() {
		if matches(e, msg, want) {
			out = append(out, e)
		}
	}
	return out
}

// Expect waits until an entry with message msg and fields (as Filter
// matches them) is recorded, for at most Timeout, and returns the first such
// entry. It fails t, listing what was recorded, if none is. A report that
// the runtime writes before the event the test waits for (a server's crash
// report comes before its exit can be observed) is found at once; one written
// after (a supervisor's restart report) is waited for.
func (l *Logs) Expect(t testing.TB, msg string, fields ...zap.Field) observer.LoggedEntry {
	t.Helper()
	want := fieldValues(fields)
	limit := Timeout
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		l.mu.Lock()
		changed := l.changed
		l.mu.Unlock()
		for _, e := range l.observed.All() {
			if matches(e, msg, want) {
				return e
			}
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("spawntest: no log entry %s within %v; recorded: %s", describeWant(msg, want), limit, describeEntries(l.observed.All()))
			return observer.LoggedEntry{}
		}
	}
}

// ExpectNone fails t if an entry with message msg and fields (as Filter
// matches them) has been recorded. It does not wait: call it after the
// event that would have been reported (for example after a clean stop, to
// check that no crash report was written).
func (l *Logs) ExpectNone(t testing.TB, msg string, fields ...zap.Field) {
	t.Helper()
	if found := l.Filter(msg, fields...); len(found) > 0 {
		t.Fatalf("spawntest: log entry %s recorded, want none: %s", describeWant(msg, fieldValues(fields)), describeEntries(found))
	}
}

// fieldValues renders fields as an entry's ContextMap would show them.
func fieldValues(fields []zap.Field) map[string]any {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return enc.Fields
}

// matches reports whether e has message msg (any if "") and the fields want.
func matches(e observer.LoggedEntry, msg string, want map[string]any) bool {
	if msg != "" && e.Message != msg {
		return false
	}
	if len(want) == 0 {
		return true
	}
	got := e.ContextMap()
	for k, w := range want {
		g, ok := got[k]
		if !ok || !sameValue(g, w) {
			return false
		}
	}
	return true
}

// sameValue compares two field values: equal, or equal as text (an int64
// and an int).
func sameValue(got, want any) bool {
	return reflect.DeepEqual(got, want) || fmt.Sprint(got) == fmt.Sprint(want)
}

func describeWant(msg string, want map[string]any) string {
	s := fmt.Sprintf("%q", msg)
	if msg == "" {
		s = "(any message)"
	}
	if len(want) > 0 {
		s += fmt.Sprintf(" with %v", want)
	}
	return s
}

func describeEntries(entries []observer.LoggedEntry) string {
	if len(entries) == 0 {
		return "nothing"
	}
	return list(entries, 20, func(e observer.LoggedEntry) string {
		return fmt.Sprintf("%s %q %v", e.Level, e.Message, e.ContextMap())
	})
}
