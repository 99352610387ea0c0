package genserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// dcGoid returns the id of the calling goroutine, read from the first line
// of its stack ("goroutine 42 [running]:").
func dcGoid() uint64 {
	var buf [64]byte
	line := bytes.TrimPrefix(buf[:runtime.Stack(buf[:], false)], []byte("goroutine "))
	end := bytes.IndexByte(line, ' ')
	if end < 0 {
		panic(fmt.Sprintf("dcGoid: unexpected stack %q", line))
	}
	id, err := strconv.ParseUint(string(line[:end]), 10, 64)
	if err != nil {
		panic(fmt.Sprintf("dcGoid: %v", err))
	}
	return id
}

// dcReq is a call that runs f in HandleCall. caller is the goroutine that
// made the call (dcCall fills it in), so the server can tell whether it runs
// on the caller's goroutine.
type dcReq struct {
	f      func(ctx *genserver.CallCtx[int]) (int, error)
	caller uint64
}

// dcCast is a cast that runs f in HandleCast.
type dcCast struct{ f func(ctx *genserver.Ctx) }

type dcRef = genserver.Ref[dcReq, int, dcCast]

// dcServer runs the functions its calls and casts carry. It counts the
// calls it handled on their caller's goroutine and the others, and tells
// Terminate's reason on terminated and other messages on infos.
type dcServer struct {
	n          int // state for the functions to use; the server's own
	onCaller   atomic.Int64
	elsewhere  atomic.Int64
	terminated chan error
	infos      chan any
}

func newDCServer() *dcServer {
	return &dcServer{terminated: make(chan error, 1), infos: make(chan any, 16)}
}

func (s *dcServer) HandleCall(ctx *genserver.CallCtx[int], req dcReq) (int, error) {
	if req.caller != 0 && dcGoid() == req.caller {
		s.onCaller.Add(1)
	} else {
		s.elsewhere.Add(1)
	}
	if req.f == nil {
		return s.n, nil
	}
	return req.f(ctx)
}

func (s *dcServer) HandleCast(ctx *genserver.Ctx, msg dcCast) {
	if msg.f != nil {
		msg.f(ctx)
	}
}

func (s *dcServer) Terminate(_ *genserver.Ctx, reason error) { s.terminated <- reason }

func (s *dcServer) HandleInfo(_ *genserver.Ctx, msg any) {
	select {
	case s.infos <- msg:
	default: // a test that wants its infos reads them
	}
}

// dcStart starts s on n, with WithDirectCalls when direct.
func dcStart(t testing.TB, n *process.Node, s *dcServer, direct bool, opts ...genserver.Option) dcRef {
	t.Helper()
	if direct {
		opts = append(opts, genserver.WithDirectCalls())
	}
	ref, err := genserver.Start(spawntest.Context(t), n, s, opts...)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return ref
}

// dcCall calls ref with f from the calling goroutine, which it names in
// the request.
func dcCall(ctx context.Context, ref dcRef, f func(*genserver.CallCtx[int]) (int, error)) (int, error) {
	return ref.Call(ctx, dcReq{f: f, caller: dcGoid()})
}

type dcResult struct {
	rep int
	err error
}

// dcCallAsync calls ref with f from a new goroutine; the result arrives on
// the channel.
func dcCallAsync(ctx context.Context, ref dcRef, f func(*genserver.CallCtx[int]) (int, error)) <-chan dcResult {
	ch := make(chan dcResult, 1)
	go func() {
		rep, err := dcCall(ctx, ref, f)
		ch <- dcResult{rep, err}
	}()
	return ch
}

// dcBlock casts a message that holds the server in HandleCast until release
// is closed, and waits until the server is in it.
func dcBlock(t *testing.T, ref dcRef, release <-chan struct{}) {
	t.Helper()
	entered := make(chan struct{})
	if err := ref.Cast(dcCast{f: func(*genserver.Ctx) {
		close(entered)
		<-release
	}}); err != nil {
		t.Fatalf("cast: %v", err)
	}
	spawntest.Recv(t, entered)
}

// dcWaitQueued waits until k messages are queued for p. The mailbox
// length is the only observable of "sent and still queued", so this polls.
func dcWaitQueued(t *testing.T, n *process.Node, p pid.Pid, k int) {
	t.Helper()
	spawntest.Eventually(t, fmt.Sprintf("%d messages queued at %v", k, p), func() bool {
		info, err := n.Info(p)
		return err == nil && info.MessageQueueLen >= k
	})
}

// dcWantPath fails unless the server handled want calls on their callers'
// goroutines and other calls elsewhere.
func dcWantPath(t *testing.T, s *dcServer, onCaller, elsewhere int64) {
	t.Helper()
	if got, other := s.onCaller.Load(), s.elsewhere.Load(); got != onCaller || other != elsewhere {
		t.Fatalf("calls handled on the caller's goroutine: %d, elsewhere: %d; want %d and %d", got, other, onCaller, elsewhere)
	}
}

