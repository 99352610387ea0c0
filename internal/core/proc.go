package core

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/spawned-go/spawned/pid"
)

// Backend says where a process's code runs.
type Backend uint8

// The backends. See the process package for when to pick which.
const (
	Async Backend = iota
	Blocking
	Thread
)

// String returns the name used in logs and in OTP.
func (b Backend) String() string {
	switch b {
	case Async:
		return "async"
	case Blocking:
		return "blocking"
	case Thread:
		return "thread"
	}
	return fmt.Sprintf("backend(%d)", uint8(b))
}

// Valid reports whether b is one of the three backends.
func (b Backend) Valid() bool { return b <= Thread }

// Func is the body of a process started from a function. Returning nil is a
// normal exit; any other error is the exit reason.
type Func func(p *Proc) error

// Handler is the body of a message-driven process: the runtime calls
// HandleMessage once per message, one at a time, on the process's backend.
// Returning a non-nil error ends the process with that reason (Normal for a
// normal stop). An idle Async handler process holds no goroutine.
type Handler interface {
	HandleMessage(p *Proc, msg any) error
}

// Initializer is an optional Handler method run on the process's backend
// before any message; a non-nil error ends the process with that reason.
type Initializer interface {
	Init(p *Proc) error
}

// Exiter is an optional Handler method: Exited runs once with the exit
// reason after the process has exited, as Spec.OnExit does (which, when set,
// runs instead).
type Exiter interface {
	Exited(p *Proc, reason error)
}

// Crasher is an optional Handler method: when HandleMessage panics,
// Crashed runs with the panic value, on the panicking goroutine, and
// returns the exit reason in place of the runtime's own crash report.
type Crasher interface {
	Crashed(v any) error
}

// Dier is an optional Handler method: Dying runs once, with the exit
// reason, at the moment the process dies, under its lock, before anything
// can see it dead (before Alive turns false and its context is
// cancelled). From then on nothing its code does counts: a handler that
// answers requests claims the answers it still owes there, so that a
// reply its code sends after the kill finds them taken. It must be quick,
// must not block and may take only leaf locks of its own.
type Dier interface {
	Dying(reason error)
}

// Spec describes a process to spawn.
type Spec struct {
	Func    Func
	Handler Handler
	Backend Backend
	Name    string // registered atomically with the spawn when not empty
	Parent  *Proc  // the process Link and Monitor refer to
	Link    bool   // link Parent and the new process atomically with the spawn
	Monitor bool   // make Parent monitor the new process atomically with the spawn
	OnExit  func(reason error)
	// MailboxLimit bounds the messages code may have queued for the
	// process; 0 means no bound. The runtime's own signals are not bounded.
	MailboxLimit int
	// SkipInit does not run the Handler's Init. A Handler process with no
	// Init to run starts idle: it takes no goroutine until a message
	// arrives.
	SkipInit bool
	// RemoteParent is a process of another node that asked for this spawn
	// (a remote spawn): with Link, the new process is linked to it, and
	// with Monitor, it holds a monitor on the new process under
	// MonitorRef (a Ref its node made), both recorded on this side before
	// the new process runs. The parent's node records its own side when
	// Announce tells it the new Pid. Parent must be nil with it.
	RemoteParent pid.Pid
	// MonitorRef is the monitor's Ref for a remote parent, or for Parent
	// a Ref of this node to use instead of a new one.
	MonitorRef pid.Ref
	// Announce, when set, is called with the new process's Pid once the
	// process exists, with its name, links and monitors, and before it
	// runs; it runs under the new process's lock, so the process cannot
	// die meanwhile. It must not block nor take a process's lock. An error
	// undoes the spawn, which fails with it.
	Announce func(pid.Pid) error
}

// Undeliverable is implemented by messages that must learn when no process
// will handle them: sent to a dead process, or still queued when the
// receiver exited. Undelivered runs once, from the goroutine that found out,
// with the receiver's exit reason (NoProc when it was already gone). It
// must not block.
type Undeliverable interface {
	Undelivered(reason error)
}

