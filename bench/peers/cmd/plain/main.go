// Command plain is the limit reference of BENCHMARKS.md: workloads W1..W8
// done with bare goroutines and channels, no framework (system "plaingo").
//
//	go run ./cmd/plain W2        # QUICK=1 divides every N by 10
package main

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bu "github.com/spawned-go/spawned/bench/peers/internal/benchutil"
)

const system = "plaingo"

func main() {
	bu.Main(system, map[string]func(){
		"W1": w1, "W2": w2, "W3": w3, "W4": w4,
		"W5": w5, "W6": w6, "W7": w7, "W8": w8,
	}, func(string) string { return "not implemented" })
}

// req is a call: a value and where to send the reply.
type req struct {
	v     int
	reply chan int
}

// W1: N goroutines, each a "server" blocked on its own request channel.
func w1() {
	n := bu.N(100_000)
	servers := make([]chan req, n)
	bu.Release()
	heap0, rss0 := bu.Settle(), bu.RSS()

	var started, stopped sync.WaitGroup
	started.Add(n)
	stopped.Add(n)
	t0 := time.Now()
	for i := range servers {
		ch := make(chan req)
		servers[i] = ch
		go func() {
			started.Done() // init done
			for r := range ch {
				r.reply <- r.v + 1
			}
			stopped.Done()
		}()
	}
	started.Wait()
	el := time.Since(t0)

	heap1 := bu.Settle()
	rss1 := bu.RSS()
	// every server answers a call
	reply := make(chan int)
	for _, i := range []int{0, n / 2, n - 1} {
		servers[i] <- req{i, reply}
		if v := <-reply; v != i+1 {
			bu.Fatal(system, "W1", "server %d answered %d", i, v)
		}
	}
	bu.Result(system, "W1", bu.PerOp(el, n), "ns/proc")
	bu.Result(system, "W1", float64(int64(rss1)-int64(rss0))/float64(n), "bytes/proc")
	bu.Note("NOTE %s W1 heap %.0f bytes/proc", system, float64(int64(heap1)-int64(heap0))/float64(n))
	for _, ch := range servers {
		close(ch)
	}
	stopped.Wait()
}

// W2: a request channel and a reply channel; synchronous round trips.
func w2() {
	warm, calls := bu.N(10_000), bu.N(1_000_000)
	reqs := make(chan int)
	replies := make(chan int)
	go func() {
		for v := range reqs {
			replies <- v + 1
		}
	}()
	call := func(v int) int { reqs <- v; return <-replies }
	for i := 0; i < warm; i++ {
		call(i)
	}
	t0 := time.Now()
	sum := 0
	for i := 0; i < calls; i++ {
		sum += call(i)
	}
	el := time.Since(t0)
	close(reqs)
	if want := calls * (calls + 1) / 2; sum != want {
		bu.Fatal(system, "W2", "sum %d, want %d", sum, want)
	}
	bu.Result(system, "W2", bu.PerOp(el, calls), "ns/call")
}

// msg is a cast (reply == nil) or the final call asking for the count.
type msg struct {
	v     int
	reply chan int
}

// counter serves a buffered channel of 1024, counting casts; a message with
// a reply channel is a call answered with the count so far.
func counter() chan msg {
	ch := make(chan msg, 1024)
	go func() {
		n := 0
		for m := range ch {
			if m.reply != nil {
				m.reply <- n
				continue
			}
			n++
		}
	}()
	return ch
}

func finalCall(ch chan msg) int {
	reply := make(chan int)
	ch <- msg{reply: reply}
	return <-reply
}

// W3: one sender, 2,000,000 casts, then a call confirming the last was handled.
func w3() {
	total := bu.N(2_000_000)
	ch := counter()
	finalCall(ch) // server running
	t0 := time.Now()
	for i := 0; i < total; i++ {
		ch <- msg{v: i}
	}
	got := finalCall(ch)
	el := time.Since(t0)
	close(ch)
	if got != total {
		bu.Fatal(system, "W3", "server counted %d of %d", got, total)
	}
	bu.Result(system, "W3", bu.Rate(el, total), "msgs/s")
}

// W4: 8 senders cast 250,000 each to one server.
func w4() {
	const senders = 8
	each := bu.N(250_000)
	total := senders * each
	ch := counter()
	finalCall(ch)
	var wg sync.WaitGroup
	wg.Add(senders)
	gate := make(chan struct{})
	for s := 0; s < senders; s++ {
		go func() {
			defer wg.Done()
			<-gate
			for i := 0; i < each; i++ {
				ch <- msg{v: i}
			}
		}()
	}
	t0 := time.Now()
	close(gate)
	wg.Wait()
	got := finalCall(ch)
	el := time.Since(t0)
	close(ch)
	if got != total {
		bu.Fatal(system, "W4", "server counted %d of %d", got, total)
	}
	bu.Result(system, "W4", bu.Rate(el, total), "msgs/s")
}

// W5: a ring of 10,000 goroutines joined by channels; one token, 100 rounds.
func w5() {
	n, rounds := bu.N(10_000), 100
	hops := n * rounds
	chs := make([]chan int, n)
	for i := range chs {
		chs[i] = make(chan int)
	}
	done := make(chan struct{})
	for i := 0; i < n; i++ {
		in, out := chs[i], chs[(i+1)%n]
		go func() {
			for left := range in {
				if left == 0 {
					close(done)
					continue
				}
				out <- left - 1
			}
		}()
	}
	t0 := time.Now()
	chs[0] <- hops // the token carries the hops left
	<-done
	el := time.Since(t0)
	for _, ch := range chs {
		close(ch)
	}
	bu.Result(system, "W5", bu.PerOp(el, hops), "ns/hop")
}

