package genserver

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
)

// DefaultCallTimeout bounds a call or stop whose context has no deadline
// (OTP's default of 5 s). WithoutTimeout lifts it.
const DefaultCallTimeout = 5 * time.Second

// unboundedKey marks a context made by WithoutTimeout.
type unboundedKey struct{}

// WithoutTimeout returns a copy of ctx under which a Call, Stop or GetState
// without a deadline waits as long as it takes, instead of giving up after
// DefaultCallTimeout: OTP's infinity. It applies as well to what is built on
// them, such as a supervisor's calls and Stop. The wait still ends when ctx
// is cancelled or its deadline (if it has one) passes, and when the server
// exits. A nil ctx gives nil, which those calls refuse with
// process.ErrNilContext.
func WithoutTimeout(ctx context.Context) context.Context {
	if ctx == nil {
		return nil
	}
	return context.WithValue(ctx, unboundedKey{}, true)
}

// bounded reports whether a wait under ctx is bounded by DefaultCallTimeout:
// ctx has no deadline of its own and was not made by WithoutTimeout.
func bounded(ctx context.Context) bool {
	if _, ok := ctx.Deadline(); ok {
		return false
	}
	return ctx.Value(unboundedKey{}) == nil
}

// Behaviour is what a server type implements. Req is the call request type,
// Rep the reply type and Msg the cast type; Go infers all three from the
// methods, so Start(ctx, node, &Counter{}) needs no type arguments.
type Behaviour[Req, Rep, Msg any] interface {
	// HandleCall answers a call: the reply and an error that is given to
	// the caller (the server carries on). See CallCtx for deferred replies
	// and stopping.
	HandleCall(ctx *CallCtx[Rep], req Req) (Rep, error)
	// HandleCast handles a cast. There is no one to answer.
	HandleCast(ctx *Ctx, msg Msg)
}

// Initializer is the optional Init callback: it runs on the server's
// backend before any message. Return nil to run, Ignore to start nothing, or
// an error to fail the start with that reason.
type Initializer interface {
	Init(ctx *Ctx) error
}

// InfoHandler is the optional callback for every message that is not a
// call or cast: link.Exit and link.Down, timer messages, plain sends.
type InfoHandler interface {
	HandleInfo(ctx *Ctx, msg any)
}

// Terminator is the optional callback run when the server stops by
// ctx.Stop, a callback panic, Stop, or its parent's exit while it traps
// exits. It does not run when the server is killed or dies of an exit
// signal it does not trap.
type Terminator interface {
	Terminate(ctx *Ctx, reason error)
}

// Never is the request or cast type of a server that takes none. A Never
// value can be written (Never{}), but it carries nothing and a server that
// embeds NoCalls or NoCasts ignores it.
type Never struct{ _ [0]func() }

// NoCalls, embedded in a server type, provides a HandleCall for a server
// that answers no calls.
type NoCalls struct{}

// HandleCall answers a Never request with nothing.
func (NoCalls) HandleCall(*CallCtx[Never], Never) (Never, error) { return Never{}, nil }

// NoCasts, embedded in a server type, provides a HandleCast for a server
// that takes no casts.
type NoCasts struct{}

// HandleCast ignores a Never cast.
func (NoCasts) HandleCast(*Ctx, Never) {}

// Option configures Start.
type Option func(*options)

type options struct {
	onExit  func(reason error)
	limit   int
	name    string
	via     Registrar
	backend process.Backend
	timeout time.Duration
	spawn   []process.SpawnOption
	direct  bool
}

// collect applies opts. Options are applied to memory of their own, taken
// from a pool and cleared again (an Option only sets fields: none keeps the
// pointer), so a start does not allocate for its options.
func collect(opts []Option) options {
	if len(opts) == 0 {
		return options{}
	}
	o := optionsPool.Get().(*options)
	for _, opt := range opts {
		if opt != nil { // a nil option sets nothing
			opt(o)
		}
	}
	out := *o
	*o = options{}
	optionsPool.Put(o)
	return out
}

// optionsPool holds cleared options for collect.
var optionsPool = sync.Pool{New: func() any { return new(options) }}

