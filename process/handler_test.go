package process_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// handlerLog records what a handler saw, in order.
type handlerLog struct {
	mu  sync.Mutex
	got []any
}

func (l *handlerLog) add(v any) { l.mu.Lock(); l.got = append(l.got, v); l.mu.Unlock() }

func (l *handlerLog) snapshot() []any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]any(nil), l.got...)
}

func TestHandler_InitRunsBeforeAnyMessage(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		gate := spawntest.NewGate(t)
		var log handlerLog
		handled := make(chan struct{}, 3)
		h := &pkInitHandler{
			init: func(p *process.Process) error {
				gate.Wait(context.Background()) // messages arrive while Init runs
				log.add("init")
				return nil
			},
			handle: func(p *process.Process, msg any) error {
				log.add(msg)
				handled <- struct{}{}
				return nil
			},
		}
		p, err := n.SpawnHandler(h, process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := n.Send(p, i); err != nil {
				t.Fatal(err)
			}
		}
		gate.Open()
		for range 3 {
			spawntest.Recv(t, handled)
		}
		want := []any{"init", 0, 1, 2}
		if got := log.snapshot(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("order = %v, want %v", got, want)
		}
	})
}

func TestHandler_InitErrorEndsProcess(t *testing.T) {
	t.Parallel()
	errInit := errors.New("init failed")
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, mode := range []string{"error", "panic"} {
			n := spawntest.NewNode(t)
			gate := spawntest.NewGate(t)
			var calls atomic.Int32
			h := &pkInitHandler{
				init: func(*process.Process) error {
					gate.Wait(context.Background())
					if mode == "panic" {
						panic("init panic")
					}
					return errInit
				},
				handle: func(*process.Process, any) error { calls.Add(1); return nil },
			}
			p, err := n.SpawnHandler(h, process.WithBackend(b))
			if err != nil {
				t.Fatal(err)
			}
			w := spawntest.WatchExit(t, n, p)
			if err := n.Send(p, "queued before init returned"); err != nil {
				t.Fatal(err)
			}
			gate.Open()
			r := w.Wait()
			switch mode {
			case "error":
				if !errors.Is(r, errInit) {
					t.Errorf("exit %v, want %v", r, errInit)
				}
			case "panic":
				var pe *process.PanicError
				if !errors.As(r, &pe) || pe.Value != "init panic" {
					t.Errorf("exit %v, want PanicError{init panic}", r)
				}
			}
			ctx, cancel := pkStopCtx(spawntest.Timeout)
			if err := n.Stop(ctx); err != nil { // every goroutine of the node is done
				t.Error(err)
			}
			cancel()
			if c := calls.Load(); c != 0 {
				t.Errorf("%s: HandleMessage ran %d times after a failed Init", mode, c)
			}
		}
	})
}