// undeliverable tells msg, if it asked to know, that no process will
// handle it. Undelivered is code outside the runtime: a panic in it is
// contained and logged.
func (n *Node) undeliverable(msg any, reason error) {
	if u, ok := msg.(Undeliverable); ok {
		n.contain("Undelivered", pid.Pid{}, func() { u.Undelivered(reason) })
	}
}

// Status is what a process is doing.
type Status uint8

// The statuses reported in Info.
const (
	Waiting  Status = iota // idle, waiting for a message
	Runnable               // has work and waits for its turn
	Running                // its code is running
	Exited                 // dead
)

// String returns the name used in logs and in OTP.
func (s Status) String() string {
	switch s {
	case Waiting:
		return "waiting"
	case Runnable:
		return "runnable"
	case Running:
		return "running"
	case Exited:
		return "exited"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Proc is one process.
type Proc struct {
	// The first cache line: what senders read on every message, and the
	// process lock.
	node    *Node
	serial  uint64  // its Pid is pid.New(node.id, serial); 0 until it is in the table
	handler Handler // a funcHandler for a Func process

	dead  atomic.Bool
	sched atomic.Bool // a handler activation is scheduled or running

	wake    chan struct{} // Func and Thread processes: a message or death
	backend Backend
	slot    bool // a Blocking process's code holds a pool slot; owned by the goroutine running it
	inited  bool // a Handler process's Init has run; owned by its activation
	// answered: the activation's current run of messages answered a
	// caller that waits (see AnsweredCall); owned by the activation.
	answered bool
	// answeredBefore: an earlier short run of the activation answered a
	// call, so the process has callers that call again (see linger);
	// owned by the activation.
	answeredBefore bool
	// discarded: the spawn failed after the process was in the table; it
	// never ran, so no exit callback runs for it. Guarded by mu.
	discarded bool

	// mu guards trap, reason, links and what cold points to (trap comes
	// first only to share a word with the flags above).
	trap   bool
	remote bool // it has held links or monitors involving other nodes
	mu     sync.Mutex

	// The next two lines: the mailbox, its senders' side on one, its
	// consumer's side on the other.
	mbox mailbox

	// The process's own code writes these as it runs; they sit beside the
	// consumer's side of the mailbox, away from what senders read.
	inflight atomic.Int32 // sends by this process that are under way
	status   atomic.Uint32
	running  atomic.Int32 // runIdle, runBusy or runStraggler
	sent     atomic.Uint64
	handled  atomic.Uint64
	direct   atomic.Uint64          // messages handled at once, never queued: see HandleDirect
	worker   atomic.Pointer[worker] // the worker running the current activation

	// Guarded by mu, and rarely touched.
	reason error
	links  *linkSet
	cold   *procCold // made on first need; see coldLocked
}

// procCold is the state most processes never use, kept out of Proc so
// that an idle process without monitors, name, groups, timers, context or
// exit callback stays small. A process gets one the first time it needs
// one of these fields and keeps it; p.mu guards it and its fields.
type procCold struct {
	onExit func(reason error)    // Spec.OnExit; set before the process runs
	ctx    *procContext          // made on first use
	monIn  map[pid.Ref]watcher   // monitors on this process
	monOut map[pid.Ref]monTarget // monitors this process holds
	name   string
	groups map[string]int
	timers map[pid.Ref]*timer
	ties   []tieSlot   // what other packages keep for the process; see Tie
	labels *procLabels // profile labels, while they are on: labels.go
}

// noCold is what a process without cold state reads through coldOf; it is
// never written.
var noCold procCold

// coldOf returns p's cold state for reading, the empty noCold when p has
// none. Caller holds p.mu, or owns p before it is published.
func (p *Proc) coldOf() *procCold {
	if p.cold == nil {
		return &noCold
	}
	return p.cold
}

// coldLocked returns p's cold state for writing, making it on first need.
// Caller holds p.mu, or owns p before it is published.
func (p *Proc) coldLocked() *procCold {
	if p.cold == nil {
		p.cold = new(procCold)
	}
	return p.cold
}

// procContext is a process's context, cancelled with the exit reason.
type procContext struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// funcHandler keeps the body of a Func process in the handler field; its
// HandleMessage is never called.
type funcHandler Func

func (funcHandler) HandleMessage(*Proc, any) error { return nil }

// body returns the Func of a Func process, or nil for a Handler process.
func (p *Proc) body() Func {
	f, _ := p.handler.(funcHandler)
	return Func(f)
}

const (
	runIdle int32 = iota
	runBusy
	runStraggler
)

// Spawn starts a process. The process is linked, monitored and named in the
// same step that creates it: no one can see it without them.
func (n *Node) Spawn(s Spec) (*Proc, pid.Ref, error) {
	if (s.Func == nil) == (s.Handler == nil) {
		return nil, pid.Ref{}, ErrNilFunc
	}
	if !s.Backend.Valid() {
		return nil, pid.Ref{}, fmt.Errorf("%w: %d", ErrInvalidBackend, s.Backend)
	}
	if s.MailboxLimit < 0 {
		return nil, pid.Ref{}, fmt.Errorf("%w: %d", ErrBadMailboxLimit, s.MailboxLimit)
	}
	if !s.RemoteParent.IsZero() {
		if err := n.checkRemoteParent(&s); err != nil {
			return nil, pid.Ref{}, err
		}
	}
	p := &Proc{node: n, backend: s.Backend, handler: s.Handler}
	if s.OnExit != nil {
		p.coldLocked().onExit = s.OnExit
	}
	p.mbox.setLimit(s.MailboxLimit)
	if s.Func != nil {
		p.handler = funcHandler(s.Func)
	}
	if s.Func != nil || s.Backend == Thread {
		p.wake = make(chan struct{}, 1)
	}
	if s.Func == nil {
		p.sched.Store(true) // start schedules the first activation; sends until then only queue
		p.inited = s.SkipInit || !isInitializer(s.Handler)
	}

	n.life.RLock()
	if n.stopped.Load() {
		n.life.RUnlock()
		return nil, pid.Ref{}, ErrNodeStopped
	}
	if !n.addProc(p, &s) { // publishes Spawned
		n.life.RUnlock()
		return nil, pid.Ref{}, ErrTableFull
	}
	n.spawned.Add(1)
	n.goroutines.Add(1)
	n.life.RUnlock()

	if s.Name != "" {
		if err := n.register(s.Name, p); err != nil {
			p.discard()
			return nil, pid.Ref{}, err
		}
	}
	var ref pid.Ref
	switch {
	case !s.RemoteParent.IsZero():
		if err := p.attachRemoteParent(&s); err != nil {
			p.discard()
			return nil, pid.Ref{}, err
		}
		ref = s.MonitorRef
	case s.Parent != nil && (s.Link || s.Monitor):
		var err error
		if ref, err = p.attachParent(s.Parent, s.Link, s.Monitor, s.MonitorRef); err != nil {
			p.discard()
			return nil, pid.Ref{}, err
		}
	}
	if s.Announce != nil {
		p.mu.Lock()
		err := s.Announce(p.Pid())
		p.mu.Unlock()
		if err != nil {
			p.discard()
			return nil, pid.Ref{}, err
		}
	}
	p.start()
	return p, ref, nil
}

// isInitializer reports whether h has an Init to run.
func isInitializer(h Handler) bool {
	_, ok := h.(Initializer)
	return ok
}

// attachParent links the new process to parent and/or makes parent monitor
// it. The new process is not running yet, so only the parent can be dead.
func (p *Proc) attachParent(parent *Proc, link, monitor bool, ref pid.Ref) (pid.Ref, error) {
	if parent.node != p.node {
		return pid.Ref{}, fmt.Errorf("%w: parent on another node", NoConnection)
	}
	if !monitor {
		ref = pid.Ref{}
	} else if ref.IsZero() || ref.Node() != p.node.id {
		ref = p.node.MakeRef()
	}
	lockPair(parent, p)
	defer unlockPair(parent, p)
	if parent.dead.Load() {
		return pid.Ref{}, ErrCallerExited
	}
	if link {
		addLink(parent, p)
	}
	if monitor {
		addMonitor(parent, p, ref, "")
	}
	return ref, nil
}

// discard undoes a spawn that failed before the process ran.
func (p *Proc) discard() {
	p.mu.Lock()
	p.discarded = true // it never ran, so no exit callback runs
	if p.cold != nil {
		p.cold.onExit = nil
	}
	var d death
	died := p.dieLocked(Normal, &d) // no links or monitors yet: only the name goes
	p.mu.Unlock()
	if died {
		p.node.propagate(&d)
	}
	p.node.spawned.Add(^uint64(0)) // a process that never ran is not counted
	p.node.exited.Add(^uint64(0))
	p.node.goroutineDone()
}

func (p *Proc) start() {
	if p.body() != nil {
		go p.runFunc()
		return
	}
	if p.backend == Thread {
		go p.runThread()
		return
	}
	if p.inited { // no Init to run: idle until a message arrives
		p.sched.Store(false)
		if p.mbox.empty() || !p.sched.CompareAndSwap(false, true) {
			p.node.goroutineDone()
			return
		}
	}
	p.node.schedule(p, true)
}

// Pid returns the process's Pid.
func (p *Proc) Pid() pid.Pid { return pid.New(p.node.id, p.serial) }

// Node returns the node that runs the process.
func (p *Proc) Node() *Node { return p.node }

// Backend returns the backend the process runs on.
func (p *Proc) Backend() Backend { return p.backend }

// Alive reports whether the process has not exited.
func (p *Proc) Alive() bool { return !p.dead.Load() }

// Context returns a context cancelled when the process exits; its cause is
// the exit reason.
func (p *Proc) Context() context.Context {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.coldLocked()
	if c.ctx == nil {
		ctx, cancel := context.WithCancelCause(context.Background())
		c.ctx = &procContext{ctx: ctx, cancel: cancel}
		if p.dead.Load() {
			cancel(p.reason)
		}
	}
	return c.ctx.ctx
}

// Reason returns the exit reason of a dead process, or nil while it lives.
func (p *Proc) Reason() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason
}

// enter marks the process's code as running; leave marks it done and
// settles the straggler count when the process was killed meanwhile. The
// status, still Running from the batch before when an activation goes on
// or lingered, is then left as it is: an atomic store costs a locked
// instruction even when the value is the same.
func (p *Proc) enter() {
	p.running.Store(runBusy)
	if p.status.Load() != uint32(Running) {
		p.status.Store(uint32(Running))
	}
}

func (p *Proc) leave() {
	if p.running.Swap(runIdle) == runStraggler {
		p.node.stragglers.Add(-1)
	}
}

// call runs one piece of user code, turning a panic into an exit reason.
// runtime.Goexit in the code is not recovered (nothing can stop it): the
// goroutine's root (runFunc, runThread, work) sees its code end without
// returning and ends the process with reason Goexit (see goexited).
func (p *Proc) call(f func() error) (reason error) {
	defer func() {
		if v := recover(); v != nil {
			reason = p.crashed(v)
		}
	}()
	return f()
}

// crashed reports a panic of the process's code and returns the exit reason
// it becomes.
func (p *Proc) crashed(v any) error {
	stack := debug.Stack()
	reason := newPanic(v, stack)
	p.node.logError("process crashed",
		zap.Stringer("pid", p.Pid()), zap.String("name", p.Name()), zap.String("behaviour", p.Behaviour()),
		zap.NamedError("reason", reason), zap.Any("panic", v), zap.ByteString("stack", stack))
	return reason
}

// crashedIn turns a panic of HandleMessage into an exit reason through the
// handler's Crasher; a Crasher that panics in turn is reported, and the
// first panic becomes the reason.
func (p *Proc) crashedIn(c Crasher, v any) (reason error) {
	defer func() {
		if w := recover(); w != nil {
			p.node.logError("crash handler panicked",
				zap.Stringer("pid", p.Pid()), zap.Any("panic", w), zap.ByteString("stack", debug.Stack()))
			reason = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return c.Crashed(v)
}

// goexited ends p as its goroutine unwinds through runtime.Goexit, which
// its code (or a callback the goroutine ran for it) called: it does what
// the end of the code would have done, with the reason Goexit. The
// goroutine's root calls it from a deferred function; the goroutine still
// ends once it returns.
func (p *Proc) goexited() {
	p.leave()
	p.releaseSlot()
	if p.Alive() {
		p.node.logError("process exited through runtime.Goexit",
			zap.Stringer("pid", p.Pid()), zap.String("name", p.Name()), zap.ByteString("stack", debug.Stack()))
	}
	p.exit(Goexit)
}

// ended runs as the goroutine of a Func or Thread process ends. Code still
// marked running (between enter and leave) did not return: runtime.Goexit
// ended the goroutine inside it.
func (p *Proc) ended() {
	if p.running.Load() != runIdle {
		p.goexited()
	}
	p.node.goroutineDone()
}

func (p *Proc) runFunc() {
	defer p.ended()
	p.labelGoroutine()
	if p.backend == Thread {
		runtime.LockOSThread() // never unlocked: the thread ends with the process
	}
	if p.backend == Blocking && !p.acquireSlot() {
		return
	}
	if p.dead.Load() { // killed before it ran: none of its code runs
		p.releaseSlot()
		return
	}
	p.enter()
	fn := p.body()
	reason := p.call(func() error { return fn(p) })
	p.leave()
	p.releaseSlot()
	p.exit(orNormal(reason))
}

// acquireSlot takes a Blocking pool slot for p's code, giving up if the
// process dies. Only the goroutine running p's code calls it.
func (p *Proc) acquireSlot() bool {
	p.slot = p.node.acquireSlot(p)
	return p.slot
}

// releaseSlot gives back the pool slot p's code holds, if any.
func (p *Proc) releaseSlot() {
	if p.slot {
		p.slot = false
		p.node.releaseSlot()
	}
}

// acquireSlot takes a Blocking pool slot on behalf of p, waiting for one
// unless p dies first.
func (n *Node) acquireSlot(p *Proc) bool {
	select {
	case n.blocking <- struct{}{}:
		return true
	default:
	}
	p.status.Store(uint32(Runnable))
	select {
	case n.blocking <- struct{}{}:
		return true
	case <-p.Context().Done():
		return false
	}
}

func (n *Node) releaseSlot() { <-n.blocking }

// maxBatch bounds how many messages one activation handles before it lets
// other processes run.
const maxBatch = 128

// activate runs a handler process's queued messages on an Async or
// Blocking goroutine, then goes idle holding no goroutine. A Blocking
// activation holds a pool slot while it handles messages; the slot is
// given back before the process is marked idle, so activations never share
// one.
func (p *Proc) activate() {
	blocking := p.backend == Blocking
	if blocking && !p.acquireSlot() {
		return
	}
	runStart := p.handled.Load() // messages handled before this run of them
	p.answered = false
	if !p.inited {
		p.inited = true
		if !p.runInit() {
			p.releaseSlot()
			return
		}
	}
	entered := false // a lingering activation stays entered: see handleBatch
	for {
		alive, drained := p.handleBatch(entered)
		if !alive {
			p.releaseSlot()
			return
		}
		if blocking { // let other Blocking processes have a turn
			p.releaseSlot()
		}
		// The mailbox settles while this activation still owns it; once
		// sched is false, a sender may start the next activation at once.
		entered = drained && p.linger(&runStart)
		if drained && !entered {
			p.leave()
			if !p.mbox.settle() {
				p.status.Store(uint32(Waiting))
				p.sched.Store(false)
				if p.mbox.empty() || !p.sched.CompareAndSwap(false, true) {
					return
				}
				p.status.Store(uint32(Runnable))
			}
		}
		if blocking && !p.acquireSlot() {
			if entered {
				p.leave()
			}
			return
		}
	}
}

// lingerRounds bounds how many times a drained activation yields its
// processor, waiting for another message, before it goes idle.
const lingerRounds = 8

// lingerBurst is the longest run of messages after which a drained
// activation lingers: a caller's request or a few callers' requests.
const lingerBurst = 4

// lingerYield is how a lingering activation yields its processor; tests
// replace it to send a message at a known moment.
var lingerYield = Yield

// AnsweredCall tells the activation running p's handler that the message
// it is handling is a call whose caller now has its answer, and will likely
// call again: once the mailbox is drained, the activation lingers for that
// next call (see linger). Only the handler's code calls it, from its
// handling of the message.
func (p *Proc) AnsweredCall() { p.answered = true }

// linger keeps a drained activation for a moment, yielding the processor
// each round so that the senders run, and reports whether a message
// arrived meanwhile; *runStart then moves to the handled count, which
// starts a new run. A caller that calls again as soon as it has its
// answer then finds the activation going, and pays neither to wake it nor
// for a goroutine switch into a new one.
//
// The process stays entered while its activation lingers, as the batch
// before left it (see handleBatch): a kill meanwhile counts it among the
// stragglers until the activation lets go.
//
// It lingers only after a short run (lingerBurst) of messages that answered
// a call (AnsweredCall), not after the process's first such run, and not
// when a process waits in its worker's runnext slot:
//   - a server that has answered one call has shown no caller that calls
//     again, and one that answers a single call (a server started for one
//     request, a restarted child crashed again after one call) would yield
//     for nothing, or, killed meanwhile, run once more to find itself dead;
//   - other senders gain nothing from it: a sender of casts expects no
//     answer and lets its receiver run when it gets ahead (see behindBy),
//     and an exit signal's sender is gone;
//   - a yield costs more than the time it takes: another processor looking
//     for work may take the yielded activation. When lingering yielded
//     with runtime.Gosched, which queues on the global run queue and wakes
//     an idle processor, the receiver of a stream of casts then chased its
//     sender from another core, both passing the mailbox's cache lines
//     back and forth, and W3 ran at half its speed in some runs; a
//     supervisor that lingered after a child's exit kept its worker from
//     the restarted child's first call (W7).
//
// It yields with Yield, which keeps the activation on its processor's run
// queue and wakes no other processor: the caller it waits for runs there.
func (p *Proc) linger(runStart *uint64) bool {
	answered := p.answered
	p.answered = false
	w := p.worker.Load()
	if run := p.handled.Load() - *runStart; !answered || w == nil || run == 0 || run > lingerBurst {
		return false
	}
	if !p.answeredBefore {
		p.answeredBefore = true
		return false
	}
	seen := p.mbox.tail()
	for range lingerRounds {
		if w.runnext.Load() != nil || p.dead.Load() {
			return false
		}
		lingerYield()
		if p.mbox.tail() != seen {
			*runStart = p.handled.Load()
			return true
		}
	}
	return false
}

// runThread runs a handler process on one locked OS thread for its whole life.
func (p *Proc) runThread() {
	defer p.ended()
	p.labelGoroutine()
	runtime.LockOSThread() // never unlocked: the thread ends with the process
	if !p.inited && !p.runInit() {
		return
	}
	for {
		alive, drained := p.handleBatch(false)
		if !alive {
			return
		}
		if drained {
			p.leave()
			if !p.mbox.settle() {
				p.status.Store(uint32(Waiting))
				<-p.wake
			}
		}
	}
}

// runInit runs the handler's Init, if any, and reports whether the process
// lives on.
func (p *Proc) runInit() bool {
	in, ok := p.handler.(Initializer)
	if !ok || p.dead.Load() {
		return !p.dead.Load()
	}
	p.enter()
	reason := p.call(func() error { return in.Init(p) })
	p.leave()
	if reason != nil {
		p.exit(reason)
		return false
	}
	return !p.dead.Load()
}

// handleBatch handles up to maxBatch queued messages. It reports whether
// the process lives on and whether its mailbox was found empty. The batch
// counts as running code from start to end, so its status is written once
// per batch, not once per message. A batch that found the mailbox empty
// leaves the process entered, so that an activation that lingers for the
// next message (see linger) and finds it pays for neither leave nor enter;
// the caller leaves when it does not. entered says the process is entered
// already, by the batch before.
func (p *Proc) handleBatch(entered bool) (alive, drained bool) {
	if !entered {
		p.enter()
	}
	b := p.runBatch()
	if b.drained {
		return true, true
	}
	p.leave()
	switch {
	case b.reason != nil:
		p.exit(b.reason)
		return false, false
	case b.orphan != nil:
		p.node.undeliverable(b.orphan, p.Reason())
		return false, false
	}
	return !p.dead.Load(), false
}

// batch is how runBatch ended.
type batch struct {
	drained bool  // the mailbox was found empty
	reason  error // the handler ended the process, or panicked
	orphan  any   // a message taken just as the process was killed
}

// runBatch runs the handler on up to maxBatch messages. One deferred
// recover covers the whole batch: a panic ends the process, so no message
// after it would be handled anyway.
func (p *Proc) runBatch() (b batch) {
	defer func() {
		if v := recover(); v != nil {
			p.handled.Add(1)
			b = batch{reason: p.handlerPanicked(v)}
		}
	}()
	traced := p.node.obs.traces.Load() != nil
	for range maxBatch {
		if p.dead.Load() {
			return batch{}
		}
		msg, ok := p.mbox.pop()
		if !ok {
			return batch{drained: true}
		}
		if p.dead.Load() {
			return batch{orphan: msg}
		}
		if traced {
			p.traceHandled(msg)
		}
		reason := p.handler.HandleMessage(p, msg)
		p.handled.Add(1)
		if reason != nil {
			return batch{reason: reason}
		}
	}
	return batch{}
}

// handlerPanicked returns the exit reason of a process whose
// HandleMessage panicked with v, through the handler's Crasher if it has
// one.
func (p *Proc) handlerPanicked(v any) error {
	if c, ok := p.handler.(Crasher); ok {
		return p.crashedIn(c, v)
	}
	return p.crashed(v)
}

// deliver queues msg and wakes the process.
// The runtime's own signals use it: they are never refused for room.
func (p *Proc) deliver(msg any) {
	if t := p.node.obs.traces.Load(); t != nil {
		p.deliverTraced(t, msg)
		return
	}
	if !p.mbox.push(msg, false).queued() {
		p.node.undeliverable(msg, NoProc)
		return
	}
	p.wakeUp(nil)
}

// send queues a message sent by code of the process from: a bounded mailbox
// that is full refuses it with ErrMailboxFull. Post is the same for a
// sender that is not a process.
func (p *Proc) send(msg any, from *Proc) error {
	if t := p.node.obs.traces.Load(); t != nil {
		return p.sendTraced(t, msg, from)
	}
	if r := p.mbox.push(msg, true); r != pushed || !p.scheduled() {
		return p.pushed(msg, r, from)
	}
	return nil
}

// scheduled reports whether a handler activation of p is scheduled or
// running, so that a message just queued needs no wake-up: what wakeUp
// would find first, checked where a push returns.
func (p *Proc) scheduled() bool { return p.wake == nil && p.sched.Load() }

// pushed finishes a bounded push of msg from from (nil: not a process)
// that r tells about: a refused message is undeliverable, a full mailbox an
// error; a queued one wakes the process, and a sender that left its
// consumer behind lets it run (see behindBy).
func (p *Proc) pushed(msg any, r pushResult, from *Proc) error {
	switch r {
	case refused:
		p.node.undeliverable(msg, NoProc)
	case full:
		return fmt.Errorf("send to %s: %w", p.Pid(), ErrMailboxFull)
	case behind:
		p.wakeUp(from)
		runtime.Gosched()
	default:
		p.wakeUp(from)
	}
	return nil
}

// wakeUp makes sure the process will handle what was just queued. A
// process woken by a handler process with nothing else queued runs next on
// the waker's worker (see workers).
func (p *Proc) wakeUp(from *Proc) {
	switch {
	case p.wake != nil:
		select {
		case p.wake <- struct{}{}:
		default:
		}
	case !p.sched.Load() && p.sched.CompareAndSwap(false, true):
		p.status.Store(uint32(Runnable))
		if from != nil && from.mbox.empty() && p.node.handOff(from, p) {
			return
		}
		p.node.schedule(p, false)
	}
}

// Send queues msg for to, from this process. Sending to a dead process is
// silently dropped; so is anything a dead process sends. A bounded mailbox
// that is full refuses the message with ErrMailboxFull.
func (p *Proc) Send(to pid.Pid, msg any) error {
	if !p.node.accepts(&to) {
		if rs := p.node.route(to); rs != nil {
			return p.node.sendRemote(rs, p, Target{Pid: to}, msg)
		}
		return p.node.check(to)
	}
	return p.sendOnce(to, msg)
}

// sendOnce sends while counted as in flight, so that the process's death
// waits for it and its messages land before its exit signals.
func (p *Proc) sendOnce(to pid.Pid, msg any) (err error) {
	p.inflight.Add(1)
	defer p.inflight.Add(-1)
	if p.dead.Load() {
		return nil
	}
	q := p.node.table.get(to.Serial())
	if q == nil {
		p.node.undeliverable(msg, NoProc)
		return nil
	}
	if err = q.send(msg, p); err == nil {
		p.sent.Add(1)
	}
	return err
}

// SendWait is Send that waits for room in a full bounded mailbox, until
// ctx is done (its error) or p exits (ErrCallerExited); for a process of
// another node, it waits while the peer node is busy (ErrPeerBusy).
func (p *Proc) SendWait(ctx context.Context, to pid.Pid, msg any) error {
	if ctx == nil {
		return fmt.Errorf("send: %w", ErrNilContext)
	}
	if rs := p.node.route(to); rs != nil {
		return p.node.sendRemoteWait(ctx, rs, p, Target{Pid: to}, msg)
	}
	if err := p.node.check(to); err != nil {
		return err
	}
	for {
		err := p.sendOnce(to, msg)
		if !errors.Is(err, ErrMailboxFull) {
			return err
		}
		q := p.node.table.get(to.Serial())
		if q == nil {
			return nil
		}
		if q == p {
			// Only p's own code empties its mailbox, and it is here.
			return fmt.Errorf("%w: it is the sender's own, so waiting would never make room", err)
		}
		// Wait outside the in-flight count: a death must not wait for room.
		if err := q.waitRoom(ctx, p.Context().Done()); err != nil {
			return err
		}
	}
}

// waitRoom waits until p's mailbox may have room, ctx is done or stop
// closes.
func (p *Proc) waitRoom(ctx context.Context, stop <-chan struct{}) error {
	p.mbox.waiters.Add(1)
	defer p.mbox.waiters.Add(-1)
	select {
	case <-p.mbox.roomChan():
		return nil
	case <-stop:
		return ErrCallerExited
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Receive returns the next message, waiting until one arrives, ctx is done
// or the process exits. Only a Func process may receive.
func (p *Proc) Receive(ctx context.Context) (any, error) {
	return p.ReceiveMatch(ctx, nil)
}

// ReceiveMatch returns the oldest message for which match is true (any
// message when match is nil), leaving the others queued in order. match
// runs without any lock of the runtime held: a panic in it is the
// process's panic, and it may call the runtime, except to receive.
func (p *Proc) ReceiveMatch(ctx context.Context, match func(any) bool) (any, error) {
	switch {
	case p.body() == nil:
		return nil, ErrNotReceiver
	case ctx == nil:
		return nil, fmt.Errorf("receive: %w", ErrNilContext)
	case p.mbox.matching:
		return nil, ErrNestedReceive
	}
	for {
		if p.dead.Load() {
			return nil, p.Reason()
		}
		var msg any
		var ok bool
		if match == nil {
			msg, ok = p.mbox.pop()
		} else {
			msg, ok = p.mbox.take(match)
		}
		if ok {
			p.handled.Add(1)
			p.traceHandled(msg)
			return msg, nil
		}
		if p.dead.Load() {
			continue // closed while match ran
		}
		p.mbox.settle()
		if err := p.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// wait blocks until something is delivered, the process dies or ctx is done.
// A Blocking process gives its pool slot back while it waits.
func (p *Proc) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.releaseSlot()
	p.status.Store(uint32(Waiting))
	var err error
	select {
	case <-p.wake: // a message, or the process's death
	case <-ctx.Done():
		err = ctx.Err()
	}
	if p.backend == Blocking {
		p.acquireSlot() // a process that died meanwhile goes on without one
	}
	p.status.Store(uint32(Running))
	return err
}
