package cluster

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/spawned-go/spawned/cluster/internal/wire"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/supervisor"
)

// Errors of remote spawn; test with errors.Is.
var (
	// ErrUnknownFactory: the node has no factory of that name: nothing
	// runs on a node from outside unless it registered the factory.
	ErrUnknownFactory = errors.New("cluster: unknown factory")
	// ErrFactoryArgument: the factory takes an argument of another type.
	ErrFactoryArgument = errors.New("cluster: wrong factory argument type")
	// ErrFactoryRegistered: a factory of that name is registered already.
	ErrFactoryRegistered = errors.New("cluster: factory already registered")
	// ErrSpawnAbandoned is the exit reason a linked process spawned for
	// another node gets when the spawning side gave up waiting for it
	// (its context ended) before the answer came back.
	ErrSpawnAbandoned = errors.New("cluster: spawn abandoned by the requester")
)

func init() {
	for name, err := range map[string]error{
		"spawned.cluster.ErrUnknownFactory":    ErrUnknownFactory,
		"spawned.cluster.ErrFactoryArgument":   ErrFactoryArgument,
		"spawned.cluster.ErrSpawnAbandoned":    ErrSpawnAbandoned,
		"spawned.cluster.ErrNotLocal":          ErrNotLocal,
		"spawned.cluster.ErrNamesUnavailable":  ErrNamesUnavailable,
		"spawned.cluster.ErrFactoryRegistered": ErrFactoryRegistered,
	} {
		if e := wire.RegisterError(name, err); e != nil {
			panic(e)
		}
	}
}

// DefaultSpawnTimeout bounds a remote spawn whose context has no
// deadline.
const DefaultSpawnTimeout = 30 * time.Second

// factory is a registered way to start a process from an argument.
type factory struct {
	arg    reflect.Type
	server bool // the first answer comes before Init, the final one after
	// start starts the process with the spawn options (a remote or local
	// parent, an Announce) and returns it.
	start func(ctx context.Context, arg any, opt process.SpawnOption) (pid.Pid, error)
}

// spawnTable holds a node's factories and the spawns it waits for.
type spawnTable struct {
	c         *Cluster
	mu        sync.Mutex
	factories map[string]*factory
	pending   map[uint64]*spawnWait
}

// spawnWait is a remote spawn this node waits for.
type spawnWait struct {
	node      pid.NodeID
	parent    pid.Pid
	link      bool
	ref       pid.Ref
	child     pid.Pid // once announced
	abandoned bool
	done      chan sysSpawnRep
}

func (t *spawnTable) init(c *Cluster) {
	t.c = c
	t.factories = map[string]*factory{}
	t.pending = map[uint64]*spawnWait{}
}

