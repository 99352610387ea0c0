package process_test

import (
	"errors"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

type timerTick struct{ N int }

// timerStart runs start inside the probe and returns the timer's ref.
func timerStart(t *testing.T, pr *spawntest.Probe, start func(p *process.Process) (pid.Ref, error)) pid.Ref {
	t.Helper()
	var ref pid.Ref
	var err error
	pr.Do(func(p *process.Process) error { ref, err = start(p); return nil })
	if err != nil {
		t.Fatalf("start timer: %v", err)
	}
	if ref.IsZero() {
		t.Fatal("timer ref is zero")
	}
	return ref
}

// timerAfter starts a SendAfter timer of pr's process that sends msg to to.
func timerAfter(t *testing.T, pr *spawntest.Probe, to pid.Pid, msg any, d time.Duration) pid.Ref {
	t.Helper()
	return timerStart(t, pr, func(p *process.Process) (pid.Ref, error) { return p.SendAfter(to, msg, d) })
}

// timerInterval starts a SendInterval timer of pr's process that sends msg
// to to.
func timerInterval(t *testing.T, pr *spawntest.Probe, to pid.Pid, msg any, d time.Duration) pid.Ref {
	t.Helper()
	return timerStart(t, pr, func(p *process.Process) (pid.Ref, error) { return p.SendInterval(to, msg, d) })
}

func timerCancel(t *testing.T, pr *spawntest.Probe, ref pid.Ref) bool {
	t.Helper()
	var ok bool
	pr.Do(func(p *process.Process) error { ok = p.CancelTimer(ref); return nil })
	return ok
}

func TestTimer_SendAfterDeliversOnce(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		pr := spawntest.NewProbe(t, n, process.WithBackend(b))
		ref := timerAfter(t, pr, pr.Pid(), timerTick{1}, time.Millisecond)
		if got := pr.Receive(); got != (timerTick{1}) {
			t.Fatalf("got %#v", got)
		}
		// A later timer: a second delivery of the first would come before it.
		timerAfter(t, pr, pr.Pid(), timerTick{2}, 20*time.Millisecond)
		if got := pr.Receive(); got != (timerTick{2}) {
			t.Fatalf("got %#v, want the later timer", got)
		}
		pr.ExpectEmpty()
		if timerCancel(t, pr, ref) {
			t.Error("CancelTimer true after delivery")
		}
	})
}

func TestTimer_SendAfterToAnotherProcess(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	owner := spawntest.NewProbe(t, n)
	target := spawntest.NewProbe(t, n, process.WithBackend(process.Thread))
	timerAfter(t, owner, target.Pid(), "hello", time.Millisecond)
	timerAfter(t, owner, target.Pid(), "immediate", 0) // d <= 0 sends at once
	got := []any{target.Receive(), target.Receive()}
	if !(got[0] == "immediate" && got[1] == "hello") && !(got[0] == "hello" && got[1] == "immediate") {
		t.Errorf("got %v", got)
	}
	target.ExpectEmpty()
	owner.ExpectEmpty()
}

func TestTimer_SendIntervalRepeatsUntilCancelled(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		pr := spawntest.NewProbe(t, n, process.WithBackend(b))
		ref := timerInterval(t, pr, pr.Pid(), timerTick{7}, time.Millisecond)
		for range 5 {
			if got := pr.Receive(); got != (timerTick{7}) {
				t.Fatalf("got %#v", got)
			}
		}
		// Cancel, then a fence sent by the process itself: every tick
		// delivered before the cancel is queued before the fence.
		var cancelled bool
		pr.Do(func(p *process.Process) error {
			cancelled = p.CancelTimer(ref)
			return p.Send(p.Self(), "fence")
		})
		if !cancelled {
			t.Fatal("CancelTimer false for a running interval timer")
		}
		for {
			got := pr.Receive()
			if got == "fence" {
				break
			}
			if got != (timerTick{7}) {
				t.Fatalf("got %#v", got)
			}
		}
		// Many periods later, nothing more came.
		timerAfter(t, pr, pr.Pid(), "later", 20*time.Millisecond)
		if got := pr.Receive(); got != "later" {
			t.Fatalf("got %#v after the cancel, want the later timer", got)
		}
		pr.ExpectEmpty()
		if timerCancel(t, pr, ref) {
			t.Error("second CancelTimer true")
		}
	})
}

