package core

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"pgregory.net/rapid"
)

// TestMailboxModel runs random sequences of mailbox operations from one
// goroutine and compares the mailbox with a plain slice after each one.
func TestMailboxModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var m mailbox
		limit := rapid.IntRange(0, 40).Draw(t, "limit")
		m.setLimit(limit)
		var model []any
		closed := false
		next := 0
		even := func(v any) bool { n, ok := v.(int); return ok && n%2 == 0 }
		for step := range rapid.IntRange(1, 400).Draw(t, "steps") {
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op <= 4: // push, bounded or not
				bounded := op == 4
				got := m.push(next, bounded)
				if got == behind {
					if !bounded {
						t.Fatalf("step %d: an unbounded push reported the consumer behind", step)
					}
					got = pushed // see TestMailboxBehind
				}
				want := pushed
				switch {
				case closed:
					want = refused
				case bounded && limit > 0 && len(model) >= limit:
					want = full
				}
				if got != want {
					t.Fatalf("step %d: push %d: %v, want %v", step, next, got, want)
				}
				if got == pushed {
					model = append(model, next)
				}
				next++
			case op <= 6:
				msg, ok := m.pop()
				if ok != (len(model) > 0) {
					t.Fatalf("step %d: pop found %v with %d queued", step, ok, len(model))
				}
				if ok {
					if msg != model[0] {
						t.Fatalf("step %d: pop %v, want %v", step, msg, model[0])
					}
					model = model[1:]
				}
			case op == 7:
				msg, ok := m.take(even)
				i := slices.IndexFunc(model, even)
				if ok != (i >= 0) || ok && msg != model[i] {
					t.Fatalf("step %d: take %v %v, want index %d of %v", step, msg, ok, i, model)
				}
				if ok {
					model = slices.Delete(model, i, i+1)
				}
			case op == 8:
				if rapid.Bool().Draw(t, "removeAll") {
					m.removeAll(even)
					model = slices.DeleteFunc(model, even)
				} else if pending := m.settle(); pending != (len(model) > 0) {
					t.Fatalf("step %d: settle says pending %v with %d queued", step, pending, len(model))
				}
			case op == 9 && rapid.IntRange(0, 20).Draw(t, "close?") == 0:
				dropped := m.close(rapid.Bool().Draw(t, "idle"))
				if !slices.Equal(dropped, model) {
					t.Fatalf("step %d: close dropped %v, want %v", step, dropped, model)
				}
				model, closed = nil, true
			}
			if queued, _ := m.stats(); queued != len(model) {
				t.Fatalf("step %d: %d queued, want %d", step, queued, len(model))
			}
		}
	})
}

// TestMailboxConcurrent has producers push while the consumer pops, and
// another goroutine closes the mailbox part way: every message is either popped or returned
// by close, exactly once, and each producer's messages keep their order.
func TestMailboxConcurrent(t *testing.T) {
	const producers, each = 4, 20_000
	type msg struct{ from, seq int }
	var m mailbox
	var wg sync.WaitGroup
	stopped := make([]int, producers) // the first seq each producer saw refused
	for f := range producers {
		wg.Go(func() {
			stopped[f] = each
			for i := range each {
				if m.push(msg{f, i}, false) == refused {
					stopped[f] = i
					return
				}
			}
		})
	}
	// The consumer pops on its own goroutine while this one closes.
	var popped []any
	var count atomic.Int64
	var closed atomic.Bool
	consumer := make(chan struct{})
	go func() {
		defer close(consumer)
		for {
			if v, ok := m.pop(); ok {
				popped = append(popped, v)
				count.Add(1)
			} else if closed.Load() {
				if _, ok := m.pop(); ok {
					t.Error("pop after close found a message")
				}
				return
			}
		}
	}()
	for count.Load() < producers*each/4 {
		runtime.Gosched()
	}
	dropped := m.close(false)
	closed.Store(true)
	<-consumer
	wg.Wait()
	last := make([]int, producers)
	for i := range last {
		last[i] = -1
	}
	for _, v := range append(popped, dropped...) {
		got := v.(msg)
		if got.seq != last[got.from]+1 {
			t.Fatalf("producer %d: message %d after %d", got.from, got.seq, last[got.from])
		}
		last[got.from] = got.seq
	}
	for f := range producers {
		if last[f]+1 != stopped[f] {
			t.Errorf("producer %d: %d messages accounted for, %d pushed", f, last[f]+1, stopped[f])
		}
	}
}

