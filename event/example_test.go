package event_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/process"
)

// A subscription to a node's spawns and exits.
func Example() {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())
	sub := node.Subscribe(event.Kinds(event.KindSpawned, event.KindExited))
	defer sub.Close()

	node.Spawn(func(*process.Process) error { return errors.New("disk full") }, process.WithName("worker"))
	for range 2 {
		switch e := (<-sub.C()).(type) {
		case event.Spawned:
			fmt.Printf("spawned %s (%s, %s)\n", e.Name, e.Behaviour, e.Backend)
		case event.Exited:
			fmt.Printf("exited: %v\n", e.Reason)
		}
	}
	// Output:
	// spawned worker (func, async)
	// exited: disk full
}
