package registry_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
)

func ExampleRegistry_Register() {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())
	reg := registry.Of(node)

	// echo prints the first message it receives, then exits.
	echo, _ := node.Spawn(func(p *process.Process) error {
		msg, err := p.Receive(context.Background())
		if err != nil {
			return err
		}
		fmt.Println("echo got:", msg)
		return nil
	})
	if err := reg.Register("echo", echo); err != nil {
		fmt.Println(err)
		return
	}
	where, ok := reg.WhereIs("echo")
	fmt.Println("whereis echo:", ok, where == echo)
	name, _ := reg.NameOf(echo)
	fmt.Println("name of echo:", name, reg.Registered())

	// A name belongs to one process.
	other, _ := node.Spawn(func(p *process.Process) error { <-p.Context().Done(); return nil })
	err := reg.Register("echo", other)
	var taken *registry.NameTakenError
	fmt.Println("taken:", errors.Is(err, registry.ErrNameTaken), errors.As(err, &taken) && taken.Owner == echo)

	// The name goes when its owner exits, before the exit can be observed.
	exited := make(chan struct{})
	_, _ = link.Watch(node, echo, func(link.Down) { close(exited) })
	_ = reg.Send("echo", "hello")
	<-exited
	_, ok = reg.WhereIs("echo")
	fmt.Println("whereis echo after exit:", ok)
	fmt.Println("send to echo:", reg.Send("echo", "again") != nil)
	fmt.Println("register again:", reg.Register("echo", other))
	// Output:
	// whereis echo: true true
	// name of echo: echo [echo]
	// taken: true true
	// echo got: hello
	// whereis echo after exit: false
	// send to echo: true
	// register again: <nil>
}

func ExampleRegistry_Join() {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())
	reg := registry.Of(node)

	idle := func(p *process.Process) error { <-p.Context().Done(); return nil }
	a, _ := node.Spawn(idle)
	b, _ := node.Spawn(idle)
	label := map[pid.Pid]string{a: "a", b: "b"}
	show := func(group string) {
		var out []string
		for _, m := range reg.Members(group) {
			out = append(out, label[m])
		}
		fmt.Println(group, out, "groups:", reg.Groups())
	}

	// A process may join a group more than once.
	_ = reg.Join("workers", a)
	_ = reg.Join("workers", b)
	_ = reg.Join("workers", a)
	_ = reg.Join("admins", b)
	show("workers")

	_ = reg.Leave("workers", a)
	fmt.Println("members of workers after one leave:", len(reg.Members("workers")))
	fmt.Println("leave admins:", errors.Is(reg.Leave("admins", a), registry.ErrNotJoined))

	// An exiting process leaves every group; an empty group disappears.
	exited := make(chan struct{})
	_, _ = link.Watch(node, b, func(link.Down) { close(exited) })
	_ = node.Exit(b, process.Kill)
	<-exited
	show("workers")
	show("admins")
	// Output:
	// workers [a b a] groups: [admins workers]
	// members of workers after one leave: 2
	// leave admins: true
	// workers [a] groups: [workers]
	// admins [] groups: [workers]
}