func TestHandler_MessagesOneAtATimeInOrder(t *testing.T) {
	t.Parallel()
	const senders, perSender = 4, 500
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		n := spawntest.NewNode(t, process.WithBlockingPool(2))
		type msg struct{ from, seq int }
		var inside, overlaps atomic.Int32
		next := make([]int, senders) // only the handler touches it
		var misordered []msg
		done := make(chan struct{})
		count := 0
		h := pkHandle(func(_ *process.Process, m any) error {
			if inside.Add(1) != 1 {
				overlaps.Add(1)
			}
			defer inside.Add(-1)
			mm := m.(msg)
			if mm.seq != next[mm.from] {
				misordered = append(misordered, mm)
			}
			next[mm.from] = mm.seq + 1
			runtime.Gosched() // widen the window for an overlap
			if count++; count == senders*perSender {
				close(done)
			}
			return nil
		})
		p, err := n.SpawnHandler(h, process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for s := range senders {
			wg.Go(func() {
				for i := range perSender {
					if err := n.Send(p, msg{s, i}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		spawntest.Recv(t, done)
		if o := overlaps.Load(); o != 0 {
			t.Errorf("HandleMessage ran concurrently %d times", o)
		}
		if len(misordered) != 0 {
			t.Errorf("messages out of order: %v", misordered[:min(5, len(misordered))])
		}
	})
}

func TestHandler_ErrorEndsProcess(t *testing.T) {
	t.Parallel()
	errStop := errors.New("stop here")
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		cases := []struct {
			name   string
			reason error
		}{{"error", errStop}, {"normal", process.Normal}, {"shutdown", process.ShutdownWith(errStop)}}
		for _, tc := range cases {
			var log handlerLog
			p, err := n.SpawnHandler(pkHandle(func(_ *process.Process, m any) error {
				log.add(m)
				if m == "stop" {
					return tc.reason
				}
				return nil
			}), process.WithBackend(b))
			if err != nil {
				t.Fatal(err)
			}
			w := spawntest.WatchExit(t, n, p)
			for _, m := range []string{"a", "stop", "b"} {
				if err := n.Send(p, m); err != nil {
					t.Fatal(err)
				}
			}
			if r := w.Wait(); !errors.Is(r, tc.reason) {
				t.Errorf("%s: exit %v, want %v", tc.name, r, tc.reason)
			}
			if got := fmt.Sprint(log.snapshot()); got != "[a stop]" {
				t.Errorf("%s: handled %s, want [a stop]", tc.name, got)
			}
			if n.Alive(p) {
				t.Errorf("%s: alive after its handler returned an error", tc.name)
			}
		}
	})
}

func TestHandler_PanicBecomesPanicError(t *testing.T) {
	t.Parallel()
	type boom struct{ code int }
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		p, err := n.SpawnHandler(pkHandle(func(_ *process.Process, m any) error {
			if m == "panic" {
				handlerPanicHere(boom{code: 42})
			}
			return nil
		}), process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		w := spawntest.WatchExit(t, n, p)
		if err := n.Send(p, "ok"); err != nil {
			t.Fatal(err)
		}
		if err := n.Send(p, "panic"); err != nil {
			t.Fatal(err)
		}
		r := w.Wait()
		var pe *process.PanicError
		if !errors.As(r, &pe) {
			t.Fatalf("exit %v (%T), want *PanicError", r, r)
		}
		if pe.Value != (boom{code: 42}) {
			t.Errorf("Value = %#v", pe.Value)
		}
		if len(pe.Stack) == 0 {
			t.Error("empty Stack")
		} else if !bytes.Contains(pe.Stack, []byte("handlerPanicHere")) {
			t.Errorf("Stack does not show the panicking function:\n%s", pe.Stack)
		}
		if process.IsNormal(r) || process.IsShutdown(r) {
			t.Error("a panic counted as a normal exit")
		}
		if pe.Error() == "" {
			t.Error("empty Error()")
		}
		// The node keeps working, on every backend.
		probe := spawntest.NewProbe(t, n)
		for _, b2 := range spawntest.Backends() {
			echo, err := n.SpawnHandler(pkEchoHandler(), process.WithBackend(b2))
			if err != nil {
				t.Fatal(err)
			}
			pkPingPong(t, probe, echo, 3)
		}
	})
}

//go:noinline
func handlerPanicHere(v any) { panic(v) }

// An idle Async Handler process holds no goroutine: only the node's bounded
// set of parked workers (Stats.Workers) remains. This test measures the
// program's goroutine count, so it does not run in parallel with others.
func TestHandler_IdleAsyncHandlerHoldsNoGoroutine(t *testing.T) {
	const procs = 10000
	n := spawntest.NewNode(t)
	base := runtime.NumGoroutine()
	var handled atomic.Int64
	all := make(chan struct{})
	h := pkHandle(func(*process.Process, any) error {
		if handled.Add(1) == procs {
			close(all)
		}
		return nil
	})
	pids := make([]pid.Pid, 0, procs)
	for range procs {
		p, err := n.SpawnHandler(h)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p)
	}
	for _, p := range pids {
		if err := n.Send(p, "wake"); err != nil {
			t.Fatal(err)
		}
	}
	spawntest.Recv(t, all)
	spawntest.Eventually(t, fmt.Sprintf("goroutines back near the baseline %d", base), func() bool {
		return runtime.NumGoroutine()-n.Stats().Workers < base+50
	})
	if s := n.Stats(); s.Processes != procs {
		t.Errorf("Stats().Processes = %d, want %d", s.Processes, procs)
	}
	for _, p := range pids[:100] {
		if !n.Alive(p) {
			t.Fatalf("%v not alive", p)
		}
	}
	t.Logf("%d idle handler processes, goroutines: baseline %d, now %d", procs, base, runtime.NumGoroutine())
}

// A Handler without Init starts idle, with no activation until a message
// arrives. Messages sent the moment it exists are still handled, in order,
// on every backend.
func TestHandler_WithoutInitHandlesFirstMessages(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		const procs, each = 200, 3
		got := make(chan int, procs*each)
		for i := range procs {
			h, err := n.SpawnHandler(pkHandle(func(_ *process.Process, msg any) error {
				got <- msg.(int)
				return nil
			}), process.WithBackend(b))
			if err != nil {
				t.Fatal(err)
			}
			for k := range each {
				if err := n.Send(h, i*each+k); err != nil {
					t.Fatal(err)
				}
			}
		}
		last := make(map[int]int, procs) // per process, the last k seen
		for range procs * each {
			v := spawntest.Recv(t, got)
			i, k := v/each, v%each
			if prev, ok := last[i]; ok && k != prev+1 || !ok && k != 0 {
				t.Fatalf("process %d handled message %d after %d", i, k, prev)
			}
			last[i] = k
		}
	})
}
