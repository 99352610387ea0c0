package handoff

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRoundTrip passes a request to a serving goroutine and waits for
// its reply, b.N times, with each pairing of the ways to wake the other
// side and to wait for it.
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("chan-pair", benchChanPair)
	b.Run("gosched-both", benchGoschedBoth)
	b.Run("chan-wake,gosched-wait", benchChanWakeGoschedWait)
	b.Run("gosched-serve,chan-wait", func(b *testing.B) { benchGoschedServe(b, false) })
	b.Run("gosched-serve,chan-wait-with-timer", func(b *testing.B) { benchGoschedServe(b, true) })
	b.Run("gosched-serve,chan-wait-with-armed-timer", benchGoschedServeArmed)
	b.Run("gosched-serve,select-wait", benchGoschedServeSelect)
}

// benchChanPair is plain Go's call: a request channel and a reply channel,
// each side parked on one while the other runs.
func benchChanPair(b *testing.B) {
	reqs, replies := make(chan int), make(chan int)
	go func() {
		for r := range reqs {
			replies <- r
		}
	}()
	defer close(reqs)
	for i := 0; b.Loop(); i++ {
		reqs <- i
		<-replies
	}
}

// benchGoschedBoth has both sides yield with runtime.Gosched until the
// other has moved a shared counter on, as a caller and a lingering server
// activation do in spawned once calls come back to back.
func benchGoschedBoth(b *testing.B) {
	var turn atomic.Int64 // odd: the server's turn
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			if turn.Load()&1 == 1 {
				turn.Add(1)
			}
			runtime.Gosched()
		}
	}()
	for b.Loop() {
		turn.Add(1)
		for turn.Load()&1 == 1 {
			runtime.Gosched()
		}
	}
	stop.Store(true)
	<-done
}

// benchChanWakeGoschedWait wakes a server parked on a channel and yields
// with runtime.Gosched until the reply is there, as a call to an idle
// spawned server does.
func benchChanWakeGoschedWait(b *testing.B) {
	reqs := make(chan int64)
	var replied atomic.Int64
	go func() {
		for r := range reqs {
			replied.Store(r)
		}
	}()
	defer close(reqs)
	for i := int64(1); b.Loop(); i++ {
		reqs <- i
		for replied.Load() != i {
			runtime.Gosched()
		}
	}
}

// benchGoschedServe has a server that yields with runtime.Gosched while it
// waits for a request and a caller that parks on a channel for the reply;
// withTimer adds the timer a caller needs to give up after a timeout.
func benchGoschedServe(b *testing.B, withTimer bool) {
	var req atomic.Int64
	var stop atomic.Bool
	replies := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var seen int64
		for !stop.Load() {
			if v := req.Load(); v != seen {
				seen = v
				replies <- struct{}{}
			}
			runtime.Gosched()
		}
	}()
	t := time.NewTimer(time.Hour)
	t.Stop()
	for i := int64(1); b.Loop(); i++ {
		req.Store(i)
		if !withTimer {
			<-replies
			continue
		}
		t.Reset(5 * time.Second)
		select {
		case <-replies:
		case <-t.C:
			b.Fatal("no reply within 5 s")
		}
		t.Stop()
	}
	stop.Store(true)
	<-done
}

// benchGoschedServeArmed is benchGoschedServe with a timer that stays armed
// from one wait to the next: each wait needs its deadline no earlier than
// the timer's, so only a timer that fired early is reset.
func benchGoschedServeArmed(b *testing.B) {
	var req atomic.Int64
	var stop atomic.Bool
	replies := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var seen int64
		for !stop.Load() {
			if v := req.Load(); v != seen {
				seen = v
				replies <- struct{}{}
			}
			runtime.Gosched()
		}
	}()
	const timeout = 5 * time.Second
	t := time.NewTimer(timeout)
	for i := int64(1); b.Loop(); i++ {
		req.Store(i)
		select {
		case <-replies:
		case <-t.C:
			b.Fatal("no reply within 5 s")
		}
	}
	stop.Store(true)
	<-done
}

// benchGoschedServeSelect is benchGoschedServe with a select on the reply
// and on a channel that is never ready, as a caller that waits also for its
// context or its server's death selects: the price of a second case.
func benchGoschedServeSelect(b *testing.B) {
	var req atomic.Int64
	var stop atomic.Bool
	replies := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var seen int64
		for !stop.Load() {
			if v := req.Load(); v != seen {
				seen = v
				replies <- struct{}{}
			}
			runtime.Gosched()
		}
	}()
	never := make(chan struct{})
	for i := int64(1); b.Loop(); i++ {
		req.Store(i)
		select {
		case <-replies:
		case <-never:
			b.Fatal("the channel that is never ready was ready")
		}
	}
	stop.Store(true)
	<-done
}