// withSpawnOptions returns spec with the process options applied, on a
// copy of its own, so that the spec of a start without them stays off the
// heap.
func withSpawnOptions(spec core.Spec, opts []process.SpawnOption) core.Spec {
	s := new(core.Spec)
	*s = spec
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	return *s
}

// Registrar is a name service other than the node's registry: OTP's
// {via, Module, Name}. Its methods must be safe for concurrent use. They
// should be quick: a local registrar answers at once; a cluster-wide one
// (package cluster's global names) may wait briefly on the network in
// RegisterName, bounded by a timeout of its own, and answers WhereIsName
// from a local cache.
type Registrar interface {
	// RegisterName gives name to p and reports false when it is taken (or
	// cannot be registered now).
	RegisterName(name string, p pid.Pid) bool
	// UnregisterName removes name.
	UnregisterName(name string)
	// WhereIsName returns the process registered as name.
	WhereIsName(name string) (pid.Pid, bool)
}

// ContextRegistrar is a Registrar whose lookups may wait for the network
// (a cluster's global names, when a name is missing from its cache): a
// Call by name looks the name up within the call's context, so that the
// call returns by its deadline.
type ContextRegistrar interface {
	Registrar
	// WhereIsNameContext is WhereIsName, waiting at most until ctx is done.
	WhereIsNameContext(ctx context.Context, name string) (pid.Pid, bool)
}

// WithVia registers the server as name in r instead of the node's registry.
// The server registers itself before Init runs and is unregistered when it
// exits, before anyone can observe the exit. A taken name fails the start
// with an *AlreadyStartedError.
func WithVia(r Registrar, name string) Option {
	return func(o *options) { o.via, o.name = r, name }
}

// WithName registers the server under name as it starts, before Init runs,
// so calls by name queue up behind Init. A taken name fails the start with
// an *AlreadyStartedError and leaves no second process.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithProcessOptions applies opts to the spec of the server's process,
// after Start's own settings: for packages that start servers in ways of
// their own, as package cluster's remote spawn does. Options that name or
// link the process (process.WithName, process.WithLink) conflict with
// Start's and must not be given here.
func WithProcessOptions(opts ...process.SpawnOption) Option {
	return func(o *options) { o.spawn = append(o.spawn, opts...) }
}

// WithBackend runs the server on b (default process.Async).
func WithBackend(b process.Backend) Option { return func(o *options) { o.backend = b } }

// WithOnExit calls fn once with the server's exit reason when it exits
// (see process.OnExit): a watch that exists from the server's first moment,
// so even a server that stops at once cannot be missed. fn must not block.
// A panic in fn is contained and logged.
func WithOnExit(fn func(reason error)) Option { return func(o *options) { o.onExit = fn } }

// WithMailboxLimit bounds the server's mailbox (see
// process.WithMailboxLimit): a Cast to a full server fails with
// process.ErrMailboxFull, and a Call waits for room within its deadline.
func WithMailboxLimit(n int) Option { return func(o *options) { o.limit = n } }

// WithDirectCalls lets a Call made while the server is idle, with nothing
// queued, run HandleCall on the caller's goroutine instead of handing the
// request to the server's: the round trip then costs no goroutine switch.
// Everything else is as for any call: one message at a time (the call
// holds the server's turn, and messages sent meanwhile queue behind it),
// the server's identity in its callbacks, a panic ending the server and
// failing the call with its reason, Continue, Stop and NoReply. A call
// that finds the server busy, or messages queued, goes through the mailbox
// as usual.
//
// It is for servers whose callbacks never block: the caller's goroutine
// is busy with the callback until it returns, so the call's deadline, and
// a kill of the server, reach that caller only once HandleCall returns,
// and runtime.Goexit in HandleCall ends the caller's goroutine too. It
// needs the Async backend: with another, Start fails with
// process.ErrInvalidBackend.
func WithDirectCalls() Option { return func(o *options) { o.direct = true } }

