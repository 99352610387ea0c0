package core

import (
	"context"
	"testing"
	"time"
)

// TestLinger_OnlyAfterAShortRunOfCalls: a drained activation waits for
// another message only after a run of at most lingerBurst messages that
// answered a call, not the process's first such run, and a message that
// comes while it yields starts a new run; after a stream's longer run, a
// run that answered no call, the first run of calls, or no message at all,
// it goes idle at once without yielding.
func TestLinger_OnlyAfterAShortRunOfCalls(t *testing.T) {
	for _, tc := range []struct {
		name       string
		run        uint64 // messages handled since the run started
		answered   bool   // the run answered a call
		first      bool   // no run of the process answered a call before
		arriveAt   int    // the yield after which a message is queued; 0: none comes
		want       bool
		wantYields int
	}{
		{"only Init ran", 0, false, false, 1, false, 0},
		{"one call, the next comes at once", 1, true, false, 1, true, 1},
		{"one call, the next comes late", 1, true, false, 5, true, 5},
		{"one call, no next", 1, true, false, 0, false, lingerRounds},
		{"the process's first call", 1, true, true, 1, false, 0},
		{"one cast or signal", 1, false, false, 1, false, 0},
		{"lingerBurst calls", lingerBurst, true, false, 1, true, 1},
		{"a stream's run with a call in it", lingerBurst + 1, true, false, 1, false, 0},
		{"a whole batch", maxBatch, true, false, 1, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Proc{answeredBefore: !tc.first}
			p.worker.Store(&worker{})
			const before = 1000
			p.handled.Store(before + tc.run)
			if tc.answered {
				p.AnsweredCall()
			}
			runStart := uint64(before)
			yields := 0
			setLingerYield(t, func() {
				if yields++; yields == tc.arriveAt {
					p.mbox.push(struct{}{}, false)
				}
			})

			if got := p.linger(&runStart); got != tc.want {
				t.Fatalf("linger after a run of %d = %v; want %v", tc.run, got, tc.want)
			}
			if yields != tc.wantYields {
				t.Fatalf("linger yielded %d times; want %d", yields, tc.wantYields)
			}
			wantStart := uint64(before)
			if tc.want {
				wantStart = before + tc.run // a message came: the next run starts here
			}
			if runStart != wantStart {
				t.Fatalf("run start = %d; want %d", runStart, wantStart)
			}
			if p.answered {
				t.Fatal("the run's answered call still counts after linger")
			}
			if tc.first && !p.answeredBefore {
				t.Fatal("the first run of calls is not remembered: the next would not linger either")
			}
		})
	}
}

// TestLinger_NotWithAProcessInRunnext: an activation does not linger while
// another process waits in its worker's runnext slot for it to end.
func TestLinger_NotWithAProcessInRunnext(t *testing.T) {
	p := &Proc{}
	w := &worker{}
	w.runnext.Store(&Proc{})
	p.worker.Store(w)
	p.handled.Store(1)
	p.AnsweredCall()
	p.answeredBefore = true
	runStart := uint64(0)
	setLingerYield(t, func() { t.Fatal("linger yielded") })
	if p.linger(&runStart) {
		t.Fatal("linger with a process waiting in runnext = true; want false")
	}
}

// setLingerYield makes linger yield through yield until the test ends.
func setLingerYield(t *testing.T, yield func()) {
	old := lingerYield
	lingerYield = yield
	t.Cleanup(func() { lingerYield = old })
}

// answeringHandler says of every message that it answered a call, so that
// its activation lingers once its mailbox is drained.
type answeringHandler struct{}

func (answeringHandler) HandleMessage(p *Proc, _ any) error {
	p.AnsweredCall()
	return nil
}

// TestLinger_StaysEnteredAndAKillCountsItAsAStraggler: a lingering
// activation keeps its process entered, as the batch before left it, so
// that a message that comes costs no leave and enter; a kill meanwhile
// counts it among the stragglers, and the activation settles the count as
// it lets go, so that Stop does not wait for it.
func TestLinger_StaysEnteredAndAKillCountsItAsAStraggler(t *testing.T) {
	n := NewNode(Config{})
	p, _, err := n.Spawn(Spec{Handler: answeringHandler{}})
	if err != nil {
		t.Fatal(err)
	}
	yields := 0
	var runningThen int32
	var stragglersThen int64
	killed := make(chan struct{})
	setLingerYield(t, func() {
		if yields++; yields == 1 {
			runningThen = p.running.Load()
			if err := n.Exit(p.Pid(), Kill); err != nil {
				t.Errorf("Exit: %v", err)
			}
			stragglersThen = n.Stats().Stragglers
			close(killed)
		}
	})
	p.answeredBefore = true // as if it had answered a call before: it lingers after this one
	if err := p.Post("a call"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-killed:
	case <-time.After(10 * time.Second):
		t.Fatal("the activation did not linger")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Fatalf("Stop = %v; want nil", err)
	}
	if runningThen != runBusy {
		t.Fatalf("a lingering process's running = %d; want runBusy (%d)", runningThen, runBusy)
	}
	if stragglersThen != 1 {
		t.Fatalf("stragglers right after the kill = %d; want 1", stragglersThen)
	}
	if got := n.Stats().Stragglers; got != 0 {
		t.Fatalf("stragglers once the activation let go = %d; want 0", got)
	}
}