func (t *spawnTable) register(name string, f *factory) error {
	if name == "" {
		return fmt.Errorf("cluster: register factory: empty name")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.factories[name]; ok {
		return fmt.Errorf("%w: %q", ErrFactoryRegistered, name)
	}
	t.factories[name] = f
	return nil
}

func (t *spawnTable) factory(name string) *factory {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.factories[name]
}

// spawnOpts says what the spawning process holds on the new one.
type spawnOpts struct {
	parent  *process.Process
	link    bool
	monitor bool
}

// spawn starts a process from the factory name on node with arg, and
// returns it and, for a monitor, the monitor's Ref. On this node it is a
// local spawn from the node's own factory.
func (t *spawnTable) spawn(ctx context.Context, node pid.NodeID, name string, arg any, o spawnOpts) (pid.Pid, pid.Ref, error) {
	c := t.c
	op := fmt.Sprintf("spawn %q on node %s", name, node)
	switch {
	case ctx == nil:
		return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: %s: %w", op, process.ErrNilContext)
	case (o.link || o.monitor) && o.parent == nil:
		return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: %s: %w", op, process.ErrNilProcess)
	case node.IsZero():
		return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: %s: %w", op, process.ErrZeroPid)
	case o.parent != nil && !o.parent.Alive():
		return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: %s: %w", op, process.ErrCallerExited)
	case c.leaving.Load():
		return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: %s: %w", op, ErrLeft)
	}
	if node == c.self {
		return t.spawnHere(ctx, name, arg, o)
	}
	p, s, err := (*remote)(c).reach(node)
	if err != nil {
		return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: %s: %w", op, err)
	}
	w := &spawnWait{node: node, link: o.link, done: make(chan sysSpawnRep, 1)}
	req := sysSpawnReq{ID: c.core.MakeRef().ID(), Factory: name, Arg: arg, Link: o.link, Monitor: o.monitor}
	if o.parent != nil {
		w.parent, req.Parent = o.parent.Self(), o.parent.Self()
	}
	if o.monitor {
		w.ref = c.core.MakeRef()
		req.Ref = w.ref
	}
	req.Timeout = DefaultSpawnTimeout
	if d, ok := ctx.Deadline(); ok {
		req.Timeout = time.Until(d)
	}
	e := c.encoder(node)
	e.AppendFrame(&wire.Frame{Kind: wire.KSys, Cluster: c.tag, Session: s, Value: req})
	if err := e.Err(); err != nil {
		c.release(e)
		return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: %s: the argument cannot cross: %w", op, err)
	}
	t.mu.Lock()
	t.pending[req.ID] = w
	t.mu.Unlock()
	// A cut that began before the wait was recorded may have missed it.
	if st, now := p.load(); st != stUp || now != s {
		c.release(e)
		t.forget(req.ID)
		return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: %s: %w", op, &core.UnreachableError{Node: node, Reason: process.NoConnection})
	}
	p.inflight.Add(int64(len(e.B)))
	_ = c.publish(p, e.B)
	c.release(e)
	var done <-chan struct{}
	if o.parent != nil {
		done = o.parent.Context().Done()
	}
	select {
	case rep := <-w.done:
		if rep.Err != nil {
			return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: %s: %w", op, rep.Err)
		}
		return rep.Pid, w.ref, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-done:
		err = process.ErrCallerExited
	}
	t.abandon(req.ID)
	return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: %s: %w", op, err)
}

// forget drops a wait.
func (t *spawnTable) forget(id uint64) {
	t.mu.Lock()
	delete(t.pending, id)
	t.mu.Unlock()
}

// abandon gives up a spawn whose requester stopped waiting: a child
// already adopted is told now, one announced later is told then.
func (t *spawnTable) abandon(id uint64) {
	t.mu.Lock()
	w := t.pending[id]
	if w == nil {
		t.mu.Unlock()
		return
	}
	w.abandoned = true
	child := w.child
	t.mu.Unlock()
	if !child.IsZero() {
		t.undo(w, child, ErrSpawnAbandoned)
	}
}

// undo takes back, on the parent's side, the relations of an adopted
// child whose spawn was abandoned: the child's link exits with reason
// first (it dies, or a trapping one is told), then the parent unlinks
// and demonitors.
func (t *spawnTable) undo(w *spawnWait, child pid.Pid, reason error) {
	t.tellChild(w, child, reason)
	q, _ := t.c.core.Local(w.parent)
	if q == nil {
		return
	}
	if w.link {
		_ = link.Unlink((*process.Process)(q), child)
	}
	if !w.ref.IsZero() {
		link.Demonitor((*process.Process)(q), w.ref)
	}
}

// answer handles a spawnRep from p (p.recvMu held): the first answer
// naming the child records the parent's side of its relations before
// anything else of that node is delivered.
func (t *spawnTable) answer(p *peer, rep sysSpawnRep) {
	t.mu.Lock()
	w := t.pending[rep.ID]
	if w == nil || w.node != p.id {
		t.mu.Unlock()
		return
	}
	if rep.Final {
		delete(t.pending, rep.ID)
	}
	announce := w.child.IsZero() && !rep.Pid.IsZero() && rep.Pid.Node() == p.id
	if announce {
		w.child = rep.Pid
	}
	abandoned := w.abandoned
	t.mu.Unlock()
	if announce && (w.link || !w.ref.IsZero()) {
		switch {
		case abandoned:
			t.tellChild(w, rep.Pid, ErrSpawnAbandoned)
		default:
			if dead := t.c.core.AdoptRemote(w.parent, rep.Pid, w.link, w.ref); dead != nil {
				t.tellChild(w, rep.Pid, dead)
			}
		}
	}
	if rep.Final && !abandoned {
		w.done <- rep
	}
}

// tellChild tells the child's node that the parent holds no relation to
// it: its link exits with reason, its monitor goes.
func (t *spawnTable) tellChild(w *spawnWait, child pid.Pid, reason error) {
	r := (*remote)(t.c)
	if w.link {
		_ = r.Signal(core.Signal{Kind: core.SigLinkExit, From: w.parent, To: child, Reason: reason})
	}
	if !w.ref.IsZero() {
		_ = r.Signal(core.Signal{Kind: core.SigDemonitor, From: w.parent, To: child, Ref: w.ref})
	}
}

// nodeLost fails the spawns waiting for a lost node.
func (t *spawnTable) nodeLost(id pid.NodeID) {
	t.mu.Lock()
	var failed []*spawnWait
	for rid, w := range t.pending {
		if w.node == id {
			delete(t.pending, rid)
			if !w.abandoned {
				failed = append(failed, w)
			}
		}
	}
	t.mu.Unlock()
	for _, w := range failed {
		w.done <- sysSpawnRep{Final: true, Err: &core.UnreachableError{Node: id, Reason: process.NoConnection}}
	}
}

// serve handles a spawnReq from p (p.recvMu held): only a factory this
// node registered starts anything.
func (t *spawnTable) serve(p *peer, session uint64, req sysSpawnReq) {
	c := t.c
	reply := func(rep sysSpawnRep) {
		rep.ID = req.ID
		if st, s := p.load(); st == stUp && s == session {
			c.sendSys(p, session, rep)
		}
	}
	f := t.factory(req.Factory)
	if f == nil {
		reply(sysSpawnRep{Final: true, Err: fmt.Errorf("%w %q on node %s", ErrUnknownFactory, req.Factory, c.cfg.Name)})
		return
	}
	if !f.accepts(req.Arg) {
		reply(sysSpawnRep{Final: true, Err: fmt.Errorf("%w: factory %q takes %v, not %T", ErrFactoryArgument, req.Factory, f.arg, req.Arg)})
		return
	}
	if (req.Link || req.Monitor) && (req.Parent.IsZero() || req.Parent.Node() != p.id) {
		reply(sysSpawnRep{Final: true, Err: fmt.Errorf("cluster: spawn %q: %w: a parent not of the asking node", req.Factory, core.ErrBadSpec)})
		return
	}
	opt := func(s *core.Spec) {
		if req.Link || req.Monitor {
			s.RemoteParent, s.Link, s.Monitor, s.MonitorRef = req.Parent, req.Link, req.Monitor, req.Ref
		}
		s.Announce = func(child pid.Pid) error {
			if st, s := p.load(); st != stUp || s != session {
				return &core.UnreachableError{Node: p.id, Reason: process.NoConnection}
			}
			c.sendSys(p, session, sysSpawnRep{ID: req.ID, Pid: child, Final: !f.server})
			return nil
		}
	}
	timeout := req.Timeout
	if timeout <= 0 || timeout > DefaultSpawnTimeout {
		timeout = DefaultSpawnTimeout
	}
	if !f.server {
		if _, err := f.start(context.Background(), req.Arg, opt); err != nil {
			reply(sysSpawnRep{Final: true, Err: err})
		}
		return
	}
	// A server's Init may take its time: not on the inbox's goroutine.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		child, err := f.start(ctx, req.Arg, opt)
		reply(sysSpawnRep{Pid: child, Final: true, Err: err})
	}()
}

