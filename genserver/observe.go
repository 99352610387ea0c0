package genserver

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Describe returns what the server runs, as process.Info.Behaviour,
// events, profiles and the observer show it: the server type's own
// Describe if it has one, its type otherwise ("*main.Counter").
func (s *server[Req, Rep, Msg]) Describe() string {
	if d, ok := s.impl.(process.Describer); ok {
		return d.Describe()
	}
	return reflect.TypeOf(s.impl).String()
}

// TraceString renders a call in a trace.
func (c *call[Req, Rep]) TraceString() string { return "call " + core.Render(c.req) }

// TraceString renders a cast in a trace.
func (c cast[Msg]) TraceString() string { return "cast " + core.Render(c.msg) }

// observeCall reports a call's latency to the node's call observer, by the
// server's behaviour.
func observeCall(o core.CallObserver, n *core.Node, server pid.Pid, start time.Time) {
	if b, ok := n.Behaviour(server); ok {
		o.ObserveCall(b, time.Since(start))
	}
}

// StateReporter may be implemented by a server type to show its state for
// debugging, as OTP's sys:get_state: GetState asks the running server,
// which answers with DebugState between two callbacks. Return a copy, or
// values the caller may read while the server goes on.
type StateReporter interface {
	DebugState() any
}

// ErrNoState is GetState's error for a process that is not a GenServer, or
// a server whose type does not implement StateReporter.
var ErrNoState = errors.New("genserver: the process reports no state")

// GetState asks the server for its state (see StateReporter). The request
// is a system message: it passes a bounded mailbox's limit and is handled
// between two callbacks, in order with the server's other messages, like
// any message it cancels a pending IdleTimeout. Without a deadline on ctx,
// it waits at most DefaultCallTimeout, or without bound under
// WithoutTimeout. A nil ctx fails at once with process.ErrNilContext.
func GetState[Req, Rep, Msg any](ctx context.Context, ref Ref[Req, Rep, Msg]) (any, error) {
	if ctx == nil {
		return nil, ref.fail(ref.pid, process.ErrNilContext)
	}
	target, err := ref.resolve(OpCall)
	if err == errRemoteName || err == nil && target.Node() != ref.node.ID() {
		return nil, ref.fail(target, fmt.Errorf("%w: not on another node", ErrNoState))
	}
	if err != nil {
		return nil, err
	}
	return StateOf(ctx, ref.node, target)
}

// StateOf is GetState for the server running as p on node, whatever its
// types: for tools that know it by its Pid only. A Pid of another node
// fails with ErrNoState, as GetState's Refs to one do.
func StateOf(ctx context.Context, node *process.Node, p pid.Pid) (any, error) {
	if ctx == nil {
		return nil, &CallError{Server: p, Reason: process.ErrNilContext}
	}
	if node == nil {
		return nil, process.ErrNilNode
	}
	n := (*core.Node)(node)
	if p.IsZero() {
		return nil, process.ErrZeroPid
	}
	if p.Node() != n.ID() {
		return nil, &CallError{Server: p, Reason: fmt.Errorf("%w: not on another node", ErrNoState)}
	}
	if callingSelf(ctx, p) {
		return nil, &CallError{Server: p, Reason: ErrCallingSelf}
	}
	h := n.HandlerOf(p)
	if h == nil {
		if !n.Alive(p) {
			return nil, &CallError{Server: p, Reason: process.NoProc}
		}
		return nil, ErrNoState
	}
	if r, ok := h.(interface{ reportsState() bool }); !ok || !r.reportsState() {
		return nil, ErrNoState
	}
	req := &stateReq{done: make(chan stateAnswer, 1)}
	if err := n.SendSystem(core.Target{Pid: p}, req); err != nil {
		return nil, &CallError{Server: p, Reason: err}
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	select {
	case a := <-req.done:
		if a.reason != nil {
			return nil, &CallError{Server: p, Reason: a.reason}
		}
		return a.state, a.err
	case <-ctx.Done():
		return nil, &CallError{Server: p, Reason: ctxError(ctx)}
	}
}

// stateReq is GetState's system message.
type stateReq struct {
	done chan stateAnswer // one slot: the answer never waits
}

type stateAnswer struct {
	state  any
	err    error // DebugState panicked
	reason error // the server exited first
}

// Undelivered fails the request when the server exits first.
func (r *stateReq) Undelivered(reason error) { r.done <- stateAnswer{reason: reason} }

// TraceString renders the request in a trace.
func (*stateReq) TraceString() string { return "get_state" }

// reportsState says whether the server's type implements StateReporter.
func (s *server[Req, Rep, Msg]) reportsState() bool {
	_, ok := s.impl.(StateReporter)
	return ok
}

// reportState answers a GetState from inside the server.
func (s *server[Req, Rep, Msg]) reportState(r *stateReq) {
	sr, ok := s.impl.(StateReporter)
	if !ok {
		r.done <- stateAnswer{err: ErrNoState}
		return
	}
	defer func() {
		if v := recover(); v != nil {
			r.done <- stateAnswer{err: fmt.Errorf("genserver: DebugState panicked: %v", v)}
		}
	}()
	r.done <- stateAnswer{state: sr.DebugState()}
}
