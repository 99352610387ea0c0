package genserver

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// serverKey marks the context a server's callbacks get, so that a call from
// a server to itself is caught.
type serverKey struct{}

// result is the answer to a call: a reply, or why the server gave none.
type result[Rep any] struct {
	rep    Rep
	err    error // from HandleCall: returned to the caller as is
	reason error // the server exited without replying
}

// answer is the caller's side of a call: settled exactly once, by the reply,
// by the server's exit, or by the caller giving up. The server's death
// claims the answers it still owes to other nodes' callers and to
// NoReply's deferred calls (settled without a result yet), and delivers its
// exit reason to them once it has exited. A caller of this node that waits
// watches the death itself (see await), so the call being handled costs
// the server no bookkeeping for it.
// The result is written before state says answerDone, so whoever sees
// answerDone may read it. A caller that finds no answer yet parks on done
// after saying answerWaiting, and the deliverer that finds it waiting wakes
// it; an answer that comes before the caller parks, as a quick server's
// does, costs a swap and a load, and no channel.
type answer[Rep any] struct {
	settled atomic.Bool
	state   atomic.Uint32 // answerPending, answerWaiting or answerDone
	done    chan struct{} // set by a caller before it says answerWaiting
	kept    bool          // the server's code took a From for the call
	res     result[Rep]
	remote  core.RemoteAnswer // a call from another node: the answer goes back through it
}

// The states of an answer.
const (
	answerPending uint32 = iota // no result yet, and the caller is not parked
	answerWaiting               // the caller waits on done
	answerDone                  // the result is written
)

// settle delivers res unless the call was already settled, and reports
// whether it did.
func (a *answer[Rep]) settle(res result[Rep]) bool {
	if !a.claim() {
		return false
	}
	a.deliver(res)
	return true
}

// claim settles the call without a result yet, and reports whether it was
// still open: the claimer then owes it a deliver.
func (a *answer[Rep]) claim() bool { return !a.settled.Swap(true) }

// deliver hands res to a call claimed by claim: to the caller waiting on
// done, or back to the node a remote call came from.
func (a *answer[Rep]) deliver(res result[Rep]) {
	if a.remote != nil {
		if res.reason != nil {
			a.remote.Undelivered(res.reason)
		} else {
			a.remote.Reply(res.rep, res.err)
		}
		return
	}
	a.res = res
	if a.state.Swap(answerDone) == answerWaiting {
		a.done <- struct{}{}
	}
}

// answerLocal hands res to a caller of this node, for a call nothing but
// its caller can settle meanwhile: HandleCall returned it, the death of a
// server leaves such calls to their callers, and no From was taken for it.
// A caller that has not parked cannot give up, so one compare-and-swap
// settles the call then; a parked caller may have given up, and the call
// is claimed first, as any other.
func (a *answer[Rep]) answerLocal(res result[Rep]) {
	a.res = res
	if a.state.CompareAndSwap(answerPending, answerDone) {
		return
	}
	if a.claim() {
		a.deliver(res)
	}
}

// abandon gives up on the call; false means it was settled first and its
// result is arriving: through done, for a caller that waits.
func (a *answer[Rep]) abandon() bool { return !a.settled.Swap(true) }

// Undelivered fails the call when no server will handle it.
func (a *answer[Rep]) Undelivered(reason error) { a.settle(result[Rep]{reason: reason}) }

// call is the message a Call sends.
type call[Req, Rep any] struct {
	answer[Rep]
	req Req
}

// newCall returns a call of req for s: its spare call when it has one,
// one that a server of the same types left behind (see callPool), or a new
// one.
func (s *server[Req, Rep, Msg]) newCall(req Req) *call[Req, Rep] {
	if c := s.spare.Load(); c != nil && s.spare.CompareAndSwap(c, nil) {
		c.req = req
		return c
	}
	if c, ok := callPool[Req, Rep]().Get().(*call[Req, Rep]); ok {
		c.req = req
		return c
	}
	return &call[Req, Rep]{req: req}
}