// WithStartTimeout bounds Init: a server still in Init after d is killed
// and Start fails with ErrTimeout. By default only the context bounds it.
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Start starts a server on node and returns once its Init has finished.
// A server without Init (and without WithVia) has nothing to wait for:
// Start returns as soon as it exists, and it takes no goroutine until its
// first message. The server has no parent process: the program itself is
// its parent, so a server that traps exits stops (running Terminate) on an
// exit signal sent from outside any process with Node.Exit.
//
// Start fails with ErrIgnored when Init returned Ignore; with a *StartError
// when Init failed, panicked or ran out of time (the server is then killed)
// or when ctx was done before the start (nothing is started); and with an
// *AlreadyStartedError when the name is taken. A failed start leaves no
// process and no name behind. A nil ctx fails at once with a *StartError
// wrapping process.ErrNilContext.
func Start[Req, Rep, Msg any](ctx context.Context, node *process.Node, s Behaviour[Req, Rep, Msg], opts ...Option) (Ref[Req, Rep, Msg], error) {
	if node == nil {
		return Ref[Req, Rep, Msg]{}, process.ErrNilNode
	}
	return start(ctx, node, nil, s, opts)
}

// StartLink is Start with the server linked to parent from its first
// moment. If Init fails, the server unlinks from a parent that does not
// trap exits before it exits, so the parent gets the error but is not
// killed; a trapping parent also receives the link.Exit. When parent exits,
// a server that traps exits runs Terminate and stops with parent's reason.
func StartLink[Req, Rep, Msg any](ctx context.Context, parent *process.Process, s Behaviour[Req, Rep, Msg], opts ...Option) (Ref[Req, Rep, Msg], error) {
	if parent == nil {
		return Ref[Req, Rep, Msg]{}, process.ErrNilProcess
	}
	return start(ctx, parent.Node(), parent, s, opts)
}

func start[Req, Rep, Msg any](ctx context.Context, node *process.Node, parent *process.Process, impl Behaviour[Req, Rep, Msg], opts []Option) (Ref[Req, Rep, Msg], error) {
	var zero Ref[Req, Rep, Msg]
	if v := reflect.ValueOf(impl); impl == nil || v.Kind() == reflect.Pointer && v.IsNil() {
		return zero, ErrNilServer
	}
	if ctx == nil {
		return zero, &StartError{Reason: process.ErrNilContext}
	}
	o := collect(opts)
	if o.via != nil && o.name == "" {
		return zero, registry.ErrEmptyName
	}
	if o.direct && o.backend != process.Async {
		return zero, fmt.Errorf("genserver: WithDirectCalls on the %s backend: %w", o.backend, process.ErrInvalidBackend)
	}
	if ctx.Err() != nil { // given up already: start nothing
		return zero, &StartError{Reason: ctxError(ctx)}
	}
	// A server with no Init and no name to register elsewhere has nothing
	// to do before its first message: it starts idle, and Start returns
	// without waiting for it.
	_, initializer := impl.(Initializer)
	trivial := !initializer && o.via == nil
	s := newServer(impl, parent, !trivial)
	s.ctx.direct = o.direct
	if o.via != nil || o.onExit != nil {
		s.opts = &serverOpts{onExit: o.onExit}
		if o.via != nil {
			s.opts.via.r, s.opts.via.name = o.via, o.name
		}
	}
	spec := core.Spec{Handler: s, Backend: core.Backend(o.backend), MailboxLimit: o.limit, SkipInit: trivial}
	if o.via == nil {
		spec.Name = o.name
	}
	if parent != nil {
		spec.Parent, spec.Link = (*core.Proc)(parent), true
	}
	if len(o.spawn) > 0 {
		spec = withSpawnOptions(spec, o.spawn)
	}
	cp, _, err := (*core.Node)(node).Spawn(spec)
	if err != nil {
		var taken *registry.NameTakenError
		if errors.As(err, &taken) {
			return zero, &AlreadyStartedError{Name: taken.Name, Pid: taken.Owner}
		}
		return zero, err
	}
	p := cp.Pid()
	ref := Ref[Req, Rep, Msg]{node: node, pid: p, name: o.name, via: o.via}
	if trivial {
		return ref, nil
	}
	st := s.startup.Load()
	defer s.startup.Store(nil) // an idle server keeps none of the start's state

	core.Yield() // as in Call: let Init run before blocking
	select {
	case <-st.done:
		if err := st.failure(o.name); err != nil {
			return zero, err
		}
		return ref, nil
	default:
	}
	var deadline <-chan time.Time
	if o.timeout > 0 {
		t := time.NewTimer(o.timeout)
		defer t.Stop()
		deadline = t.C
	}
	var failure error
	select {
	case <-st.done:
		if err := st.failure(o.name); err != nil {
			return zero, err
		}
		return ref, nil
	case <-ctx.Done():
		failure = ctxError(ctx)
	case <-deadline:
		failure = ErrTimeout
	}
	// Init is taking too long: kill the half-started server, without
	// letting the kill reach the parent over the link.
	if parent != nil {
		link.Unlink(parent, p)
	}
	node.Exit(p, process.Kill)
	for !st.exited.Load() {
		<-st.done
	}
	return zero, &StartError{Reason: failure}
}