// TestMailboxSettle checks what an idle mailbox keeps: a small segment is
// started over from its first slot, a large one is let go.
func TestMailboxSettle(t *testing.T) {
	tests := []struct {
		name     string
		messages int
		keeps    bool
	}{
		{"none", 0, false},
		{"few", 3, true},
		{"fills the first segment", firstSegment, true},
		{"backlog", 10_000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m mailbox
			for i := range tt.messages {
				m.push(i, false)
			}
			for range tt.messages {
				if _, ok := m.pop(); !ok {
					t.Fatal("pop found nothing")
				}
			}
			if m.settle() {
				t.Fatal("settle found a message pending")
			}
			if kept := m.seg.Load() != nil; kept != tt.keeps {
				t.Fatalf("segment kept: %v, want %v", kept, tt.keeps)
			}
			if seg := m.seg.Load(); tt.keeps && (seg.base != m.tail() || seg != m.last) {
				t.Fatalf("segment not started over: base %d, tail %d", seg.base, m.tail())
			}
			if m.spare.Load() != nil {
				t.Fatal("an idle mailbox keeps a spare segment")
			}
			m.push("after", false) // the next message reuses or replaces it
			if v, ok := m.pop(); !ok || v != "after" {
				t.Fatalf("pop after settle: %v, %v", v, ok)
			}
		})
	}
}

// TestSendersLockExcludes has more goroutines than processors add to a
// plain counter under the senders' lock: a lost update, or the race
// detector, would show two holders at once. The tail the lock carries is
// left as each holder found it.
func TestSendersLockExcludes(t *testing.T) {
	const goroutines, each = 16, 5_000
	var m mailbox
	m.push("queued", false)
	var wg sync.WaitGroup
	counter := 0
	for range goroutines {
		wg.Go(func() {
			for range each {
				tail := m.lock()
				counter++
				m.unlock(tail)
			}
		})
	}
	wg.Wait()
	if counter != goroutines*each {
		t.Fatalf("counter = %d, want %d", counter, goroutines*each)
	}
	if m.tail() != 1 {
		t.Fatalf("tail = %d, want 1", m.tail())
	}
}

// TestSendersLockParks holds the senders' lock past what a waiter spins
// and yields for, as a holder that lost its thread does: the waiting push
// parks (it marks the lock), and goes through once the holder lets go.
func TestSendersLockParks(t *testing.T) {
	var m mailbox
	tail := m.lock()
	done := make(chan pushResult)
	go func() { done <- m.push("waited", false) }()
	for m.state.Load()&waitersBit == 0 {
		runtime.Gosched() // the waiter has not parked yet
	}
	select {
	case r := <-done:
		t.Fatalf("push returned %v while the lock was held", r)
	default:
	}
	m.unlock(tail)
	if r := <-done; r != pushed {
		t.Fatalf("push: %v, want pushed", r)
	}
	if v, ok := m.pop(); !ok || v != "waited" {
		t.Fatalf("pop: %v, %v", v, ok)
	}
	if s := m.state.Load(); s&(lockedBit|waitersBit) != 0 || s>>tailShift != 1 {
		t.Fatalf("state %b after the push; want tail 1, unlocked, no waiters", s)
	}
}

