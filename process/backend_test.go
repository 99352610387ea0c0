//go:build linux

package process_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

var backendSink atomic.Pointer[[]byte]

// backendChurn yields and allocates, giving the scheduler every chance to
// move the goroutine to another thread.
func backendChurn(i int) {
	runtime.Gosched()
	b := make([]byte, 4096+i%4096)
	backendSink.Store(&b)
	if i%64 == 0 {
		runtime.GC()
	}
}

func TestBackend_ThreadFuncKeepsOneOSThread(t *testing.T) {
	t.Parallel()
	const rounds = 500
	n := spawntest.NewNode(t)
	type result struct {
		start int
		moved []int
	}
	out := make(chan result, 1)
	p, err := n.Spawn(func(p *process.Process) error {
		r := result{start: syscall.Gettid()}
		for i := range rounds {
			if _, err := p.Receive(context.Background()); err != nil {
				return err
			}
			backendChurn(i)
			if tid := syscall.Gettid(); tid != r.start {
				r.moved = append(r.moved, tid)
			}
		}
		out <- r
		return nil
	}, process.WithBackend(process.Thread))
	if err != nil {
		t.Fatal(err)
	}
	// Interleave sends with other work so that the process parks and wakes.
	for i := range rounds {
		if err := n.Send(p, i); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			runtime.Gosched()
		}
	}
	r := spawntest.Recv(t, out)
	if len(r.moved) != 0 {
		t.Errorf("Thread process started on thread %d but ran on %v", r.start, r.moved)
	}
	spawntest.WaitExit(t, n, p)
}

func TestBackend_ThreadHandlerKeepsOneOSThread(t *testing.T) {
	t.Parallel()
	const rounds = 500
	n := spawntest.NewNode(t)
	var initTid atomic.Int64
	tids := make(chan int, rounds)
	h := &pkInitHandler{
		init: func(*process.Process) error {
			initTid.Store(int64(syscall.Gettid()))
			return nil
		},
		handle: func(_ *process.Process, msg any) error {
			backendChurn(msg.(int))
			tids <- syscall.Gettid()
			return nil
		},
	}
	p, err := n.SpawnHandler(h, process.WithBackend(process.Thread))
	if err != nil {
		t.Fatal(err)
	}
	for i := range rounds {
		if err := n.Send(p, i); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			// Let the handler drain and go idle now and then.
			if tid := spawntest.Recv(t, tids); tid != int(initTid.Load()) {
				t.Fatalf("Init ran on thread %d, HandleMessage on %d", initTid.Load(), tid)
			}
		}
	}
	for range rounds - (rounds+1)/2 {
		if tid := spawntest.Recv(t, tids); tid != int(initTid.Load()) {
			t.Fatalf("Init ran on thread %d, HandleMessage on %d", initTid.Load(), tid)
		}
	}
}

// Informational: Async processes may run on any thread.
func TestBackend_AsyncThreadsInformational(t *testing.T) {
	t.Parallel()
	const rounds = 200
	n := spawntest.NewNode(t)
	tids := make(chan int, rounds)
	p, err := n.SpawnHandler(pkHandle(func(_ *process.Process, msg any) error {
		backendChurn(msg.(int))
		tids <- syscall.Gettid()
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for i := range rounds {
		if err := n.Send(p, i); err != nil {
			t.Fatal(err)
		}
		seen[spawntest.Recv(t, tids)] = true
	}
	t.Logf("an Async handler ran on %d distinct OS threads over %d messages", len(seen), rounds)
}

// backendHeld tracks how many Blocking handlers run at once.
type backendHeld struct {
	cur, max, total atomic.Int64
}

func (h *backendHeld) enter() {
	c := h.cur.Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if c <= m || h.max.CompareAndSwap(m, c) {
			return
		}
	}
}

func (h *backendHeld) leave() { h.cur.Add(-1) }

func TestBackend_BlockingPoolIsBoundedAndAsyncKeepsRunning(t *testing.T) {
	t.Parallel()
	const bound, procs = 4, 12
	kinds := []string{"func", "handler"}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t, process.WithBlockingPool(bound))
			if b, used := n.BlockingPool(); b != bound || used != 0 {
				t.Fatalf("BlockingPool() = %d, %d; want %d, 0", b, used, bound)
			}
			var held backendHeld
			gate := spawntest.NewGate(t)
			started := make(chan struct{}, procs)
			finished := make(chan struct{}, procs)
			work := func() {
				held.enter()
				started <- struct{}{}
				gate.Wait(context.Background()) // stands in for a blocking syscall
				held.leave()
				finished <- struct{}{}
			}
			var pids []pid.Pid
			for range procs {
				var p pid.Pid
				var err error
				if kind == "func" {
					p, err = n.Spawn(func(*process.Process) error { work(); return nil },
						process.WithBackend(process.Blocking))
				} else {
					p, err = n.SpawnHandler(pkHandle(func(*process.Process, any) error { work(); return nil }),
						process.WithBackend(process.Blocking))
					if err == nil {
						err = n.Send(p, "work")
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				pids = append(pids, p)
			}
			for range bound {
				spawntest.Recv(t, started)
			}
			if _, used := n.BlockingPool(); used != bound {
				t.Errorf("BlockingPool inUse = %d with every slot held, want %d", used, bound)
			}
			if c := held.cur.Load(); c != bound {
				t.Errorf("%d Blocking handlers running, want %d", c, bound)
			}

			// Every slot is held: Async and Thread processes still answer.
			probe := spawntest.NewProbe(t, n)
			asyncEcho, err := n.SpawnHandler(pkEchoHandler())
			if err != nil {
				t.Fatal(err)
			}
			threadEcho, err := n.SpawnHandler(pkEchoHandler(), process.WithBackend(process.Thread))
			if err != nil {
				t.Fatal(err)
			}
			asyncFunc, err := n.Spawn(pkEchoFunc)
			if err != nil {
				t.Fatal(err)
			}
			pkPingPong(t, probe, asyncEcho, 50)
			pkPingPong(t, probe, threadEcho, 20)
			pkPingPong(t, probe, asyncFunc, 50)
			if c := held.cur.Load(); c != bound {
				t.Errorf("%d Blocking handlers running while held, want %d", c, bound)
			}

			// Release: the rest get slots in turn, never more than the bound.
			stopSampling := make(chan struct{})
			sampled := make(chan int, 1)
			go func() {
				maxUsed := 0
				for {
					select {
					case <-stopSampling:
						sampled <- maxUsed
						return
					default:
					}
					_, used := n.BlockingPool()
					maxUsed = max(maxUsed, used)
					runtime.Gosched()
				}
			}()
			gate.Open()
			for range procs {
				spawntest.Recv(t, finished)
			}
			close(stopSampling)
			if m := spawntest.Recv(t, sampled); m > bound {
				t.Errorf("BlockingPool inUse reached %d, bound %d", m, bound)
			}
			if m := held.max.Load(); m > bound {
				t.Errorf("%d Blocking handlers ran at once, bound %d", m, bound)
			}
			if got := held.total.Load(); got != procs {
				t.Errorf("%d handlers ran, want %d", got, procs)
			}
			if kind == "func" {
				for _, p := range pids {
					spawntest.WaitExit(t, n, p)
				}
			}
			spawntest.Eventually(t, "every Blocking slot is free", func() bool {
				_, used := n.BlockingPool()
				return used == 0
			})
		})
	}
}