// Ref is a typed handle on a server, by Pid or by registered name, on this
// node or another one. Copy it freely; the zero Ref names no server.
type Ref[Req, Rep, Msg any] struct {
	node *process.Node
	pid  pid.Pid
	name string
	via  Registrar
	at   pid.NodeID // the node a name is registered on, when it is another node
}

// Named returns a Ref that finds the server registered as name on node at
// every use, so it follows the name across restarts by a supervisor.
func Named[Req, Rep, Msg any](node *process.Node, name string) Ref[Req, Rep, Msg] {
	return Ref[Req, Rep, Msg]{node: node, name: name}
}

// NamedOn returns a Ref to the server registered as name on the node at
// (Erlang's {Name, Node}), reached from node: the name is looked up on at
// by every call, cast and stop. A zero or local at is Named.
func NamedOn[Req, Rep, Msg any](node *process.Node, at pid.NodeID, name string) Ref[Req, Rep, Msg] {
	r := Ref[Req, Rep, Msg]{node: node, name: name}
	if node != nil && at != node.ID() {
		r.at = at
	}
	return r
}

// At returns a Ref to the server running as p on node, for a Pid learned
// elsewhere (from a supervisor's WhichChildren, a message, a registry).
func At[Req, Rep, Msg any](node *process.Node, p pid.Pid) Ref[Req, Rep, Msg] {
	return Ref[Req, Rep, Msg]{node: node, pid: p}
}

// NamedVia returns a Ref that finds the server registered as name in r at
// every use.
func NamedVia[Req, Rep, Msg any](node *process.Node, r Registrar, name string) Ref[Req, Rep, Msg] {
	return Ref[Req, Rep, Msg]{node: node, name: name, via: r}
}

// Pid returns the server's Pid, or the zero Pid for a Ref by name.
func (r Ref[Req, Rep, Msg]) Pid() pid.Pid { return r.pid }

// Name returns the name the server was started or looked up under.
func (r Ref[Req, Rep, Msg]) Name() string { return r.name }

// ByName returns a Ref that looks the server up by its name at every use.
// A server started without a name keeps its Pid.
func (r Ref[Req, Rep, Msg]) ByName() Ref[Req, Rep, Msg] {
	if r.name != "" {
		r.pid = pid.Pid{}
	}
	return r
}

// resolve finds the server's Pid for op: the Ref's own, or the name's
// current owner. The common case, a Ref by Pid, is small enough to inline.
func (r *Ref[Req, Rep, Msg]) resolve(op string) (pid.Pid, error) {
	return r.resolveIn(context.Background(), op)
}

// resolveIn is resolve within ctx, which bounds a ContextRegistrar's
// lookup.
func (r *Ref[Req, Rep, Msg]) resolveIn(ctx context.Context, op string) (pid.Pid, error) {
	if r.node != nil && !r.pid.IsZero() {
		return r.pid, nil
	}
	return r.lookup(ctx, op)
}

// lookup is resolve for a Ref by name, or the zero Ref; ctx bounds a
// ContextRegistrar's lookup.
func (r *Ref[Req, Rep, Msg]) lookup(ctx context.Context, op string) (pid.Pid, error) {
	if r.node == nil || r.name == "" {
		return pid.Pid{}, ErrZeroRef
	}
	if !r.at.IsZero() {
		return pid.Pid{}, errRemoteName
	}
	var p pid.Pid
	var ok bool
	if cr, isCtx := r.via.(ContextRegistrar); isCtx {
		if p, ok = cr.WhereIsNameContext(ctx, r.name); !ok && ctx.Err() != nil {
			return pid.Pid{}, &CallError{Op: op, Name: r.name, Reason: ctxError(ctx)}
		}
	} else if r.via != nil {
		p, ok = r.via.WhereIsName(r.name)
	} else {
		p, ok = registry.Of(r.node).WhereIs(r.name)
	}
	if ok {
		return p, nil
	}
	return pid.Pid{}, noProcByName(op, r.name)
}