// accepts reports whether arg is of the factory's argument type.
func (f *factory) accepts(arg any) bool {
	if arg == nil {
		switch f.arg.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Map:
			return true
		}
		return false
	}
	return reflect.TypeOf(arg).AssignableTo(f.arg)
}

// argOf converts arg to A.
func argOf[A any](arg any) A {
	a, _ := arg.(A)
	return a
}

// spawnHere starts a process of this node's own factory, with the same
// relations, as a local spawn.
func (t *spawnTable) spawnHere(ctx context.Context, name string, arg any, o spawnOpts) (pid.Pid, pid.Ref, error) {
	f := t.factory(name)
	if f == nil {
		return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: spawn: %w %q on node %s", ErrUnknownFactory, name, t.c.cfg.Name)
	}
	if !f.accepts(arg) {
		return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: spawn: %w: factory %q takes %v, not %T", ErrFactoryArgument, name, f.arg, arg)
	}
	var ref pid.Ref
	if o.monitor {
		ref = t.c.core.MakeRef()
	}
	child, err := f.start(ctx, arg, func(s *core.Spec) {
		if o.link || o.monitor {
			s.Parent, s.Link, s.Monitor, s.MonitorRef = (*core.Proc)(o.parent), o.link, o.monitor, ref
		}
	})
	if err != nil {
		return pid.Pid{}, pid.Ref{}, fmt.Errorf("cluster: spawn %q: %w", name, err)
	}
	return child, ref, nil
}

