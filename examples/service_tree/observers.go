package main

import (
	"fmt"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
)

// Two observers outside the tree: a watcher that monitors a service, and an
// auditor that links to one.

// Watcher is a GenServer that monitors a named service on request. A monitor
// is one-way and fires on every exit: the watcher gets a link.Down with the
// reason, prints it, and hands it to whoever asked with NextDown.
type Watcher struct {
	genserver.NoCasts
	j       *journal
	name    string                 // the service watched
	ref     pid.Ref                // its monitor
	pending *link.Down             // a Down nobody has asked for yet
	waiter  *genserver.From[error] // a NextDown call waiting for a Down
}

// WatcherReq is a call to the watcher: Watch or NextDown.
type WatcherReq interface{ watcherReq() }

// Watch makes the watcher monitor the process registered as Name now.
// A monitor follows a process, not a name: after a restart, watch again.
type Watch struct{ Name string }

// NextDown waits for the Down of the watched process and replies with its
// exit reason.
type NextDown struct{}

func (Watch) watcherReq()    {}
func (NextDown) watcherReq() {}

func (w *Watcher) HandleCall(ctx *genserver.CallCtx[error], req WatcherReq) (error, error) {
	switch req := req.(type) {
	case Watch:
		p, ok := registry.Of(ctx.Node()).WhereIs(req.Name)
		if !ok {
			return nil, fmt.Errorf("%s: %w", req.Name, registry.ErrNotRegistered)
		}
		ref, err := link.Monitor(ctx.Process(), p)
		if err != nil {
			return nil, err
		}
		w.name, w.ref = req.Name, ref
		return nil, nil
	case NextDown:
		if d := w.pending; d != nil {
			w.pending = nil
			return d.Reason, nil
		}
		// No Down yet: answer later, from HandleInfo (a deferred reply).
		from := ctx.From()
		w.waiter = &from
		return ctx.NoReply()
	}
	return nil, fmt.Errorf("unknown request %T", req)
}

func (w *Watcher) HandleInfo(_ *genserver.Ctx, msg any) {
	d, ok := msg.(link.Down)
	if !ok || d.Ref != w.ref {
		return
	}
	w.j.say("watcher", "Down from %s: %v", w.name, d.Reason)
	if w.waiter != nil {
		w.waiter.Reply(d.Reason, nil)
		w.waiter = nil
		return
	}
	w.pending = &d
}

// auditor is a plain process that traps exits and links to target: when
// target dies, the exit signal that would have killed the auditor arrives as
// a link.Exit message instead. It prints it and ends normally. linked gets
// the result of linking, so the narrator knows the link is in place.
func auditor(j *journal, target pid.Pid, name string, linked chan<- error) process.Func {
	return func(p *process.Process) error {
		p.TrapExit(true)
		err := link.Link(p, target)
		linked <- err
		if err != nil {
			return err
		}
		msg, err := p.Receive(p.Context())
		if err != nil {
			return err
		}
		exit, ok := msg.(link.Exit)
		if !ok {
			return fmt.Errorf("auditor: unexpected %T", msg)
		}
		j.say("auditor", "link.Exit from %s: %v", name, exit.Reason)
		return nil
	}
}
