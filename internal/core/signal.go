package core

import (
	"errors"
	"runtime"
	"sort"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/pid"
)

// ExitMsg is what a trapping process receives for an exit signal.
type ExitMsg struct {
	From   pid.Pid // the process that exited or sent the signal; zero if not a process
	Reason error
}

// DownMsg is what a monitoring process receives when the monitored process
// exits, or at once with NoProc when it was already dead. Name and Node are
// set for a monitor made by name: the name and the node it was looked up
// on; Pid is then the process that held the name, or zero if none did.
type DownMsg struct {
	Ref    pid.Ref
	Pid    pid.Pid
	Reason error
	Name   string
	Node   pid.NodeID
}

// watcher is the holder of a monitor: a process, a function called when
// the monitored process exits (for waiters that are not processes), or a
// process or watch of another node (remote).
type watcher struct {
	proc   *Proc
	notify func(DownMsg)
	peer   pid.Pid // a remote holder; zero for a watch there, whose node the Ref names
	remote bool
}

// monTarget is what a monitor held by a process watches: a Pid, or a name
// on a node (Pid is then the holder found at monitor time, zero until a
// remote node answers).
type monTarget struct {
	pid  pid.Pid
	node pid.NodeID
	name string
}

// death is what an exiting process leaves to be told to others, gathered
// under its lock and delivered after it is released.
type death struct {
	p      *Proc
	reason error
	name   string // the name it held
	links  *linkSet
	monIn  map[pid.Ref]watcher
	monOut map[pid.Ref]monTarget
	timers map[pid.Ref]*timer
	onExit func(reason error)
}

// ignoreExit is the exit callback of a process whose spawn failed: it
// never ran, so neither its OnExit nor its handler's Exited runs.
func ignoreExit(error) {}