// reuse keeps a call whose caller has read the answer, when nothing else
// can hold it any more: HandleCall answered it by returning (a call failed
// by a death, or given a From, may still be pointed to), and the server
// touches a call no more once it has delivered the answer. It becomes s's
// spare, or, when s's death has begun or another caller's call is the
// spare already, goes to the pool of its types for the next server. It is
// cleared, so a server at rest keeps no request or reply alive.
func (s *server[Req, Rep, Msg]) reuse(c *call[Req, Rep]) {
	if c.res.reason != nil || c.kept {
		return
	}
	*c = call[Req, Rep]{}
	if s.deferred.closed.Load() {
		callPool[Req, Rep]().Put(c)
		return
	}
	if old := s.spare.Swap(c); old != nil {
		callPool[Req, Rep]().Put(old)
	}
}

// dropSpare gives s's spare call, if it has one, to the pool of its types:
// s has died, and the next server of its types takes it for its first call.
func (s *server[Req, Rep, Msg]) dropSpare() {
	if c := s.spare.Swap(nil); c != nil {
		callPool[Req, Rep]().Put(c)
	}
}

// anyCall is a call of any request and reply types, so that a server can
// refuse one meant for a server of other types at once.
type anyCall interface {
	process.Undeliverable
	isCall()
	describe() string
}

func (*call[Req, Rep]) isCall() {}

// describe names the call's types for an error.
func (*call[Req, Rep]) describe() string {
	return fmt.Sprintf("a call with request %s and reply %s", typeName[Req](), typeName[Rep]())
}

type cast[Msg any] struct{ msg Msg }

// Reply settles a call made to a server of another node with its answer;
// a reply of another type than Rep fails the call with ErrWrongServer.
func (c *call[Req, Rep]) Reply(rep any, err error) {
	v, ok := typed[Rep](rep)
	if !ok {
		c.settle(result[Rep]{reason: fmt.Errorf("%w: the reply is a %T, not a %s", ErrWrongServer, rep, typeName[Rep]())})
		return
	}
	c.settle(result[Rep]{rep: v, err: err})
}

// typed returns v as a T; a nil v is the zero T when T can be nil.
func typed[T any](v any) (T, bool) {
	t, ok := v.(T)
	if !ok && v == nil {
		var zero T
		return zero, any(zero) == nil
	}
	return t, ok
}

// Ctx is a server's view of itself during a callback: its process, its
// context, and the means to stop or set timers. It is valid only inside the
// callback it is passed to.
type Ctx struct {
	p       *process.Process
	parent  *process.Process // the process that called StartLink, or nil
	rare    *ctxRare         // made on first need
	cont    func(*Ctx)
	idle    time.Duration
	stopped bool
	noReply bool // the current call's HandleCall returned NoReply
	// direct: started WithDirectCalls. Fixed before the server runs, and
	// read by callers: it lives here only because Ctx has room for it.
	direct bool
}

// ctxRare is the part of a server's own state that many servers never
// use, made on first need so that an idle server without it stays small.
// Like the rest of Ctx, only the server's callbacks touch it.
type ctxRare struct {
	ctx     context.Context // made by Context
	reason  error           // the reason given to Stop
	idleRef uint64          // the ID of the armed idle timer's Ref; 0 when none
	idleSeq uint64
}

// more returns c's rare state, making it on first need.
func (c *Ctx) more() *ctxRare {
	if c.rare == nil {
		c.rare = new(ctxRare)
	}
	return c.rare
}

// Self returns the server's Pid.
func (c *Ctx) Self() pid.Pid { return c.p.Self() }

// Process returns the server's process, for links, monitors and TrapExit.
func (c *Ctx) Process() *process.Process { return c.p }

// Node returns the node the server runs on.
func (c *Ctx) Node() *process.Node { return c.p.Node() }

// Parent returns the process that started the server with StartLink, or the
// zero Pid.
func (c *Ctx) Parent() pid.Pid { return c.parent.Self() }

// Logger returns the node's logger.
func (c *Ctx) Logger() *zap.Logger { return c.p.Node().Logger() }

// Context returns a context that is cancelled when the server exits. Pass it
// (or one derived from it) to calls the server makes: a call to itself then
// fails with ErrCallingSelf instead of waiting for the timeout.
func (c *Ctx) Context() context.Context {
	r := c.more()
	if r.ctx == nil {
		r.ctx = context.WithValue(c.p.Context(), serverKey{}, c.p.Self())
	}
	return r.ctx
}