// A Blocking Func waiting in Receive gives its slot back: more receivers
// than slots all get to run.
func TestBackend_BlockingReceiverFreesItsSlot(t *testing.T) {
	t.Parallel()
	const bound, procs = 2, 8
	n := spawntest.NewNode(t, process.WithBlockingPool(bound))
	probe := spawntest.NewProbe(t, n)
	var echoes []pid.Pid
	for range procs {
		p, err := n.Spawn(pkEchoFunc, process.WithBackend(process.Blocking))
		if err != nil {
			t.Fatal(err)
		}
		echoes = append(echoes, p)
	}
	// Every receiver must run to answer, which it can only do if the ones
	// parked in Receive do not keep their slots.
	for round := range 3 {
		for i, e := range echoes {
			probe.Do(func(p *process.Process) error { return p.Send(e, pkPing{From: p.Self(), N: round*procs + i}) })
		}
		got := map[pid.Pid]bool{}
		for range echoes {
			m, ok := probe.Receive().(pkPong)
			if !ok {
				t.Fatalf("unexpected message %#v", m)
			}
			got[m.From] = true
		}
		if len(got) != procs {
			t.Fatalf("round %d: %d of %d receivers answered", round, len(got), procs)
		}
	}
	probe.ExpectEmpty()
}

// Processes on every pair of backends exchange messages both ways, with
// Func and Handler receivers.
func TestBackend_CrossBackendMatrix(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t, process.WithBlockingPool(2))
	for _, from := range spawntest.Backends() {
		for _, to := range spawntest.Backends() {
			for _, kind := range []string{"func", "handler"} {
				t.Run(fmt.Sprintf("%v_to_%v_%s", from, to, kind), func(t *testing.T) {
					t.Parallel()
					var echo pid.Pid
					var err error
					if kind == "func" {
						echo, err = n.Spawn(pkEchoFunc, process.WithBackend(to))
					} else {
						echo, err = n.SpawnHandler(pkEchoHandler(), process.WithBackend(to))
					}
					if err != nil {
						t.Fatal(err)
					}
					const rounds = 20
					done := make(chan error, 1)
					ctx := spawntest.Context(t)
					_, err = n.Spawn(func(p *process.Process) error {
						done <- func() error {
							for i := range rounds {
								if err := p.Send(echo, pkPing{From: p.Self(), N: i}); err != nil {
									return err
								}
								m, err := p.Receive(ctx)
								if err != nil {
									return err
								}
								if m != (pkPong{From: echo, N: i}) {
									return fmt.Errorf("round %d: got %#v", i, m)
								}
							}
							return nil
						}()
						return nil
					}, process.WithBackend(from))
					if err != nil {
						t.Fatal(err)
					}
					if err := spawntest.Recv(t, done); err != nil {
						t.Fatalf("%v sender to %v %s: %v", from, to, kind, err)
					}
					if err := n.Exit(echo, process.Kill); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}