// dieLocked marks p dead with reason and fills d with what its death is
// to tell; it reports false, leaving d alone, if p was already dead. The
// name, group memberships and ties go first, so that nobody who sees p dead
// still finds its name. Caller holds p.mu and must hand d to propagate
// after unlocking. The caller provides d, so that the usual death keeps it
// on the caller's stack.
func (p *Proc) dieLocked(reason error, d *death) bool {
	if p.dead.Load() {
		return false
	}
	n := p.node
	c := p.coldOf()
	name := c.name
	if c.name != "" {
		n.names.compareAndDelete(c.name, p)
		c.name = ""
	}
	if len(c.groups) > 0 {
		n.leaveAll(p.Pid(), c.groups)
		c.groups = nil
	}
	if len(c.ties) > 0 {
		p.untieAll(c.ties)
		c.ties = nil
	}
	if h, ok := p.handler.(Dier); ok && !p.discarded {
		h.Dying(reason)
	}
	p.reason = reason
	p.dead.Store(true)
	p.status.Store(uint32(Exited))
	if p.running.CompareAndSwap(runBusy, runStraggler) {
		n.stragglers.Add(1)
	}
	*d = death{p: p, reason: reason, links: p.links, name: name}
	p.links = nil
	if c := p.cold; c != nil {
		d.monIn, d.monOut, d.timers, d.onExit = c.monIn, c.monOut, c.timers, c.onExit
		c.monIn, c.monOut, c.timers = nil, nil, nil
		if c.ctx != nil {
			c.ctx.cancel(reason)
		}
	}
	if p.discarded {
		d.onExit = ignoreExit
	}
	if p.wake != nil {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// exit ends p with reason at once, whatever it is doing: as its own code
// returning or failing does, and as an untrappable kill does.
func (p *Proc) exit(reason error) {
	var d death
	p.mu.Lock()
	died := p.dieLocked(reason, &d)
	p.mu.Unlock()
	if died {
		p.node.propagate(&d)
	}
}

// propagate tells the links and monitors of each death. It works in two
// phases: first it follows the cascade of deaths through links to
// processes that do not trap exits (with a work list, not recursion); only
// then does it hand Exit messages to trapping partners and Down messages to
// monitors. So whoever observes a death finds everything that died of it
// already dead and its names already free: a supervisor restarting a
// killed subtree never meets the old subtree's names.
//
// The first death may live on the caller's stack: propagate keeps no
// pointer to it. The deaths of the cascade are its own.
func (n *Node) propagate(first *death) {
	type news struct {
		to     *Proc
		from   pid.Pid
		reason error
	}
	var trappedBuf [1]news // the usual death tells one trapping partner: its supervisor
	trapped := trappedBuf[:0]
	var downs []func()
	var work []*death // the cascade still to tell
	for d := first; d != nil; d = nextDeath(&work) {
		p := d.p
		// Sends that the process started before it died land first.
		for p.inflight.Load() != 0 {
			runtime.Gosched()
		}
		for _, t := range d.timers {
			t.t.Stop()
		}
		n.table.remove(p)
		// A handler process with no activation takes no more messages:
		// it is dead, so one that starts now does nothing.
		dropped := p.mbox.close(p.wake == nil && !p.sched.Load())
		n.exited.Add(1)
		n.observeExit(d)
		for _, msg := range dropped {
			n.undeliverable(msg, d.reason)
		}
		if d.onExit != nil {
			n.exitCallback(d)
		} else if e, ok := p.handler.(Exiter); ok {
			n.handlerExited(e, d)
		}
		if p.remote {
			n.tellPeers(d)
		}
		for other := range d.links.all() {
			if other.Node() != n.id {
				continue // told by tellPeers
			}
			q := n.table.get(other.Serial())
			if q == nil {
				continue
			}
			if next, later := q.linkSignal(p.Pid(), d.reason); later {
				trapped = append(trapped, news{q, p.Pid(), d.reason})
			} else if next != nil {
				work = append(work, next)
			}
		}
		d.links.release() // every partner is told: the set is the dead process's no more
		d.links = nil
		for ref, w := range d.monIn {
			if w.remote {
				continue // told by tellPeers
			}
			m := DownMsg{Ref: ref, Pid: p.Pid(), Reason: d.reason}
			downs = append(downs, func() { w.down(n, m) })
		}
		for ref, target := range d.monOut {
			if target.node != n.id {
				continue // told by tellPeers
			}
			if q := n.table.get(target.pid.Serial()); q != nil {
				q.mu.Lock()
				delete(q.coldOf().monIn, ref)
				q.mu.Unlock()
			}
		}
	}
	for _, t := range trapped {
		// Applied now, as any exit signal: the link must still exist, and
		// a process that stopped trapping meanwhile may die of it.
		if next := t.to.exitSignal(t.from, t.reason, true); next != nil {
			n.propagate(next)
		}
	}
	for _, down := range downs {
		down()
	}
}

// nextDeath takes the last death off the work list, or returns nil.
func nextDeath(work *[]*death) *death {
	k := len(*work)
	if k == 0 {
		return nil
	}
	d := (*work)[k-1]
	(*work)[k-1] = nil
	*work = (*work)[:k-1]
	return d
}

// exitCallback runs d's OnExit. It is code outside the runtime: a panic in
// it is contained and logged, and every other notification still happens.
// It is a function of its own, as handlerExited is, so that propagate's
// frame stays small: a dying goroutine runs propagate near the bottom of
// a stack that has just started.
func (n *Node) exitCallback(d *death) {
	defer func() {
		if v := recover(); v != nil {
			n.callbackPanicked("OnExit", d.p.Pid(), v)
		}
	}()
	d.onExit(d.reason)
}

// handlerExited runs the handler's Exited, containing a panic as
// exitCallback does.
func (n *Node) handlerExited(e Exiter, d *death) {
	defer func() {
		if v := recover(); v != nil {
			n.callbackPanicked("Exited", d.p.Pid(), v)
		}
	}()
	e.Exited(d.p, d.reason)
}

// linkSignal is the first phase of a link's exit signal: a process that
// does not trap exits takes it now (and may die of it); for a trapping one
// it reports later, leaving the link in place for exitSignal.
func (p *Proc) linkSignal(from pid.Pid, reason error) (next *death, later bool) {
	p.mu.Lock()
	trapping := p.trap
	p.mu.Unlock()
	if trapping {
		return nil, true
	}
	return p.exitSignal(from, reason, true), false
}

// down delivers a DOWN unless the monitor was removed meanwhile: the
// watcher's own lock decides, which is the demonitor guarantee.
func (w watcher) down(n *Node, m DownMsg) {
	if w.notify != nil {
		n.contain("Watch notify", m.Pid, func() { w.notify(m) })
		return
	}
	q := w.proc
	q.mu.Lock()
	if t, ok := q.coldOf().monOut[m.Ref]; ok && !q.dead.Load() {
		delete(q.cold.monOut, m.Ref)
		q.deliver(downMessage(downFor(m.Ref, monTarget{pid: m.Pid, node: t.node, name: t.name}, m.Reason)))
	}
	q.mu.Unlock()
}

// exitSignal applies an exit signal from from with reason, received now.
// viaLink says it comes from a link, which must still exist. It returns the
// resulting death, if any, for the caller to propagate.
func (p *Proc) exitSignal(from pid.Pid, reason error, viaLink bool) *death {
	var d death
	if !p.takeExitSignal(from, reason, viaLink, &d) {
		return nil
	}
	kept := d // on the heap only when p died of it
	return &kept
}

// takeExitSignal is exitSignal with the death, if any, written to d: it
// reports whether p died of the signal, and then the caller propagates d.
func (p *Proc) takeExitSignal(from pid.Pid, reason error, viaLink bool, d *death) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead.Load() {
		return false
	}
	if viaLink {
		if !p.links.remove(from) {
			return false // unlinked before the signal arrived
		}
	}
	if t := p.node.obs.traces.Load(); t != nil {
		p.traceSignal(t, event.TraceExitSignal, from, reason, "")
	}
	switch {
	case p.trap:
		p.deliver(exitMessage(from, reason))
		return false
	case IsNormal(reason) && from != p.Pid():
		return false
	}
	return p.dieLocked(reason, d)
}

// exitSignal sends an exit signal that is not carried by a link: Kill kills
// untrappably and is reported as Killed.
func (n *Node) exitSignal(from, to pid.Pid, reason error) {
	if rs := n.route(to); rs != nil {
		rs.r.Signal(Signal{Kind: SigExit, From: from, To: to, Reason: reason})
		return
	}
	q := n.proc(to)
	if q == nil {
		return
	}
	if errors.Is(reason, Kill) {
		q.exit(Killed) // untrappable: no exit signal, the process just ends
		return
	}
	var d death
	if q.takeExitSignal(from, reason, false, &d) {
		n.propagate(&d)
	}
}

// Exit sends an exit signal with reason from p to target (Erlang's
// exit/2). Kill cannot be trapped and becomes Killed; Normal is ignored by a
// process that does not trap exits, unless it is the sender itself.
func (p *Proc) Exit(target pid.Pid, reason error) error {
	if p.node.route(target) == nil { // check builds its error eagerly: not on the remote path
		if err := p.node.check(target); err != nil {
			return err
		}
	}
	if p.dead.Load() {
		return ErrCallerExited
	}
	p.node.exitSignal(p.Pid(), target, orNormal(reason))
	return nil
}

// TrapExit sets whether exit signals become ExitMsg messages and returns
// the previous setting.
func (p *Proc) TrapExit(on bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.trap
	p.trap = on
	return prev
}

// TrapsExits reports whether the process traps exits.
func (p *Proc) TrapsExits() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.trap
}

