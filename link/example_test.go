package link_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/process"
)

// A process that traps exits links to a worker and learns of the worker's
// failure as a link.Exit message, instead of dying with it.
func ExampleLink() {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())

	worker, _ := node.Spawn(func(p *process.Process) error {
		job, err := p.Receive(context.Background())
		if err != nil {
			return err
		}
		return fmt.Errorf("cannot do %v", job)
	})

	report := make(chan string)
	node.Spawn(func(p *process.Process) error {
		p.TrapExit(true)
		if err := link.Link(p, worker); err != nil {
			return err
		}
		p.Send(worker, "job 1")
		msg, err := p.Receive(context.Background())
		if err != nil {
			return err
		}
		e := msg.(link.Exit)
		report <- fmt.Sprintf("worker exited: %v (from the worker: %v)", e.Reason, e.From == worker)
		return nil
	})
	fmt.Println(<-report)
	// Output: worker exited: cannot do job 1 (from the worker: true)
}

// A monitor gets a link.Down for every exit of the monitored process,
// normal or not; monitoring a process that is already dead reports NoProc.
func ExampleMonitor() {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())

	errDiskFull := errors.New("disk full")
	report := make(chan string)
	node.Spawn(func(p *process.Process) error {
		for _, reason := range []error{nil, errDiskFull} {
			target, _ := node.Spawn(func(q *process.Process) error {
				_, err := q.Receive(context.Background()) // wait to be told to stop
				if err != nil {
					return err
				}
				return reason
			})
			ref, err := link.Monitor(p, target)
			if err != nil {
				return err
			}
			p.Send(target, "stop")
			msg, err := p.Receive(context.Background())
			if err != nil {
				return err
			}
			d := msg.(link.Down)
			report <- fmt.Sprintf("down: %v (ref matches: %v)", d.Reason, d.Ref == ref)

			// The target is dead now: a new monitor fires at once.
			link.Monitor(p, target)
			msg, err = p.Receive(context.Background())
			if err != nil {
				return err
			}
			report <- fmt.Sprintf("monitor of a dead process: %v", msg.(link.Down).Reason)
		}
		close(report)
		return nil
	})
	for line := range report {
		fmt.Println(line)
	}
	// Output:
	// down: normal (ref matches: true)
	// monitor of a dead process: noproc
	// down: disk full (ref matches: true)
	// monitor of a dead process: noproc
}

// Code that is not a process, such as main or a test, waits for a process
// with Watch.
func ExampleWatch() {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())

	worker, _ := node.Spawn(func(p *process.Process) error {
		_, err := p.Receive(context.Background())
		return err
	})
	done := make(chan link.Down, 1)
	link.Watch(node, worker, func(d link.Down) { done <- d })

	node.Exit(worker, errors.New("stopped by main"))
	fmt.Println((<-done).Reason)
	// Output: stopped by main
}
