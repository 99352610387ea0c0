package core

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// idleWorker returns a worker as park leaves it: on the idle list,
// yielding before it parks.
func idleWorker() *worker {
	w := &worker{next: make(chan *Proc, 1)}
	w.state.Store(workerYielding)
	return w
}

// TestWorker_GiveWhileYieldingOrParked: a process given to an idle worker
// reaches it exactly once, through the handed slot while the worker yields
// and through its channel once it has parked; nil (a stop) reaches it the
// same ways.
func TestWorker_GiveWhileYieldingOrParked(t *testing.T) {
	p := &Proc{}
	for _, tc := range []struct {
		name        string
		give        *Proc
		whileYields bool // give during the worker's yield, else once it has parked
		wantState   uint32
	}{
		{"a process, while it yields", p, true, workerBusy},
		{"a process, once parked", p, false, workerParked},
		{"a stop, while it yields", nil, true, workerBusy},
		{"a stop, once parked", nil, false, workerParked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := idleWorker()
			yield := func() {}
			if tc.whileYields {
				yield = func() { w.give(tc.give) }
			} else {
				go func() {
					for w.state.Load() != workerParked {
						runtime.Gosched()
					}
					w.give(tc.give)
				}()
			}
			if got := w.await(yield, nil); got != tc.give {
				t.Fatalf("await = %p; want %p", got, tc.give)
			}
			if s := w.state.Load(); s != tc.wantState {
				t.Fatalf("state = %d; want %d", s, tc.wantState)
			}
			if w.handed.Load() != nil || len(w.next) != 0 {
				t.Fatalf("the hand-off left something behind: handed %p, %d in the channel", w.handed.Load(), len(w.next))
			}
		})
	}
}

// TestWorker_GiveRacesThePark: however a give and the worker's park
// interleave, the worker gets the process once and nothing is left over.
func TestWorker_GiveRacesThePark(t *testing.T) {
	for i := range 2000 {
		w := idleWorker()
		p := &Proc{serial: uint64(i + 1)}
		go func() {
			for range i % 3 {
				runtime.Gosched()
			}
			w.give(p)
		}()
		if got := w.await(runtime.Gosched, nil); got != p {
			t.Fatalf("round %d: await = %p; want %p", i, got, p)
		}
		if w.handed.Load() != nil || len(w.next) != 0 {
			t.Fatalf("round %d: the hand-off left something behind", i)
		}
	}
}

// TestWorkers_TakePrefersAWorkerOnTheCallersProcessor: take hands out the
// worker that went idle last, unless it is yielding on another processor
// than the caller's: then the one before it, or none (the caller starts a
// new worker) when it is alone.
func TestWorkers_TakePrefersAWorkerOnTheCallersProcessor(t *testing.T) {
	const here = 1
	for _, tc := range []struct {
		name     string
		topState uint32
		topOn    int32
		others   int // idle workers below the top
		wantTop  bool
		wantNone bool
	}{
		{"yielding here", workerYielding, here, 1, true, false},
		{"yielding here, alone", workerYielding, here, 0, true, false},
		{"yielding elsewhere, another idle", workerYielding, here + 1, 1, false, false},
		{"yielding elsewhere, alone", workerYielding, here + 1, 0, false, true},
		{"parked", workerParked, here + 1, 1, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ws workers
			for range tc.others {
				w := idleWorker()
				w.state.Store(workerParked)
				ws.idle = append(ws.idle, w)
			}
			top := idleWorker()
			top.state.Store(tc.topState)
			top.yieldsOn.Store(tc.topOn)
			ws.idle = append(ws.idle, top)

			got := ws.take(here)
			if tc.wantNone {
				if got != nil || len(ws.idle) != 1 || ws.idle[0] != top {
					t.Fatalf("take = %p, leaving %d idle; want nil, leaving the yielding worker", got, len(ws.idle))
				}
				return
			}
			if (got == top) != tc.wantTop {
				t.Fatalf("take returned the top worker: %v; want %v", got == top, tc.wantTop)
			}
			if len(ws.idle) != tc.others {
				t.Fatalf("%d workers left idle; want %d", len(ws.idle), tc.others)
			}
			for _, w := range ws.idle {
				if w == got {
					t.Fatal("the worker taken is still on the idle list")
				}
			}
			if !tc.wantTop && ws.idle[len(ws.idle)-1] != top {
				t.Fatal("the yielding worker passed over is not left on top")
			}
		})
	}
	var empty workers
	if w := empty.take(here); w != nil {
		t.Fatalf("take from no idle workers = %p; want nil", w)
	}
}

