package core

import (
	"context"
	"runtime/pprof"
)

// procLabels is a process's profile label set, made the first time its
// code runs with labels on, and again when its name has changed.
type procLabels struct {
	name string
	ctx  context.Context
}

// SetProfileLabels turns profile labels on or off: while on, the code of
// each process runs with runtime/pprof labels pid, name, backend and
// behaviour, so CPU and goroutine profiles tell which process ran. Off, an
// activation pays one atomic load for it, and a process no memory.
func (n *Node) SetProfileLabels(on bool) { n.obs.labels.Store(on) }

// ProfileLabels reports whether profile labels are on.
func (n *Node) ProfileLabels() bool { return n.obs.labels.Load() }

// labelContext returns the context carrying p's profile labels.
func (p *Proc) labelContext() context.Context {
	p.mu.Lock()
	c := p.coldLocked()
	l, name := c.labels, c.name
	p.mu.Unlock()
	if l != nil && l.name == name {
		return l.ctx
	}
	l = &procLabels{name: name, ctx: pprof.WithLabels(context.Background(), pprof.Labels(
		"pid", p.Pid().String(), "name", name, "backend", p.backend.String(), "behaviour", describe(p.handler)))}
	p.mu.Lock()
	c.labels = l
	p.mu.Unlock()
	return l.ctx
}

// labelGoroutine gives the goroutine that runs p's code for its whole
// life (a Func or Thread process) p's labels, when they are on.
func (p *Proc) labelGoroutine() {
	if p.node.obs.labels.Load() {
		pprof.SetGoroutineLabels(p.labelContext())
	}
}

// activateLabelled is activate under p's labels; the worker goes back to
// none afterwards.
func (p *Proc) activateLabelled() {
	pprof.SetGoroutineLabels(p.labelContext())
	p.activate()
	pprof.SetGoroutineLabels(context.Background())
}
