package link_test

import (
	"testing"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// benchIdle is a Handler that ignores every message: the links do the work.
type benchIdle struct{}

func (benchIdle) HandleMessage(*process.Process, any) error { return nil }

// linker links itself to the Pid it is sent, then tells the test.
type linker struct{ done chan<- error }

func (l linker) HandleMessage(p *process.Process, msg any) error {
	l.done <- link.Link(p, msg.(pid.Pid))
	return nil
}

// BenchmarkW6Cascade measures an exit cascading along a chain of linked
// Handler processes that do not trap exits: the ns/op figure divided by the
// chain length is the W6 figure (ns per process).
func BenchmarkW6Cascade(b *testing.B) {
	const length = 10_000
	n := spawntest.NewNode(b)
	done := make(chan error, 1)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		first, err := n.SpawnHandler(benchIdle{})
		if err != nil {
			b.Fatal(err)
		}
		prev := first
		for range length - 1 {
			next, err := n.SpawnHandler(linker{done})
			if err != nil {
				b.Fatal(err)
			}
			n.Send(next, prev)
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			prev = next
		}
		last := make(chan error, 1)
		if _, err := link.Watch(n, prev, func(d link.Down) { last <- d.Reason }); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n.Exit(first, errCascade)
		if reason := <-last; reason != errCascade {
			b.Fatalf("last died with %v", reason)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*length), "ns/proc")
}

var errCascade = benchError("cascade")

type benchError string

func (e benchError) Error() string { return string(e) }
