package spawntest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/spawntest"
)

// fakeT is a testing.TB that records failures instead of failing, so that
// the kit's tests can check that an expectation which should fail does (a
// kit that never fails cannot pass them), and so that the Examples, which
// have no *testing.T, can use the kit.
type fakeT struct {
	testing.TB // nil: the kit uses only the methods below

	mu       sync.Mutex
	failures []string
	logs     []string
	cleanups []func()
}

func (f *fakeT) Helper()      {}
func (f *fakeT) Name() string { return "fakeT" }

func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *fakeT) Log(args ...any)                 { f.log(fmt.Sprintln(args...)) }
func (f *fakeT) Logf(format string, args ...any) { f.log(fmt.Sprintf(format, args...)) }

func (f *fakeT) log(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, strings.TrimSuffix(s, "\n"))
}

func (f *fakeT) fail(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, strings.TrimSuffix(s, "\n"))
}

func (f *fakeT) Fail()                             { f.fail("Fail") }
func (f *fakeT) Error(args ...any)                 { f.fail(fmt.Sprintln(args...)) }
func (f *fakeT) Errorf(format string, args ...any) { f.fail(fmt.Sprintf(format, args...)) }
func (f *fakeT) FailNow()                          { f.fail("FailNow"); runtime.Goexit() }
func (f *fakeT) Fatal(args ...any)                 { f.fail(fmt.Sprintln(args...)); runtime.Goexit() }

func (f *fakeT) Fatalf(format string, args ...any) {
	f.fail(fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (f *fakeT) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.failures) > 0
}

// Failures returns what failed the fake test, in order.
func (f *fakeT) Failures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.failures...)
}

// call runs fn on a goroutine of its own, as the testing package runs a
// test, so that FailNow can end it, and waits for it.
func (f *fakeT) call(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// runFake runs body as a test with a fakeT, then its cleanups, last first,
// and returns the fakeT.
func runFake(body func(t testing.TB)) *fakeT {
	f := &fakeT{}
	f.call(func() { body(f) })
	for {
		f.mu.Lock()
		n := len(f.cleanups)
		if n == 0 {
			f.mu.Unlock()
			return f
		}
		fn := f.cleanups[n-1]
		f.cleanups = f.cleanups[:n-1]
		f.mu.Unlock()
		f.call(fn)
	}
}

// inTest runs an Example's body as a test would run it, with t standing in
// for the test's *testing.T, and prints what failed, if anything.
func inTest(body func(t testing.TB)) {
	for _, s := range runFake(body).Failures() {
		fmt.Println("FAIL:", s)
	}
}

// wantPass fails t if the fake test failed.
func wantPass(t *testing.T, f *fakeT) {
	t.Helper()
	if fs := f.Failures(); len(fs) > 0 {
		t.Fatalf("the fake test failed: %q", fs)
	}
}

// wantFail fails t unless the fake test failed with a message containing
// each of parts.
func wantFail(t *testing.T, f *fakeT, parts ...string) {
	t.Helper()
	fs := f.Failures()
	if len(fs) == 0 {
		t.Fatalf("the fake test passed, want a failure mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(fs[0], p) {
			t.Errorf("failure %q does not mention %q", fs[0], p)
		}
	}
}

// within runs fn with spawntest.Timeout set to d. Only tests that do not run
// in parallel may use it.
func within(d time.Duration, fn func()) {
	old := spawntest.Timeout
	spawntest.Timeout = d
	defer func() { spawntest.Timeout = old }()
	fn()
}

// short is the Timeout for waits that are meant to fail.
const short = 50 * time.Millisecond

// TestFakeT checks the stand-in itself: Fatal ends the body, Error does
// not, cleanups run last first.
func TestFakeT(t *testing.T) {
	t.Parallel()
	var order []string
	f := runFake(func(tb testing.TB) {
		tb.Cleanup(func() { order = append(order, "cleanup 1") })
		tb.Cleanup(func() { order = append(order, "cleanup 2") })
		tb.Errorf("error %d", 1)
		order = append(order, "after Errorf")
		tb.Fatalf("fatal %d", 2)
		order = append(order, "after Fatalf")
	})
	if got, want := fmt.Sprint(order), "[after Errorf cleanup 2 cleanup 1]"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(f.Failures()), "[error 1 fatal 2]"; got != want {
		t.Errorf("failures %s, want %s", got, want)
	}
	wantPass(t, runFake(func(testing.TB) {}))
}
