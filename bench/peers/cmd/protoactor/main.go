// Command protoactor runs workloads W1..W8 of BENCHMARKS.md with
// protoactor-go's idiomatic API (system "protoactor"): Props and Spawn,
// RequestFuture for calls, Send for casts, a OneForOne supervisor strategy,
// and the ProcessRegistry for lookups by name. protoactor has no links, so
// W6 is skipped. The distribution workloads W9..W11 use its remote package
// between two OS processes (remote.go); W12 and W13 are skipped.
//
//	go run ./cmd/protoactor W2        # QUICK=1 divides every N by 10
package main

import (
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	bu "github.com/spawned-go/spawned/bench/peers/internal/benchutil"
)

const system = "protoactor"

const callTimeout = 5 * time.Second

func main() {
	if isDist() {
		distMain()
		return
	}
	bu.Main(system, map[string]func(){
		"W1": w1, "W2": w2, "W3": w3, "W4": w4,
		"W5": w5, "W7": w7, "W8": w8,
	}, func(w string) string {
		if w == "W6" {
			return "no links"
		}
		return "not implemented"
	})
}

// newSystem starts an actor system with its logging silenced.
func newSystem() *actor.ActorSystem {
	return actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(slog.DiscardHandler)
		}),
		actor.WithDeadLetterRequestLogging(false),
	)
}

// call is a request answered with v+1.
type call struct{ v int }

// cast is counted by the server.
type cast struct{ v int }

// count asks the server for its count of casts.
type count struct{}

// server is a minimal actor: answers calls, counts casts.
type server struct {
	started, stopped *sync.WaitGroup
	n                int
}

func (s *server) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if s.started != nil {
			s.started.Done()
		}
	case *actor.Stopped:
		if s.stopped != nil {
			s.stopped.Done()
		}
	case call:
		ctx.Respond(m.v + 1)
	case cast:
		s.n++
	case count:
		ctx.Respond(s.n)
	}
}

func request(as *actor.ActorSystem, pid *actor.PID, m any) (any, error) {
	return as.Root.RequestFuture(pid, m, callTimeout).Result()
}

// W1: spawn N actors, wait for every Started, then measure memory.
func w1() {
	n := bu.N(100_000)
	as := newSystem()
	var started, stopped sync.WaitGroup
	started.Add(n)
	stopped.Add(n)
	props := actor.PropsFromProducer(func() actor.Actor {
		return &server{started: &started, stopped: &stopped}
	})
	pids := make([]*actor.PID, n)
	bu.Release()
	heap0, rss0 := bu.Settle(), bu.RSS()
	t0 := time.Now()
	for i := range pids {
		pids[i] = as.Root.Spawn(props)
	}
	started.Wait()
	el := time.Since(t0)
	heap1 := bu.Settle()
	rss1 := bu.RSS()
	for _, i := range []int{0, n / 2, n - 1} {
		r, err := request(as, pids[i], call{i})
		if err != nil || r.(int) != i+1 {
			bu.Fatal(system, "W1", "actor %d answered %v, %v", i, r, err)
		}
	}
	bu.Result(system, "W1", bu.PerOp(el, n), "ns/proc")
	bu.Result(system, "W1", float64(int64(rss1)-int64(rss0))/float64(n), "bytes/proc")
	bu.Note("NOTE %s W1 heap %.0f bytes/proc", system, float64(int64(heap1)-int64(heap0))/float64(n))
	for _, pid := range pids {
		as.Root.Stop(pid)
	}
	stopped.Wait()
	as.Shutdown()
}

// W2: RequestFuture round trips to one actor.
func w2() {
	warm, calls := bu.N(10_000), bu.N(1_000_000)
	as := newSystem()
	pid := as.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &server{} }))
	for i := 0; i < warm; i++ {
		if _, err := request(as, pid, call{i}); err != nil {
			bu.Fatal(system, "W2", "warm-up call: %v", err)
		}
	}
	sum := 0
	t0 := time.Now()
	for i := 0; i < calls; i++ {
		r, err := request(as, pid, call{i})
		if err != nil {
			bu.Fatal(system, "W2", "call: %v", err)
		}
		sum += r.(int)
	}
	el := time.Since(t0)
	if want := calls * (calls + 1) / 2; sum != want {
		bu.Fatal(system, "W2", "sum %d, want %d", sum, want)
	}
	bu.Result(system, "W2", bu.PerOp(el, calls), "ns/call")
	as.Shutdown()
}