// fail is the error of a call to server that failed with reason.
func (r Ref[Req, Rep, Msg]) fail(server pid.Pid, reason error) error {
	return r.failOp(OpCall, server, reason)
}

// failOp is the error of op on server that failed with reason.
func (r Ref[Req, Rep, Msg]) failOp(op string, server pid.Pid, reason error) error {
	return &CallError{Op: op, Server: server, Name: r.name, Reason: reason}
}

// wrongServer says what the Ref expected and what target, the process q,
// runs instead.
func (r Ref[Req, Rep, Msg]) wrongServer(target pid.Pid, q *core.Proc) error {
	runs := "is not a GenServer"
	if s, ok := q.Handler().(genServer); ok {
		runs = "runs " + s.describe()
	}
	return fmt.Errorf("%w: the Ref is for a GenServer[%s, %s, %s], but %s %s",
		ErrWrongServer, typeName[Req](), typeName[Rep](), typeName[Msg](), target, runs)
}

// Call sends req and waits for the reply, from any goroutine. Without a
// deadline on ctx it waits at most DefaultCallTimeout, or without bound
// under WithoutTimeout. The error is the one
// HandleCall returned, or a *CallError when the server did not answer: it
// wraps process.NoProc (dead server or unknown name), the server's exit
// reason (it died first, or was killed while handling the call: once the
// kill has taken effect no reply of the dead server's code gets through),
// ErrTimeout, ErrCallingSelf, ErrWrongServer (at once, for a process of
// this node that is not a server of the Ref's types), ctx's error,
// process.ErrNilContext, or why the call could not be sent
// (process.ErrNodeStopped, process.NoConnection for a Pid of another node).
func (r Ref[Req, Rep, Msg]) Call(ctx context.Context, req Req) (Rep, error) {
	var zero Rep
	if ctx == nil {
		return zero, r.fail(r.pid, process.ErrNilContext)
	}
	target, err := r.resolveIn(ctx, OpCall)
	if err != nil {
		if err == errRemoteName {
			return r.callRemote(ctx, core.Target{Node: r.at, Name: r.name}, req)
		}
		return zero, err
	}
	if target.Node() != r.node.ID() {
		return r.callRemote(ctx, core.Target{Pid: target}, req)
	}
	if callingSelf(ctx, target) {
		return zero, r.fail(target, ErrCallingSelf)
	}
	if o := r.core().CallObserver(); o != nil {
		defer observeCall(o, r.core(), target, time.Now()) // see observe.go
	}
	if ctx.Err() != nil { // already given up: do not bother the server
		if target.Node() == r.node.ID() && !r.node.Alive(target) {
			return zero, r.fail(target, process.NoProc) // a dead server is the better answer
		}
		return zero, r.fail(target, ctxError(ctx))
	}
	// A process of this node is looked at first: one type assertion.
	q, local := (*core.Node)(r.node).Local(target)
	var c *call[Req, Rep]
	var s *server[Req, Rep, Msg]
	if q != nil {
		var ok bool
		if s, ok = q.Handler().(*server[Req, Rep, Msg]); !ok {
			return zero, r.fail(target, r.wrongServer(target, q))
		}
		c = s.newCall(req)
	} else if local {
		return zero, r.fail(target, process.NoProc)
	} else {
		c = &call[Req, Rep]{req: req}
	}
	if s != nil && s.ctx.direct && q.HandleDirect(c) {
		// Handled on this goroutine: the answer is in c, or on its way
		// from the server's death if a kill took effect meanwhile.
	} else if err := r.send(ctx, q, target, c); err != nil {
		return zero, r.fail(target, err)
	} else {
		// Give the server's goroutine, just woken or lingering, the
		// processor before blocking: a quick answer is then waiting when
		// the caller runs again, and neither side pays for a parked wait.
		core.Yield()
	}
	if err := c.await(ctx, q); err != nil {
		return zero, r.fail(target, err)
	}
	rep, err := r.answer(target, c.res)
	if s != nil {
		s.reuse(c)
	}
	return rep, err
}