func TestTimer_CancelledTimerNeverDelivers(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		pr := spawntest.NewProbe(t, n, process.WithBackend(b))
		// A short timer, so that the later one below is due well after it;
		// on a machine too slow to cancel it in time, it has fired (and
		// CancelTimer says so): take its message and try a longer one.
		delay := 5 * time.Millisecond
		var ref pid.Ref
		for {
			ref = timerAfter(t, pr, pr.Pid(), "cancelled", delay)
			if timerCancel(t, pr, ref) {
				break
			}
			if got := pr.Receive(); got != "cancelled" {
				t.Fatalf("CancelTimer false and got %#v, want the fired timer's message", got)
			}
			if delay *= 4; delay > time.Second {
				t.Fatal("CancelTimer false for every pending timer up to 1 s")
			}
		}
		if timerCancel(t, pr, ref) {
			t.Error("CancelTimer true the second time")
		}
		// Started after the cancel and due well after the original deadline.
		timerAfter(t, pr, pr.Pid(), "later", 5*delay)
		if got := pr.Receive(); got != "later" {
			t.Fatalf("got %#v, want the later timer only", got)
		}
		pr.ExpectEmpty()
	})
}

func TestTimer_CancelTimerResults(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	pr := spawntest.NewProbe(t, n)
	other := spawntest.NewProbe(t, n)

	pending := timerAfter(t, pr, pr.Pid(), "x", time.Hour)
	if !timerCancel(t, pr, pending) {
		t.Error("CancelTimer false for a pending timer")
	}
	delivered := timerAfter(t, pr, pr.Pid(), "y", 0)
	if got := pr.Receive(); got != "y" {
		t.Fatalf("got %#v", got)
	}
	if timerCancel(t, pr, delivered) {
		t.Error("CancelTimer true after delivery")
	}
	if timerCancel(t, pr, pid.Ref{}) {
		t.Error("CancelTimer true for the zero Ref")
	}
	if timerCancel(t, pr, n.MakeRef()) {
		t.Error("CancelTimer true for an unknown Ref")
	}
	// Another process's timer is not ours to cancel.
	theirs := timerAfter(t, other, other.Pid(), "theirs", 10*time.Millisecond)
	if timerCancel(t, pr, theirs) {
		t.Error("CancelTimer true for another process's timer")
	}
	if got := other.Receive(); got != "theirs" {
		t.Errorf("the other process's timer was disturbed: got %#v", got)
	}
	pr.ExpectEmpty()
}

func TestTimer_DeadOwnerTimersStop(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		owner := spawntest.NewProbe(t, n, process.WithBackend(b))
		receiver := spawntest.NewProbe(t, n)
		timerInterval(t, owner, receiver.Pid(), timerTick{1}, time.Millisecond)
		timerAfter(t, owner, receiver.Pid(), "one-shot", 15*time.Millisecond)
		// The interval runs (on a loaded machine, the one-shot may come first).
		for got := receiver.Receive(); got != (timerTick{1}); got = receiver.Receive() {
			if got != "one-shot" {
				t.Fatalf("got %#v", got)
			}
		}
		w := spawntest.WatchExit(t, n, owner.Pid())
		owner.Exit(errors.New("owner exits"))
		w.Wait()
		// Whatever the owner's timers delivered came before this fence.
		if err := n.Send(receiver.Pid(), "fence"); err != nil {
			t.Fatal(err)
		}
		for {
			got := receiver.Receive()
			if got == "fence" {
				break
			}
			if got != (timerTick{1}) && got != "one-shot" {
				t.Fatalf("got %#v", got)
			}
		}
		// A timer of a live process, due after the owner's one-shot deadline
		// and many intervals later.
		sentinel := spawntest.NewProbe(t, n)
		timerAfter(t, sentinel, receiver.Pid(), "later", 30*time.Millisecond)
		if got := receiver.Receive(); got != "later" {
			t.Fatalf("got %#v from a dead owner's timer", got)
		}
		receiver.ExpectEmpty()
	})
}

func TestTimer_BadInterval(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	pr := spawntest.NewProbe(t, n)
	for _, d := range []time.Duration{0, -1, -time.Hour} {
		var err error
		var ref pid.Ref
		pr.Do(func(p *process.Process) error {
			ref, err = p.SendInterval(p.Self(), "x", d)
			return nil
		})
		if !errors.Is(err, process.ErrBadInterval) {
			t.Errorf("SendInterval(%v): %v, want ErrBadInterval", d, err)
		}
		if !ref.IsZero() {
			t.Errorf("SendInterval(%v) returned ref %v", d, ref)
		}
	}
	pr.ExpectEmpty()
}

// Timer deliveries count as messages sent by the owner.
func TestTimer_CountsAsSentByOwner(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	target := spawntest.NewProbe(t, n)
	owner, err := n.SpawnHandler(&pkInitHandler{
		init: func(p *process.Process) error {
			_, err := p.SendAfter(target.Pid(), "t", 0)
			return err
		},
		handle: func(*process.Process, any) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := target.Receive(); m != "t" {
		t.Fatalf("got %#v", m)
	}
	in := spawntest.Info(t, n, owner)
	if in.Sent != 1 {
		t.Errorf("owner Info.Sent = %d, want 1", in.Sent)
	}
}
