package spawntest_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// TestHostile_KitBadInput: the kit given what no test should give it. Each
// helper fails the (fake) test with a message naming the problem (the
// input itself where it is wrong, rather than a wait that ran out), never
// by panicking, which would crash the whole test binary.
//
// Not parallel: it shortens Timeout while it runs.
var errBounded = errors.New("fn's error")

func TestHostile_KitBadInput(t *testing.T) {
	old := spawntest.Timeout
	spawntest.Timeout = 300 * time.Millisecond
	defer func() { spawntest.Timeout = old }()
	n := spawntest.NewNode(t)
	dead := spawntest.SpawnIdle(t, n)
	spawntest.ExitAndWait(t, n, dead, process.Kill)
	cases := []struct {
		name string
		body func(t testing.TB)
		want string // a part of the failure ("" for a pass): it tells a wrong input from a wait that ran out
	}{
		{"Eventually(nil)", func(t testing.TB) { spawntest.Eventually(t, "x", nil) }, "nil condition"},
		{"Expect(nil probe)", func(t testing.TB) { spawntest.Expect[int](t, nil) }, "nil probe"},
		{"ExpectMatch(nil match)", func(t testing.TB) { spawntest.ExpectMatch[int](t, spawntest.NewProbe(t, n), nil) }, "nil match"},
		{"WaitName(nil node)", func(t testing.TB) { spawntest.WaitName(t, nil, "x") }, "nil node"},
		{"WaitName(\"\")", func(t testing.TB) { spawntest.WaitName(t, n, "") }, "empty name"},
		{"WaitReregistered(nil node)", func(t testing.TB) { spawntest.WaitReregistered(t, nil, "x", dead) }, "nil node"},
		{"NewProbe(nil node)", func(t testing.TB) { spawntest.NewProbe(t, nil) }, "nil node"},
		{"Adopt(nil node)", func(t testing.TB) { spawntest.Adopt(t, nil, dead) }, "nil node"},
		{"SpawnIdle(nil node)", func(t testing.TB) { spawntest.SpawnIdle(t, nil) }, "nil node"},
		{"WaitExit(nil node)", func(t testing.TB) { spawntest.WaitExit(t, nil, dead) }, "nil node"},
		{"WatchExit(zero pid)", func(t testing.TB) { spawntest.WatchExit(t, n, pid.Pid{}) }, "zero pid"},
		{"Info(dead)", func(t testing.TB) { spawntest.Info(t, n, dead) }, "noproc"},
		{"WaitChild(zero Ref)", func(t testing.TB) { spawntest.WaitChild(t, supervisor.Ref{}, "x", pid.Pid{}) }, "zero Ref"},
		{"Probe.Monitor(zero pid)", func(t testing.TB) { spawntest.NewProbe(t, n).Monitor(pid.Pid{}) }, "zero pid"},
		{"Probe.Do on a dead probe", func(t testing.TB) {
			pr := spawntest.NewProbe(t, n)
			pr.Exit(process.Kill)
			pr.Do(func(*process.Process) error { return nil })
		}, "has exited"},
		{"Probe.Receive on a dead probe", func(t testing.TB) {
			pr := spawntest.NewProbe(t, n)
			pr.Exit(process.Kill)
			pr.Receive()
		}, "has exited"},
		{"Recv(nil channel)", func(t testing.TB) { spawntest.Recv[int](t, nil) }, "nothing received"},
		{"ExpectDown(zero Ref)", func(t testing.TB) { spawntest.NewProbe(t, n).ExpectDown(pid.Ref{}) }, "no link.Down"},
		{"ExitAndWait(nil reason) of a process that ignores it", func(t testing.TB) {
			spawntest.ExitAndWait(t, n, spawntest.SpawnIdle(t, n), nil)
		}, "still alive"},
		{"WaitExit(dead)", func(t testing.TB) { spawntest.WaitExit(t, n, dead) }, ""},
		{"Gate opened twice", func(t testing.TB) { g := spawntest.NewGate(t); g.Open(); g.Open() }, ""},
		{"NewLogs(nil) records", func(t testing.TB) {
			l := spawntest.NewLogs(nil)
			l.Logger().Debug("recorded")
			l.Expect(t, "recorded")
		}, ""},
		{"NewNode(nil option)", func(t testing.TB) { spawntest.NewNode(t, nil) }, ""},
		{"Bounded of a fn that returns", func(t testing.TB) {
			if err := spawntest.Bounded(t, "fn", func() error { return errBounded }); err != errBounded {
				t.Errorf("Bounded returned %v, want fn's error", err)
			}
		}, ""},
		{"Bounded of a fn that panics", func(t testing.TB) {
			spawntest.Bounded(t, "fn", func() error { panic("boom") })
		}, "fn did not return: boom"},
		{"Bounded of a fn that calls Goexit", func(t testing.TB) {
			spawntest.Bounded(t, "fn", func() error { runtime.Goexit(); return nil })
		}, "fn did not return: runtime.Goexit"},
		{"Bounded of a fn that hangs", func(t testing.TB) {
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			spawntest.Bounded(t, "fn", func() error { <-release; return nil })
		}, "fn did not return within"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f *fakeT
			func() {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("panicked: %v", v)
					}
				}()
				f = runFake(c.body)
			}()
			fs := f.Failures()
			switch {
			case c.want == "" && len(fs) > 0:
				t.Fatalf("failed: %q", fs)
			case c.want != "" && (len(fs) == 0 || !strings.Contains(strings.Join(fs, "\n"), c.want)):
				t.Fatalf("failures %q, want one containing %q", fs, c.want)
			}
		})
	}
}
