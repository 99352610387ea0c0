package supervisor_test

import (
	"context"
	"fmt"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/supervisor"
)

// Worker is a pool's server: it answers with the number it was started
// with.
type Worker struct {
	genserver.NoCasts
	n int
}

func (w *Worker) HandleCall(_ *genserver.CallCtx[string], who string) (string, error) {
	return fmt.Sprintf("%s: worker %d", who, w.n), nil
}

func ExampleDynamicGenServer() {
	ctx := context.Background()
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(ctx)

	pool, err := supervisor.StartDynamic(ctx, node, supervisor.DynamicSpec[int]{
		Name:  "workers",
		Start: supervisor.DynamicGenServer(func(n int) *Worker { return &Worker{n: n} }),
	})
	if err != nil {
		panic(err)
	}
	for n := 3; n <= 4; n++ {
		p, err := pool.StartChild(ctx, n)
		if err != nil {
			panic(err)
		}
		rep, _ := genserver.At[string, string, genserver.Never](node, p).Call(ctx, "hello")
		fmt.Println(rep)
	}
	// Each child is labelled by its argument, in WhichChildren, logs and
	// events.
	children, _ := pool.WhichChildren(ctx)
	for _, c := range children {
		fmt.Println("child", c.ID, c.Status)
	}
	// Output:
	// hello: worker 3
	// hello: worker 4
	// child 3 running
	// child 4 running
}

// Dispatcher is the pool's front: its name is declared with its types.
var Dispatcher = genserver.NewName[string, string, genserver.Never]("dispatcher")

func ExampleNamedGenServer() {
	ctx := context.Background()
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(ctx)

	_, err := supervisor.Start(ctx, node, supervisor.Spec{Children: []supervisor.ChildSpec{
		{ID: "dispatcher", Start: supervisor.NamedGenServer(Dispatcher, func() *Worker { return &Worker{n: 0} })},
	}})
	if err != nil {
		panic(err)
	}
	rep, err := Dispatcher.Ref(node).Call(ctx, "hello") // follows the server across restarts
	fmt.Println(rep, err)
	// Output:
	// hello: worker 0 <nil>
}

// A pool of workers that comes back full when its dynamic supervisor is
// restarted: a refiller after it under RestForOne starts the workers again.
func ExampleDynamicSpec_refill() {
	ctx := context.Background()
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(ctx)

	const size = 3
	refill := func(p *process.Process) error {
		pool := supervisor.NamedDynamic[int](p.Node(), "pool")
		for n := range size {
			if _, err := pool.StartChild(p.Context(), n); err != nil {
				return err // a crash: restarted, it tries again
			}
		}
		return nil // done: a transient child that ends normally stays down
	}
	refilled := make(chan error, 2) // each refiller's end, for this example to wait on
	top, err := supervisor.Start(ctx, node, supervisor.Spec{Strategy: supervisor.RestForOne, Children: []supervisor.ChildSpec{
		{ID: "pool", Type: supervisor.SupervisorChild, Start: supervisor.DynamicSupervisor(supervisor.DynamicSpec[int]{
			Name:  "pool",
			Start: supervisor.DynamicGenServer(func(n int) *Worker { return &Worker{n: n} }),
		})},
		{ID: "refill", Restart: supervisor.Transient, Start: supervisor.Func(refill,
			process.OnExit(func(reason error) { refilled <- reason }))},
	}})
	if err != nil {
		panic(err)
	}
	pool := supervisor.NamedDynamic[int](node, "pool")
	fmt.Println("refilled:", <-refilled)
	n, _ := pool.CountChildren(ctx)
	fmt.Println("workers:", n.Active)

	// The pool's supervisor is killed. Its parent restarts it, empty, and
	// then the refiller, which fills it again.
	children, _ := top.WhichChildren(ctx)
	node.Exit(children[0].Pid, process.Kill)
	fmt.Println("refilled:", <-refilled)
	n, _ = pool.CountChildren(ctx)
	fmt.Println("workers:", n.Active)
	// Output:
	// refilled: normal
	// workers: 3
	// refilled: normal
	// workers: 3
}