// lockPair locks a and b in serial order (once if they are the same);
// unlockPair undoes it.
func lockPair(a, b *Proc) {
	if a == b {
		a.mu.Lock()
		return
	}
	if b.serial < a.serial {
		a, b = b, a
	}
	a.mu.Lock()
	b.mu.Lock()
}

func unlockPair(a, b *Proc) {
	a.mu.Unlock()
	if a != b {
		b.mu.Unlock()
	}
}

func addLink(a, b *Proc) {
	addTo(&a.links, b.Pid())
	addTo(&b.links, a.Pid())
	if t := a.node.obs.traces.Load(); t != nil {
		traceLink(t, a, b, event.TraceLink)
	}
}

func addMonitor(w, target *Proc, ref pid.Ref, name string) {
	wc, tc := w.coldLocked(), target.coldLocked()
	if wc.monOut == nil {
		wc.monOut = make(map[pid.Ref]monTarget)
	}
	if tc.monIn == nil {
		tc.monIn = make(map[pid.Ref]watcher)
	}
	wc.monOut[ref] = monTarget{pid: target.Pid(), node: target.node.id, name: name}
	tc.monIn[ref] = watcher{proc: w}
	if t := w.node.obs.traces.Load(); t != nil {
		w.traceSignal(t, event.TraceMonitor, target.Pid(), nil, name)
	}
}

