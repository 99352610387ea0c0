package core

// HandleDirect handles msg at once on the calling goroutine, as p's own
// activation would, when p is an idle Async handler process with nothing
// queued, and reports whether it did. It does nothing and reports false
// when p is busy, has messages queued, is not an idle Async handler
// process, or is being traced or profiled with labels: the caller then
// sends msg as usual.
//
// The calling goroutine becomes p's activation for one message, which is
// never queued: it claims the activation as a sender that wakes p would,
// so no other goroutine runs p's code meanwhile, and messages sent to p in
// the meantime queue behind msg and go to a worker once msg is handled.
// The handler runs as on a worker: with p's identity, its panic becoming
// p's exit, a kill taking effect at once for everyone but the handler's
// own code, which runs on. What differs is the goroutine: the caller waits
// until the handler returns, and runtime.Goexit in the handler ends p with
// reason Goexit and then goes on unwinding the caller's goroutine.
func (p *Proc) HandleDirect(msg any) bool {
	n := p.node
	if p.backend != Async || p.wake != nil || p.sched.Load() || !p.mbox.empty() ||
		n.obs.traces.Load() != nil || n.obs.labels.Load() {
		return false
	}
	// The calling goroutine is counted among the node's while it runs p's
	// code, so that Node.Stop waits for it as for a worker's. Counted
	// before stopped is read: a Stop that sets stopped after that read
	// finds the count up.
	n.goroutines.Add(1)
	if n.stopped.Load() || !p.sched.CompareAndSwap(false, true) {
		n.goroutineDone()
		return false
	}
	// The activation is this goroutine's now. An idle process's Init has
	// run (inited was set before the activation that ran it let go of
	// sched), unless the process has yet to start. A message queued just
	// before the claim must be handled first, by a worker. A dead process
	// keeps its activation claimed, as one that dies in an activation does.
	if p.dead.Load() || !p.inited || !p.mbox.empty() {
		if !p.dead.Load() {
			p.idle()
		}
		n.goroutineDone()
		return false
	}
	p.direct.Add(1)
	handled := false
	defer func() {
		if !handled { // runtime.Goexit in the handler
			p.goexited()
		}
		n.goroutineDone()
	}()
	p.enter()
	reason := p.handleOne(msg)
	p.leave()
	handled = true
	switch {
	case reason != nil:
		p.exit(reason)
	case !p.dead.Load():
		p.idle()
	}
	return true
}

// handleOne runs the handler on msg, turning a panic into the exit reason.
func (p *Proc) handleOne(msg any) (reason error) {
	defer func() {
		p.handled.Add(1)
		if v := recover(); v != nil {
			reason = p.handlerPanicked(v)
		}
	}()
	return p.handler.HandleMessage(p, msg)
}

// idle lets go of the activation of p that the calling goroutine holds,
// with nothing of p's mailbox taken: p goes idle, or, when messages are
// queued, an activation on a worker handles them.
func (p *Proc) idle() {
	p.status.Store(uint32(Waiting))
	p.sched.Store(false)
	if p.mbox.empty() || !p.sched.CompareAndSwap(false, true) {
		return
	}
	p.status.Store(uint32(Runnable))
	p.node.schedule(p, false)
}

// received returns the number of messages ever given to p: queued, or
// handled at once by HandleDirect.
func (p *Proc) received(tail uint64) uint64 { return tail + p.direct.Load() }
