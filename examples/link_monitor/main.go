// Command link_monitor walks through exit signals: a crash travelling over a
// link, a trapping process turning it into a message, a monitor's Down, and
// the difference between a process exiting with Kill and being killed.
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
		fmt.Fprintln(os.Stderr, "link_monitor:", err)
		os.Exit(1)
	}
}

var errBoom = errors.New("boom")

// story is the process that tells the story: it traps exits, spawns, links
// and monitors others, and prints what arrives in its mailbox.
func story(w io.Writer) process.Func {
	return func(p *process.Process) error {
		ctx := p.Context()
		say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
		next := func() any {
			m, err := p.Receive(ctx)
			if err != nil {
				panic(err)
			}
			return m
		}
		idle := func(p *process.Process) error { _, err := p.Receive(p.Context()); return err }

		say("1. A linked child crashes; we trap exits, so its exit signal becomes a message.")
		p.TrapExit(true)
		child, _ := p.SpawnLink(func(*process.Process) error { return errBoom })
		if m := next().(link.Exit); m.From == child {
			say("   got Exit from the child: reason %q", m.Reason)
		}

		say("2. A chain of three linked workers that do not trap: the crash travels along it.")
		var chain []pid.Pid
		first, _ := p.SpawnLink(func(c *process.Process) error {
			second, _ := c.SpawnLink(func(c2 *process.Process) error {
				third, _ := c2.SpawnLink(idle)
				c2.Send(p.Self(), third)
				return idle(c2)
			})
			c.Send(p.Self(), second)
			return idle(c)
		})
		chain = append(chain, first, next().(pid.Pid), next().(pid.Pid))
		refs := map[pid.Ref]int{}
		for i, w := range chain[1:] {
			ref, _ := link.Monitor(p, w)
			refs[ref] = i + 2
		}
		p.Exit(first, errBoom) // first does not trap: it dies with boom
		died := map[int]error{}
		for range 3 { // our link's Exit and two Downs, in whatever order they come
			switch m := next().(type) {
			case link.Down:
				died[refs[m.Ref]] = m.Reason
			case link.Exit:
				died[1] = m.Reason
			}
		}
		for i := 1; i <= 3; i++ {
			say("   worker %d died: %q", i, died[i])
		}

		say("3. A monitor fires on every exit, normal ones too, and on dead pids at once.")
		quiet, ref, _ := p.SpawnMonitor(func(*process.Process) error { return nil })
		if m := next().(link.Down); m.Ref == ref {
			say("   Down for the quiet process: %q", m.Reason)
		}
		link.Monitor(p, quiet)
		say("   monitoring it again now that it is dead: %q", next().(link.Down).Reason)

		say("4. Names go with their owner: released before anyone sees the death.")
		reg := registry.Of(p.Node())
		named, ref, _ := p.SpawnMonitor(idle, process.WithName("worker"))
		at, _ := reg.WhereIs("worker")
		say("   \"worker\" is registered: %v", at == named)
		p.Exit(named, process.Shutdown)
		next()
		_, found := reg.WhereIs("worker")
		say("   after its Down arrived, \"worker\" is registered: %v", found)

		say("5. Exit(pid, Kill) cannot be trapped and is seen as Killed; exiting with Kill yourself is an ordinary reason.")
		victim, _ := p.SpawnLink(func(v *process.Process) error { v.TrapExit(true); return idle(v) })
		p.Exit(victim, process.Kill)
		say("   the victim trapped exits but died anyway: %q", next().(link.Exit).Reason)
		suicide, _ := p.SpawnLink(func(*process.Process) error { return process.Kill })
		say("   a process that exits with Kill itself reports: %q", next().(link.Exit).Reason)
		_ = suicide
		return nil
	}
}

// run tells the story and waits for it to end.
func run(w io.Writer) error {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())
	done := make(chan error, 1)
	// OnExit is set at spawn, so the story's end cannot be missed however
	// quickly it comes.
	if _, err := node.Spawn(story(w), process.OnExit(func(reason error) { done <- reason })); err != nil {
		return err
	}
	if reason := <-done; !process.IsNormal(reason) {
		return fmt.Errorf("the story ended with %v", reason)
	}
	fmt.Fprintln(w, "The end.")
	return nil
}