// TestDirect_HandlerRunsWhere: with WithDirectCalls a call to an idle
// server runs HandleCall on the caller's goroutine, as the server (its Pid,
// its process); a call to a busy server, or any call without the option,
// runs on another goroutine.
func TestDirect_HandlerRunsWhere(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		direct   bool
		busy     bool
		onCaller bool
	}{
		{"direct/idle", true, false, true},
		{"direct/busy", true, true, false},
		{"mailbox/idle", false, false, false},
		{"mailbox/busy", false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			ref := dcStart(t, n, newDCServer(), tc.direct)

			type seen struct {
				goid          uint64
				self, process pid.Pid
				node          *process.Node
			}
			var in seen
			handler := func(ctx *genserver.CallCtx[int]) (int, error) {
				in = seen{dcGoid(), ctx.Self(), ctx.Process().Self(), ctx.Process().Node()}
				return 1, nil
			}
			var caller uint64
			var res dcResult
			if tc.busy {
				release := make(chan struct{})
				dcBlock(t, ref, release)
				done := make(chan dcResult, 1)
				callerCh := make(chan uint64, 1)
				go func() {
					callerCh <- dcGoid()
					rep, err := dcCall(ctx, ref, handler)
					done <- dcResult{rep, err}
				}()
				caller = spawntest.Recv(t, callerCh)
				dcWaitQueued(t, n, ref.Pid(), 1) // the call is queued behind the cast
				close(release)
				res = spawntest.Recv(t, done)
			} else {
				caller = dcGoid()
				res.rep, res.err = dcCall(ctx, ref, handler)
			}
			if res.err != nil || res.rep != 1 {
				t.Fatalf("call: got (%d, %v), want (1, nil)", res.rep, res.err)
			}
			if got := in.goid == caller; got != tc.onCaller {
				t.Errorf("HandleCall ran on goroutine %d, the caller is %d: on the caller's = %v, want %v", in.goid, caller, got, tc.onCaller)
			}
			if in.self != ref.Pid() || in.process != ref.Pid() || in.node != n {
				t.Errorf("in HandleCall: Self %v, Process %v on node %p; want the server %v on %p", in.self, in.process, in.node, ref.Pid(), n)
			}
		})
	}

	// A call from a process runs on the process's goroutine, as the
	// server, not as the calling process.
	t.Run("direct/from_a_process", func(t *testing.T) {
		t.Parallel()
		n := spawntest.NewNode(t)
		s := newDCServer()
		ref := dcStart(t, n, s, true)
		probe := spawntest.NewProbe(t, n)
		var caller, handlerGoid uint64
		var self pid.Pid
		var err error
		probe.Do(func(p *process.Process) error {
			caller = dcGoid()
			_, err = dcCall(p.Context(), ref, func(ctx *genserver.CallCtx[int]) (int, error) {
				handlerGoid, self = dcGoid(), ctx.Self()
				return 0, nil
			})
			return nil
		})
		if err != nil {
			t.Fatalf("call from a process: %v", err)
		}
		if handlerGoid != caller || self != ref.Pid() {
			t.Errorf("HandleCall on goroutine %d as %v; want the probe's goroutine %d as the server %v", handlerGoid, self, caller, ref.Pid())
		}
		probe.ExpectEmpty() // the reply left nothing in the caller's mailbox
		dcWantPath(t, s, 1, 0)
	})
}

// TestDirect_MailboxOrder: a call never overtakes messages sent before it,
// and messages sent while a direct call runs wait for it.
func TestDirect_MailboxOrder(t *testing.T) {
	t.Parallel()
	for _, direct := range []bool{true, false} {
		name := map[bool]string{true: "direct", false: "mailbox"}[direct]

		// Casts queued while the server is busy, then a call: the call
		// sees every cast handled, in order.
		t.Run(name+"/casts_queued_while_busy", func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			s := newDCServer()
			ref := dcStart(t, n, s, direct)
			var log []int
			release := make(chan struct{})
			dcBlock(t, ref, release)
			const casts = 5
			for i := range casts {
				if err := ref.Cast(dcCast{f: func(*genserver.Ctx) { log = append(log, i) }}); err != nil {
					t.Fatalf("cast %d: %v", i, err)
				}
			}
			res := dcCallAsync(ctx, ref, func(*genserver.CallCtx[int]) (int, error) { return len(log), nil })
			dcWaitQueued(t, n, ref.Pid(), casts+1)
			close(release)
			if r := spawntest.Recv(t, res); r.err != nil || r.rep != casts {
				t.Fatalf("call after %d queued casts: got (%d, %v), want (%d, nil)", casts, r.rep, r.err, casts)
			}
			// And the server, idle again, takes the next call directly.
			var ok bool
			spawntest.Eventually(t, "a call handled on its caller's goroutine", func() bool {
				before := s.onCaller.Load()
				_, err := dcCall(ctx, ref, nil)
				ok = err == nil
				return !ok || s.onCaller.Load() > before || !direct
			})
			if !ok {
				t.Fatal("call to the idle server failed")
			}
			for i, v := range log {
				if v != i {
					t.Fatalf("casts handled in the order %v", log)
				}
			}
		})

		// A cast to an idle server and a call right after it, over and
		// over: the call always sees the cast, whether it finds the server
		// idle again or busy with it.
		t.Run(name+"/cast_then_call", func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			s := newDCServer()
			ref := dcStart(t, n, s, direct)
			rounds := 500
			if testing.Short() {
				rounds = 100
			}
			last := -1
			for i := range rounds {
				if err := ref.Cast(dcCast{f: func(*genserver.Ctx) { last = i }}); err != nil {
					t.Fatalf("cast %d: %v", i, err)
				}
				got, err := dcCall(ctx, ref, func(*genserver.CallCtx[int]) (int, error) { return last, nil })
				if err != nil || got != i {
					t.Fatalf("round %d: the call saw the cast of round %d (err %v)", i, got, err)
				}
			}
			t.Logf("calls on the caller's goroutine: %d, elsewhere: %d", s.onCaller.Load(), s.elsewhere.Load())
		})
	}

	// A cast sent while a direct call runs is handled after the call.
	t.Run("direct/cast_during_a_direct_call", func(t *testing.T) {
		t.Parallel()
		n := spawntest.NewNode(t)
		ctx := spawntest.Context(t)
		s := newDCServer()
		ref := dcStart(t, n, s, true)
		casts := 0
		handled := make(chan struct{})
		got, err := dcCall(ctx, ref, func(*genserver.CallCtx[int]) (int, error) {
			sent := make(chan error)
			go func() {
				sent <- ref.Cast(dcCast{f: func(*genserver.Ctx) { casts++; close(handled) }})
			}()
			if err := <-sent; err != nil {
				return 0, err
			}
			return casts, nil
		})
		if err != nil || got != 0 {
			t.Fatalf("direct call: got (%d, %v); want (0, nil): the cast sent meanwhile must wait", got, err)
		}
		// The cast left queued goes to a worker with nothing more sent.
		spawntest.Recv(t, handled)
		if got, err := dcCall(ctx, ref, func(*genserver.CallCtx[int]) (int, error) { return casts, nil }); err != nil || got != 1 {
			t.Fatalf("next call: got (%d, %v); want (1, nil)", got, err)
		}
		if s.onCaller.Load() == 0 {
			t.Fatal("no call ran on its caller's goroutine")
		}
	})
}

var (
	errDCReply = errors.New("dc: refused")
	errDCStop  = errors.New("dc: stopped")
	errDCBoom  = "dc: boom"
)