// Link links p and target (Erlang's link/1). Linking to yourself, or again
// to a partner, changes nothing. When target is dead, a trapping p receives
// ExitMsg{target, NoProc} at once and Link returns nil; otherwise Link
// returns an error wrapping NoProc. A target on another node is linked
// without waiting for it: if it is dead, the NoProc comes later as an exit
// signal (DIST-25), and an unreachable node gives NoConnection the same way.
func (p *Proc) Link(target pid.Pid) error {
	if target.IsZero() {
		return ErrZeroPid
	}
	if target == p.Pid() {
		return nil
	}
	if rs := p.node.route(target); rs != nil {
		return p.linkRemote(rs, target)
	}
	deadReason := NoProc
	if err := p.node.check(target); err != nil {
		if !errors.Is(err, NoConnection) {
			return err
		}
		deadReason = NoConnection
	}
	q := p.node.proc(target)
	if q == nil {
		return p.linkDead(target, deadReason)
	}
	lockPair(p, q)
	defer unlockPair(p, q)
	switch {
	case p.dead.Load():
		return ErrCallerExited
	case q.dead.Load():
		return p.linkDeadLocked(target, deadReason)
	}
	addLink(p, q)
	return nil
}

func (p *Proc) linkDead(target pid.Pid, reason error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead.Load() {
		return ErrCallerExited
	}
	return p.linkDeadLocked(target, reason)
}

// linkDeadLocked links p to a dead target. If the link already exists, the
// target's exit signal is on its way over it: nothing more happens.
func (p *Proc) linkDeadLocked(target pid.Pid, reason error) error {
	if p.links.has(target) {
		return nil
	}
	if p.trap {
		p.deliver(exitMessage(target, reason))
		return nil
	}
	return &LinkError{Pid: target, Reason: reason}
}

// LinkError reports a link to a process that is not alive.
type LinkError struct {
	Pid    pid.Pid
	Reason error // NoProc or NoConnection
}

// Error describes the failure.
func (e *LinkError) Error() string { return "link to " + e.Pid.String() + ": " + e.Reason.Error() }

// Unwrap returns the reason.
func (e *LinkError) Unwrap() error { return e.Reason }

// Unlink removes the link between p and target, if any. Once it returns, no
// exit signal from that link reaches p.
func (p *Proc) Unlink(target pid.Pid) error {
	if target.IsZero() {
		return ErrZeroPid
	}
	if rs := p.node.route(target); rs != nil {
		p.unlinkRemote(rs, target)
		return nil
	}
	q := p.node.proc(target)
	if q == nil || q == p {
		p.mu.Lock()
		p.links.remove(target)
		p.mu.Unlock()
		return nil
	}
	lockPair(p, q)
	p.links.remove(target)
	q.links.remove(p.Pid())
	unlockPair(p, q)
	if t := p.node.obs.traces.Load(); t != nil {
		traceLink(t, p, q, event.TraceUnlink)
	}
	return nil
}

// Monitor makes p monitor target and returns the monitor's reference. A
// dead target gives an immediate DownMsg with NoProc (NoConnection for a
// Pid of an unknown node). For a target on another node the Down of a dead
// process comes one round trip later (DIST-09).
func (p *Proc) Monitor(target pid.Pid) (pid.Ref, error) {
	if target.IsZero() {
		return pid.Ref{}, ErrZeroPid
	}
	return p.MonitorTarget(Target{Pid: target})
}

