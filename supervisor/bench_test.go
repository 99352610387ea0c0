package supervisor_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// BenchmarkW7Restart measures a crash of a named permanent child and its
// restart, up to the first successful call by name.
func BenchmarkW7Restart(b *testing.B) {
	n := spawntest.NewNode(b)
	ctx := context.Background()
	_, err := supervisor.Start(ctx, n, supervisor.Spec{
		Strategy: supervisor.OneForOne, Intensity: 1 << 30, Period: time.Second,
		Children: []supervisor.ChildSpec{{ID: "w7", Start: supervisor.GenServer(
			func() *imWorker { return &imWorker{id: "w7"} }, genserver.WithName("w7"))}},
	})
	if err != nil {
		b.Fatalf("Start: %v", err)
	}
	ref := genserver.Named[imReq, string, imReq](n, "w7")
	if _, err := ref.Call(ctx, imReq{Op: "ping"}); err != nil {
		b.Fatalf("ping: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		// The server replies, then stops with an abnormal reason; a call
		// that succeeds afterwards reaches the restarted server.
		if _, err := ref.Call(ctx, imReq{Op: "stop", Reason: imErrBoom}); err != nil {
			b.Fatalf("crash call: %v", err)
		}
		for {
			if _, err := ref.Call(ctx, imReq{Op: "ping"}); err == nil {
				break
			}
			runtime.Gosched()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/restart")
}