// await waits for the answer, until ctx is done or, when ctx has no
// deadline and was not made by WithoutTimeout, for DefaultCallTimeout; and
// for a server of this node, server, until it dies. It returns nil once
// the result is in a.res, and otherwise why the caller gave up (the
// server's exit reason when it died first): the call is abandoned then.
// An answer already there costs one load: only a caller that has to wait
// takes a channel to be woken through, and looks at the server's death.
func (a *answer[Rep]) await(ctx context.Context, server *core.Proc) error {
	if a.state.Load() == answerDone {
		return nil
	}
	a.done = doneChans.Get().(chan struct{})
	if !a.state.CompareAndSwap(answerPending, answerWaiting) {
		doneChans.Put(a.done) // answered meanwhile: no signal comes
		return nil
	}
	var timeout <-chan time.Time
	if bounded(ctx) {
		t := timers.Get().(*time.Timer)
		t.Reset(DefaultCallTimeout)
		defer func() { t.Stop(); timers.Put(t) }()
		timeout = t.C
	}
	var life context.Context // the server's: done, with its exit reason, when it dies
	var died <-chan struct{}
	if server != nil {
		life = server.Context()
		died = life.Done()
	}
	var err error
	select {
	case <-a.done:
		doneChans.Put(a.done)
		return nil
	case <-ctx.Done():
		err = ctxError(ctx)
	case <-timeout:
		err = ErrTimeout
	case <-died:
		err = context.Cause(life)
	}
	if !a.abandon() { // the answer came just now: take it
		<-a.done
		doneChans.Put(a.done)
		return nil
	}
	doneChans.Put(a.done) // abandoned: nothing will signal on it
	return err
}

// doneChans recycles the signal channels of callers that wait. A channel
// goes back once its call is settled and its one signal received, or
// abandoned by its caller: either way nothing sends on it again.
var doneChans = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// answer turns a call's result into what Call returns.
func (r Ref[Req, Rep, Msg]) answer(server pid.Pid, res result[Rep]) (Rep, error) {
	if res.reason != nil {
		return res.rep, r.fail(server, res.reason)
	}
	return res.rep, res.err
}

