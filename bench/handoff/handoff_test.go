package handoff

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/internal/core"
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
	b.Run("call-shaped,gosched", func(b *testing.B) { benchCallShaped(b, runtime.Gosched) })
	b.Run("call-shaped,runtime-yield", func(b *testing.B) { benchCallShaped(b, core.Yield) })
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

// goschedServer is a server that yields with runtime.Gosched while it
// waits for a request: a new value in req, answered on replies.
type goschedServer struct {
	req     atomic.Int64
	replies chan struct{}
	stop    atomic.Bool
	done    chan struct{}
}

// startGoschedServer starts a goschedServer; stop it with its end method.
func startGoschedServer() *goschedServer {
	s := &goschedServer{replies: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		var seen int64
		for !s.stop.Load() {
			if v := s.req.Load(); v != seen {
				seen = v
				s.replies <- struct{}{}
			}
			runtime.Gosched()
		}
	}()
	return s
}

// end stops the server and waits for its goroutine to return.
func (s *goschedServer) end() {
	s.stop.Store(true)
	<-s.done
}

// benchGoschedServe has a goschedServer and a caller that parks on a
// channel for the reply; withTimer adds the timer a caller needs to give up
// after a timeout.
func benchGoschedServe(b *testing.B, withTimer bool) {
	s := startGoschedServer()
	defer s.end()
	t := time.NewTimer(time.Hour)
	t.Stop()
	for i := int64(1); b.Loop(); i++ {
		s.req.Store(i)
		if !withTimer {
			<-s.replies
			continue
		}
		t.Reset(5 * time.Second)
		select {
		case <-s.replies:
		case <-t.C:
			b.Fatal("no reply within 5 s")
		}
		t.Stop()
	}
}

// benchGoschedServeArmed is benchGoschedServe with a timer that stays armed
// from one wait to the next: each wait needs its deadline no earlier than
// the timer's, so only a timer that fired early is reset.
func benchGoschedServeArmed(b *testing.B) {
	s := startGoschedServer()
	defer s.end()
	t := time.NewTimer(5 * time.Second)
	for i := int64(1); b.Loop(); i++ {
		s.req.Store(i)
		select {
		case <-s.replies:
		case <-t.C:
			b.Fatal("no reply within 5 s")
		}
	}
}

// benchGoschedServeSelect is benchGoschedServe with a select on the reply
// and on a channel that is never ready, as a caller that waits also for its
// context or its server's death selects: the price of a second case.
func benchGoschedServeSelect(b *testing.B) {
	s := startGoschedServer()
	defer s.end()
	never := make(chan struct{})
	for i := int64(1); b.Loop(); i++ {
		s.req.Store(i)
		select {
		case <-s.replies:
		case <-never:
			b.Fatal("the channel that is never ready was ready")
		}
	}
}

// benchCallShaped hands requests over as spawned's call does, with yield
// as the way both sides give up the processor: the caller publishes its
// request, yields once and parks only if the reply is not there yet; the
// server answers, then lingers for the next request for up to 8 yields
// before it parks until woken. The cases differ only in yield:
// runtime.Gosched queues the yielding goroutine on the scheduler's global
// queue, under its lock, and wakes an idle processor; the runtime's own
// yield (core.Yield, which spawned uses) queues it on its processor's
// queue and wakes nothing, so caller and server stay on one core.
func benchCallShaped(b *testing.B, yield func()) {
	var req, reply atomic.Int64
	var serverIdle, callerParked atomic.Bool
	wakeServer, wakeCaller := make(chan struct{}, 1), make(chan struct{}, 1)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var seen int64
		for {
			for r := req.Load(); r != seen; r = req.Load() {
				seen = r
				reply.Store(r)
				if callerParked.Load() && callerParked.CompareAndSwap(true, false) {
					wakeCaller <- struct{}{}
				}
			}
			lingered := false
			for range 8 {
				yield()
				if lingered = req.Load() != seen; lingered {
					break
				}
			}
			if lingered {
				continue
			}
			serverIdle.Store(true)
			if req.Load() != seen && serverIdle.CompareAndSwap(true, false) {
				continue
			}
			select {
			case <-wakeServer:
			case <-stop:
				return
			}
		}
	}()
	parks := 0
	for i := int64(1); b.Loop(); i++ {
		req.Store(i)
		if serverIdle.Load() && serverIdle.CompareAndSwap(true, false) {
			wakeServer <- struct{}{}
		}
		yield()
		if reply.Load() == i {
			continue
		}
		callerParked.Store(true)
		if reply.Load() == i && callerParked.CompareAndSwap(true, false) {
			continue // replied meanwhile, and the server did not see the mark
		}
		parks++
		<-wakeCaller // the server saw the mark, or will once it replies
	}
	b.ReportMetric(float64(parks)/float64(b.N), "parks/op")
	close(stop)
	<-done
}
