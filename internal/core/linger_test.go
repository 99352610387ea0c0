package core

import "testing"

// TestLinger_OnlyAfterAShortRun: a drained activation waits for another
// message only after a run of at most lingerBurst messages, as a call and
// its reply make, and a message that comes while it yields starts a new
// run; after a stream's longer run, or no message at all, it goes idle at
// once without yielding.
func TestLinger_OnlyAfterAShortRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		run        uint64 // messages handled since the run started
		arriveAt   int    // the yield after which a message is queued; 0: none comes
		want       bool
		wantYields int
	}{
		{"only Init ran", 0, 1, false, 0},
		{"one call, answered by the next", 1, 1, true, 1},
		{"one call, the next comes late", 1, 5, true, 5},
		{"one call, no next", 1, 0, false, lingerRounds},
		{"a run of lingerBurst", lingerBurst, 1, true, 1},
		{"a stream's run", lingerBurst + 1, 1, false, 0},
		{"a whole batch", maxBatch, 1, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Proc{}
			p.worker.Store(&worker{})
			const before = 1000
			p.handled.Store(before + tc.run)
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