// TestSpinners_Claim: an idle worker may spin only when spinning is on, it
// is still on the processor it yielded on, that processor scheduled its
// activation, the processor is one the node knows, and no other worker
// spins there.
func TestSpinners_Claim(t *testing.T) {
	for _, tc := range []struct {
		name            string
		d               time.Duration
		here, now, from int
		taken           bool
		want            bool
	}{
		{"on its own processor", time.Millisecond, 1, 1, 1, false, true},
		{"spinning off", 0, 1, 1, 1, false, false},
		{"moved during its yield", time.Millisecond, 1, 0, 1, false, false},
		{"taken by another processor", time.Millisecond, 1, 1, 0, false, false},
		{"another worker spins there", time.Millisecond, 1, 1, 1, true, false},
		{"a processor added later", time.Millisecond, 2, 2, 2, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &spinners{d: tc.d, procs: make([]atomic.Bool, 2)}
			if tc.taken {
				s.procs[tc.here].Store(true)
			}
			w := idleWorker()
			w.givenOn.Store(int32(tc.from))
			if got := s.claim(w, tc.here, tc.now); got != tc.want {
				t.Fatalf("claim = %v; want %v", got, tc.want)
			}
			if tc.want {
				if s.claim(idleWorker(), tc.here, tc.now) {
					t.Fatal("a second worker claimed the same processor")
				}
				s.release(tc.here)
				if s.procs[tc.here].Load() {
					t.Fatal("release left the processor claimed")
				}
			}
		})
	}
	var none *spinners
	if none.claim(idleWorker(), 0, 0) {
		t.Fatal("a nil spinners let a worker spin")
	}
	for procs, want := range map[int]time.Duration{1: 0, 2: time.Millisecond, 8: time.Millisecond} {
		var s spinners
		if s.init(time.Millisecond, procs); s.d != want || len(s.procs) != procs {
			t.Errorf("init(1ms, %d procs): spin %v over %d processors; want %v over %d", procs, s.d, len(s.procs), want, procs)
		}
	}
}

// TestWorker_SpinsBeforeParking: a worker allowed to spin keeps yielding,
// and takes a process given then through its slot, never parking; one whose
// spin runs out, or that may not spin, parks and gets the process through
// its channel. Either way its processor is free to spin again afterwards.
func TestWorker_SpinsBeforeParking(t *testing.T) {
	p := &Proc{}
	for _, tc := range []struct {
		name       string
		d          time.Duration
		giveAt     int // give on this yield; 0: once parked
		wantState  uint32
		wantYields func(int) bool
	}{
		{"given while it spins", time.Hour, 5, workerBusy, func(n int) bool { return n == 5 }},
		{"its spin runs out", 100 * time.Microsecond, 0, workerParked, func(n int) bool { return n > 1 }},
		{"spinning off", 0, 0, workerParked, func(n int) bool { return n == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := idleWorker()
			s := &spinners{}
			s.init(tc.d, max(runtime.GOMAXPROCS(0), 2))
			yields := 0
			yield := func() {
				yields++
				if yields == tc.giveAt {
					w.give(p)
				}
			}
			want, late := p, &Proc{} // late: given once the worker parks
			if tc.giveAt == 0 {
				want = late
			}
			done := make(chan struct{})
			defer close(done)
			go func() {
				for w.state.Load() != workerParked {
					select {
					case <-done:
						return
					default:
						runtime.Gosched()
					}
				}
				w.give(late)
			}()
			here := processor()
			w.givenOn.Store(int32(here))
			if got := w.await(yield, s); got != want {
				t.Fatalf("await = %p; want %p (the process given %s)", got, want, map[bool]string{true: "while it spins", false: "once it parked"}[want == p])
			}
			if st := w.state.Load(); st != tc.wantState {
				t.Fatalf("state = %d; want %d", st, tc.wantState)
			}
			if !tc.wantYields(yields) {
				t.Fatalf("the worker yielded %d times", yields)
			}
			for i := range s.procs {
				if s.procs[i].Load() {
					t.Fatalf("processor %d is still claimed", i)
				}
			}
		})
	}
}