// TestMailboxSettleNeverWaits has settle find the senders' lock taken: it
// does not wait for it, and reports what is queued as it is.
func TestMailboxSettleNeverWaits(t *testing.T) {
	tests := []struct {
		name   string
		queued int
	}{{"empty", 0}, {"one queued", 1}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m mailbox
			for i := range tt.queued {
				m.push(i, false)
			}
			tail := m.lock() // a sender in the middle of a push
			if pending := m.settle(); pending != (tt.queued > 0) {
				t.Fatalf("settle with the lock taken: pending %v, want %v", pending, tt.queued > 0)
			}
			m.unlock(tail)
			if pending := m.settle(); pending != (tt.queued > 0) {
				t.Fatalf("settle: pending %v, want %v", pending, tt.queued > 0)
			}
		})
	}
}

// TestMailboxBehind checks when a push tells its sender that the consumer
// is behind: a bounded push, at every behindBy-th message, finding that
// many or more still queued.
func TestMailboxBehind(t *testing.T) {
	tests := []struct {
		name     string
		bounded  bool
		popEvery int // the consumer pops one message every popEvery pushes; 0: never
		want     []int
	}{
		{"a consumer that keeps up", true, 1, nil},
		{"a consumer that never runs", true, 0, []int{behindBy, 2 * behindBy, 3 * behindBy}},
		{"a consumer at half speed", true, 2, []int{2 * behindBy, 3 * behindBy}},
		{"the runtime's own signals", false, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m mailbox
			var got []int
			for i := range 3*behindBy + 1 {
				if r := m.push(i, tt.bounded); r == behind {
					got = append(got, i)
				} else if r != pushed {
					t.Fatalf("push %d: %v", i, r)
				}
				if tt.popEvery > 0 && i%tt.popEvery == 0 {
					m.pop()
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("behind at %v, want %v", got, tt.want)
			}
		})
	}
}

// TestMailboxBacklogReusesSegments: a backlog that comes and goes, as
// behind a busy consumer, fills the used-up segments again instead of
// making new ones, and keeps its order: up to maxSpares segments from the
// mailbox's spares, the others from the segment pools, as do the segments
// of a mailbox that went idle (settled) between backlogs.
func TestMailboxBacklogReusesSegments(t *testing.T) {
	tests := []struct {
		name    string
		backlog int
		settle  bool // the mailbox goes idle after each backlog
		pooled  bool // segments come from the pools
	}{
		{"within the spares", maxSpares * maxSegment, false, false},
		{"past the spares", 4 * maxSpares * maxSegment, false, true},
		{"settled between backlogs", 4 * maxSpares * maxSegment, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.pooled && raceOn {
				t.Skip("sync.Pool drops what it is given at random under the race detector")
			}
			var m mailbox
			msgs := make([]any, tt.backlog) // boxed once: pushes allocate nothing of their own
			for i := range msgs {
				msgs[i] = i
			}
			round := func() {
				for _, msg := range msgs {
					m.push(msg, false)
				}
				for i := range msgs {
					if v, ok := m.pop(); !ok || v != msgs[i] {
						t.Fatalf("pop: %v, %v; want %d", v, ok, i)
					}
				}
				if tt.settle && m.settle() {
					t.Fatal("settle found messages left")
				}
			}
			round()
			round()
			if got := testing.AllocsPerRun(5, round); got != 0 {
				t.Fatalf("%v allocations per backlog of %d; want none", got, tt.backlog)
			}
		})
	}
}

// TestMailboxFirstPushAllocatesOnce: the first message of a new mailbox
// costs one allocation, its first segment with the slots in it, when no
// segment is pooled.
func TestMailboxFirstPushAllocatesOnce(t *testing.T) {
	for segmentPools[0].Get() != nil { // a pooled first segment would cost nothing
	}
	msg := any(1) // boxed once: the push allocates nothing of its own
	const runs = 100
	boxes := make([]mailbox, runs+1) // AllocsPerRun runs the function once more first
	next := 0
	got := testing.AllocsPerRun(runs, func() {
		m := &boxes[next]
		next++
		m.push(msg, false)
		if v, ok := m.pop(); !ok || v != msg {
			t.Fatalf("pop: %v, %v; want %v", v, ok, msg)
		}
	})
	if got > 1 {
		t.Fatalf("%v allocations for a new mailbox's first message; want at most 1", got)
	}
}