// TestDirect_SameResultsAsMailbox runs each scenario with and without
// WithDirectCalls: what the caller, a monitor and Terminate see is the
// same. With the option, the first call of each scenario (to a fresh,
// idle server) runs on its caller's goroutine.
func TestDirect_SameResultsAsMailbox(t *testing.T) {
	t.Parallel()
	type env struct {
		n    *process.Node
		ctx  context.Context
		s    *dcServer
		ref  dcRef
		exit *spawntest.ExitWatch
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, e env)
	}{
		{"reply", func(t *testing.T, e env) {
			got, err := dcCall(e.ctx, e.ref, func(*genserver.CallCtx[int]) (int, error) { return 42, nil })
			if err != nil || got != 42 {
				t.Fatalf("got (%d, %v), want (42, nil)", got, err)
			}
		}},
		{"error", func(t *testing.T, e env) {
			got, err := dcCall(e.ctx, e.ref, func(*genserver.CallCtx[int]) (int, error) { return 3, errDCReply })
			if err != errDCReply || got != 3 {
				t.Fatalf("got (%d, %v), want (3, %v) unchanged", got, err, errDCReply)
			}
			if e.exit.Exited() {
				t.Fatal("the server exited after returning an error")
			}
		}},
		{"panic", func(t *testing.T, e env) {
			_, err := dcCall(e.ctx, e.ref, func(*genserver.CallCtx[int]) (int, error) { panic(errDCBoom) })
			var ce *genserver.CallError
			var pe *process.PanicError
			if !errors.As(err, &ce) || ce.Server != e.ref.Pid() || !errors.As(err, &pe) || pe.Value != errDCBoom {
				t.Fatalf("error = %T %v; want a *CallError naming the server wrapping a *PanicError of %q", err, err, errDCBoom)
			}
			if r := e.exit.Wait(); !errors.As(r, &pe) || pe.Value != errDCBoom {
				t.Fatalf("exit reason %v; want the *PanicError", r)
			}
			if r := spawntest.Recv(t, e.s.terminated); !errors.As(r, &pe) {
				t.Fatalf("Terminate got %v; want the *PanicError", r)
			}
			if e.n.Alive(e.ref.Pid()) {
				t.Fatal("the server lives on")
			}
		}},
		{"stop", func(t *testing.T, e env) {
			got, err := dcCall(e.ctx, e.ref, func(ctx *genserver.CallCtx[int]) (int, error) {
				ctx.Stop(errDCStop)
				return 7, nil
			})
			if err != nil || got != 7 {
				t.Fatalf("got (%d, %v), want the reply (7, nil)", got, err)
			}
			if r := e.exit.Wait(); r != errDCStop {
				t.Fatalf("exit reason %v; want %v", r, errDCStop)
			}
			if r := spawntest.Recv(t, e.s.terminated); r != errDCStop {
				t.Fatalf("Terminate got %v; want %v", r, errDCStop)
			}
		}},
		{"stop_without_reply", func(t *testing.T, e env) {
			_, err := dcCall(e.ctx, e.ref, func(ctx *genserver.CallCtx[int]) (int, error) {
				ctx.Stop(errDCStop)
				return ctx.NoReply()
			})
			var ce *genserver.CallError
			if !errors.As(err, &ce) || !errors.Is(err, errDCStop) {
				t.Fatalf("error = %v; want a *CallError wrapping %v", err, errDCStop)
			}
			if r := e.exit.Wait(); r != errDCStop {
				t.Fatalf("exit reason %v; want %v", r, errDCStop)
			}
			if r := spawntest.Recv(t, e.s.terminated); r != errDCStop {
				t.Fatalf("Terminate got %v; want %v", r, errDCStop)
			}
		}},
		{"kills_itself", func(t *testing.T, e env) {
			got, err := dcCall(e.ctx, e.ref, func(ctx *genserver.CallCtx[int]) (int, error) {
				if err := ctx.Node().Exit(ctx.Self(), process.Kill); err != nil {
					return 0, err
				}
				return 1, nil
			})
			if !errors.Is(err, process.Killed) || got != 0 {
				t.Fatalf("got (%d, %v); want (0, an error wrapping Killed)", got, err)
			}
			if r := e.exit.Wait(); r != process.Killed {
				t.Fatalf("exit reason %v; want Killed", r)
			}
			select {
			case r := <-e.s.terminated:
				t.Fatalf("Terminate ran with %v after a kill", r)
			default:
			}
		}},
		{"panic_in_continue", func(t *testing.T, e env) {
			got, err := dcCall(e.ctx, e.ref, func(ctx *genserver.CallCtx[int]) (int, error) {
				ctx.Continue(func(*genserver.Ctx) { panic(errDCBoom) })
				return 4, nil
			})
			if err != nil || got != 4 {
				t.Fatalf("got (%d, %v); want the reply (4, nil), given before the continuation", got, err)
			}
			var pe *process.PanicError
			if r := e.exit.Wait(); !errors.As(r, &pe) || pe.Value != errDCBoom {
				t.Fatalf("exit reason %v; want the *PanicError", r)
			}
			if r := spawntest.Recv(t, e.s.terminated); !errors.As(r, &pe) {
				t.Fatalf("Terminate got %v; want the *PanicError", r)
			}
		}},
		{"no_reply", func(t *testing.T, e env) {
			froms := make(chan genserver.From[int], 1)
			res := dcCallAsync(e.ctx, e.ref, func(ctx *genserver.CallCtx[int]) (int, error) {
				froms <- ctx.From()
				return ctx.NoReply()
			})
			from := spawntest.Recv(t, froms)
			select {
			case r := <-res:
				t.Fatalf("call returned (%d, %v) before any reply", r.rep, r.err)
			default:
			}
			replied := make(chan bool, 1)
			go func() { replied <- from.Reply(5, nil) }()
			if !spawntest.Recv(t, replied) {
				t.Fatal("Reply reported the call settled")
			}
			if r := spawntest.Recv(t, res); r.err != nil || r.rep != 5 {
				t.Fatalf("got (%d, %v), want (5, nil)", r.rep, r.err)
			}
			if from.Reply(6, nil) {
				t.Fatal("a second Reply reported true")
			}
			// The server answered the call and carries on.
			if _, err := dcCall(e.ctx, e.ref, nil); err != nil {
				t.Fatalf("next call: %v", err)
			}
		}},
		{"continue", func(t *testing.T, e env) {
			got, err := dcCall(e.ctx, e.ref, func(ctx *genserver.CallCtx[int]) (int, error) {
				e.s.n = 1
				ctx.Continue(func(*genserver.Ctx) { e.s.n = 2 })
				return e.s.n, nil
			})
			if err != nil || got != 1 {
				t.Fatalf("got (%d, %v), want (1, nil)", got, err)
			}
			if got, err := dcCall(e.ctx, e.ref, nil); err != nil || got != 2 {
				t.Fatalf("after Continue: got (%d, %v), want (2, nil)", got, err)
			}
		}},
		{"cast_to_self", func(t *testing.T, e env) {
			got, err := dcCall(e.ctx, e.ref, func(ctx *genserver.CallCtx[int]) (int, error) {
				self := genserver.At[dcReq, int, dcCast](ctx.Node(), ctx.Self())
				if err := self.Cast(dcCast{f: func(*genserver.Ctx) { e.s.n++ }}); err != nil {
					return 0, err
				}
				return e.s.n, nil
			})
			if err != nil || got != 0 {
				t.Fatalf("got (%d, %v), want (0, nil): the cast comes after the call", got, err)
			}
			if got, err := dcCall(e.ctx, e.ref, nil); err != nil || got != 1 {
				t.Fatalf("after the cast: got (%d, %v), want (1, nil)", got, err)
			}
		}},
		{"stop_asked_during_call", func(t *testing.T, e env) {
			entered, release := make(chan struct{}), make(chan struct{})
			res := dcCallAsync(e.ctx, e.ref, func(*genserver.CallCtx[int]) (int, error) {
				close(entered)
				<-release
				return 8, nil
			})
			spawntest.Recv(t, entered)
			stopped := make(chan error, 1)
			go func() { stopped <- e.ref.Stop(e.ctx, errDCStop) }()
			dcWaitQueued(t, e.n, e.ref.Pid(), 1)
			close(release)
			if r := spawntest.Recv(t, res); r.err != nil || r.rep != 8 {
				t.Fatalf("call: got (%d, %v), want (8, nil)", r.rep, r.err)
			}
			if err := spawntest.Recv(t, stopped); err != nil {
				t.Fatalf("stop: %v", err)
			}
			if r := spawntest.Recv(t, e.s.terminated); r != errDCStop {
				t.Fatalf("Terminate got %v; want %v", r, errDCStop)
			}
			if r := e.exit.Wait(); r != errDCStop {
				t.Fatalf("exit reason %v; want %v", r, errDCStop)
			}
		}},
		{"panic_with_a_call_queued", func(t *testing.T, e env) {
			entered, release := make(chan struct{}), make(chan struct{})
			first := dcCallAsync(e.ctx, e.ref, func(*genserver.CallCtx[int]) (int, error) {
				close(entered)
				<-release
				panic(errDCBoom)
			})
			spawntest.Recv(t, entered)
			queued := dcCallAsync(e.ctx, e.ref, func(*genserver.CallCtx[int]) (int, error) { return 1, nil })
			dcWaitQueued(t, e.n, e.ref.Pid(), 1)
			close(release)
			for i, res := range []<-chan dcResult{first, queued} {
				r := spawntest.Recv(t, res)
				var pe *process.PanicError
				if !errors.As(r.err, &pe) || pe.Value != errDCBoom {
					t.Fatalf("call %d: got (%d, %v); want the *PanicError", i, r.rep, r.err)
				}
			}
			if r := spawntest.Recv(t, e.s.terminated); r == nil {
				t.Fatal("Terminate got no reason")
			}
		}},
		{"idle_timeout", func(t *testing.T, e env) {
			got, err := dcCall(e.ctx, e.ref, func(ctx *genserver.CallCtx[int]) (int, error) {
				ctx.IdleTimeout(time.Millisecond)
				return 1, nil
			})
			if err != nil || got != 1 {
				t.Fatalf("got (%d, %v), want (1, nil)", got, err)
			}
			if msg := spawntest.Recv(t, e.s.infos); msg != (genserver.Timeout{}) {
				t.Fatalf("HandleInfo got %#v; want genserver.Timeout", msg)
			}
		}},
		{"context_done", func(t *testing.T, e env) {
			ctx, cancel := context.WithCancel(e.ctx)
			cancel()
			ran := false
			_, err := dcCall(ctx, e.ref, func(*genserver.CallCtx[int]) (int, error) { ran = true; return 0, nil })
			var ce *genserver.CallError
			if !errors.As(err, &ce) || !errors.Is(err, context.Canceled) {
				t.Fatalf("call with a done context: %v; want a *CallError wrapping context.Canceled", err)
			}
			if got, err := dcCall(e.ctx, e.ref, func(*genserver.CallCtx[int]) (int, error) { return 2, nil }); err != nil || got != 2 {
				t.Fatalf("next call: got (%d, %v), want (2, nil)", got, err)
			}
			if ran {
				t.Fatal("HandleCall ran for a call whose context was done")
			}
		}},
		{"after_stop", func(t *testing.T, e env) {
			if _, err := dcCall(e.ctx, e.ref, nil); err != nil {
				t.Fatalf("first call: %v", err)
			}
			if err := e.ref.Stop(e.ctx, nil); err != nil {
				t.Fatalf("stop: %v", err)
			}
			if r := spawntest.Recv(t, e.s.terminated); r != process.Normal {
				t.Fatalf("Terminate got %v; want Normal", r)
			}
			_, err := dcCall(e.ctx, e.ref, nil)
			var ce *genserver.CallError
			if !errors.As(err, &ce) || !errors.Is(err, process.NoProc) || ce.Server != e.ref.Pid() {
				t.Fatalf("call after stop: %v; want a *CallError wrapping NoProc", err)
			}
		}},
	} {
		for _, direct := range []bool{false, true} {
			name := tc.name + map[bool]string{true: "/direct", false: "/mailbox"}[direct]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				n := spawntest.NewNode(t)
				s := newDCServer()
				ref := dcStart(t, n, s, direct)
				e := env{n: n, ctx: spawntest.Context(t), s: s, ref: ref, exit: spawntest.WatchExit(t, n, ref.Pid())}
				tc.run(t, e)
				// The first call found the server idle.
				if on := s.onCaller.Load(); direct && on == 0 || !direct && on != 0 {
					t.Fatalf("direct %v, but %d calls ran on their caller's goroutine, %d elsewhere", direct, on, s.elsewhere.Load())
				}
			})
		}
	}
}

