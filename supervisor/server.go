package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// child is one child as the supervisor tracks it.
type child struct {
	spec       ChildSpec
	pid        pid.Pid // zero when not running
	restarting bool    // a restart failed and will be tried again
	history            // restarts and the last exit: observe.go
}

func (c *child) status() ChildStatus {
	switch {
	case !c.pid.IsZero():
		return Running
	case c.restarting:
		return Restarting
	}
	return NotRunning
}

// server is the supervisor's genserver behaviour.
type server struct {
	spec     Spec
	dynamic  bool
	max      int                                          // dynamic: the most children at once; 0 means no limit
	template func(arg any, seq uint64) (ChildSpec, error) // dynamic: the spec of the seq-th child, started with arg
	seq      uint64                                       // dynamic: how many StartChild calls reached the template
	children []*child
	byPid    map[pid.Pid]*child // the running children by Pid, once there are more than scanChildren
	restarts []restartsIn       // restarts in the intensity window, oldest first
	inWindow int                // their total
	log      *zap.Logger
	ownClock bool // spec.Clock was given, not the default: restarts read it
	self     pid.Pid
	note     linkNote        // what the last start function linked
	startCtx context.Context // the context start functions get; it carries note
	reports                  // what it publishes for observers: observe.go
}

// newServer makes the server of spec, with its defaults.
func newServer(spec Spec) *server {
	return &server{spec: spec.withDefaults(), ownClock: spec.Clock != nil}
}

// scanChildren is how many children a supervisor finds by a scan of its
// children before it keeps them in a map by Pid: for a few children a scan
// is cheaper than the map's upkeep on every restart.
const scanChildren = 8

// childOf returns the running child whose process is p.
func (s *server) childOf(p pid.Pid) (*child, bool) {
	if s.byPid != nil {
		c, ok := s.byPid[p]
		return c, ok
	}
	if p.IsZero() {
		return nil, false
	}
	for _, c := range s.children {
		if c.pid == p {
			return c, true
		}
	}
	return nil, false
}

// add appends c to the children; past scanChildren, the running children
// are indexed by Pid from then on.
func (s *server) add(c *child) {
	s.children = append(s.children, c)
	if s.byPid != nil || len(s.children) <= scanChildren {
		return // start has indexed c, if it needed to
	}
	s.byPid = make(map[pid.Pid]*child, len(s.children))
	for _, c := range s.children {
		if !c.pid.IsZero() {
			s.byPid[c.pid] = c
		}
	}
}

// forget clears c's process, which has exited or been detached.
func (s *server) forget(c *child) {
	if s.byPid != nil {
		delete(s.byPid, c.pid)
	}
	c.pid = pid.Pid{}
}

// request is a call to the supervisor.
type request interface {
	handle(s *server, ctx *genserver.Ctx) (any, error)
}

// retry asks the supervisor to try a failed restart again.
type retry struct{ c *child }

// Init traps exits and starts the static children in order; if one fails,
// the ones started are terminated in reverse order and the start fails.
func (s *server) Init(ctx *genserver.Ctx) error {
	ctx.Process().TrapExit(true)
	s.log = ctx.Logger().With(zap.Stringer("supervisor", ctx.Self()))
	if name := ctx.Process().Name(); name != "" {
		s.log = s.log.With(zap.String("name", name))
	}
	s.self = ctx.Self()
	s.initReports(ctx)
	if s.spec.Init != nil {
		if err := s.spec.Init(ctx.Context(), ctx.Process()); err != nil {
			if errors.Is(err, ErrIgnore) {
				return genserver.Ignore // Start returns ErrIgnore
			}
			return err
		}
	}
	for _, spec := range s.spec.Children {
		c := &child{spec: spec.withDefaults()}
		ignored, err := s.start(ctx, c)
		if err != nil {
			s.terminateAll(ctx)
			return &StartChildError{ID: c.spec.ID, Reason: err}
		}
		if ignored && c.spec.Restart == Temporary {
			continue
		}
		s.add(c)
	}
	return nil
}

