package process_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Benchmarks of the BENCHMARKS.md workloads at the process level. Each
// uses its own silent node.

func benchNode(b *testing.B) *process.Node {
	b.Helper()
	n := process.NewNode(process.WithLogger(nil))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			b.Errorf("stop: %v", err)
		}
	})
	return n
}

func benchWait(b *testing.B, ch <-chan struct{}) {
	b.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		b.Fatal("benchmark did not finish")
	}
}

// benchIdle is a Handler that does nothing.
type benchIdle struct{}

func (benchIdle) HandleMessage(*process.Process, any) error { return nil }

// benchMsg is a message that costs no allocation to box, so allocs/op
// measure the runtime alone.
type benchMsg struct{}

// benchCounter counts messages and closes done at the target.
type benchCounter struct {
	n      int
	target int
	done   chan struct{}
}

func (c *benchCounter) HandleMessage(_ *process.Process, _ any) error {
	if c.n++; c.n == c.target {
		close(c.done)
	}
	return nil
}

// W1: spawn idle Handler processes.
func BenchmarkW1SpawnHandler(b *testing.B) {
	n := benchNode(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.SpawnHandler(benchIdle{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n.Stats().Processes), "procs")
}

// Spawn Func processes that return at once, waiting until all have run.
func BenchmarkSpawnFunc(b *testing.B) {
	n := benchNode(b)
	var left atomic.Int64
	left.Store(int64(b.N))
	done := make(chan struct{})
	fn := func(*process.Process) error {
		if left.Add(-1) == 0 {
			close(done)
		}
		return nil
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := n.Spawn(fn); err != nil {
			b.Fatal(err)
		}
	}
	benchWait(b, done)
}

// W3: one sender, one counting Handler; the clock stops when the last
// message has been handled.
func BenchmarkW3SendHandler(b *testing.B) {
	n := benchNode(b)
	c := &benchCounter{target: b.N, done: make(chan struct{})}
	to, err := n.SpawnHandler(c)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := n.Send(to, benchMsg{}); err != nil {
			b.Fatal(err)
		}
	}
	benchWait(b, c.done)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// W4: 8 sender processes, one counting Handler.
func BenchmarkW4FanIn(b *testing.B) {
	const senders = 8
	n := benchNode(b)
	c := &benchCounter{target: b.N, done: make(chan struct{})}
	to, err := n.SpawnHandler(c)
	if err != nil {
		b.Fatal(err)
	}
	start := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	for s := range senders {
		share := b.N / senders
		if s < b.N%senders {
			share++
		}
		if _, err := n.Spawn(func(p *process.Process) error {
			<-start
			for range share {
				if err := p.Send(to, benchMsg{}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	close(start)
	benchWait(b, c.done)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// benchToken is the ring's token: one pointer passed around, so forwarding
// it allocates nothing in the benchmark's own code.
type benchToken struct{ left int }

// benchRing forwards the token to the next process until its hops run out.
type benchRing struct {
	next pid.Pid
	done chan struct{}
}

func (r *benchRing) HandleMessage(p *process.Process, msg any) error {
	tok := msg.(*benchToken)
	if tok.left == 0 {
		close(r.done)
		return nil
	}
	tok.left--
	return p.Send(r.next, tok)
}

// W5: a ring of Handler processes passing one token b.N hops.
func BenchmarkW5Ring(b *testing.B) { benchW5Ring(b, func(*testing.B, *process.Node) {}) }

// benchW5Ring runs W5 on a node that observe has set up.
func benchW5Ring(b *testing.B, observe func(b *testing.B, n *process.Node)) {
	const size = 10000
	n := benchNode(b)
	observe(b, n)
	done := make(chan struct{})
	ring := make([]*benchRing, size)
	pids := make([]pid.Pid, size)
	for i := range ring {
		ring[i] = &benchRing{done: done}
		p, err := n.SpawnHandler(ring[i])
		if err != nil {
			b.Fatal(err)
		}
		pids[i] = p
	}
	for i := range ring {
		ring[i].next = pids[(i+1)%size]
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := n.Send(pids[0], &benchToken{left: b.N}); err != nil {
		b.Fatal(err)
	}
	benchWait(b, done)
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/hop")
}
