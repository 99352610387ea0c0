package supervisor_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
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

// BenchmarkW7Exit is workload W7 as bench/cmd/spawned runs it: the child is
// crashed from outside with an exit signal, and the client calls it by name
// until the restarted server answers. It also reports where a restart's
// time goes: until the supervisor runs the start function (exit-µs), in the
// start function (start-µs), and from then until the client's call
// succeeds (call-µs).
func BenchmarkW7Exit(b *testing.B) {
	n := testkit.Node(b)
	ctx := context.Background()
	var entered, returned atomic.Int64 // when the last start function began and ended
	start := supervisor.GenServer(func() *pidServer { return &pidServer{} }, genserver.WithName("w7"))
	timed := func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		entered.Store(time.Now().UnixNano())
		p, err := start(ctx, sup)
		returned.Store(time.Now().UnixNano())
		return p, err
	}
	if _, err := supervisor.Start(ctx, n, supervisor.Spec{
		Strategy: supervisor.OneForOne, Intensity: 1 << 30, Period: time.Second,
		Children: []supervisor.ChildSpec{{ID: "w7", Start: timed}},
	}); err != nil {
		b.Fatalf("Start: %v", err)
	}
	ref := genserver.Named[struct{}, pid.Pid, genserver.Never](n, "w7")
	cur, err := ref.Call(ctx, struct{}{})
	if err != nil {
		b.Fatalf("call: %v", err)
	}
	reg := registry.Of(n)
	var toEnter, inStart, toCall time.Duration
	retries := 0
	b.ReportAllocs()
	for b.Loop() {
		if p, ok := reg.WhereIs("w7"); !ok || p != cur {
			b.Fatalf("w7 is %v, want %v", p, cur)
		}
		t0 := time.Now()
		if err := n.Exit(cur, errW7Crash); err != nil {
			b.Fatalf("Exit: %v", err)
		}
		for {
			p, err := ref.Call(ctx, struct{}{})
			if err == nil && p != cur {
				cur = p
				break
			}
			if err != nil && !errors.Is(err, process.NoProc) && !errors.Is(err, errW7Crash) {
				b.Fatalf("call: %v", err)
			}
			retries++
			runtime.Gosched()
		}
		t3 := time.Now().UnixNano()
		t1, t2 := entered.Load(), returned.Load()
		toEnter += time.Duration(t1 - t0.UnixNano())
		inStart += time.Duration(t2 - t1)
		toCall += time.Duration(t3 - t2)
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(b.N) }
	b.ReportMetric(per(b.Elapsed()), "µs/restart")
	b.ReportMetric(per(toEnter), "exit-µs")
	b.ReportMetric(per(inStart), "start-µs")
	b.ReportMetric(per(toCall), "call-µs")
	b.ReportMetric(float64(retries)/float64(b.N), "retries/op")
}

// BenchmarkW7Quiet is W7 without the client's polling: the client waits
// until the supervisor's start function has returned and then calls the
// restarted server once, so that allocs/op counts one restart's own
// allocations (the exit, the supervisor's handling, the start and one
// call) without the failed calls of a polling client. It reports the same
// breakdown as BenchmarkW7Exit.
func BenchmarkW7Quiet(b *testing.B) {
	n := testkit.Node(b)
	ctx := context.Background()
	restarted := make(chan struct{}, 1)
	var entered, returned atomic.Int64 // when the last start function began and ended
	start := supervisor.GenServer(func() *pidServer { return &pidServer{} }, genserver.WithName("w7"))
	signalled := func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		entered.Store(time.Now().UnixNano())
		p, err := start(ctx, sup)
		returned.Store(time.Now().UnixNano())
		restarted <- struct{}{}
		return p, err
	}
	if _, err := supervisor.Start(ctx, n, supervisor.Spec{
		Strategy: supervisor.OneForOne, Intensity: 1 << 30, Period: time.Second,
		Children: []supervisor.ChildSpec{{ID: "w7", Start: signalled}},
	}); err != nil {
		b.Fatalf("Start: %v", err)
	}
	<-restarted
	ref := genserver.Named[struct{}, pid.Pid, genserver.Never](n, "w7")
	cur, err := ref.Call(ctx, struct{}{})
	if err != nil {
		b.Fatalf("call: %v", err)
	}
	var toEnter, inStart, toCall time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now().UnixNano()
		if err := n.Exit(cur, errW7Crash); err != nil {
			b.Fatalf("Exit: %v", err)
		}
		<-restarted
		p, err := ref.Call(ctx, struct{}{})
		if err != nil || p == cur {
			b.Fatalf("call after the restart: %v, %v (old %v)", p, err, cur)
		}
		cur = p
		t3 := time.Now().UnixNano()
		t1, t2 := entered.Load(), returned.Load()
		toEnter += time.Duration(t1 - t0)
		inStart += time.Duration(t2 - t1)
		toCall += time.Duration(t3 - t2)
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(b.N) }
	b.ReportMetric(per(b.Elapsed()), "µs/restart")
	b.ReportMetric(per(toEnter), "exit-µs")
	b.ReportMetric(per(inStart), "start-µs")
	b.ReportMetric(per(toCall), "call-µs")
}