// start runs c's start function and records the child. ignored reports a
// start function that asked to start nothing.
func (s *server) start(ctx *genserver.Ctx, c *child) (ignored bool, err error) {
	p, err := s.callStart(ctx, c)
	switch {
	case errors.Is(err, ErrIgnore) || errors.Is(err, genserver.ErrIgnored):
		return true, nil
	case err != nil:
		if ce := s.log.Check(zapcore.ErrorLevel, "child failed to start"); ce != nil {
			ce.Write(reasonFields(zap.String("id", c.spec.ID), err)...)
		}
		s.startFailed(c, err)
		return false, err
	case p.IsZero():
		return false, process.ErrZeroPid
	case p == ctx.Self():
		// The supervisor would wait for itself to stop.
		return false, &SpecError{ID: c.spec.ID, Reason: "the start function returned the supervisor's own pid"}
	}
	if other, ok := s.childOf(p); ok && other != c {
		// One process cannot be two children: the first exit would be
		// taken for the other's, and a stop would wait for it twice.
		return false, &SpecError{ID: c.spec.ID, Reason: fmt.Sprintf("the start function returned %v, the pid of child %q", p, other.spec.ID)}
	}
	// A start function is meant to link; make sure, so an exit is never
	// missed, unless one of this package's start functions says it did.
	if p.Node() != ctx.Self().Node() || s.note.serial.Load() != p.Serial() {
		if err := link.Link(ctx.Process(), p); err != nil {
			if errors.Is(err, process.ErrCallerExited) {
				// The supervisor was killed while the start function ran:
				// the child it cannot link to must not outlive it.
				ctx.Node().Exit(p, process.Kill)
			}
			return false, err
		}
	}
	c.pid, c.restarting = p, false
	if s.byPid != nil {
		s.byPid[p] = c
	}
	if ce := s.log.Check(zapcore.DebugLevel, "child started"); ce != nil {
		ce.Write(zap.String("id", c.spec.ID), zap.Stringer("pid", p))
	}
	s.started(c)
	return false, nil
}

// callStart runs a start function, turning a panic into an error. The
// function gets a context that carries the supervisor's linkNote, cleared
// first.
func (s *server) callStart(ctx *genserver.Ctx, c *child) (p pid.Pid, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &process.PanicError{Value: v}
		}
	}()
	if s.startCtx == nil {
		s.note.sup = ctx.Process()
		s.startCtx = context.WithValue(ctx.Context(), linkNoteKey{}, &s.note)
	}
	s.note.serial.Store(0)
	return c.spec.Start(s.startCtx, ctx.Process())
}

// linkNote lets this package's start functions tell the supervisor that
// the child they started is linked to it already, which saves a second
// Link per start. It travels in the context a StartFunc gets; the serial is
// atomic so that a start function that hands its context to another
// goroutine is no data race.
type linkNote struct {
	sup    *process.Process // the supervisor whose start function runs
	serial atomic.Uint64    // the serial of the child, on sup's node, a start function linked to sup
}

// linkNoteKey is the context key of the linkNote.
type linkNoteKey struct{}

// noteLinked records in ctx's linkNote, if any, that p was started linked
// to sup. A child linked to some other process is not recorded, so the
// supervisor still links to it.
func noteLinked(ctx context.Context, sup *process.Process, p pid.Pid) {
	if n, ok := ctx.Value(linkNoteKey{}).(*linkNote); ok && n.sup == sup && p.Node() == sup.Self().Node() {
		n.serial.Store(p.Serial())
	}
}

// HandleCall answers a request of the API; an error it answers with
// travels as an *answerError, so the caller tells it from a failed call.
func (s *server) HandleCall(ctx *genserver.CallCtx[any], req request) (any, error) {
	v, err := req.handle(s, ctx.Ctx)
	if err != nil {
		return v, &answerError{err: err}
	}
	return v, nil
}

func (s *server) HandleCast(*genserver.Ctx, genserver.Never) {}

// HandleInfo reacts to the exits of children and to restart retries.
func (s *server) HandleInfo(ctx *genserver.Ctx, msg any) {
	switch m := msg.(type) {
	case link.Exit:
		if c, ok := s.childOf(m.From); ok {
			s.exited(ctx, c, m.Reason)
		}
	case retry:
		if slices.Contains(s.children, m.c) && m.c.restarting {
			s.restart(ctx, m.c, time.Time{})
		}
	}
}

// Terminate stops every child: static ones in reverse start order, dynamic
// ones all at once.
func (s *server) Terminate(ctx *genserver.Ctx, reason error) {
	s.terminateAll(ctx)
	s.gaveUp(reason)
}

