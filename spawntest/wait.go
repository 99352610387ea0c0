package spawntest

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/supervisor"
)

// ExitWatch waits for the exit of a process and gives its reason. Make it
// with WatchExit before causing the exit.
type ExitWatch struct {
	t      testing.TB
	pid    pid.Pid
	exited chan struct{}
	reason error // written before exited is closed
}

// WatchExit starts watching the process p of node (with link.Watch) and
// returns the watch, whose Wait gives p's exit reason. Call it while p is
// alive, before causing the exit: a watch set on a process that is already
// dead reports process.NoProc, not the reason it exited with.
func WatchExit(t testing.TB, node *process.Node, p pid.Pid) *ExitWatch {
	t.Helper()
	if node == nil {
		t.Fatalf("spawntest: WatchExit %v: nil node", p)
	}
	w := &ExitWatch{t: t, pid: p, exited: make(chan struct{})}
	if _, err := link.Watch(node, p, func(d link.Down) {
		w.reason = d.Reason
		close(w.exited)
	}); err != nil {
		t.Fatalf("spawntest: WatchExit %v: %v", p, err)
	}
	return w
}

// Wait waits until the watched process has exited and returns its exit
// reason; it fails the test if the process is still alive after Timeout.
// Wait may be called again and returns the same reason.
func (w *ExitWatch) Wait() error {
	w.t.Helper()
	if limit := Timeout; !closedWithin(w.exited, limit) {
		w.t.Fatalf("spawntest: process %v is still alive after %v, want it to exit", w.pid, limit)
	}
	return w.reason
}

// closedWithin waits up to limit for ch to be closed and reports whether it
// was.
func closedWithin(ch <-chan struct{}, limit time.Duration) bool {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		return false
	}
}

// Exited reports whether the watched process has exited, without waiting.
func (w *ExitWatch) Exited() bool { return isClosed(w.exited) }

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Done returns a channel that is closed when the watched process has
// exited (then Wait returns at once), for a select that waits for the exit
// or for something else, whichever comes first.
func (w *ExitWatch) Done() <-chan struct{} { return w.exited }

// WaitExit waits until the process p of node has exited and returns its exit
// reason (process.NoProc if p was dead already: then its reason is gone; use
// WatchExit before causing the exit to get it).
func WaitExit(t testing.TB, node *process.Node, p pid.Pid) error {
	t.Helper()
	return WatchExit(t, node, p).Wait()
}

// ExitAndWait sends the process p of node an exit signal with reason from
// outside any process (process.Node.Exit), waits until p has exited and
// returns the reason it exited with (process.Killed for process.Kill). A
// process that traps exits survives any reason but Kill, and then ExitAndWait
// fails the test after Timeout.
func ExitAndWait(t testing.TB, node *process.Node, p pid.Pid, reason error) error {
	t.Helper()
	w := WatchExit(t, node, p)
	if err := node.Exit(p, reason); err != nil {
		t.Fatalf("spawntest: ExitAndWait: exit %v: %v", p, err)
	}
	return w.Wait()
}

// WaitName waits until name is registered on node and returns its owner.
func WaitName(t testing.TB, node *process.Node, name string) pid.Pid {
	t.Helper()
	return WaitReregistered(t, node, name, pid.Pid{})
}

// WaitReregistered waits until name is registered on node to a process other
// than old, as after a supervisor restarts the named child old, and returns
// the new owner. (A name is free before its owner's exit can be observed,
// and a supervisor registers the restarted child a moment later: this waits
// for that moment.) It polls, backing off, for at most Timeout.
func WaitReregistered(t testing.TB, node *process.Node, name string, old pid.Pid) pid.Pid {
	t.Helper()
	switch {
	case node == nil:
		t.Fatalf("spawntest: waiting for name %q: nil node", name)
	case name == "":
		t.Fatal("spawntest: waiting for the empty name, which no process can have")
	}
	r := registry.Of(node)
	limit := Timeout
	var got pid.Pid
	if !poll(limit, func() bool {
		p, ok := r.WhereIs(name)
		got = p
		return ok && p != old
	}) {
		switch {
		case got.IsZero():
			t.Fatalf("spawntest: name %q is not registered after %v", name, limit)
		default:
			t.Fatalf("spawntest: name %q is still registered to %v after %v, want a new process", name, old, limit)
		}
	}
	return got
}