// send queues a call for target, q when Call found it on this node,
// waiting for room in a full bounded mailbox within ctx's deadline or
// DefaultCallTimeout (none under WithoutTimeout).
func (r Ref[Req, Rep, Msg]) send(ctx context.Context, q *core.Proc, target pid.Pid, msg any) error {
	var err error
	if q != nil {
		err = q.Post(msg)
	} else {
		err = r.node.Send(target, msg)
	}
	if err == nil || !errors.Is(err, process.ErrMailboxFull) {
		return err
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if err := r.node.SendWait(ctx, target, msg); err != nil {
		if ctx.Err() != nil {
			return ctxError(ctx)
		}
		return err
	}
	return nil
}

// timers recycles the timers of calls without a deadline.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// Cast sends msg without waiting. A cast to a dead server or an unknown name
// is silently dropped, as in OTP. It fails for a zero Ref; with a *CallError
// wrapping ErrWrongServer, at once, when the process (of this node) is not a
// server of the Ref's types; and, for a server started WithMailboxLimit,
// with process.ErrMailboxFull when its mailbox is full: a bounded server
// never loses a cast silently.
func (r Ref[Req, Rep, Msg]) Cast(msg Msg) error {
	target, err := r.resolve(OpCast)
	if err != nil {
		if err == errRemoteName {
			return r.castRemote(core.Target{Node: r.at, Name: r.name}, msg)
		}
		if errors.Is(err, ErrZeroRef) {
			return err
		}
		return nil // no such name: dropped
	}
	if target.Node() != r.node.ID() {
		return r.castRemote(core.Target{Pid: target}, msg)
	}
	// A process of this node is looked at first: one type assertion.
	if q, local := (*core.Node)(r.node).Local(target); !local {
		err = r.node.Send(target, cast[Msg]{msg: msg}) // a stopped node
	} else if q == nil {
		return nil // a dead server: dropped
	} else if _, ok := q.Handler().(*server[Req, Rep, Msg]); ok {
		err = q.Post(cast[Msg]{msg: msg})
	} else {
		return r.failOp(OpCast, target, r.wrongServer(target, q))
	}
	if err != nil && errors.Is(err, process.ErrMailboxFull) {
		return err
	}
	return nil
}

// CastWait is Cast that waits for room instead of failing: in the full
// mailbox of a server started WithMailboxLimit, or, for a server of
// another node, while that node takes no more for now (the cluster's
// ErrPeerBusy). It waits until ctx is done or, when ctx has no deadline,
// for DefaultCallTimeout (without bound under WithoutTimeout), and then
// fails with a *CallError wrapping ctx's error or ErrTimeout: the cast
// was not sent. Otherwise it is Cast: a cast to a dead server or an
// unknown name is dropped, and it fails at once for a zero Ref, a nil ctx
// (process.ErrNilContext), a ctx already done and a process that is not a
// server of the Ref's types (ErrWrongServer). A server that casts to itself from its callback,
// with the callback's context, does not wait: its mailbox empties only
// once the callback returns, so a full one fails with ErrMailboxFull.
func (r Ref[Req, Rep, Msg]) CastWait(ctx context.Context, msg Msg) error {
	if ctx == nil {
		return r.failOp(OpCast, r.pid, process.ErrNilContext)
	}
	if ctx.Err() != nil { // already given up: send nothing
		return r.failOp(OpCast, r.pid, ctxError(ctx))
	}
	target, err := r.resolveIn(ctx, OpCast)
	switch {
	case err == errRemoteName:
		return r.castRemoteWait(ctx, core.Target{Node: r.at, Name: r.name}, msg)
	case err != nil && (errors.Is(err, ErrZeroRef) || ctx.Err() != nil):
		return err
	case err != nil:
		return nil // no such name: dropped
	case target.Node() != r.node.ID():
		return r.castRemoteWait(ctx, core.Target{Pid: target}, msg)
	case callingSelf(ctx, target):
		return r.Cast(msg)
	}
	q, local := (*core.Node)(r.node).Local(target)
	switch {
	case !local:
		return r.node.Send(target, cast[Msg]{msg: msg}) // a stopped node
	case q == nil:
		return nil // a dead server: dropped
	}
	if _, ok := q.Handler().(*server[Req, Rep, Msg]); !ok {
		return r.failOp(OpCast, target, r.wrongServer(target, q))
	}
	if err := q.Post(cast[Msg]{msg: msg}); !errors.Is(err, process.ErrMailboxFull) {
		return err
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if err := r.node.SendWait(ctx, target, cast[Msg]{msg: msg}); err != nil {
		return r.failOp(OpCast, target, r.waitError(ctx, err))
	}
	return nil
}

// waitError is what a wait for room that failed with err reports: the
// context's end, when that is why.
func (r Ref[Req, Rep, Msg]) waitError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctxError(ctx)
	}
	return err
}