// exited handles the exit of child c with reason.
func (s *server) exited(ctx *genserver.Ctx, c *child, reason error) {
	old := c.pid
	now := time.Now() // when c exited: its last exit, and the restart's time
	s.forget(c)
	if s.log.Core().Enabled(zapcore.ErrorLevel) && !process.IsShutdown(reason) {
		if ce := s.log.Check(zapcore.ErrorLevel, "child terminated"); ce != nil {
			ce.Write(reasonFields(zap.String("id", c.spec.ID), reason, zap.Stringer("pid", old))...)
		}
	}
	s.terminatedAt(c, old, reason, now)
	if !restarts(c.spec.Restart, reason) {
		if c.spec.Restart == Temporary || s.dynamic {
			s.remove(c)
		}
		if c.spec.Significant && s.autoShutdown() {
			if ce := s.log.Check(zapcore.InfoLevel, "significant child ended; shutting down"); ce != nil {
				ce.Write(zap.String("id", c.spec.ID), zap.Stringer("pid", old), zap.Stringer("auto_shutdown", s.spec.AutoShutdown))
			}
			ctx.Stop(process.Shutdown)
		}
		return
	}
	s.restart(ctx, c, now)
}

// autoShutdown reports whether the end of a significant child, just
// recorded, stops the supervisor: always under AnySignificant; under
// AllSignificant once no significant child is running or due for a restart
// (for a dynamic supervisor, whose children are all significant: once it
// has none).
func (s *server) autoShutdown() bool {
	switch s.spec.AutoShutdown {
	case AnySignificant:
		return true
	case AllSignificant:
		if s.dynamic {
			return len(s.children) == 0
		}
		for _, c := range s.children {
			if c.spec.Significant && (!c.pid.IsZero() || c.restarting) {
				return false
			}
		}
		return true
	}
	return false
}

// restarts reports whether a child of type r is restarted after reason.
func restarts(r Restart, reason error) bool {
	switch r {
	case Permanent:
		return true
	case Transient:
		return !process.IsShutdown(reason)
	}
	return false
}

// restart counts a restart against the intensity and restarts c (and the
// siblings its strategy takes along), or gives up when the intensity is
// exceeded. now is the time just read, or zero.
func (s *server) restart(ctx *genserver.Ctx, c *child, now time.Time) {
	if !s.addRestart(s.clock(now)) {
		if ce := s.log.Check(zapcore.ErrorLevel, "reached max restart intensity; shutting down"); ce != nil {
			ce.Write(zap.Int("intensity", s.spec.Intensity), zap.Duration("period", s.spec.Period))
		}
		s.intensityReached()
		ctx.Stop(process.Shutdown)
		return
	}
	s.cause = c // start reports the restarts it makes now
	defer func() { s.cause = nil }()
	var group []*child
	switch {
	case s.dynamic || s.spec.Strategy == OneForOne:
		group = []*child{c}
	case s.spec.Strategy == OneForAll:
		group = slices.Clone(s.children)
	case s.spec.Strategy == RestForOne:
		group = slices.Clone(s.children[slices.Index(s.children, c):])
	}
	// Stop the others in reverse order; temporary ones are not restarted.
	for i := len(group) - 1; i >= 0; i-- {
		if g := group[i]; g != c {
			s.terminate(ctx, g)
			if g.spec.Restart == Temporary {
				s.remove(g)
			}
		}
	}
	for i, g := range group {
		if g.spec.Restart == Temporary && g != c || !slices.Contains(s.children, g) || !g.pid.IsZero() {
			continue
		}
		ignored, err := s.start(ctx, g)
		if err != nil {
			// Try again later; the attempt counts against the intensity.
			for _, rest := range group[i:] {
				rest.restarting = rest.pid.IsZero()
			}
			ctx.Process().Send(ctx.Self(), retry{c: g})
			return
		}
		if ignored && s.dynamic {
			s.remove(g)
		}
		if ce := s.log.Check(zapcore.InfoLevel, "child restarted"); ce != nil {
			ce.Write(zap.String("id", g.spec.ID), zap.Stringer("pid", g.pid))
		}
	}
}

// addRestart records a restart now and reports whether the intensity
// still allows it: at most Intensity restarts with Now <= Then + Period, in
// whole seconds. Restarts are counted per second, oldest first, so the
// window holds at most Period+1 entries whatever the restart rate.
func (s *server) addRestart(at time.Time) bool {
	now := wholeSeconds(at)
	period := int64(s.spec.Period / time.Second)
	expired := 0
	for expired < len(s.restarts) && now > s.restarts[expired].second+period {
		s.inWindow -= s.restarts[expired].count
		expired++
	}
	s.restarts = s.restarts[expired:]
	if k := len(s.restarts); k > 0 && s.restarts[k-1].second == now {
		s.restarts[k-1].count++
	} else {
		s.restarts = append(s.restarts, restartsIn{second: now, count: 1})
	}
	s.inWindow++
	return s.inWindow <= s.spec.Intensity
}

