package process_test

import (
	"context"
	"fmt"
	"time"

	"github.com/spawned-go/spawned/process"
)

func ExampleNode_Spawn() {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())

	done := make(chan struct{})
	greeter, _ := node.Spawn(func(p *process.Process) error {
		defer close(done)
		msg, err := p.Receive(p.Context())
		if err != nil {
			return err
		}
		fmt.Println("hello,", msg)
		return nil
	})
	_ = node.Send(greeter, "world")
	<-done
	// Output: hello, world
}

// counter is a Handler: the runtime calls HandleMessage once per message.
type counter struct {
	total int
	done  chan int
}

func (c *counter) HandleMessage(p *process.Process, msg any) error {
	switch m := msg.(type) {
	case int:
		c.total += m
	case string: // "report"
		c.done <- c.total
		return process.Normal // stop
	}
	return nil
}

func ExampleNode_SpawnHandler() {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())

	c := &counter{done: make(chan int)}
	p, _ := node.SpawnHandler(c, process.WithBackend(process.Async))
	for i := 1; i <= 10; i++ {
		_ = node.Send(p, i)
	}
	_ = node.Send(p, "report")
	fmt.Println("total:", <-c.done)
	// Output: total: 55
}

func ExampleProcess_SendAfter() {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())

	done := make(chan struct{})
	_, _ = node.Spawn(func(p *process.Process) error {
		defer close(done)
		// A cancelled timer never delivers.
		ref, _ := p.SendAfter(p.Self(), "never", 5*time.Millisecond)
		fmt.Println("cancelled:", p.CancelTimer(ref))

		for _, m := range []string{"first", "second"} {
			if _, err := p.SendAfter(p.Self(), m, 10*time.Millisecond); err != nil {
				return err
			}
			msg, err := p.Receive(p.Context())
			if err != nil {
				return err
			}
			fmt.Println(msg)
		}
		return nil
	})
	<-done
	// Output:
	// cancelled: true
	// first
	// second
}

// A node whose CPU time is billed or scarce can keep its idle workers from
// spinning: each then parks right after its process goes idle, and the next
// message wakes it through a channel.
func ExampleWithIdleSpin() {
	node := process.NewNode(process.WithLogger(nil), process.WithIdleSpin(0))
	defer node.Stop(context.Background())

	c := &counter{done: make(chan int)}
	pid, _ := node.SpawnHandler(c)
	for i := 1; i <= 3; i++ {
		_ = node.Send(pid, i)
	}
	_ = node.Send(pid, "report")
	fmt.Println("total:", <-c.done)
	// Output: total: 6
}
