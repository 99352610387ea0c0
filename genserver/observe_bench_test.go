package genserver_test

import (
	"testing"
	"time"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
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
		if err := n.Trace(spawntest.SpawnIdle(b, n)); err != nil {
			b.Fatal(err)
		}
	}},
}

type nopLatency struct{}

func (nopLatency) ObserveCall(string, time.Duration) {}

// W2 with the node observed in each mode.
func BenchmarkW2CallObserved(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) { benchW2(b, process.Async, m.set) })
	}
}

// W3 with the node observed in each mode.
func BenchmarkW3CastObserved(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) { benchW3(b, process.Async, m.set) })
	}
}