// castRun sends total casts from senders goroutines, then a final request.
func castRun(w string, senders, each int) {
	total := senders * each
	as := newSystem()
	pid := as.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &server{} }))
	if _, err := request(as, pid, count{}); err != nil {
		bu.Fatal(system, w, "first call: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(senders)
	gate := make(chan struct{})
	for s := 0; s < senders; s++ {
		go func() {
			defer wg.Done()
			<-gate
			for i := 0; i < each; i++ {
				as.Root.Send(pid, cast{i})
			}
		}()
	}
	t0 := time.Now()
	close(gate)
	wg.Wait()
	r, err := request(as, pid, count{})
	el := time.Since(t0)
	if err != nil || r.(int) != total {
		bu.Fatal(system, w, "server counted %v of %d (%v)", r, total, err)
	}
	bu.Result(system, w, bu.Rate(el, total), "msgs/s")
	as.Shutdown()
}

// W3: one sender, 2,000,000 casts.
func w3() { castRun("W3", 1, bu.N(2_000_000)) }

// W4: 8 senders × 250,000 casts.
func w4() { castRun("W4", 8, bu.N(250_000)) }

// token carries the hops left.
type token struct{ left int }

type ringNode struct {
	next *actor.PID
	done chan struct{}
}

// setNext closes the ring once every actor exists.
type setNext struct{ next *actor.PID }

func (r *ringNode) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case setNext:
		r.next = m.next
		ctx.Respond(true)
	case token:
		if m.left == 0 {
			close(r.done)
			return
		}
		ctx.Send(r.next, token{m.left - 1})
	}
}

// W5: a ring of 10,000 actors; one token, 100 rounds.
func w5() {
	n, rounds := bu.N(10_000), 100
	hops := n * rounds
	as := newSystem()
	done := make(chan struct{})
	props := actor.PropsFromProducer(func() actor.Actor { return &ringNode{done: done} })
	pids := make([]*actor.PID, n)
	for i := range pids {
		pids[i] = as.Root.Spawn(props)
	}
	for i, pid := range pids {
		if _, err := request(as, pid, setNext{pids[(i+1)%n]}); err != nil {
			bu.Fatal(system, "W5", "setup: %v", err)
		}
	}
	t0 := time.Now()
	as.Root.Send(pids[0], token{hops})
	<-done
	el := time.Since(t0)
	bu.Result(system, "W5", bu.PerOp(el, hops), "ns/hop")
	as.Shutdown()
}

// W7: a parent actor whose OneForOne strategy restarts its named child; the
// client crashes the child (a panic in Receive), then calls it by name until
// a call succeeds. protoactor restarts an actor in place (same PID, mailbox
// suspended meanwhile), so the call waits in the mailbox for the restart.

type crash struct{}

// generation asks the child which incarnation answers.
type generation struct{}

type child struct{ gen int64 }

var incarnations atomic.Int64

func (c *child) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		c.gen = incarnations.Add(1)
	case crash:
		panic("crash")
	case generation:
		ctx.Respond(c.gen)
	}
}

type parent struct{ ready chan struct{} }

func (p *parent) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); ok {
		if _, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &child{} }), "child"); err != nil {
			panic(err)
		}
		close(p.ready)
	}
}

func w7() {
	restarts := bu.N(1_000)
	as := newSystem()
	ready := make(chan struct{})
	// unlimited restarts, as the other systems' supervisors are configured
	strategy := actor.NewOneForOneStrategy(1<<30, time.Second, actor.DefaultDecider)
	if _, err := as.Root.SpawnNamed(actor.PropsFromProducer(
		func() actor.Actor { return &parent{ready: ready} },
		actor.WithSupervisor(strategy)), "sup"); err != nil {
		bu.Fatal(system, "W7", "spawn supervisor: %v", err)
	}
	<-ready
	const name = "sup/child"
	byName := func() *actor.PID { return as.NewLocalPID(name) } // resolved through the ProcessRegistry

	r, err := request(as, byName(), generation{})
	if err != nil {
		bu.Fatal(system, "W7", "first call: %v", err)
	}
	gen := r.(int64)
	retries := 0
	t0 := time.Now()
	for i := 0; i < restarts; i++ {
		as.Root.Send(byName(), crash{})
		for {
			r, err := request(as, byName(), generation{})
			if err == nil {
				if g := r.(int64); g != gen {
					gen = g
					break
				}
			}
			retries++
		}
	}
	el := time.Since(t0)
	if gen != int64(restarts)+1 {
		bu.Fatal(system, "W7", "%d incarnations after %d restarts", gen, restarts)
	}
	bu.Note("NOTE %s W7 %d failed calls over %d restarts", system, retries, restarts)
	bu.Result(system, "W7", float64(el.Nanoseconds())/1e3/float64(restarts), "us/restart")
	as.Shutdown()
}

// W8: 10,000 named actors; 2 goroutines × 1,000,000 lookups by name in the
// ProcessRegistry (GetLocal), with pre-generated random indices.
func w8() {
	n, per := bu.N(10_000), bu.N(1_000_000)
	const workers = 2
	as := newSystem()
	props := actor.PropsFromProducer(func() actor.Actor { return &server{} })
	names := make([]string, n)
	for i := range names {
		names[i] = "name-" + strconv.Itoa(i)
		if _, err := as.Root.SpawnNamed(props, names[i]); err != nil {
			bu.Fatal(system, "W8", "spawn %s: %v", names[i], err)
		}
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
				if _, ok := as.ProcessRegistry.GetLocal(names[i]); ok {
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
	as.Shutdown()
}
