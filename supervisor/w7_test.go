package supervisor_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// pidServer answers a call with its own Pid, so that a caller can tell a
// restarted server from the one it crashed.
type pidServer struct{ genserver.NoCasts }

// HandleCall answers with the server's Pid.
func (*pidServer) HandleCall(c *genserver.CallCtx[pid.Pid], _ struct{}) (pid.Pid, error) {
	return c.Self(), nil
}

// errW7Crash is the abnormal reason the W7 benchmarks crash the child with.
var errW7Crash = errors.New("crash")

// w7Bench is the setup both W7 benchmarks share: a one_for_one supervisor
// with one registered pidServer child whose start function is timed.
type w7Bench struct {
	node      *process.Node
	ref       genserver.Ref[struct{}, pid.Pid, genserver.Never]
	cur       pid.Pid      // the child now running
	entered   atomic.Int64 // when the last start function began
	returned  atomic.Int64 // and when it ended
	restarted chan struct{}

	toEnter, inStart, toCall time.Duration
}

// newW7Bench starts the supervisor and its child and calls the child once.
func newW7Bench(b *testing.B) *w7Bench {
	w := &w7Bench{node: spawntest.NewNode(b), restarted: make(chan struct{}, 1)}
	start := supervisor.GenServer(func() *pidServer { return &pidServer{} }, genserver.WithName("w7"))
	timed := func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		w.entered.Store(time.Now().UnixNano())
		p, err := start(ctx, sup)
		w.returned.Store(time.Now().UnixNano())
		select {
		case w.restarted <- struct{}{}:
		default: // BenchmarkW7Exit does not wait for it
		}
		return p, err
	}
	ctx := context.Background()
	if _, err := supervisor.Start(ctx, w.node, supervisor.Spec{
		Strategy: supervisor.OneForOne, Intensity: 1 << 30, Period: time.Second,
		Children: []supervisor.ChildSpec{{ID: "w7", Start: timed}},
	}); err != nil {
		b.Fatalf("Start: %v", err)
	}
	w.ref = genserver.Named[struct{}, pid.Pid, genserver.Never](w.node, "w7")
	var err error
	if w.cur, err = w.ref.Call(ctx, struct{}{}); err != nil {
		b.Fatalf("call: %v", err)
	}
	return w
}

// lap adds one restart, crashed at t0 and answered now, to the breakdown.
func (w *w7Bench) lap(t0 time.Time) {
	t3 := time.Now().UnixNano()
	t1, t2 := w.entered.Load(), w.returned.Load()
	w.toEnter += time.Duration(t1 - t0.UnixNano())
	w.inStart += time.Duration(t2 - t1)
	w.toCall += time.Duration(t3 - t2)
}

// report reports the time per restart and its breakdown.
func (w *w7Bench) report(b *testing.B) {
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(b.N) }
	b.ReportMetric(per(b.Elapsed()), "µs/restart")
	b.ReportMetric(per(w.toEnter), "exit-µs")
	b.ReportMetric(per(w.inStart), "start-µs")
	b.ReportMetric(per(w.toCall), "call-µs")
}

// BenchmarkW7Exit is workload W7 as bench/cmd/spawned runs it: the child is
// crashed from outside with an exit signal, and the client calls it by name
// until the restarted server answers. It also reports where a restart's
// time goes: until the supervisor runs the start function (exit-µs), in the
// start function (start-µs), and from then until the client's call
// succeeds (call-µs).
func BenchmarkW7Exit(b *testing.B) {
	w := newW7Bench(b)
	ctx := context.Background()
	reg := registry.Of(w.node)
	retries := 0
	b.ReportAllocs()
	for b.Loop() {
		if p, ok := reg.WhereIs("w7"); !ok || p != w.cur {
			b.Fatalf("w7 is %v, want %v", p, w.cur)
		}
		t0 := time.Now()
		if err := w.node.Exit(w.cur, errW7Crash); err != nil {
			b.Fatalf("Exit: %v", err)
		}
		for {
			p, err := w.ref.Call(ctx, struct{}{})
			if err == nil && p != w.cur {
				w.cur = p
				break
			}
			if err != nil && !errors.Is(err, process.NoProc) && !errors.Is(err, errW7Crash) {
				b.Fatalf("call: %v", err)
			}
			retries++
			runtime.Gosched()
		}
		w.lap(t0)
	}
	w.report(b)
	b.ReportMetric(float64(retries)/float64(b.N), "retries/op")
}

// BenchmarkW7Quiet is W7 without the client's polling: the client waits
// until the supervisor's start function has returned and then calls the
// restarted server once, so that allocs/op counts one restart's own
// allocations (the exit, the supervisor's handling, the start and one
// call) without the failed calls of a polling client. It reports the same
// breakdown as BenchmarkW7Exit.
func BenchmarkW7Quiet(b *testing.B) {
	w := newW7Bench(b)
	ctx := context.Background()
	<-w.restarted // the first start
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if err := w.node.Exit(w.cur, errW7Crash); err != nil {
			b.Fatalf("Exit: %v", err)
		}
		<-w.restarted
		p, err := w.ref.Call(ctx, struct{}{})
		if err != nil || p == w.cur {
			b.Fatalf("call after the restart: %v, %v (old %v)", p, err, w.cur)
		}
		w.cur = p
		w.lap(t0)
	}
	w.report(b)
}