// TestGS10_DirectKillWhileHandlerBlocked: a kill takes effect at once while a
// direct HandleCall blocks on its caller's goroutine; the caller gets
// Killed once the handler returns, and nothing the handler did after the
// kill reaches it.
func TestGS10_DirectKillWhileHandlerBlocked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		after func(ctx *genserver.CallCtx[int]) (int, error) // what the handler does once released
	}{
		{"returns a reply", func(*genserver.CallCtx[int]) (int, error) { return 99, nil }},
		{"returns an error", func(*genserver.CallCtx[int]) (int, error) { return 99, errDCReply }},
		{"replies through From", func(ctx *genserver.CallCtx[int]) (int, error) {
			ctx.From().Reply(99, nil)
			return ctx.NoReply()
		}},
		{"stops", func(ctx *genserver.CallCtx[int]) (int, error) {
			ctx.Stop(errDCStop)
			return 99, nil
		}},
		{"panics", func(*genserver.CallCtx[int]) (int, error) { panic(errDCBoom) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			s := newDCServer()
			ref := dcStart(t, n, s, true)
			exit := spawntest.WatchExit(t, n, ref.Pid())
			entered, release := make(chan struct{}), make(chan struct{})
			res := dcCallAsync(spawntest.Context(t), ref, func(ctx *genserver.CallCtx[int]) (int, error) {
				close(entered)
				<-release
				return tc.after(ctx)
			})
			spawntest.Recv(t, entered)
			dcWantPath(t, s, 1, 0)

			if err := n.Exit(ref.Pid(), process.Kill); err != nil {
				t.Fatalf("kill: %v", err)
			}
			if r := exit.Wait(); r != process.Killed {
				t.Fatalf("exit reason %v; want Killed", r)
			}
			if n.Alive(ref.Pid()) {
				t.Fatal("the server is alive after the kill")
			}
			if st := n.Stats().Stragglers; st != 1 {
				t.Errorf("stragglers while the handler runs on: %d; want 1", st)
			}
			select {
			case r := <-res:
				t.Fatalf("the call returned (%d, %v) while its handler was blocked", r.rep, r.err)
			default:
			}

			close(release)
			r := spawntest.Recv(t, res)
			var ce *genserver.CallError
			if !errors.As(r.err, &ce) || ce.Server != ref.Pid() || !errors.Is(r.err, process.Killed) || r.rep != 0 {
				t.Fatalf("call: got (%d, %v); want (0, a *CallError wrapping Killed)", r.rep, r.err)
			}
			if st := n.Stats().Stragglers; st != 0 {
				t.Errorf("stragglers once the handler returned: %d; want 0", st)
			}
			select {
			case reason := <-s.terminated:
				t.Fatalf("Terminate ran with %v after a kill", reason)
			default:
			}
			if r := exit.Wait(); r != process.Killed {
				t.Fatalf("exit reason now %v; want Killed still", r)
			}
		})
	}
}