// MonitorTarget makes p monitor target: a Pid, or a name on a node (MON-10,
// DIST-08). A monitor by name binds to the process holding the name now;
// its Down carries the name and node, and an unregistered name gives a
// Down with NoProc (MON-11).
func (p *Proc) MonitorTarget(target Target) (pid.Ref, error) {
	n := p.node
	if target.Pid.IsZero() {
		switch {
		case target.Name == "":
			return pid.Ref{}, ErrZeroPid
		case target.Node.IsZero():
			target.Node = n.id
		}
	}
	node := target.NodeID()
	if node != n.id && !n.stopped.Load() {
		if rs := n.remote.Load(); rs != nil {
			return p.monitorRemote(rs, target)
		}
	}
	deadReason := NoProc
	if target.Pid.IsZero() {
		if n.stopped.Load() {
			return pid.Ref{}, ErrNodeStopped
		}
		if node != n.id {
			deadReason = NoConnection
		}
	} else if err := n.check(target.Pid); err != nil {
		if !errors.Is(err, NoConnection) {
			return pid.Ref{}, err
		}
		deadReason = NoConnection
	}
	ref := n.MakeRef()
	var q *Proc
	if node == n.id {
		q = n.resolve(target)
	}
	found := q != nil
	if !found {
		q = p // lock only p; the target is gone
	}
	lockPair(p, q)
	defer unlockPair(p, q)
	t := monTarget{pid: target.Pid, node: node, name: target.Name}
	switch {
	case p.dead.Load():
		return pid.Ref{}, ErrCallerExited
	case !found || q.dead.Load():
		if t.pid.IsZero() && found {
			t.pid = q.Pid() // the holder, dead meanwhile
		}
		p.deliver(downMessage(downFor(ref, t, deadReason)))
	default:
		addMonitor(p, q, ref, target.Name)
	}
	return ref, nil
}

// Demonitor removes the monitor ref held by p. It reports whether the
// monitor was still active; once it returns, no DownMsg for ref is queued
// any more, though one queued before stays (see DemonitorFlush).
func (p *Proc) Demonitor(ref pid.Ref) bool {
	p.mu.Lock()
	target, ok := p.coldOf().monOut[ref]
	if ok {
		delete(p.cold.monOut, ref)
		if target.node != p.node.id {
			if rs := p.node.remote.Load(); rs != nil {
				rs.r.Signal(Signal{Kind: SigDemonitor, From: p.Pid(), To: target.pid, Node: target.node, Name: target.name, Ref: ref})
			}
		}
	}
	p.mu.Unlock()
	if !ok {
		return false
	}
	if t := p.node.obs.traces.Load(); t != nil {
		p.traceSignal(t, event.TraceDemonitor, target.pid, nil, ref.String())
	}
	if q := p.node.proc(target.pid); q != nil {
		q.mu.Lock()
		delete(q.coldOf().monIn, ref)
		q.mu.Unlock()
	}
	return true
}

// DemonitorFlush is Demonitor that also removes a DownMsg for ref already
// queued. Only the process's own code may call it.
func (p *Proc) DemonitorFlush(ref pid.Ref) bool {
	active := p.Demonitor(ref)
	p.mbox.removeAll(func(m any) bool {
		r, ok := downRef(m)
		return ok && r == ref
	})
	return active
}

// Watch calls notify once when target exits, from the goroutine that ends
// it, unless Unwatch is called first. It is a monitor held by code that is
// not a process. When target is already dead, notify runs before Watch
// returns; for a target on another node it runs once the node has
// answered. notify must not block.
func (n *Node) Watch(target pid.Pid, notify func(DownMsg)) (pid.Ref, error) {
	if target.IsZero() {
		return pid.Ref{}, ErrZeroPid
	}
	return n.WatchTarget(Target{Pid: target}, notify)
}

// WatchTarget is Watch for a Pid or a name on a node; a watch by name binds
// to the process holding the name now.
func (n *Node) WatchTarget(target Target, notify func(DownMsg)) (pid.Ref, error) {
	if notify == nil {
		return pid.Ref{}, ErrNilFunc
	}
	if target.Pid.IsZero() {
		switch {
		case target.Name == "":
			return pid.Ref{}, ErrZeroPid
		case target.Node.IsZero():
			target.Node = n.id
		}
	}
	node := target.NodeID()
	if node != n.id && !n.stopped.Load() {
		if rs := n.remote.Load(); rs != nil {
			return n.watchRemote(rs, target, notify)
		}
	}
	deadReason := NoProc
	if target.Pid.IsZero() {
		if n.stopped.Load() {
			return pid.Ref{}, ErrNodeStopped
		}
		if node != n.id {
			deadReason = NoConnection
		}
	} else if err := n.check(target.Pid); err != nil {
		if !errors.Is(err, NoConnection) {
			return pid.Ref{}, err
		}
		deadReason = NoConnection
	}
	ref := n.MakeRef()
	t := monTarget{pid: target.Pid, node: node, name: target.Name}
	if node == n.id {
		if q := n.resolve(target); q != nil {
			q.mu.Lock()
			if !q.dead.Load() {
				c := q.coldLocked()
				if c.monIn == nil {
					c.monIn = make(map[pid.Ref]watcher)
				}
				if t.name != "" {
					inner := notify
					notify = func(m DownMsg) { m.Name, m.Node = t.name, t.node; inner(m) }
				}
				c.monIn[ref] = watcher{notify: notify}
				q.mu.Unlock()
				return ref, nil
			}
			q.mu.Unlock()
			t.pid = q.Pid()
		}
	}
	n.contain("Watch notify", target.Pid, func() { notify(downFor(ref, t, deadReason)) })
	return ref, nil
}