// Stop ends the server once the current callback returns: the pending reply
// is sent, Terminate runs with reason, and the server exits with it. nil
// means process.Normal.
func (c *Ctx) Stop(reason error) {
	if reason == nil {
		reason = process.Normal
	}
	c.stopped, c.more().reason = true, reason
}

// Continue runs f right after the current callback returns, before any
// message already queued: OTP's handle_continue. After Init, it runs once
// Start has returned. A later call replaces an earlier one in the same
// callback.
func (c *Ctx) Continue(f func(ctx *Ctx)) { c.cont = f }

// IdleTimeout asks for a Timeout message in HandleInfo when no message
// arrives within d after the current callback: OTP's {reply, R, S, Timeout}.
// Any message that arrives first cancels it. It applies to the current
// callback only.
func (c *Ctx) IdleTimeout(d time.Duration) { c.idle = d }

// Timeout is the message HandleInfo receives when an IdleTimeout expires.
type Timeout struct{}

// idleTimer is the message behind IdleTimeout; seq tells the current
// timer's message from a stale one.
type idleTimer struct{ seq uint64 }

// SendAfter sends msg to the server itself after d; it arrives in
// HandleInfo. The timer dies with the server.
func (c *Ctx) SendAfter(msg any, d time.Duration) (pid.Ref, error) {
	return c.p.SendAfter(c.p.Self(), msg, d)
}

// SendInterval sends msg to the server itself every d until cancelled or
// the server exits.
func (c *Ctx) SendInterval(msg any, d time.Duration) (pid.Ref, error) {
	return c.p.SendInterval(c.p.Self(), msg, d)
}

// CancelTimer stops a timer set by SendAfter or SendInterval and reports
// whether it was pending. A cancelled timer never delivers.
func (c *Ctx) CancelTimer(ref pid.Ref) bool { return c.p.CancelTimer(ref) }

// CallCtx is the Ctx of HandleCall, with the means to reply later.
type CallCtx[Rep any] struct {
	*Ctx
	answer  *answer[Rep]
	tracker *deferred[Rep]
}

// From returns a handle to answer this call later, from any goroutine,
// after HandleCall has returned NoReply.
func (c *CallCtx[Rep]) From() From[Rep] {
	if c.answer != nil {
		c.answer.kept = true // a reply may come through it later: see reuse
	}
	return From[Rep]{a: c.answer, tracker: c.tracker}
}

// NoReply is what HandleCall returns to leave the call unanswered for now:
// answer it later through From, or let the caller fail when the server
// exits.
func (c *CallCtx[Rep]) NoReply() (Rep, error) {
	if c.Ctx != nil { // a zero CallCtx answers no call
		c.noReply = true
	}
	var zero Rep
	return zero, nil
}

// From answers a call after HandleCall returned NoReply.
type From[Rep any] struct {
	a       *answer[Rep]
	tracker *deferred[Rep]
}

// Reply answers the call with rep and err, as HandleCall's return would. It
// reports false when the call was already settled: answered before, given up
// by its caller, or failed because the server exited. A reply once the
// server is dead (killed while the call was pending) finds the call failed
// with the exit reason, whichever goroutine replies.
func (f From[Rep]) Reply(rep Rep, err error) bool {
	if f.a == nil {
		return false
	}
	if f.a.remote == nil && f.tracker.closed.Load() {
		// Dead: a caller of this node has the exit reason from the death
		// (see await), whether or not the call was kept.
		return false
	}
	ok := f.a.settle(result[Rep]{rep: rep, err: err})
	f.tracker.forget(f.a) // after the settle: see handleCall
	return ok
}

// deferred holds the calls left unanswered by NoReply, to fail them when
// the server exits. Once the server dies (Dying) it is closed: the calls it
// holds then are the ones the death claimed, for Exited to fail.
type deferred[Rep any] struct {
	mu     sync.Mutex
	closed atomic.Bool // set under mu; read without it by handleCall
	calls  map[*answer[Rep]]struct{}
}