// restartsIn counts the restarts made in one whole second.
type restartsIn struct {
	second int64
	count  int
}

// clock returns the time of the supervisor's clock: s.spec.Clock's when
// one was given, and otherwise the default clock's, from now, a reading of
// time.Now just made, when it is not zero, so that a restart reads the
// time once.
func (s *server) clock(now time.Time) time.Time {
	switch {
	case s.ownClock:
		return s.spec.Clock()
	case now.IsZero():
		return monotonicNow()
	}
	return startWall.Add(now.Sub(startMono))
}

// wholeSeconds is t in whole seconds: Unix seconds, so that an injected
// clock's second boundaries are its own.
func wholeSeconds(t time.Time) int64 { return t.Unix() }

// monotonicNow is the default clock: the wall time at start plus the
// monotonic time elapsed since, so that wall clock jumps do not move the
// intensity window.
func monotonicNow() time.Time { return startWall.Add(time.Since(startMono)) }

var (
	startMono = time.Now()
	startWall = startMono.Round(0) // the same instant without its monotonic reading
)

func (s *server) remove(c *child) {
	if i := slices.Index(s.children, c); i >= 0 {
		s.children = slices.Delete(s.children, i, i+1)
	}
}

func (s *server) find(id string) *child {
	for _, c := range s.children {
		if c.spec.ID == id {
			return c
		}
	}
	return nil
}

// terminateAll stops every child.
func (s *server) terminateAll(ctx *genserver.Ctx) {
	if s.dynamic {
		var wg sync.WaitGroup
		for _, c := range s.children {
			p := s.detach(c)
			if p.IsZero() {
				continue
			}
			wg.Go(func() { s.publishTerminated(c, p, shutdown(ctx, p, c.spec.Shutdown)) })
		}
		wg.Wait()
		return
	}
	for i := len(s.children) - 1; i >= 0; i-- {
		s.terminate(ctx, s.children[i])
	}
}

// terminate stops child c as its Shutdown says and waits until it is dead.
func (s *server) terminate(ctx *genserver.Ctx, c *child) {
	if p := s.detach(c); !p.IsZero() {
		s.terminated(c, p, shutdown(ctx, p, c.spec.Shutdown))
	}
}

// detach forgets c's process, so its exit is no longer news: the Exit
// message its death sends over the link finds no child and is dropped.
// The link stays until the child is dead, so that a supervisor killed at
// any point of a shutdown still takes its child with it: an unlink first,
// as OTP does, leaves a child with no link when the supervisor dies
// between the unlink and the exit signal.
func (s *server) detach(c *child) pid.Pid {
	p := c.pid
	c.restarting = false
	if p.IsZero() {
		return p
	}
	s.forget(c)
	return p
}

// shutdown stops the process p: an exit signal Shutdown and a wait of how
// long (Infinity: for ever), then a kill; or a kill at once for BrutalKill.
// A supervisor that dies meanwhile stops waiting: its death reaches p over
// their link. It returns the reason p exited with, or the supervisor's own
// when it died first.
func shutdown(ctx *genserver.Ctx, p pid.Pid, how Shutdown) error {
	down := make(chan error, 1)
	ref, err := link.Watch(ctx.Node(), p, func(d link.Down) { down <- d.Reason })
	if err != nil {
		return err
	}
	self := ctx.Process()
	dead := self.Context().Done()
	var reason error
	wait := func(timeout <-chan time.Time) bool {
		select {
		case reason = <-down:
			return true
		case <-dead:
			link.Unwatch(ctx.Node(), p, ref)
			reason = context.Cause(self.Context())
			return true
		case <-timeout:
			return false
		}
	}
	if how == BrutalKill {
		self.Exit(p, process.Kill)
		wait(nil)
		return reason
	}
	self.Exit(p, process.Shutdown)
	if how == Infinity {
		wait(nil)
		return reason
	}
	t := time.NewTimer(time.Duration(how))
	defer t.Stop()
	if !wait(t.C) {
		self.Exit(p, process.Kill)
		wait(nil)
	}
	return reason
}
