package cluster_test

import (
	"context"
	"fmt"

	"github.com/spawned-go/spawned/cluster"
	_ "github.com/spawned-go/spawned/cluster/embedded" // Join with no URL runs a NATS server in the program
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/process"
)

// Greet is a request that crosses between nodes: its type is registered
// under a name every node uses.
type Greet struct{ Name string }

// Greeter is a server that answers Greet calls.
type Greeter struct{ genserver.NoCasts }

func (*Greeter) HandleCall(_ *genserver.CallCtx[string], req Greet) (string, error) {
	return "hello, " + req.Name, nil
}

// Two nodes of one program in a cluster over the embedded NATS server: a
// call to a server of the other node, then a monitor across nodes that
// sees the server stop.
func Example() {
	cluster.MustRegister[Greet]("example.Greet")
	ctx := context.Background()
	a := process.NewNode(process.WithLogger(nil))
	b := process.NewNode(process.WithLogger(nil))
	defer a.Stop(ctx)
	defer b.Stop(ctx)

	ca, err := cluster.Join(ctx, a, cluster.Config{Cluster: "example", Name: "a"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ca.Leave(ctx)
	cb, err := cluster.Join(ctx, b, cluster.Config{Cluster: "example", Name: "b"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cb.Leave(ctx)
	for _, n := range ca.Nodes() {
		fmt.Println("a sees", n.Name)
	}

	// A server on b, called by name from a.
	if _, err := genserver.Start(ctx, b, &Greeter{}, genserver.WithName("greeter")); err != nil {
		fmt.Println(err)
		return
	}
	greeter := genserver.NamedOn[Greet, string, genserver.Never](a, b.ID(), "greeter")
	reply, err := greeter.Call(ctx, Greet{Name: "node a"})
	fmt.Println(reply, err)

	// A process of a monitors the server on b, which then stops.
	downs := make(chan link.Down, 1)
	ready := make(chan struct{})
	_, err = a.Spawn(func(p *process.Process) error {
		if _, err := link.MonitorNameOn(p, b.ID(), "greeter"); err != nil {
			return err
		}
		close(ready)
		m, err := p.Receive(p.Context())
		if err != nil {
			return err
		}
		downs <- m.(link.Down)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	<-ready
	fmt.Println(greeter.Stop(ctx, process.Shutdown))
	d := <-downs
	fmt.Println("down:", d.Name, d.Reason)
	// Output:
	// a sees b
	// hello, node a <nil>
	// <nil>
	// down: greeter shutdown
}