// W6: a chain of 10,000 goroutines; each waits for its channel to close
// ("its link fired") and then closes the next one's; the last closes the
// channel the main goroutine watches (the "monitor").
func w6() {
	n := bu.N(10_000)
	chs := make([]chan struct{}, n+1)
	for i := range chs {
		chs[i] = make(chan struct{})
	}
	var ready sync.WaitGroup
	ready.Add(n)
	for i := 0; i < n; i++ {
		in, out := chs[i], chs[i+1]
		go func() {
			ready.Done()
			<-in
			close(out)
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(chs[0]) // kill the first
	<-chs[n]      // the last is dead
	el := time.Since(t0)
	bu.Result(system, "W6", bu.PerOp(el, n), "ns/proc")
}

// W7: a hand-written restart loop. The child serves a request channel; a
// "crash" request makes it return with an error, after unregistering its
// name and closing its done channel. A supervisor goroutine restarts it on
// every abnormal exit; the new child registers itself in a sync.Map. The
// client looks the name up and calls until a call succeeds.

type child struct {
	reqs chan req
	done chan struct{}
	gen  int
}

var errCrash = errors.New("crash")

const crashReq = -1

var errNoProc = errors.New("noproc")

func (c *child) call(v int) (int, error) {
	r := req{v, make(chan int, 1)}
	select {
	case c.reqs <- r:
	case <-c.done:
		return 0, errNoProc
	}
	select {
	case v := <-r.reply:
		return v, nil
	case <-c.done:
		return 0, errNoProc
	}
}

func w7() {
	restarts := bu.N(1_000)
	var names sync.Map
	exits := make(chan error)
	var gen atomic.Int64

	startChild := func() {
		c := &child{reqs: make(chan req), done: make(chan struct{}), gen: int(gen.Add(1))}
		ready := make(chan struct{})
		go func() {
			names.Store("child", c) // init: register the name
			close(ready)
			var reason error
			for r := range c.reqs {
				if r.v == crashReq {
					reason = errCrash
					break
				}
				r.reply <- c.gen
			}
			names.CompareAndDelete("child", c) // names are released before the exit is seen
			close(c.done)
			exits <- reason
		}()
		<-ready // start is synchronous, as start_link
	}
	stop := make(chan struct{})
	supDone := make(chan struct{})
	startChild()
	go func() { // the supervisor: one_for_one, one permanent child
		defer close(supDone)
		for {
			select {
			case reason := <-exits:
				if reason != nil {
					startChild()
				}
			case <-stop:
				return
			}
		}
	}()
	lookup := func() *child {
		v, ok := names.Load("child")
		if !ok {
			return nil
		}
		return v.(*child)
	}

	retries := 0
	each := make([]time.Duration, 0, restarts)
	t0 := time.Now()
	last := t0
	for i := 0; i < restarts; i++ {
		old := lookup()
		old.reqs <- req{v: crashReq} // crash the child
		for {
			if c := lookup(); c != nil {
				if g, err := c.call(i); err == nil {
					if g == old.gen {
						bu.Fatal(system, "W7", "call answered by the crashed child")
					}
					now := time.Now()
					each = append(each, now.Sub(last))
					last = now
					break
				}
			}
			retries++
			runtime.Gosched()
		}
	}
	el := time.Since(t0)
	close(stop)
	<-supDone
	bu.Note("NOTE %s W7 %d failed lookups/calls over %d restarts", system, retries, restarts)
	bu.Note("NOTE %s W7 %s", system, bu.Spread(each))
	bu.Result(system, "W7", float64(el.Nanoseconds())/1e3/float64(restarts), "us/restart")
}

// W8: sync.Map with 10,000 names; 2 goroutines × 1,000,000 lookups of
// pre-generated random names.
func w8() {
	n, per := bu.N(10_000), bu.N(1_000_000)
	const workers = 2
	var m sync.Map
	names := make([]string, n)
	for i := range names {
		names[i] = "name-" + strconv.Itoa(i)
		m.Store(names[i], &child{gen: i})
	}
	idx := make([][]int32, workers)
	for w := range idx {
		r := rand.New(rand.NewPCG(uint64(w)+1, 42))
		idx[w] = make([]int32, per)
		for i := range idx[w] {
			idx[w][i] = int32(r.IntN(n))
		}
	}
	var wg sync.WaitGroup
	var found atomic.Int64
	gate := make(chan struct{})
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		ix := idx[w]
		go func() {
			defer wg.Done()
			<-gate
			hits := 0
			for _, i := range ix {
				if _, ok := m.Load(names[i]); ok {
					hits++
				}
			}
			found.Add(int64(hits))
		}()
	}
	t0 := time.Now()
	close(gate)
	wg.Wait()
	el := time.Since(t0)
	if found.Load() != int64(workers*per) {
		bu.Fatal(system, "W8", "found %d of %d", found.Load(), workers*per)
	}
	bu.Result(system, "W8", bu.PerOp(el, workers*per), "ns/lookup")
}