// keep holds a, unless the server has died: its death claimed a already,
// as another node's current call, or a caller of this node hears of the
// death itself.
func (d *deferred[Rep]) keep(a *answer[Rep]) {
	d.mu.Lock()
	if !d.closed.Load() {
		if d.calls == nil {
			d.calls = make(map[*answer[Rep]]struct{})
		}
		d.calls[a] = struct{}{}
	}
	d.mu.Unlock()
}

// forget lets go of a, settled by now. Once closed, the calls held are the
// death's to fail, and stay.
func (d *deferred[Rep]) forget(a *answer[Rep]) {
	d.mu.Lock()
	if !d.closed.Load() {
		delete(d.calls, a)
	}
	d.mu.Unlock()
}

// close runs as the server dies: it closes the set, then claims the
// answer of the call being handled (current returns it, or nil) and every
// deferred one still open, and keeps the claimed ones for failAll. From
// then on a reply, from the server's code or any other goroutine, finds
// its call settled.
func (d *deferred[Rep]) close(current func() *answer[Rep]) {
	d.mu.Lock()
	d.closed.Store(true) // before reading the current call: see handleCall
	for a := range d.calls {
		if !a.claim() {
			delete(d.calls, a) // answered, or given up by its caller
		}
	}
	if cur := current(); cur != nil && cur.claim() {
		if d.calls == nil {
			d.calls = make(map[*answer[Rep]]struct{}, 1)
		}
		d.calls[cur] = struct{}{}
	}
	d.mu.Unlock()
}

// failAll fails with reason every call that close claimed.
func (d *deferred[Rep]) failAll(reason error) {
	d.mu.Lock()
	calls := d.calls
	d.calls = nil
	d.mu.Unlock()
	for a := range calls {
		a.deliver(result[Rep]{reason: reason})
	}
}

// server runs a Behaviour as a process.Handler.
type server[Req, Rep, Msg any] struct {
	impl     Behaviour[Req, Rep, Msg]
	ctx      Ctx
	callCtx  CallCtx[Rep]
	startup  atomic.Pointer[startup] // nil once Start has returned
	current  atomic.Pointer[call[Req, Rep]]
	spare    atomic.Pointer[call[Req, Rep]] // a call its caller is done with, for the next caller: see reuse
	deferred deferred[Rep]
	opts     *serverOpts // nil without WithOnExit and WithVia; fixed before the server runs
}

// serverOpts holds what a server keeps of the options few servers use.
type serverOpts struct {
	onExit func(reason error) // the user's WithOnExit
	via    viaName            // the name in a Registrar, for WithVia; no Registrar without it
}

// startup is how Init's outcome reaches Start. It lives only while Start
// waits, so an idle server keeps none of it.
type startup struct {
	// done is signalled once when Init has succeeded and once when the
	// server has exited, each after setting its flag below.
	done     chan struct{}
	started  atomic.Bool // Init succeeded
	exited   atomic.Bool // the server exited, with reason
	ignored  atomic.Bool // Init returned Ignore
	reason   error
	viaOwner *pid.Pid // the owner of the via name when registering failed
}

func newStartup() *startup { return &startup{done: make(chan struct{}, 2)} }

// failure returns why the start failed, or nil when Init succeeded (the
// server may have exited since). Call it after receiving from done.
func (st *startup) failure(name string) error {
	switch {
	case st.started.Load():
		return nil
	case st.ignored.Load(): // a signal without started is the exit's
		return ErrIgnored
	case st.viaOwner != nil:
		return &AlreadyStartedError{Name: name, Pid: *st.viaOwner}
	}
	return &StartError{Reason: st.reason}
}

// viaName is a server's name in a Registrar.
type viaName struct {
	r    Registrar
	name string
	held atomic.Bool // the name was registered to this server
}

// viaName returns the server's name in a Registrar, or nil.
func (s *server[Req, Rep, Msg]) viaName() *viaName {
	if s.opts == nil || s.opts.via.r == nil {
		return nil
	}
	return &s.opts.via
}