// TestDirect_GoexitEndsServerAndCaller: runtime.Goexit in a direct
// HandleCall ends the server with reason Goexit and ends the calling
// goroutine too: its deferred functions run, and Call never returns.
func TestDirect_GoexitEndsServerAndCaller(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	s := newDCServer()
	ref := dcStart(t, n, s, true)
	exit := spawntest.WatchExit(t, n, ref.Pid())
	ended := make(chan struct{})
	var returned atomic.Bool
	var handlerGoid, caller atomic.Uint64
	go func() {
		defer close(ended)
		caller.Store(dcGoid())
		dcCall(spawntest.Context(t), ref, func(*genserver.CallCtx[int]) (int, error) {
			handlerGoid.Store(dcGoid())
			runtime.Goexit()
			return 0, nil
		})
		returned.Store(true)
	}()
	spawntest.Recv(t, ended)
	if returned.Load() {
		t.Fatal("Call returned after runtime.Goexit in HandleCall")
	}
	if handlerGoid.Load() != caller.Load() {
		t.Fatalf("HandleCall ran on goroutine %d, not the caller's %d", handlerGoid.Load(), caller.Load())
	}
	if r := exit.Wait(); !errors.Is(r, process.Goexit) {
		t.Fatalf("exit reason %v; want Goexit", r)
	}
	if _, err := dcCall(spawntest.Context(t), ref, nil); !errors.Is(err, process.NoProc) {
		t.Fatalf("call after the Goexit: %v; want NoProc", err)
	}
	if st := n.Stats().Stragglers; st != 0 {
		t.Fatalf("stragglers: %d; want 0", st)
	}
}

// dcInitServer is a dcServer with an Init that reports it ran.
type dcInitServer struct {
	*dcServer
	inited chan struct{}
}

func (s *dcInitServer) Init(*genserver.Ctx) error { close(s.inited); return nil }

// TestDirect_StartNeedsAsync: WithDirectCalls on another backend fails the
// start with ErrInvalidBackend, and starts nothing: no process, no Init,
// no name.
func TestDirect_StartNeedsAsync(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		opts    []genserver.Option
		wantErr error
	}{
		{"blocking", []genserver.Option{genserver.WithBackend(process.Blocking)}, process.ErrInvalidBackend},
		{"thread", []genserver.Option{genserver.WithBackend(process.Thread)}, process.ErrInvalidBackend},
		{"thread, option first", []genserver.Option{genserver.WithDirectCalls(), genserver.WithBackend(process.Thread)}, process.ErrInvalidBackend},
		{"async", []genserver.Option{genserver.WithBackend(process.Async)}, nil},
		{"default backend", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			s := &dcInitServer{dcServer: newDCServer(), inited: make(chan struct{})}
			opts := append([]genserver.Option{genserver.WithName("dc")}, tc.opts...)
			opts = append(opts, genserver.WithDirectCalls())
			ref, err := genserver.Start(spawntest.Context(t), n, s, opts...)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("start: %v", err)
				}
				if got, err := ref.Call(spawntest.Context(t), dcReq{}); err != nil || got != 0 {
					t.Fatalf("call: got (%d, %v)", got, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("start: %v; want an error wrapping %v", err, tc.wantErr)
			}
			if !ref.Pid().IsZero() {
				t.Errorf("failed start returned a Ref to %v", ref.Pid())
			}
			if ps := n.Processes(); len(ps) != 0 {
				t.Errorf("processes after the failed start: %v; want none", ps)
			}
			if _, err := genserver.Named[dcReq, int, dcCast](n, "dc").Call(spawntest.Context(t), dcReq{}); !errors.Is(err, process.NoProc) {
				t.Errorf("call by the name: %v; want NoProc", err)
			}
			select {
			case <-s.inited:
				t.Error("Init ran")
			default:
			}
		})
	}
}

