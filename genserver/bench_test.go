package genserver_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Benchmarks of the BENCHMARKS.md workloads W1 (start), W2 (call), W3
// (cast) and W4 (fan-in) on a genserver, per backend. Each uses its own
// silent node.

// benchGSCount is a cast that costs no allocation to box.
type benchGSCount struct{}

// benchGSServer counts casts; a call adds its argument and replies with the
// count.
type benchGSServer struct{ n int }

func (s *benchGSServer) HandleCall(_ *genserver.CallCtx[int], req int) (int, error) {
	s.n += req
	return s.n, nil
}

func (s *benchGSServer) HandleCast(*genserver.Ctx, benchGSCount) { s.n++ }

type benchGSRef = genserver.Ref[int, int, benchGSCount]

// benchGSStart starts a benchGSServer on backend, on a node of its own that
// observe has set up.
func benchGSStart(b *testing.B, backend process.Backend, observe func(*testing.B, *process.Node), opts ...genserver.Option) (benchGSRef, context.Context) {
	b.Helper()
	node := spawntest.NewNode(b)
	observe(b, node)
	// No deadline, as plain-chan has none: a pending timer makes the
	// scheduler read the clock at every goroutine switch of its processor.
	// Calls are bounded by DefaultCallTimeout all the same.
	ctx := context.Background()
	ref, err := genserver.Start(ctx, node, &benchGSServer{}, append([]genserver.Option{genserver.WithBackend(backend)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	return ref, ctx
}

// benchGSConfirm makes a final call and checks the server has counted want.
func benchGSConfirm(b *testing.B, ctx context.Context, ref benchGSRef, want int) {
	b.Helper()
	got, err := ref.Call(ctx, 0)
	if err != nil {
		b.Fatal(err)
	}
	if got != want {
		b.Fatalf("server counted %d; want %d", got, want)
	}
}

// W1: start minimal servers one after another; each stays alive.
func BenchmarkW1Start(b *testing.B) {
	node := spawntest.NewNode(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := genserver.Start(ctx, node, &benchGSServer{}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchNothing leaves a benchmark's node as it is.
func benchNothing(*testing.B, *process.Node) {}

// W2: one client goroutine, one server, sequential calls.
func BenchmarkW2Call(b *testing.B) {
	for _, backend := range spawntest.Backends() {
		b.Run(backend.String(), func(b *testing.B) { benchW2(b, backend, benchNothing) })
	}
	// WithDirectCalls: the caller runs HandleCall while the server is idle.
	b.Run("async-direct", func(b *testing.B) { benchW2(b, process.Async, benchNothing, genserver.WithDirectCalls()) })
	// The limit reference: a request channel and a reply channel.
	b.Run("plain-chan", func(b *testing.B) {
		req, rep := make(chan int), make(chan int)
		go func() {
			n := 0
			for r := range req {
				n += r
				rep <- n
			}
		}()
		defer close(req)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			req <- 1
			<-rep
		}
		b.StopTimer()
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/call")
	})
}

// benchW2 runs W2 on backend, on a node that observe has set up.
func benchW2(b *testing.B, backend process.Backend, observe func(*testing.B, *process.Node), opts ...genserver.Option) {
	ref, ctx := benchGSStart(b, backend, observe, opts...)
	for range 10000 { // warm up, as BENCHMARKS.md asks
		if _, err := ref.Call(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := ref.Call(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/call")
}

// W3: one sender casts b.N times; a final call confirms all were handled.
func BenchmarkW3Cast(b *testing.B) {
	for _, backend := range spawntest.Backends() {
		b.Run(backend.String(), func(b *testing.B) { benchW3(b, backend, benchNothing) })
	}
}

// benchW3 runs W3 on backend, on a node that observe has set up.
func benchW3(b *testing.B, backend process.Backend, observe func(*testing.B, *process.Node)) {
	ref, ctx := benchGSStart(b, backend, observe)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := ref.Cast(benchGSCount{}); err != nil {
			b.Fatal(err)
		}
	}
	benchGSConfirm(b, ctx, ref, b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// W4: 8 sender goroutines cast b.N messages in all; a final call confirms
// all were handled.
func BenchmarkW4FanIn(b *testing.B) {
	const senders = 8
	for _, backend := range spawntest.Backends() {
		b.Run(backend.String(), func(b *testing.B) {
			ref, ctx := benchGSStart(b, backend, benchNothing)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for s := range senders {
				share := b.N / senders
				if s < b.N%senders {
					share++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for range share {
						ref.Cast(benchGSCount{})
					}
				}()
			}
			b.ReportAllocs()
			b.ResetTimer()
			close(start)
			wg.Wait()
			benchGSConfirm(b, ctx, ref, b.N)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