// WaitChild waits until the child id of the supervisor sup runs as a process
// other than old (zero old: any process), as after a restart, and returns
// that process. It asks the supervisor (WhichChildren), backing off between
// asks, for at most Timeout; it fails at once if the supervisor is gone.
func WaitChild(t testing.TB, sup supervisor.Ref, id string, old pid.Pid) pid.Pid {
	t.Helper()
	limit := Timeout
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var last []supervisor.Child
	var callErr error
	var got pid.Pid
	if !poll(limit, func() bool {
		children, err := sup.WhichChildren(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return false // out of time, not an answer
			}
			callErr = err
			return true
		}
		last = children
		i := slices.IndexFunc(last, func(c supervisor.Child) bool { return c.ID == id })
		if i < 0 || last[i].Status != supervisor.Running || last[i].Pid == old {
			return false
		}
		got = last[i].Pid
		return true
	}) {
		t.Fatalf("spawntest: supervisor %v: child %q is not running as a new process after %v (old %v); its children: %+v",
			sup.Pid(), id, limit, old, last)
	}
	if callErr != nil {
		t.Fatalf("spawntest: supervisor %v: WhichChildren while waiting for child %q: %v", sup.Pid(), id, callErr)
	}
	return got
}

// Eventually waits until cond holds, checking it repeatedly (backing off
// from a busy yield to sleeps of a millisecond) for at most Timeout, and
// fails the test with what otherwise. It is for state that no message or
// exit announces (a counter, a queue length); prefer a watch, a probe or a
// call where one exists. cond runs on the test's goroutine.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if cond == nil {
		t.Fatalf("spawntest: Eventually %s: nil condition", what)
	}
	limit := Timeout
	if !poll(limit, cond) {
		t.Fatalf("spawntest: timed out after %v waiting until %s", limit, what)
	}
}

// poll checks cond until it holds or d has passed, and reports whether it
// held. It yields between the first checks and then sleeps, doubling the
// pause up to a millisecond.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	var pause time.Duration
	for i := 0; ; i++ {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		if i < 64 {
			runtime.Gosched()
			continue
		}
		pause = min(max(2*pause, 10*time.Microsecond), time.Millisecond, left)
		time.Sleep(pause)
	}
}

// Recv receives a value from ch, waiting at most Timeout, and fails the test
// if none comes. A closed channel gives T's zero value, as a receive does, so
// Recv also waits for a channel closed as a signal.
func Recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	limit := Timeout
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("spawntest: Recv: nothing received from a chan %s within %v", typeName[T](), limit)
		var zero T
		return zero
	}
}

// Bounded runs fn on a goroutine of its own and returns fn's error. It
// fails the test, naming what, if fn panics, ends its goroutine
// (runtime.Goexit) or has not returned within Timeout: for calls that must
// neither panic nor hang. fn runs on another goroutine, so it must not call
// t.Fatal; a fn that hangs is left running.
func Bounded(t testing.TB, what string, fn func() error) error {
	t.Helper()
	type outcome struct {
		err      error
		returned bool
		panicked any
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() {
			if !o.returned {
				if o.panicked = recover(); o.panicked == nil {
					o.panicked = "runtime.Goexit"
				}
			}
			done <- o
		}()
		o.err = fn()
		o.returned = true
	}()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	select {
	case o := <-done:
		if !o.returned {
			t.Fatalf("spawntest: %s did not return: %v", what, o.panicked)
		}
		return o.err
	case <-timer.C:
		t.Fatalf("spawntest: %s did not return within %v", what, Timeout)
		return nil
	}
}
