package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/supervisor"
)

// Counter counts calls; a call with Crash set makes it panic.
type Counter struct{ n int }

type Bump struct{ Crash bool }

func (c *Counter) HandleCall(_ *genserver.CallCtx[int], b Bump) (int, error) {
	if b.Crash {
		panic("asked to crash")
	}
	c.n++
	return c.n, nil
}

func (c *Counter) HandleCast(*genserver.Ctx, genserver.Never) {}

func Example() {
	ctx := context.Background()
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(ctx)

	counter := func(name string) supervisor.ChildSpec {
		return supervisor.ChildSpec{ID: name, Start: supervisor.GenServer(
			func() *Counter { return &Counter{} }, genserver.WithName(name))}
	}
	// A top supervisor over a one_for_all pair and a dynamic pool.
	sup, err := supervisor.Start(ctx, node, supervisor.Spec{
		Strategy: supervisor.OneForOne, Intensity: 3, Period: 5 * time.Second,
		Children: []supervisor.ChildSpec{
			{ID: "pair", Type: supervisor.SupervisorChild, Start: supervisor.Supervisor(supervisor.Spec{
				Strategy: supervisor.OneForAll,
				Children: []supervisor.ChildSpec{counter("left"), counter("right")},
			})},
			{ID: "pool", Type: supervisor.SupervisorChild, Start: supervisor.DynamicSupervisor(supervisor.DynamicSpec[string]{
				Name: "pool",
				Start: func(ctx context.Context, sup *process.Process, name string) (pid.Pid, error) {
					ref, err := genserver.StartLink(ctx, sup, &Counter{}, genserver.WithName(name))
					return ref.Pid(), err
				},
			})},
		},
	})
	if err != nil {
		panic(err)
	}
	left := genserver.Named[Bump, int, genserver.Never](node, "left")
	right := genserver.Named[Bump, int, genserver.Never](node, "right")
	left.Call(ctx, Bump{})
	n, _ := right.Call(ctx, Bump{})
	fmt.Println("right before the crash:", n)

	oldRight, _ := registry.Of(node).WhereIs("right")
	gone := make(chan error, 1)
	link.Watch(node, oldRight, func(d link.Down) { gone <- d.Reason })

	_, err = left.Call(ctx, Bump{Crash: true})
	var pe *process.PanicError
	fmt.Println("the crash:", errors.As(err, &pe))

	// one_for_all stops the right counter too, and restarts both; the names
	// follow the new processes.
	fmt.Println("old right stopped with:", <-gone)
	for {
		if n, err = right.Call(ctx, Bump{}); err == nil {
			break
		}
	}
	fmt.Println("right after the restart:", n)

	children, _ := sup.WhichChildren(ctx)
	for _, c := range children {
		fmt.Println(c.ID, c.Type, c.Status)
	}
	// Output:
	// right before the crash: 1
	// the crash: true
	// old right stopped with: shutdown
	// right after the restart: 1
	// pair supervisor running
	// pool supervisor running
}
