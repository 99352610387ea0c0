package supervisor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// BenchmarkRestartPath measures the supervisor's own share of a restart:
// its child's start function starts nothing but returns the next of a
// series of made-up pids (noted as linked), and the benchmark feeds the
// supervisor exit messages from those pids, all at once, then waits until
// the last restart. What remains per restart is the supervisor's handling
// of an exit (finding the child, the intensity, the restart, the logging)
// plus the mailbox and the genserver's dispatch of an info message.
func BenchmarkRestartPath(b *testing.B) {
	n := process.NewNode(process.WithLogger(nil))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Stop(ctx)
	}()
	const base = 1 << 40 // far above the serials the node hands out
	serial := uint64(base)
	done := make(chan struct{})
	last := uint64(0) // the serial whose start closes done; set before the exits are sent
	start := func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		serial++
		p := pid.New(n.ID(), serial)
		noteLinked(ctx, sup, p)
		if serial == last {
			close(done)
		}
		return p, nil
	}
	ref, err := Start(context.Background(), n, Spec{
		Strategy: OneForOne, Intensity: 1 << 30, Period: time.Second,
		Children: []ChildSpec{{ID: "fake", Start: start}},
	})
	if err != nil {
		b.Fatalf("Start: %v", err)
	}
	crash := errors.New("crash")
	b.ReportAllocs()
	b.ResetTimer()
	last = base + 1 + uint64(b.N)
	for i := range b.N {
		if err := n.Send(ref.Pid(), link.Exit{From: pid.New(n.ID(), base+1+uint64(i)), Reason: crash}); err != nil {
			b.Fatalf("send: %v", err)
		}
	}
	<-done
}
