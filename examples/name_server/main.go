// Command name_server tours the name registry: registering, looking up and
// unregistering names; the error for a name that is taken, which names its
// owner; sending by name (an unknown name is an error) against sending to a
// dead Pid (silently dropped); and a name that is released before anyone can
// see its owner's death, so it can be registered again at once.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "name_server:", err)
		os.Exit(1)
	}
}

// echo returns a process that forwards every message it receives to out,
// tagged with its label, until it is stopped.
func echo(label string, out chan<- string) process.Func {
	return func(p *process.Process) error {
		for {
			msg, err := p.Receive(p.Context())
			if err != nil {
				return err
			}
			out <- fmt.Sprintf("%s got %v", label, msg)
		}
	}
}

// run tells the story from main, which is not a process: it uses the
// registry, Node.Send and link.Watch, which any goroutine may call.
func run(w io.Writer) error {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())
	reg := registry.Of(node)
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	heard := make(chan string, 8)
	spawn := func(label string) (pid.Pid, error) { return node.Spawn(echo(label, heard)) }
	// waitExit returns a channel that gets p's exit reason.
	waitExit := func(p pid.Pid) (<-chan error, error) {
		down := make(chan error, 1)
		_, err := link.Watch(node, p, func(d link.Down) { down <- d.Reason })
		return down, err
	}

	say("1. Register, look up, unregister.")
	first, err := spawn("first")
	if err != nil {
		return err
	}
	say("   register \"logger\": %v", reg.Register("logger", first))
	at, ok := reg.WhereIs("logger")
	say("   whereis \"logger\" finds the first process: %v", ok && at == first)
	name, _ := reg.NameOf(first)
	say("   name of the first process: %q; registered names: %v", name, reg.Registered())
	say("   a second name for it: %v", reg.Register("audit", first))
	say("   unregister \"logger\": %v", reg.Unregister("logger"))
	_, ok = reg.WhereIs("logger")
	say("   whereis \"logger\" after unregister: %v; the process is still alive: %v", ok, node.Alive(first))
	say("   unregister again: %v", reg.Unregister("logger"))

	say("2. A name belongs to one process; the error names the owner.")
	if err := reg.Register("logger", first); err != nil {
		return err
	}
	second, err := spawn("second")
	if err != nil {
		return err
	}
	err = reg.Register("logger", second)
	var taken *registry.NameTakenError
	say("   register \"logger\" for a second process: %v", err)
	say("   ErrNameTaken: %v", errors.Is(err, registry.ErrNameTaken))
	if errors.As(err, &taken) {
		owner, _ := reg.NameOf(taken.Owner)
		say("   the error names the owner: the first process: %v (the owner is registered as %q)", taken.Owner == first, owner)
	}

	say("3. Sending by name fails for an unknown name; sending to a dead Pid is silent.")
	say("   send to \"logger\": %v", reg.Send("logger", "hello by name"))
	say("   %s", <-heard)
	err = reg.Send("nobody", "hello?")
	say("   %v (ErrNotRegistered: %v)", err, errors.Is(err, registry.ErrNotRegistered))
	gone, err := waitExit(second)
	if err != nil {
		return err
	}
	node.Exit(second, process.Shutdown)
	say("   the second process exited: %v", <-gone)
	say("   send to its dead Pid: %v (the message is dropped, as in Erlang)", node.Send(second, "hello, anyone?"))

	say("4. A name is free before the death of its owner can be seen.")
	replacement, err := spawn("replacement")
	if err != nil {
		return err
	}
	gone, err = waitExit(first)
	if err != nil {
		return err
	}
	// When Exit returns the first process is dead and its name is free,
	// even though nobody has heard of the death yet: registering again at
	// once succeeds. A supervisor relies on this to restart named children.
	node.Exit(first, process.Kill)
	say("   killed the owner of \"logger\", registered the name again at once: %v", reg.Register("logger", replacement))
	say("   the owner's Down: %v", <-gone)
	at, _ = reg.WhereIs("logger")
	say("   \"logger\" is the replacement: %v", at == replacement)
	if err := reg.Send("logger", "hello again"); err != nil {
		return err
	}
	say("   %s", <-heard)

	// A process watching a named process sees the name gone by the time
	// its Down arrives, however the owner died.
	done := make(chan string, 1)
	_, err = node.Spawn(func(p *process.Process) error {
		target, ok := reg.WhereIs("logger")
		if !ok {
			return errors.New("no logger")
		}
		link.Monitor(p, target)
		if err := p.Exit(target, errors.New("disk full")); err != nil {
			return err
		}
		msg, err := p.Receive(p.Context())
		if err != nil {
			return err
		}
		_, found := reg.WhereIs("logger")
		done <- fmt.Sprintf("a monitoring process got Down %q and finds \"logger\" registered: %v", msg.(link.Down).Reason, found)
		return nil
	})
	if err != nil {
		return err
	}
	say("   %s", <-done)
	say("   registered names at the end: %v", reg.Registered())
	return nil
}
