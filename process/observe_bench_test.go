package process_test

import (
	"testing"

	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// observeModes are the ways a node is watched in the Observed benchmarks:
// nothing, profile labels, a subscriber reading every event, and one
// other process traced (every send then checks the traced set).
var observeModes = []struct {
	name string
	set  func(b *testing.B, n *process.Node)
}{
	{"off", func(*testing.B, *process.Node) {}},
	{"labels", func(_ *testing.B, n *process.Node) { n.SetProfileLabels(true) }},
	{"events", func(b *testing.B, n *process.Node) {
		sub := n.Subscribe()
		b.Cleanup(sub.Close)
		go func() {
			for range sub.C() {
			}
		}()
	}},
	{"trace-other", func(b *testing.B, n *process.Node) {
		if err := n.Trace(spawntest.SpawnIdle(b, n)); err != nil {
			b.Fatal(err)
		}
	}},
}

// W5 with the node observed in each mode: what watching costs a hop.
func BenchmarkW5RingObserved(b *testing.B) {
	for _, m := range observeModes {
		b.Run(m.name, func(b *testing.B) { benchW5Ring(b, m.set) })
	}
}

// Spawn and exit with the node observed in each mode: the events' cost.
func BenchmarkSpawnExitObserved(b *testing.B) {
	for _, m := range observeModes {
		b.Run(m.name, func(b *testing.B) {
			n := benchNode(b)
			m.set(b, n)
			b.ReportAllocs()
			for b.Loop() {
				p, err := n.SpawnHandler(idleHandler{})
				if err != nil {
					b.Fatal(err)
				}
				n.Exit(p, process.Kill)
			}
		})
	}
}

type idleHandler struct{}

func (idleHandler) HandleMessage(*process.Process, any) error { return nil }