// newServer makes the server of impl; a server whose start waits for its
// Init gets the state that start shares with Init.
func newServer[Req, Rep, Msg any](impl Behaviour[Req, Rep, Msg], parent *process.Process, waited bool) *server[Req, Rep, Msg] {
	s := &server[Req, Rep, Msg]{impl: impl}
	if waited {
		s.startup.Store(newStartup())
	}
	s.ctx.parent = parent
	s.callCtx = CallCtx[Rep]{Ctx: &s.ctx, tracker: &s.deferred}
	return s
}

// Dying runs as the server's process dies, under its lock, before anything
// can see it dead: the calls the server still owes (another node's call
// being handled and the deferred ones) are claimed, so that a reply its
// code makes after the kill finds them taken; Exited fails them with the
// exit reason. The closing also tells handleCall and From.Reply to drop a
// reply to a caller of this node, which hears of the death itself.
func (s *server[Req, Rep, Msg]) Dying(error) {
	s.deferred.close(func() *answer[Rep] {
		if c := s.current.Load(); c != nil {
			return &c.answer
		}
		return nil
	})
}

// Exited runs once the server's process has exited: every call it still
// owed an answer fails with the exit reason. The Registrar and the user's
// WithOnExit are code outside the runtime: a panic in either is contained
// and logged, and the rest still happens.
func (s *server[Req, Rep, Msg]) Exited(cp *core.Proc, reason error) {
	log := cp.Node().Logger()
	if v := s.viaName(); v != nil && v.held.Load() {
		core.Contain(log, "Registrar.UnregisterName", cp.Pid(), func() { v.r.UnregisterName(v.name) })
	}
	s.deferred.failAll(reason)
	s.dropSpare()
	if st := s.startup.Load(); st != nil {
		st.reason = reason
		st.exited.Store(true)
		st.done <- struct{}{}
	}
	if s.opts != nil && s.opts.onExit != nil {
		core.Contain(log, "WithOnExit", cp.Pid(), func() { s.opts.onExit(reason) })
	}
}

// Init runs the behaviour's Init on the server's backend.
func (s *server[Req, Rep, Msg]) Init(cp *core.Proc) (reason error) {
	p := (*process.Process)(cp)
	s.ctx.p = p
	returned := false
	defer func() {
		if v := recover(); v != nil {
			reason = crash(v)
			s.report("init crashed", reason)
		} else if !returned {
			reason = process.Goexit // the goroutine is ending: the process exits with Goexit
		}
		if parent := s.ctx.parent; reason != nil && parent != nil && !parent.TrapsExits() && !process.IsNormal(reason) {
			link.Unlink(p, parent.Self()) // a failed start returns an error; it does not kill the caller
		}
	}()
	reason = s.init(p)
	returned = true
	return reason
}

// init is Init's work; Init handles how it ends.
func (s *server[Req, Rep, Msg]) init(p *process.Process) (reason error) {
	st := s.startup.Load()
	if st == nil {
		return process.Killed // Start gave up on this server and killed it
	}
	if v := s.viaName(); v != nil {
		if !v.r.RegisterName(v.name, p.Self()) {
			owner, _ := v.r.WhereIsName(v.name)
			if owner.IsZero() {
				owner = p.Self() // taken, then freed again: still a failed start
			}
			st.viaOwner = &owner
			return process.Normal
		}
		v.held.Store(true)
	}
	if in, ok := s.impl.(Initializer); ok {
		if err := in.Init(&s.ctx); err != nil {
			if errors.Is(err, Ignore) {
				st.ignored.Store(true)
				return process.Normal
			}
			s.report("init failed", err)
			return err
		}
	}
	st.started.Store(true)
	st.done <- struct{}{}
	return s.afterInit()
}

// afterInit runs what Init asked for once the start has succeeded: a
// continuation, a stop or an idle timeout. A panic now is a callback crash.
func (s *server[Req, Rep, Msg]) afterInit() (reason error) {
	defer func() {
		if v := recover(); v != nil {
			reason = s.terminate(crash(v))
		}
	}()
	return s.after()
}