// Stop asks the server to stop with reason (nil means Normal): it runs
// Terminate and exits. The request is the runtime's own, queued like an
// exit signal: a full bounded mailbox never refuses it. Stop waits until
// the server has exited, at most until ctx is done or, without a deadline,
// DefaultCallTimeout (without bound under WithoutTimeout); a server that is
// still terminating then goes on and Stop fails with ErrTimeout. Stopping a dead server fails with
// process.NoProc, a process that is not a GenServer with ErrWrongServer;
// each failure is a *CallError whose Op is OpStop. A nil ctx fails at once
// with process.ErrNilContext.
func (r Ref[Req, Rep, Msg]) Stop(ctx context.Context, reason error) error {
	if ctx == nil {
		return r.failOp(OpStop, r.pid, process.ErrNilContext)
	}
	if reason == nil {
		reason = process.Normal
	}
	var to core.Target
	target, err := r.resolve(OpStop)
	switch {
	case err == errRemoteName:
		to = core.Target{Node: r.at, Name: r.name}
	case err != nil:
		return err
	default:
		to = core.Target{Pid: target}
	}
	if callingSelf(ctx, target) {
		return r.failOp(OpStop, target, ErrCallingSelf)
	}
	// Any server will do: stopping needs no types.
	q, local := (*core.Node)(r.node).Local(target)
	if q != nil {
		if _, ok := q.Handler().(genServer); !ok {
			return r.failOp(OpStop, target, r.wrongServer(target, q))
		}
	}
	n := r.core()
	exited := make(chan error, 1)
	ref, err := n.WatchTarget(to, func(d core.DownMsg) { exited <- d.Reason })
	if err != nil {
		return r.failOp(OpStop, target, err)
	}
	switch {
	case q != nil:
		q.Deliver(core.StopMsg{Reason: reason})
	case !local:
		n.SendSystem(to, core.StopMsg{Reason: reason}) // a process or name of another node
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	select {
	case got := <-exited:
		switch {
		case errors.Is(got, process.NoProc):
			return r.failOp(OpStop, target, process.NoProc)
		case errors.Is(got, reason):
			return nil
		default:
			return r.failOp(OpStop, target, got)
		}
	case <-ctx.Done():
		n.Unwatch(target, ref)
		return r.failOp(OpStop, target, ctxError(ctx))
	}
}

// errRemoteName is what lookup reports for a Ref by name on another node:
// the name is looked up there.
var errRemoteName = errors.New("genserver: a name on another node")

// core returns the node of the Ref as the runtime's own.
func (r Ref[Req, Rep, Msg]) core() *core.Node { return (*core.Node)(r.node) }

// castRemote is Cast for a server of another node. As any cast it cannot
// report delivery: a node that cannot be reached drops it; what it can
// report is a problem on this side (a type with no codec, a payload too
// large, a peer that takes no more for now).
func (r Ref[Req, Rep, Msg]) castRemote(to core.Target, msg Msg) error {
	err := r.core().SendTo(to, core.CastMsg{Msg: msg})
	if errors.Is(err, process.NoConnection) {
		return nil
	}
	return err
}

// castRemoteWait is CastWait for a server of another node: castRemote
// that waits while the peer node is busy.
func (r Ref[Req, Rep, Msg]) castRemoteWait(ctx context.Context, to core.Target, msg Msg) error {
	wctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	err := r.core().SendToWait(wctx, to, core.CastMsg{Msg: msg})
	switch {
	case err == nil || errors.Is(err, process.NoConnection):
		return nil
	case wctx.Err() != nil:
		return r.failOp(OpCast, to.Pid, r.waitError(wctx, err))
	}
	return err
}

// callRemote is Call for a server of another node. The answer comes back
// through c: the reply, the server's exit reason, NoProc for a process or
// name that is not there, or NoConnection when the node is lost, at once
// whatever the timeout.
func (r Ref[Req, Rep, Msg]) callRemote(ctx context.Context, to core.Target, req Req) (Rep, error) {
	var zero Rep
	if ctx.Err() != nil {
		return zero, r.fail(to.Pid, ctxError(ctx))
	}
	c := &call[Req, Rep]{req: req}
	from, _ := ctx.Value(serverKey{}).(pid.Pid)
	n := r.core()
	ref, err := n.CallRemote(from, to, req, c)
	if err != nil {
		return zero, r.fail(to.Pid, err)
	}
	if err := c.await(ctx, nil); err != nil {
		n.ForgetCall(ref)
		return zero, r.fail(to.Pid, err)
	}
	return r.answer(to.Pid, c.res)
}

// callingSelf reports whether ctx is a server's own callback context and
// target is that server.
func callingSelf(ctx context.Context, target pid.Pid) bool {
	self, ok := ctx.Value(serverKey{}).(pid.Pid)
	return ok && self == target
}

// withDefaultTimeout bounds ctx by DefaultCallTimeout unless it has a
// deadline already or was made by WithoutTimeout.
func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if !bounded(ctx) {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, DefaultCallTimeout)
}

// ctxError is the error for a done ctx: a deadline that passed is also an
// ErrTimeout.
func ctxError(ctx context.Context) error {
	err := context.Cause(ctx)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}
