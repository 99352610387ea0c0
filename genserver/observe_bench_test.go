package genserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/process"
)

// benchModes are the ways a node is watched in the Observed benchmarks:
// nothing, profile labels, call latency recorded, and one other process
// traced (every send then checks the traced set).
var benchModes = []struct {
	name string
	set  func(b *testing.B, n *process.Node)
}{
	{"off", func(*testing.B, *process.Node) {}},
	{"labels", func(_ *testing.B, n *process.Node) { n.SetProfileLabels(true) }},
	{"latency", func(_ *testing.B, n *process.Node) { (*core.Node)(n).SetCallObserver(nopLatency{}) }},
	{"trace-other", func(b *testing.B, n *process.Node) {
		if err := n.Trace(testkit.SpawnIdle(b, n, process.Async)); err != nil {
			b.Fatal(err)
		}
	}},
}

type nopLatency struct{}

func (nopLatency) ObserveCall(string, time.Duration) {}

func observedServer(b *testing.B, set func(*testing.B, *process.Node)) (benchGSRef, context.Context) {
	n := testkit.Node(b)
	set(b, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	b.Cleanup(cancel)
	ref, err := genserver.Start(ctx, n, &benchGSServer{})
	if err != nil {
		b.Fatal(err)
	}
	return ref, ctx
}

// W2 with the node observed in each mode.
func BenchmarkW2CallObserved(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			ref, ctx := observedServer(b, m.set)
			for range 10000 {
				ref.Call(ctx, 1)
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
		})
	}
}

// W3 with the node observed in each mode.
func BenchmarkW3CastObserved(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			ref, ctx := observedServer(b, m.set)
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
		})
	}
}