// after finishes a callback: it runs continuations, then stops the server
// or arms the idle timeout it asked for.
func (s *server[Req, Rep, Msg]) after() error {
	for f := s.ctx.cont; f != nil && !s.ctx.stopped; f = s.ctx.cont {
		s.ctx.cont = nil
		f(&s.ctx)
	}
	s.ctx.cont = nil
	if s.ctx.stopped {
		return s.terminate(s.ctx.rare.reason)
	}
	if d := s.ctx.idle; d > 0 {
		s.ctx.idle = 0
		r := s.ctx.more()
		r.idleSeq++
		ref, err := s.ctx.p.SendAfter(s.ctx.Self(), idleTimer{seq: r.idleSeq}, d)
		if err == nil {
			r.idleRef = ref.ID()
		}
	}
	return nil
}

// HandleMessage dispatches one message to the behaviour.
func (s *server[Req, Rep, Msg]) HandleMessage(cp *core.Proc, msg any) error {
	p := (*process.Process)(cp)
	if s.ctx.p == nil {
		s.ctx.p = p // a server started idle had no Init to set it
	}
	s.ctx.idle = 0
	r := s.ctx.rare
	if t, ok := msg.(idleTimer); ok {
		if r == nil || t.seq != r.idleSeq || r.idleRef == 0 {
			return nil // cancelled after it was sent
		}
		r.idleRef = 0
		s.info(Timeout{})
		return s.after()
	}
	if r != nil && r.idleRef != 0 { // any other message cancels the idle timeout
		p.CancelTimer(pid.NewRef(p.Self().Node(), r.idleRef))
		r.idleRef = 0
		r.idleSeq++ // and makes a timer message already queued stale
	}
	switch m := msg.(type) {
	case *call[Req, Rep]:
		s.handleCall(p, m)
	case cast[Msg]:
		s.impl.HandleCast(&s.ctx, m.msg)
	case *core.IncomingCall:
		req, _ := typed[Req](m.Req) // AcceptRemote checked it
		c := &call[Req, Rep]{req: req}
		c.remote = m.Answer
		s.handleCall(p, c)
	case core.CastMsg:
		msg, _ := typed[Msg](m.Msg)
		s.impl.HandleCast(&s.ctx, msg)
	case core.StopMsg:
		s.ctx.Stop(m.Reason)
	case *stateReq:
		s.reportState(m) // see observe.go
	case link.Exit:
		if m.From == s.ctx.Parent() {
			// The parent exited, or for a server started by Start, the
			// program told it to exit (Node.Exit): a trapping server stops.
			s.ctx.Stop(m.Reason)
			break
		}
		s.info(msg) // the message as it came: no second boxing
	default:
		s.info(msg)
	}
	return s.after()
}

func (s *server[Req, Rep, Msg]) handleCall(p *process.Process, c *call[Req, Rep]) {
	// A call from another node is stored as current before the death is
	// looked for, and the death (deferred.close) closes before it reads
	// the current call: so either the death claims this call, or this call
	// sees the death. A caller of this node needs neither: it watches the
	// server's death itself while it waits (see await), and a reply the
	// server makes once it is dead is dropped here.
	remote := c.remote != nil
	if remote {
		s.current.Store(c)
	}
	if s.deferred.closed.Load() { // killed between taking the call and now
		c.Undelivered(context.Cause(p.Context()))
		s.letGo(remote)
		return
	}
	cc := &s.callCtx
	cc.answer, s.ctx.noReply = &c.answer, false
	rep, err := s.impl.HandleCall(cc, c.req)
	cc.answer = nil
	switch {
	case s.ctx.noReply:
		// Kept, then let go if From.Reply settled it meanwhile (Reply
		// settles before it forgets): an answered call is never held.
		s.deferred.keep(&c.answer)
		if c.settled.Load() {
			s.deferred.forget(&c.answer)
		}
		s.letGo(remote)
	case !remote && s.deferred.closed.Load():
		// Killed while HandleCall ran: the caller has the exit reason
		// from the death, and gets no reply of the dead server's code.
	case !remote && !c.kept: // a caller here, likely to call again soon
		(*core.Proc)(p).AnsweredCall()
		c.answerLocal(result[Rep]{rep: rep, err: err})
	case c.claim():
		// Claimed, so a death from now on leaves the call alone; no
		// longer current before the caller can see the answer.
		s.letGo(remote)
		c.deliver(result[Rep]{rep: rep, err: err})
	default: // the death claimed it, or its caller gave up
		s.letGo(remote)
	}
}

