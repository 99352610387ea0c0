package core

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
)

type idleHandler struct{}

func (idleHandler) HandleMessage(*Proc, any) error { return nil }

// tieProbe records its Untie and what the process looked like then.
type tieProbe struct {
	untied    atomic.Int32
	aliveThen atomic.Bool
	node      *Node
}

func (t *tieProbe) Untie(p pid.Pid) {
	t.untied.Add(1)
	t.aliveThen.Store(t.node.Alive(p)) // the dead flag is not set yet
}

func TestTieUntiesBeforeTheDeathIsSeen(t *testing.T) {
	n := NewNode(Config{})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	p, _, err := n.Spawn(Spec{Handler: idleHandler{}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := &tieProbe{node: n}, &tieProbe{node: n}
	holderA, holderB := new(int), new(int)
	tie := func(holder any, want Tie, keep Tie) {
		t.Helper()
		var got Tie
		if err := n.Tie(p.Pid(), holder, func(old Tie) (Tie, error) { got = old; return keep, nil }); err != nil {
			t.Fatalf("tie: %v", err)
		}
		if got != want {
			t.Fatalf("tie saw %v, want %v", got, want)
		}
	}
	tie(holderA, nil, a)
	tie(holderB, nil, b)
	tie(holderA, a, a)
	tie(holderB, b, nil) // removed: b is not untied
	tie(holderB, nil, nil)

	boom := errors.New("boom")
	if err := n.Tie(p.Pid(), holderA, func(old Tie) (Tie, error) { return old, boom }); err != boom {
		t.Fatalf("fn's error: got %v", err)
	}

	var downSawUntie atomic.Bool
	done := make(chan struct{})
	if _, err := n.Watch(p.Pid(), func(DownMsg) { downSawUntie.Store(a.untied.Load() == 1); close(done) }); err != nil {
		t.Fatal(err)
	}
	p.exit(Killed)
	<-done
	if !downSawUntie.Load() || a.untied.Load() != 1 || b.untied.Load() != 0 {
		t.Fatalf("untied a %d, b %d; before the Down: %v", a.untied.Load(), b.untied.Load(), downSawUntie.Load())
	}
	if !a.aliveThen.Load() {
		t.Fatal("Untie ran after the process was marked dead")
	}

	called := false
	err = n.Tie(p.Pid(), holderA, func(Tie) (Tie, error) { called = true; return nil, nil })
	if !errors.Is(err, NoProc) || called {
		t.Fatalf("tie to a dead process: %v, fn called %v", err, called)
	}
	if err := n.Tie(pid.Pid{}, holderA, keepTie); !errors.Is(err, ErrZeroPid) {
		t.Fatalf("tie to the zero Pid: %v", err)
	}
	if err := n.Tie(p.Pid(), holderA, nil); !errors.Is(err, ErrNilFunc) {
		t.Fatalf("tie with a nil fn: %v", err)
	}
}

func keepTie(t Tie) (Tie, error) { return t, nil }