// Factory names a way to start a process from an argument of type A. A
// node that runs such processes registers the factory (Register); any
// node spawns from it on that node (Spawn, SpawnLink, SpawnMonitor). A is
// sent across, so it must be registered with Register (or be built in).
// Declare a Factory once, in a package both sides import:
//
//	var Worker = cluster.NewFactory[Job]("billing.worker")
type Factory[A any] struct{ name string }

// NewFactory returns the Factory of that name.
func NewFactory[A any](name string) Factory[A] { return Factory[A]{name: name} }

// Name returns the factory's name.
func (f Factory[A]) Name() string { return f.name }

// Register makes the factory available on c's node: fn becomes the body of
// every process spawned from it here.
func (f Factory[A]) Register(c *Cluster, fn func(p *process.Process, arg A) error) error {
	switch {
	case c == nil:
		return fmt.Errorf("cluster: register factory %q: nil cluster", f.name)
	case fn == nil:
		return fmt.Errorf("cluster: register factory %q: %w", f.name, process.ErrNilFunc)
	}
	node := c.core
	return c.spawns.register(f.name, &factory{
		arg: reflect.TypeFor[A](),
		start: func(_ context.Context, arg any, opt process.SpawnOption) (pid.Pid, error) {
			a := argOf[A](arg)
			s := core.Spec{Func: func(p *core.Proc) error { return fn((*process.Process)(p), a) }}
			opt(&s)
			q, _, err := node.Spawn(s)
			if err != nil {
				return pid.Pid{}, err
			}
			return q.Pid(), nil
		},
	})
}

// Spawn starts a process from the factory on node with arg, and returns
// it: an unknown factory (ErrUnknownFactory), a wrong argument type, or a
// node that cannot be reached (process.NoConnection) is an error, and no
// Pid. ctx bounds the wait for the answer.
func (f Factory[A]) Spawn(ctx context.Context, c *Cluster, node pid.NodeID, arg A) (pid.Pid, error) {
	if c == nil {
		return pid.Pid{}, errNilCluster
	}
	p, _, err := c.spawns.spawn(ctx, node, f.name, arg, spawnOpts{})
	return p, err
}

// SpawnLink is Spawn with the new process linked to parent, atomically: the
// link exists on both nodes before the new process can exit, so parent
// cannot miss its exit (LNK-13).
func (f Factory[A]) SpawnLink(ctx context.Context, parent *process.Process, c *Cluster, node pid.NodeID, arg A) (pid.Pid, error) {
	if c == nil {
		return pid.Pid{}, errNilCluster
	}
	p, _, err := c.spawns.spawn(ctx, node, f.name, arg, spawnOpts{parent: parent, link: true})
	return p, err
}

// SpawnMonitor is Spawn with parent monitoring the new process,
// atomically (MON-12): the Down of a process that exits at once arrives.
func (f Factory[A]) SpawnMonitor(ctx context.Context, parent *process.Process, c *Cluster, node pid.NodeID, arg A) (pid.Pid, pid.Ref, error) {
	if c == nil {
		return pid.Pid{}, pid.Ref{}, errNilCluster
	}
	return c.spawns.spawn(ctx, node, f.name, arg, spawnOpts{parent: parent, monitor: true})
}

// ChildOn returns a supervisor StartFunc that starts the child from the
// factory on the node where returns at each start (or restart), linked to
// the supervisor: a supervisor places children on other nodes.
func (f Factory[A]) ChildOn(c *Cluster, where func() (pid.NodeID, error), arg A) supervisor.StartFunc {
	return func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		if where == nil {
			return pid.Pid{}, errors.New("cluster: child on: nil node choice")
		}
		node, err := where()
		if err != nil {
			return pid.Pid{}, err
		}
		return f.SpawnLink(ctx, sup, c, node, arg)
	}
}

// ServerFactory names a way to start a GenServer from an argument of type
// A, as Factory does for plain processes. Its spawns return once the
// server's Init is done, as genserver.Start does.
type ServerFactory[A, Req, Rep, Msg any] struct{ name string }

// NewServerFactory returns the ServerFactory of that name.
func NewServerFactory[A, Req, Rep, Msg any](name string) ServerFactory[A, Req, Rep, Msg] {
	return ServerFactory[A, Req, Rep, Msg]{name: name}
}