// letGo clears the current call, which only a call from another node is.
func (s *server[Req, Rep, Msg]) letGo(remote bool) {
	if remote {
		s.current.Store(nil)
	}
}

func (s *server[Req, Rep, Msg]) info(msg any) {
	if c, ok := msg.(anyCall); ok { // a call for a server of other types
		c.Undelivered(fmt.Errorf("%w: %s reached %s, %s", ErrWrongServer, c.describe(), s.ctx.Self(), s.describe()))
		return
	}
	if h, ok := s.impl.(InfoHandler); ok {
		h.HandleInfo(&s.ctx, msg)
		return
	}
	core.LogWarn(s.ctx.Logger(), "genserver: unexpected message dropped",
		zap.Stringer("pid", s.ctx.Self()), zap.String("name", s.ctx.p.Name()),
		zap.String("message", fmt.Sprintf("%T", msg)))
}

// describe names the server's behaviour and types for an error, as in
// "*main.Counter, a GenServer[int, int, string]".
func (s *server[Req, Rep, Msg]) describe() string {
	return fmt.Sprintf("%T, a GenServer[%s, %s, %s]", s.impl, typeName[Req](), typeName[Rep](), typeName[Msg]())
}

// typeName names T for an error.
func typeName[T any]() string { return reflect.TypeFor[T]().String() }

// genServer is what every server is, whatever its types: what a sender
// checks a process for before it stops it.
type genServer interface {
	describe() string
}

// AcceptRemote says whether a call or cast from another node has the
// types this server takes.
func (s *server[Req, Rep, Msg]) AcceptRemote(msg any) error {
	switch m := msg.(type) {
	case *core.IncomingCall:
		if _, ok := typed[Req](m.Req); !ok {
			return fmt.Errorf("%w: the request is a %T, the server takes %s", ErrWrongServer, m.Req, typeName[Req]())
		}
	case core.CastMsg:
		if _, ok := typed[Msg](m.Msg); !ok {
			return fmt.Errorf("%w: the cast is a %T, the server takes %s", ErrWrongServer, m.Msg, typeName[Msg]())
		}
	}
	return nil
}

// terminate runs Terminate, reports an abnormal exit, and returns the reason
// the process exits with.
func (s *server[Req, Rep, Msg]) terminate(reason error) (exit error) {
	exit = reason
	if !s.ctx.p.Alive() {
		return exit // killed while a callback ran: no callback runs after a kill
	}
	if t, ok := s.impl.(Terminator); ok {
		func() {
			defer func() {
				if v := recover(); v != nil {
					exit = crash(v)
				}
			}()
			t.Terminate(&s.ctx, reason)
		}()
	}
	if !process.IsShutdown(exit) {
		s.report("terminated", exit)
	}
	return exit
}

// Crashed runs when a callback that HandleMessage called panicked: it
// turns the panic into the exit reason and runs Terminate with it, as OTP
// does. The runtime calls it from its recover, still on the panicking
// stack, so the reason's stack shows where the callback panicked.
func (s *server[Req, Rep, Msg]) Crashed(v any) error { return s.terminate(crash(v)) }

// crash turns a panic value into the exit reason.
func crash(v any) error {
	return &process.PanicError{Value: v, Stack: debug.Stack()}
}

// report logs a crash report. A logger (or a hook of it) that panics
// loses the report and nothing else: the crash it reports goes on as it
// would.
func (s *server[Req, Rep, Msg]) report(what string, reason error) {
	if !core.LogEnabled(s.ctx.Logger(), zapcore.ErrorLevel) {
		return // nobody reads it: do not build it
	}
	fields := []zap.Field{zap.Stringer("pid", s.ctx.Self()), zap.String("name", s.ctx.p.Name()),
		zap.String("behaviour", s.Describe()), zap.NamedError("reason", reason)}
	var pe *process.PanicError
	if errors.As(reason, &pe) {
		fields = append(fields, zap.ByteString("stack", pe.Stack))
	}
	core.LogError(s.ctx.Logger(), "genserver "+what, fields...)
}