// Unwatch removes a watch made by Watch. It reports whether the watch was
// still active; a notify already under way may still run.
func (n *Node) Unwatch(target pid.Pid, ref pid.Ref) bool {
	if rs := n.remote.Load(); rs != nil && (target.IsZero() || target.Node() != n.id) {
		return n.unwatchRemote(rs, ref)
	}
	q := n.proc(target)
	if q == nil {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	w, ok := q.coldOf().monIn[ref]
	// Only a watch: the Ref of a process's monitor, or of another node's,
	// is not Unwatch's to remove, or its holder would never hear of the exit.
	ok = ok && w.proc == nil && !w.remote
	if ok {
		delete(q.cold.monIn, ref)
	}
	return ok
}

// Info describes a live process.
type Info struct {
	Pid             pid.Pid
	Name            string
	Status          Status
	Backend         Backend
	TrapExit        bool
	MessageQueueLen int
	WaitingSenders  int // senders waiting for room in its bounded mailbox
	Links           []pid.Pid
	Monitors        []Monitor // monitors this process holds
	MonitoredBy     []pid.Pid // processes monitoring this one (a watcher that is not a process shows as the zero Pid)
	Behaviour       string    // what it runs (see Describer): a GenServer's type, "supervisor", "func"
	Groups          []string
	Received        uint64 // messages queued for it
	Handled         uint64 // messages taken by its code
	Sent            uint64 // messages it sent
}

// Monitor is one monitor in Info.Monitors: its Ref and the process it
// watches, and the name for a monitor made by name.
type Monitor struct {
	Ref  pid.Ref
	Pid  pid.Pid
	Name string
}

// Info returns a snapshot of the live process p.
func (n *Node) Info(target pid.Pid) (Info, error) {
	if err := n.check(target); err != nil {
		return Info{}, err
	}
	q := n.proc(target)
	if q == nil {
		return Info{}, NoProc
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead.Load() {
		return Info{}, NoProc
	}
	queued, pushes := q.mbox.stats()
	c := q.coldOf()
	in := Info{
		Pid: q.Pid(), Name: c.name, Status: Status(q.status.Load()), Backend: q.backend,
		TrapExit: q.trap, MessageQueueLen: queued, WaitingSenders: int(q.mbox.waiters.Load()),
		Received: q.received(pushes), Handled: q.handled.Load(), Sent: q.sent.Load(), Behaviour: describe(q.handler),
	}
	for l := range q.links.all() {
		in.Links = append(in.Links, l)
	}
	sort.Slice(in.Links, func(i, j int) bool { return in.Links[i].Serial() < in.Links[j].Serial() })
	for ref, t := range c.monOut {
		in.Monitors = append(in.Monitors, Monitor{Ref: ref, Pid: t.pid, Name: t.name})
	}
	sort.Slice(in.Monitors, func(i, j int) bool { return in.Monitors[i].Ref.ID() < in.Monitors[j].Ref.ID() })
	for _, w := range c.monIn {
		var by pid.Pid
		switch {
		case w.proc != nil:
			by = w.proc.Pid()
		case w.remote:
			by = w.peer
		}
		in.MonitoredBy = append(in.MonitoredBy, by)
	}
	sort.Slice(in.MonitoredBy, func(i, j int) bool { return in.MonitoredBy[i].Serial() < in.MonitoredBy[j].Serial() })
	for g := range c.groups {
		in.Groups = append(in.Groups, g)
	}
	sort.Strings(in.Groups)
	return in, nil
}