// Name returns the factory's name.
func (f ServerFactory[A, Req, Rep, Msg]) Name() string { return f.name }

// Register makes the factory available on c's node: each start calls fn
// for the server's behaviour and starts it with opts (genserver.WithVia
// with the cluster's Names gives it a global name).
func (f ServerFactory[A, Req, Rep, Msg]) Register(c *Cluster, fn func(arg A) (genserver.Behaviour[Req, Rep, Msg], error), opts ...genserver.Option) error {
	switch {
	case c == nil:
		return fmt.Errorf("cluster: register server factory %q: nil cluster", f.name)
	case fn == nil:
		return fmt.Errorf("cluster: register server factory %q: %w", f.name, process.ErrNilFunc)
	}
	node := c.node
	return c.spawns.register(f.name, &factory{
		arg:    reflect.TypeFor[A](),
		server: true,
		start: func(ctx context.Context, arg any, opt process.SpawnOption) (pid.Pid, error) {
			b, err := fn(argOf[A](arg))
			if err != nil {
				return pid.Pid{}, err
			}
			all := append(append([]genserver.Option(nil), opts...), genserver.WithProcessOptions(opt))
			ref, err := genserver.Start(ctx, node, b, all...)
			return ref.Pid(), err
		},
	})
}

// Start starts a server from the factory on node and returns a Ref to it
// once its Init is done. Errors as Factory.Spawn, and the start's own
// (*genserver.StartError, *genserver.AlreadyStartedError).
func (f ServerFactory[A, Req, Rep, Msg]) Start(ctx context.Context, c *Cluster, node pid.NodeID, arg A) (genserver.Ref[Req, Rep, Msg], error) {
	return f.start(ctx, c, node, arg, spawnOpts{})
}

// StartLink is Start with the server linked to parent from its first
// moment. Unlike a local genserver.StartLink, the exit of a server whose
// Init failed reaches the parent over the link (a parent that does not
// trap exits dies of it): start remote servers from trapping processes,
// as supervisors are, or monitored.
func (f ServerFactory[A, Req, Rep, Msg]) StartLink(ctx context.Context, parent *process.Process, c *Cluster, node pid.NodeID, arg A) (genserver.Ref[Req, Rep, Msg], error) {
	return f.start(ctx, c, node, arg, spawnOpts{parent: parent, link: true})
}

// StartMonitor is Start with parent monitoring the server from its first
// moment; it returns the monitor's Ref too.
func (f ServerFactory[A, Req, Rep, Msg]) StartMonitor(ctx context.Context, parent *process.Process, c *Cluster, node pid.NodeID, arg A) (genserver.Ref[Req, Rep, Msg], pid.Ref, error) {
	if c == nil {
		return genserver.Ref[Req, Rep, Msg]{}, pid.Ref{}, errNilCluster
	}
	p, ref, err := c.spawns.spawn(ctx, node, f.name, arg, spawnOpts{parent: parent, monitor: true})
	if err != nil {
		return genserver.Ref[Req, Rep, Msg]{}, pid.Ref{}, err
	}
	return genserver.At[Req, Rep, Msg](c.node, p), ref, nil
}

func (f ServerFactory[A, Req, Rep, Msg]) start(ctx context.Context, c *Cluster, node pid.NodeID, arg A, o spawnOpts) (genserver.Ref[Req, Rep, Msg], error) {
	if c == nil {
		return genserver.Ref[Req, Rep, Msg]{}, errNilCluster
	}
	p, _, err := c.spawns.spawn(ctx, node, f.name, arg, o)
	if err != nil {
		return genserver.Ref[Req, Rep, Msg]{}, err
	}
	return genserver.At[Req, Rep, Msg](c.node, p), nil
}

// ChildOn returns a supervisor StartFunc that starts the server from the
// factory on the node where returns at each start (or restart), linked to
// the supervisor.
func (f ServerFactory[A, Req, Rep, Msg]) ChildOn(c *Cluster, where func() (pid.NodeID, error), arg A) supervisor.StartFunc {
	return func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		if where == nil {
			return pid.Pid{}, errors.New("cluster: child on: nil node choice")
		}
		node, err := where()
		if err != nil {
			return pid.Pid{}, err
		}
		ref, err := f.StartLink(ctx, sup, c, node, arg)
		return ref.Pid(), err
	}
}

// errNilCluster is returned for a nil *Cluster.
var errNilCluster = errors.New("cluster: nil Cluster")