// TestDirect_InfoCountsDirectCalls: a call handled on its caller's
// goroutine counts as received and handled, as a queued one does.
func TestDirect_InfoCountsDirectCalls(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	s := newDCServer()
	ref := dcStart(t, n, s, true)
	const calls = 10
	for i := range calls {
		if _, err := dcCall(ctx, ref, nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	dcWantPath(t, s, calls, 0)
	in := spawntest.Info(t, n, ref.Pid())
	if in.Received != calls || in.Handled != calls || in.MessageQueueLen != 0 {
		t.Fatalf("after %d direct calls: received %d, handled %d, queued %d; want %d, %d, 0",
			calls, in.Received, in.Handled, in.MessageQueueLen, calls, calls)
	}

	// Queued messages add to the same counts.
	release := make(chan struct{})
	dcBlock(t, ref, release)
	res := dcCallAsync(ctx, ref, nil)
	dcWaitQueued(t, n, ref.Pid(), 1)
	in = spawntest.Info(t, n, ref.Pid())
	// A message counts as handled once its handler has returned.
	if in.Received != calls+2 || in.Handled != calls || in.MessageQueueLen != 1 {
		t.Fatalf("with a cast running and a call queued: received %d, handled %d, queued %d; want %d, %d, 1",
			in.Received, in.Handled, in.MessageQueueLen, calls+2, calls)
	}
	close(release)
	if r := spawntest.Recv(t, res); r.err != nil {
		t.Fatalf("queued call: %v", r.err)
	}
	// The activation that handled the call may still be on its way to idle.
	spawntest.Eventually(t, "counts settled", func() bool {
		in = spawntest.Info(t, n, ref.Pid())
		return in.Handled == calls+2
	})
	if in.Received != calls+2 || in.MessageQueueLen != 0 {
		t.Fatalf("at the end: received %d, handled %d, queued %d; want %d, %d, 0",
			in.Received, in.Handled, in.MessageQueueLen, calls+2, calls+2)
	}
}

// TestDirect_StressOneMessageAtATime: many callers and casters on one
// direct server. The server never runs two messages at once, handles every
// one exactly once, and a call never overtakes a cast its caller sent
// before it. Run it with -race.
func TestDirect_StressOneMessageAtATime(t *testing.T) {
	t.Parallel()
	callers, calls, casters, casts := 8, 2000, 4, 1000
	if testing.Short() {
		calls, casts = 200, 100
	}
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	s := newDCServer()
	ref := dcStart(t, n, s, true)

	total := callers*calls + casters*casts
	seen := make([]uint8, total)  // the server's: written only by its handlers
	marks := make([]int, callers) // the server's: the last mark cast by each caller
	var inside atomic.Bool
	var overlaps, overtaken atomic.Int64
	handle := func(id int) int {
		if inside.Swap(true) {
			overlaps.Add(1)
		}
		seen[id]++
		s.n++
		inside.Store(false)
		return s.n
	}

	var wg sync.WaitGroup
	errs := make(chan error, callers+casters)
	for c := range callers {
		wg.Go(func() {
			prev, mark := 0, 0
			for i := range calls {
				id := c*calls + i
				if i%8 == 0 { // a cast, then a call that must see it
					mark = i + 1
					if err := ref.Cast(dcCast{f: func(*genserver.Ctx) { marks[c] = mark }}); err != nil {
						errs <- fmt.Errorf("caller %d, cast %d: %w", c, i, err)
						return
					}
				}
				want := mark
				got, err := dcCall(ctx, ref, func(*genserver.CallCtx[int]) (int, error) {
					if marks[c] != want {
						overtaken.Add(1)
					}
					return handle(id), nil
				})
				if err != nil {
					errs <- fmt.Errorf("caller %d, call %d: %w", c, i, err)
					return
				}
				if got <= prev {
					errs <- fmt.Errorf("caller %d, call %d: count %d after %d", c, i, got, prev)
					return
				}
				prev = got
			}
		})
	}
	for c := range casters {
		wg.Go(func() {
			for i := range casts {
				id := callers*calls + c*casts + i
				if err := ref.Cast(dcCast{f: func(*genserver.Ctx) { handle(id) }}); err != nil {
					errs <- fmt.Errorf("caster %d, cast %d: %w", c, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Every cast is queued by now: a call made now comes after them all.
	var once, missing int
	if _, err := dcCall(ctx, ref, func(*genserver.CallCtx[int]) (int, error) {
		for _, k := range seen {
			switch k {
			case 1:
				once++
			case 0:
				missing++
			}
		}
		return 0, nil
	}); err != nil {
		t.Fatalf("final call: %v", err)
	}
	if o := overlaps.Load(); o != 0 {
		t.Errorf("a message entered the server while another was inside it, %d times", o)
	}
	if o := overtaken.Load(); o != 0 {
		t.Errorf("a call overtook a cast its caller sent before it, %d times", o)
	}
	// Every message counts as received and handled once (the final call's
	// handled count may lag its reply by a moment).
	messages := uint64(total + callers*((calls+7)/8) + 1)
	spawntest.Eventually(t, "every message counted as handled", func() bool {
		return spawntest.Info(t, n, ref.Pid()).Handled >= messages
	})
	if in := spawntest.Info(t, n, ref.Pid()); in.Received != messages || in.Handled != messages {
		t.Errorf("received %d, handled %d; want %d each", in.Received, in.Handled, messages)
	}
	if once != total {
		t.Errorf("messages handled once: %d of %d; %d never, %d more than once", once, total, missing, total-once-missing)
	}
	direct, queued := s.onCaller.Load(), s.elsewhere.Load()
	// How many calls found the server idle depends on the scheduling; the
	// other tests check that an idle server takes calls directly.
	t.Logf("calls handled on the caller's goroutine: %d, by the server's: %d", direct, queued)
}

// TestGS11_DirectCallsBetweenServers: a direct server calling another from
// its HandleCall runs that one's HandleCall on the same goroutine, each as
// itself; a server calling itself fails with ErrCallingSelf, with or
// without the option.
func TestGS11_DirectCallsBetweenServers(t *testing.T) {
	t.Parallel()
	t.Run("direct_calls_direct", func(t *testing.T) {
		t.Parallel()
		n := spawntest.NewNode(t)
		ctx := spawntest.Context(t)
		sa, sb := newDCServer(), newDCServer()
		a, b := dcStart(t, n, sa, true), dcStart(t, n, sb, true)
		var aGoid, bGoid uint64
		var aSelf, bSelf pid.Pid
		caller := dcGoid()
		got, err := dcCall(ctx, a, func(ctx *genserver.CallCtx[int]) (int, error) {
			aGoid, aSelf = dcGoid(), ctx.Self()
			rep, err := dcCall(ctx.Context(), b, func(ctx *genserver.CallCtx[int]) (int, error) {
				bGoid, bSelf = dcGoid(), ctx.Self()
				return 20, nil
			})
			return rep + 1, err
		})
		if err != nil || got != 21 {
			t.Fatalf("got (%d, %v), want (21, nil)", got, err)
		}
		if aGoid != caller || bGoid != caller {
			t.Errorf("A's HandleCall on goroutine %d, B's on %d; want both on the caller's %d", aGoid, bGoid, caller)
		}
		if aSelf != a.Pid() || bSelf != b.Pid() {
			t.Errorf("Self in A %v, in B %v; want %v and %v", aSelf, bSelf, a.Pid(), b.Pid())
		}
		dcWantPath(t, sa, 1, 0)
		dcWantPath(t, sb, 1, 0)
	})
	for _, direct := range []bool{false, true} {
		name := map[bool]string{true: "direct", false: "mailbox"}[direct]
		t.Run(name+"/calling_self", func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			s := newDCServer()
			ref := dcStart(t, n, s, direct, genserver.WithName("dc-self"))
			for _, self := range []dcRef{ref, genserver.Named[dcReq, int, dcCast](n, "dc-self")} {
				var inner error
				if _, err := dcCall(ctx, ref, func(ctx *genserver.CallCtx[int]) (int, error) {
					_, inner = dcCall(ctx.Context(), self, nil)
					return 0, nil
				}); err != nil {
					t.Fatalf("outer call: %v", err)
				}
				var ce *genserver.CallError
				if !errors.Is(inner, genserver.ErrCallingSelf) || !errors.As(inner, &ce) {
					t.Fatalf("call to self: %v; want a *CallError wrapping ErrCallingSelf", inner)
				}
				if !n.Alive(ref.Pid()) {
					t.Fatal("the server died")
				}
			}
		})
	}
}

// TestDirect_FallsBackToMailbox: a call to a direct server that is traced,
// or on a node that sets profile labels, goes through the mailbox, with
// the same result; once that ends, calls run on their caller's goroutine
// again.
func TestDirect_FallsBackToMailbox(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		on, off  func(n *process.Node, p pid.Pid) error
		checkLog bool
	}{
		{"traced", func(n *process.Node, p pid.Pid) error { return n.Trace(p) },
			func(n *process.Node, p pid.Pid) error { n.Untrace(p); return nil }, true},
		{"profile labels", func(n *process.Node, _ pid.Pid) error { n.SetProfileLabels(true); return nil },
			func(n *process.Node, _ pid.Pid) error { n.SetProfileLabels(false); return nil }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			s := newDCServer()
			ref := dcStart(t, n, s, true)
			if err := tc.on(n, ref.Pid()); err != nil {
				t.Fatal(err)
			}
			const calls = 5
			for i := range calls {
				if got, err := dcCall(ctx, ref, func(*genserver.CallCtx[int]) (int, error) { return i, nil }); err != nil || got != i {
					t.Fatalf("call %d: got (%d, %v)", i, got, err)
				}
			}
			dcWantPath(t, s, 0, calls)
			if tc.checkLog {
				log, err := n.TraceLog(ref.Pid())
				if err != nil || len(log) == 0 {
					t.Fatalf("trace log: %d entries, %v; want the calls traced", len(log), err)
				}
			}
			if err := tc.off(n, ref.Pid()); err != nil {
				t.Fatal(err)
			}
			// The last activation may still be going idle: a call made
			// meanwhile goes through the mailbox, which is fine.
			spawntest.Eventually(t, "a call on its caller's goroutine", func() bool {
				_, err := dcCall(ctx, ref, nil)
				return err != nil || s.onCaller.Load() > 0
			})
			if _, err := dcCall(ctx, ref, nil); err != nil {
				t.Fatalf("call: %v", err)
			}
		})
	}
}

// TestGS08_DirectDeadlineDuringHandler: the caller's deadline does not cut a
// direct HandleCall short (the caller is running it); a reply the handler
// gives after the deadline passed is the call's result, as the doc of
// WithDirectCalls says: the deadline reaches the caller only once
// HandleCall has returned, and by then the reply is there.
func TestGS08_DirectDeadlineDuringHandler(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	s := newDCServer()
	ref := dcStart(t, n, s, true)
	ctx, cancel := context.WithCancel(spawntest.Context(t))
	defer cancel()
	got, err := dcCall(ctx, ref, func(*genserver.CallCtx[int]) (int, error) {
		cancel()
		<-ctx.Done()
		return 3, nil
	})
	if err != nil || got != 3 {
		t.Fatalf("got (%d, %v); want the reply (3, nil)", got, err)
	}
	dcWantPath(t, s, 1, 0)
}

// TestDirect_GoexitWithAProcessCalling: runtime.Goexit in a direct
// HandleCall called from a process's code ends that process too, with
// reason Goexit, as it ends any goroutine that makes the call: here the
// caller is a Func process (a probe) and a server's HandleCall.
func TestDirect_GoexitWithAProcessCalling(t *testing.T) {
	t.Parallel()
	goexit := func(*genserver.CallCtx[int]) (int, error) { runtime.Goexit(); return 0, nil }
	for _, tc := range []struct {
		name string
		// call makes the call to b from a process, and returns that process.
		call func(t *testing.T, n *process.Node, b dcRef) pid.Pid
	}{
		{"func process", func(t *testing.T, n *process.Node, b dcRef) pid.Pid {
			p, err := n.Spawn(func(p *process.Process) error {
				_, err := dcCall(p.Context(), b, goexit)
				return err
			})
			if err != nil {
				t.Fatalf("spawn: %v", err)
			}
			return p
		}},
		{"direct server", func(t *testing.T, n *process.Node, b dcRef) pid.Pid {
			a := dcStart(t, n, newDCServer(), true)
			go dcCall(spawntest.Context(t), a, func(ctx *genserver.CallCtx[int]) (int, error) {
				return dcCall(ctx.Context(), b, goexit)
			})
			return a.Pid()
		}},
		{"server on a worker", func(t *testing.T, n *process.Node, b dcRef) pid.Pid {
			a := dcStart(t, n, newDCServer(), false)
			go dcCall(spawntest.Context(t), a, func(ctx *genserver.CallCtx[int]) (int, error) {
				return dcCall(ctx.Context(), b, goexit)
			})
			return a.Pid()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			bs := newDCServer()
			b := dcStart(t, n, bs, true)
			bExit := spawntest.WatchExit(t, n, b.Pid())
			caller := tc.call(t, n, b)
			if r := bExit.Wait(); !errors.Is(r, process.Goexit) {
				t.Fatalf("the called server exited with %v; want Goexit", r)
			}
			if r := spawntest.WaitExit(t, n, caller); !errors.Is(r, process.Goexit) && !errors.Is(r, process.NoProc) {
				t.Fatalf("the calling process exited with %v; want Goexit", r)
			}
			if !bExit.Exited() || n.Alive(caller) {
				t.Fatal("a process lives on")
			}
			// The node still works.
			if _, err := dcCall(spawntest.Context(t), dcStart(t, n, newDCServer(), true), nil); err != nil {
				t.Fatalf("call to a new server: %v", err)
			}
		})
	}
}

// TestDirect_NodeStoppedDuringHandler: a node stopped while a direct
// HandleCall blocks kills the server at once; the caller gets Shutdown
// once the handler returns, and what the handler does meanwhile with the
// stopped node fails cleanly.
func TestDirect_NodeStoppedDuringHandler(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	s := newDCServer()
	ref := dcStart(t, n, s, true)
	other := dcStart(t, n, newDCServer(), true)
	exit := spawntest.WatchExit(t, n, ref.Pid())
	entered, release := make(chan struct{}), make(chan struct{})
	type late struct {
		castErr, callErr, spawnErr, timerErr error
	}
	lateCh := make(chan late, 1)
	res := dcCallAsync(spawntest.Context(t), ref, func(ctx *genserver.CallCtx[int]) (int, error) {
		close(entered)
		<-release
		var l late
		l.castErr = other.Cast(dcCast{})
		_, l.callErr = dcCall(context.Background(), other, nil)
		_, l.spawnErr = ctx.Node().Spawn(spawntest.Idle)
		_, l.timerErr = ctx.SendAfter("tick", time.Hour)
		lateCh <- l
		return 1, nil
	})
	spawntest.Recv(t, entered)
	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop(spawntest.Context(t)) }()
	if r := exit.Wait(); !errors.Is(r, process.Shutdown) {
		t.Fatalf("exit reason %v; want Shutdown", r)
	}
	// Stop waits for the goroutines the node started; the caller's is not
	// one of them, so Stop may return while the handler still runs.
	select {
	case err := <-stopped:
		t.Logf("node.Stop returned (%v) while the handler still ran; stragglers: %d", err, n.Stats().Stragglers)
		stopped <- err
	default:
	}
	close(release)
	r := spawntest.Recv(t, res)
	if !errors.Is(r.err, process.Shutdown) || r.rep != 0 {
		t.Fatalf("call: got (%d, %v); want (0, an error wrapping Shutdown)", r.rep, r.err)
	}
	l := spawntest.Recv(t, lateCh)
	if l.castErr != nil {
		t.Errorf("cast from the handler after the stop: %v; want nil (dropped)", l.castErr)
	}
	if !errors.Is(l.callErr, process.NoProc) && !errors.Is(l.callErr, process.ErrNodeStopped) {
		t.Errorf("call from the handler after the stop: %v; want NoProc or ErrNodeStopped", l.callErr)
	}
	if !errors.Is(l.spawnErr, process.ErrNodeStopped) {
		t.Errorf("spawn from the handler after the stop: %v; want ErrNodeStopped", l.spawnErr)
	}
	if l.timerErr == nil {
		t.Error("SendAfter from the killed server succeeded")
	}
	if err := spawntest.Recv(t, stopped); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if st := n.Stats().Stragglers; st != 0 {
		t.Fatalf("stragglers after all: %d", st)
	}
}

// TestDirect_NodeStopWaitsForKilledHandler: node.Stop promises that "a
// process whose code ignores its context keeps Stop waiting" (bounded by
// ctx), for a server whose HandleCall runs on a worker and for one whose
// HandleCall runs on its caller's goroutine alike: the node counts that
// goroutine among its own while it runs the server's code.
func TestDirect_NodeStopWaitsForKilledHandler(t *testing.T) {
	t.Parallel()
	for _, direct := range []bool{false, true} {
		t.Run(map[bool]string{true: "direct", false: "mailbox"}[direct], func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t)
			ref := dcStart(t, n, newDCServer(), direct)
			exit := spawntest.WatchExit(t, n, ref.Pid())
			entered, release := make(chan struct{}), make(chan struct{})
			res := dcCallAsync(spawntest.Context(t), ref, func(*genserver.CallCtx[int]) (int, error) {
				close(entered)
				<-release // ignores the server's context
				return 1, nil
			})
			spawntest.Recv(t, entered)
			stopped := make(chan error, 1)
			go func() { stopped <- n.Stop(spawntest.Context(t)) }()
			exit.Wait()
			// The wait is the behaviour under test: Stop must still be
			// waiting for the killed server's code after a while.
			select {
			case err := <-stopped:
				t.Errorf("node.Stop returned (%v) while the killed server's HandleCall still ran; stragglers: %d", err, n.Stats().Stragglers)
				stopped <- err
			case <-time.After(50 * time.Millisecond):
			}
			close(release)
			spawntest.Recv(t, res)
			if err := spawntest.Recv(t, stopped); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
	}
}
