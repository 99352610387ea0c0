// Command ping_pong bounces a message between two processes: one on the
// Async backend, one on a locked OS thread (Thread), to show that processes
// on different backends talk to each other like any others.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

type ping struct {
	from pid.Pid
	n    int
}

type pong struct{ n int }

func main() {
	if err := run(os.Stdout, 5); err != nil {
		fmt.Fprintln(os.Stderr, "ping_pong:", err)
		os.Exit(1)
	}
}

// run plays rounds of ping-pong and prints each exchange to w.
func run(w io.Writer, rounds int) error {
	node := process.NewNode()
	defer node.Stop(context.Background())

	done := make(chan error, 1)
	ponger, err := node.Spawn(func(p *process.Process) error {
		for {
			msg, err := p.Receive(p.Context())
			if err != nil {
				return err
			}
			if m, ok := msg.(ping); ok {
				fmt.Fprintf(w, "  ponger (%s) got ping %d\n", p.Backend(), m.n)
				p.Send(m.from, pong{m.n})
			}
		}
	}, process.WithBackend(process.Thread), process.OnExit(func(reason error) { done <- reason }))
	if err != nil {
		return err
	}

	_, err = node.Spawn(func(p *process.Process) error {
		for i := 1; i <= rounds; i++ {
			p.Send(ponger, ping{from: p.Self(), n: i})
			msg, err := p.Receive(p.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "pinger (%s) got pong %d\n", p.Backend(), msg.(pong).n)
		}
		return p.Exit(ponger, process.Shutdown)
	})
	if err != nil {
		return err
	}
	reason := <-done
	fmt.Fprintf(w, "ponger exited: %v\n", reason)
	return nil
}
