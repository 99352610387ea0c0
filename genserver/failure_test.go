package genserver_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Helpers shared by failure_test.go, terminate_test.go and stop_test.go
// (prefix fts: failure, terminate, stop).

// ftsOp selects what ftsServer does with a call, cast or info message.
type ftsOp int

const (
	ftsPing            ftsOp = iota // reply "pong"
	ftsBlock                        // report entry, wait for release, reply "late"
	ftsBlockWatch                   // report entry, wait for release or the server's exit, reply "late"
	ftsBlockPanic                   // report entry, wait for release, panic
	ftsBlockStop                    // report entry, wait for release, ctx.Stop(Reason), reply
	ftsPanic                        // panic with ftsBoom
	ftsStopNoReply                  // ctx.Stop(Reason), then NoReply
	ftsStopReply                    // ctx.Stop(Reason), then reply "stopping"
	ftsDefer                        // hand From to the test, then NoReply
	ftsCallSelf                     // call Self with ctx.Context()
	ftsCallSelfDerived              // call Self with a context derived from ctx.Context()
	ftsStopSelf                     // Self.Stop with ctx.Context()
)

// ftsBoom is the panic value of ftsServer's crashes.
const ftsBoom = "fts boom"

type ftsRef = genserver.Ref[ftsReq, string, ftsMsg]

// ftsReq is ftsServer's call request.
type ftsReq struct {
	Op     ftsOp
	Reason error
	Self   ftsRef
}

// ftsMsg is ftsServer's cast (Op: ftsPanic or ftsStopReply).
type ftsMsg struct {
	Op     ftsOp
	Reason error
}

// ftsInfo is a plain message that makes HandleInfo panic or stop.
type ftsInfo struct {
	Op     ftsOp
	Reason error
}

// ftsServer is a server whose callbacks the test drives and observes.
type ftsServer struct {
	trap        bool          // Init traps exits
	termBlock   bool          // Terminate waits for termRelease
	entered     chan ftsOp    // a blocking call has started
	release     chan struct{} // closed to release blocking calls
	termRelease chan struct{} // closed to release a blocking Terminate
	froms       chan genserver.From[string]
	infos       chan any
	terminated  chan error // Terminate's reason, sent on entry
	relOnce     sync.Once
	termOnce    sync.Once
}

func ftsNew(t *testing.T) *ftsServer {
	s := &ftsServer{
		entered:     make(chan ftsOp, 16),
		release:     make(chan struct{}),
		termRelease: make(chan struct{}),
		froms:       make(chan genserver.From[string], 16),
		infos:       make(chan any, 16),
		terminated:  make(chan error, 16),
	}
	// Registered after the node, so it runs before the node stops.
	t.Cleanup(func() { s.releaseCalls(); s.releaseTerminate() })
	return s
}

func (s *ftsServer) releaseCalls()     { s.relOnce.Do(func() { close(s.release) }) }
func (s *ftsServer) releaseTerminate() { s.termOnce.Do(func() { close(s.termRelease) }) }

func (s *ftsServer) Init(ctx *genserver.Ctx) error {
	if s.trap {
		ctx.Process().TrapExit(true)
	}
	return nil
}

func (s *ftsServer) HandleCall(ctx *genserver.CallCtx[string], req ftsReq) (string, error) {
	switch req.Op {
	case ftsPing:
		return "pong", nil
	case ftsBlock:
		s.entered <- req.Op
		<-s.release
		return "late", nil
	case ftsBlockWatch:
		s.entered <- req.Op
		select {
		case <-s.release:
		case <-ctx.Context().Done():
		}
		return "late", nil
	case ftsBlockPanic:
		s.entered <- req.Op
		<-s.release
		panic(ftsBoom)
	case ftsBlockStop:
		s.entered <- req.Op
		<-s.release
		ctx.Stop(req.Reason)
		return "late", nil
	case ftsPanic:
		panic(ftsBoom)
	case ftsStopNoReply:
		ctx.Stop(req.Reason)
		return ctx.NoReply()
	case ftsStopReply:
		ctx.Stop(req.Reason)
		return "stopping", nil
	case ftsDefer:
		s.froms <- ctx.From()
		return ctx.NoReply()
	case ftsCallSelf:
		_, err := req.Self.Call(ctx.Context(), ftsReq{Op: ftsPing})
		return "", err
	case ftsCallSelfDerived:
		c, cancel := context.WithTimeout(ctx.Context(), spawntest.Timeout)
		defer cancel()
		_, err := req.Self.Call(c, ftsReq{Op: ftsPing})
		return "", err
	case ftsStopSelf:
		return "", req.Self.Stop(ctx.Context(), nil)
	}
	panic("fts: unknown op")
}

func (s *ftsServer) HandleCast(ctx *genserver.Ctx, msg ftsMsg) {
	switch msg.Op {
	case ftsPanic:
		panic(ftsBoom)
	case ftsStopReply:
		ctx.Stop(msg.Reason)
	}
}

func (s *ftsServer) HandleInfo(ctx *genserver.Ctx, msg any) {
	if m, ok := msg.(ftsInfo); ok {
		switch m.Op {
		case ftsPanic:
			panic(ftsBoom)
		case ftsStopReply:
			ctx.Stop(m.Reason)
		}
		return
	}
	s.infos <- msg
}

func (s *ftsServer) Terminate(_ *genserver.Ctx, reason error) {
	s.terminated <- reason
	if s.termBlock {
		<-s.termRelease
	}
}

func ftsStart(t *testing.T, n *process.Node, b process.Backend, s *ftsServer, opts ...genserver.Option) ftsRef {
	t.Helper()
	ref, err := genserver.Start(spawntest.Context(t), n, s, append([]genserver.Option{genserver.WithBackend(b)}, opts...)...)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return ref
}

// ftsStartLink starts s linked to the probe parent, from inside it.
func ftsStartLink(t *testing.T, parent *spawntest.Probe, b process.Backend, s *ftsServer, opts ...genserver.Option) ftsRef {
	t.Helper()
	var ref ftsRef
	var err error
	parent.Do(func(p *process.Process) error {
		ref, err = genserver.StartLink(spawntest.Context(t), p, s, append([]genserver.Option{genserver.WithBackend(b)}, opts...)...)
		return nil
	})
	if err != nil {
		t.Fatalf("start link: %v", err)
	}
	return ref
}

// ftsNoTerminate fails if Terminate has run.
// ftsWantTerminate waits for s's Terminate and fails the test unless its
// reason wraps want.
func ftsWantTerminate(t *testing.T, s *ftsServer, want error) {
	t.Helper()
	if tr := spawntest.Recv(t, s.terminated); !errors.Is(tr, want) {
		t.Fatalf("Terminate reason = %v; want %v", tr, want)
	}
}

// ftsWantExit waits for the watched exit and fails the test unless its
// reason wraps want.
func ftsWantExit(t *testing.T, exit *spawntest.ExitWatch, want error) {
	t.Helper()
	if r := exit.Wait(); !errors.Is(r, want) {
		t.Fatalf("exit = %v; want %v", r, want)
	}
}

func ftsNoTerminate(t *testing.T, s *ftsServer) {
	t.Helper()
	select {
	case r := <-s.terminated:
		t.Errorf("Terminate ran with %v; want it not to run", r)
	default:
	}
}

// ftsCallErr checks that err is a *CallError naming server and wrapping want.
func ftsCallErr(t *testing.T, err error, server pid.Pid, want error) *genserver.CallError {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v; want one wrapping %v", err, want)
	}
	var ce *genserver.CallError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %T %v; want a *genserver.CallError", err, err)
	}
	if !server.IsZero() && ce.Server != server {
		t.Errorf("CallError.Server = %v; want %v", ce.Server, server)
	}
	return ce
}

// ftsPong checks that the server still answers calls.
func ftsPong(t *testing.T, ref ftsRef) {
	t.Helper()
	rep, err := ref.Call(spawntest.Context(t), ftsReq{Op: ftsPing})
	if err != nil || rep != "pong" {
		t.Fatalf("ping = %q, %v; want pong", rep, err)
	}
}

type ftsResult struct {
	rep string
	err error
}

// ftsCallAsync calls from a new goroutine; the result arrives on the channel.
func ftsCallAsync(ctx context.Context, ref ftsRef, req ftsReq) <-chan ftsResult {
	ch := make(chan ftsResult, 1)
	go func() {
		rep, err := ref.Call(ctx, req)
		ch <- ftsResult{rep, err}
	}()
	return ch
}

// ftsWaitQueued waits until k messages are queued for p. The mailbox
// length is the only observable of "sent and still queued", so this polls.
func ftsWaitQueued(t *testing.T, n *process.Node, p pid.Pid, k int) {
	t.Helper()
	var err error
	spawntest.Eventually(t, fmt.Sprintf("%d messages queued at %v", k, p), func() bool {
		var info process.Info
		info, err = n.Info(p)
		return err != nil || info.MessageQueueLen >= k
	})
	if err != nil {
		t.Fatalf("info %v: %v", p, err)
	}
}

var (
	ftsErrBye     = errors.New("bye")
	ftsErrStopped = errors.New("stopped")
	ftsErrCustom  = errors.New("custom reason")
)

func TestGS08_CallTimeoutLeavesServerRunningAndDropsLateReply(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("returned late reply", func(t *testing.T) {
			n := spawntest.NewNode(t)
			s := ftsNew(t)
			ref := ftsStart(t, n, b, s)
			caller := spawntest.NewProbe(t, n)

			var rep string
			var err error
			caller.Do(func(*process.Process) error {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				rep, err = ref.Call(ctx, ftsReq{Op: ftsBlock})
				return nil
			})
			ftsCallErr(t, err, ref.Pid(), genserver.ErrTimeout)
			if rep != "" {
				t.Errorf("reply = %q after a timeout; want the zero value", rep)
			}
			spawntest.Recv(t, s.entered)
			if !n.Alive(ref.Pid()) {
				t.Fatal("server died of the caller's timeout")
			}

			s.releaseCalls() // the handler now returns its late reply
			ftsPong(t, ref)  // handled after the late reply: the server runs on
			caller.ExpectEmpty()
			if !n.Alive(ref.Pid()) {
				t.Fatal("server is not alive")
			}
		})

		t.Run("deferred late reply", func(t *testing.T) {
			n := spawntest.NewNode(t)
			s := ftsNew(t)
			ref := ftsStart(t, n, b, s)
			caller := spawntest.NewProbe(t, n)

			var err error
			caller.Do(func(*process.Process) error {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				_, err = ref.Call(ctx, ftsReq{Op: ftsDefer})
				return nil
			})
			ftsCallErr(t, err, ref.Pid(), genserver.ErrTimeout)
			from := spawntest.Recv(t, s.froms)
			if from.Reply("late", nil) {
				t.Error("From.Reply after the caller timed out = true; want false (dropped)")
			}
			if from.Reply("later", nil) {
				t.Error("second From.Reply = true; want false")
			}
			ftsPong(t, ref)
			caller.ExpectEmpty()
		})

		t.Run("no deadline uses the default timeout", func(t *testing.T) {
			n := spawntest.NewNode(t)
			s := ftsNew(t)
			ref := ftsStart(t, n, b, s)

			start := time.Now()
			rep, err := ref.Call(context.Background(), ftsReq{Op: ftsPing})
			if err != nil || rep != "pong" {
				t.Fatalf("call without deadline = %q, %v; want pong", rep, err)
			}
			cctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res := ftsCallAsync(cctx, ref, ftsReq{Op: ftsDefer})
			from := spawntest.Recv(t, s.froms)
			if !from.Reply("deferred", nil) {
				t.Fatal("From.Reply = false for a waiting caller")
			}
			got := spawntest.Recv(t, res)
			if got.err != nil || got.rep != "deferred" {
				t.Fatalf("deferred call without deadline = %q, %v; want deferred", got.rep, got.err)
			}
			if d := time.Since(start); d >= genserver.DefaultCallTimeout/2 {
				t.Errorf("calls without deadline took %v; want a prompt reply", d)
			}
		})
	})
}

func TestGS09_CallToDeadServerFailsWithNoProcAtOnce(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		// Without a deadline the call would wait DefaultCallTimeout.
		prompt := func(t *testing.T, ref ftsRef) error {
			t.Helper()
			start := time.Now()
			_, err := ref.Call(context.Background(), ftsReq{Op: ftsPing})
			if d := time.Since(start); d >= genserver.DefaultCallTimeout/2 {
				t.Errorf("call to a dead server took %v; want it to fail at once", d)
			}
			return err
		}

		t.Run("stopped", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ref := ftsStart(t, n, b, ftsNew(t))
			if err := ref.Stop(spawntest.Context(t), nil); err != nil {
				t.Fatalf("stop: %v", err)
			}
			ftsCallErr(t, prompt(t, ref), ref.Pid(), process.NoProc)
		})

		t.Run("killed", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ref := ftsStart(t, n, b, ftsNew(t))
			exit := spawntest.WatchExit(t, n, ref.Pid())
			n.Exit(ref.Pid(), process.Kill)
			ftsWantExit(t, exit, process.Killed)
			ftsCallErr(t, prompt(t, ref), ref.Pid(), process.NoProc)
		})

		t.Run("name of a stopped server", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ref := ftsStart(t, n, b, ftsNew(t), genserver.WithName("gs09"))
			if err := ref.Stop(spawntest.Context(t), nil); err != nil {
				t.Fatalf("stop: %v", err)
			}
			ce := ftsCallErr(t, prompt(t, ref.ByName()), pid.Pid{}, process.NoProc)
			if ce.Name != "gs09" {
				t.Errorf("CallError.Name = %q; want gs09", ce.Name)
			}
		})

		t.Run("unregistered name", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ref := genserver.Named[ftsReq, string, ftsMsg](n, "gs09-nobody")
			ce := ftsCallErr(t, prompt(t, ref), pid.Pid{}, process.NoProc)
			if ce.Name != "gs09-nobody" {
				t.Errorf("CallError.Name = %q; want gs09-nobody", ce.Name)
			}
		})
	})
}

func TestGS10_ServerDiesWhileHandlingCall(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("HandleCall panics", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ref := ftsStart(t, n, b, ftsNew(t))
			exit := spawntest.WatchExit(t, n, ref.Pid())
			_, err := ref.Call(spawntest.Context(t), ftsReq{Op: ftsPanic})
			var ce *genserver.CallError
			if !errors.As(err, &ce) || ce.Server != ref.Pid() {
				t.Fatalf("error = %T %v; want a *genserver.CallError naming the server", err, err)
			}
			var pe *process.PanicError
			if !errors.As(err, &pe) || pe.Value != ftsBoom {
				t.Fatalf("call error = %v; want a *process.PanicError with %q", err, ftsBoom)
			}
			if r := exit.Wait(); !errors.As(r, &pe) {
				t.Fatalf("exit = %v; want a *process.PanicError", r)
			}
		})

		t.Run("stop without replying", func(t *testing.T) {
			for _, reason := range []error{process.Normal, ftsErrStopped} {
				t.Run(reason.Error(), func(t *testing.T) {
					n := spawntest.NewNode(t)
					ref := ftsStart(t, n, b, ftsNew(t))
					exit := spawntest.WatchExit(t, n, ref.Pid())
					_, err := ref.Call(spawntest.Context(t), ftsReq{Op: ftsStopNoReply, Reason: reason})
					ftsCallErr(t, err, ref.Pid(), reason)
					ftsWantExit(t, exit, reason)
				})
			}
		})

		t.Run("killed while blocked", func(t *testing.T) {
			n := spawntest.NewNode(t)
			s := ftsNew(t)
			ref := ftsStart(t, n, b, s)
			res := ftsCallAsync(spawntest.Context(t), ref, ftsReq{Op: ftsBlock})
			spawntest.Recv(t, s.entered)
			n.Exit(ref.Pid(), process.Kill)
			// The handler is still blocked: the caller must not wait for it.
			got := spawntest.Recv(t, res)
			ftsCallErr(t, got.err, ref.Pid(), process.Killed)
			s.releaseCalls() // let the straggler finish
		})

		t.Run("queued calls fail when killed", func(t *testing.T) {
			n := spawntest.NewNode(t)
			s := ftsNew(t)
			ref := ftsStart(t, n, b, s)
			ctx := spawntest.Context(t)
			first := ftsCallAsync(ctx, ref, ftsReq{Op: ftsBlock})
			spawntest.Recv(t, s.entered)
			const queued = 3
			var rest []<-chan ftsResult
			for range queued {
				rest = append(rest, ftsCallAsync(ctx, ref, ftsReq{Op: ftsPing}))
			}
			ftsWaitQueued(t, n, ref.Pid(), queued)
			n.Exit(ref.Pid(), process.Kill)
			for i, ch := range append(rest, first) {
				got := spawntest.Recv(t, ch)
				if !errors.Is(got.err, process.Killed) {
					t.Errorf("call %d: error = %v; want Killed", i, got.err)
				}
			}
			s.releaseCalls()
		})

		t.Run("deferred call fails with the exit reason", func(t *testing.T) {
			for _, tc := range []struct {
				name string
				kill func(n *process.Node, ref ftsRef)
				want error
			}{
				{"stop", func(_ *process.Node, ref ftsRef) { ref.Cast(ftsMsg{Op: ftsStopReply, Reason: ftsErrStopped}) }, ftsErrStopped},
				{"kill", func(n *process.Node, ref ftsRef) { n.Exit(ref.Pid(), process.Kill) }, process.Killed},
			} {
				t.Run(tc.name, func(t *testing.T) {
					n := spawntest.NewNode(t)
					s := ftsNew(t)
					ref := ftsStart(t, n, b, s)
					res := ftsCallAsync(spawntest.Context(t), ref, ftsReq{Op: ftsDefer})
					from := spawntest.Recv(t, s.froms)
					tc.kill(n, ref)
					got := spawntest.Recv(t, res)
					ftsCallErr(t, got.err, ref.Pid(), tc.want)
					if from.Reply("too late", nil) {
						t.Error("From.Reply after the server died = true; want false")
					}
				})
			}
		})
	})
}

func TestGS11_CallToSelfIsDetected(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ref := ftsStart(t, n, b, ftsNew(t), genserver.WithName("gs11"))
		byName := genserver.Named[ftsReq, string, ftsMsg](n, "gs11")
		for _, tc := range []struct {
			name string
			req  ftsReq
		}{
			{"call by pid", ftsReq{Op: ftsCallSelf, Self: ref}},
			{"call by name", ftsReq{Op: ftsCallSelf, Self: byName}},
			{"call with derived context", ftsReq{Op: ftsCallSelfDerived, Self: ref}},
			{"stop", ftsReq{Op: ftsStopSelf, Self: ref}},
			{"stop by name", ftsReq{Op: ftsStopSelf, Self: byName}},
		} {
			// The server's inner call has no deadline: undetected, it would
			// fail with ErrTimeout after DefaultCallTimeout.
			_, err := ref.Call(spawntest.Context(t), tc.req)
			if !errors.Is(err, genserver.ErrCallingSelf) {
				t.Fatalf("%s: error = %v; want ErrCallingSelf", tc.name, err)
			}
			var ce *genserver.CallError
			if !errors.As(err, &ce) {
				t.Fatalf("%s: error = %T; want a *genserver.CallError", tc.name, err)
			}
			if !n.Alive(ref.Pid()) {
				t.Fatalf("%s: the server died", tc.name)
			}
			ftsPong(t, ref)
		}
	})
}

func TestGS15_BadReturnHasNoGoAnalogPanicIsNearest(t *testing.T) {
	t.Parallel()
	// OTP's bad_return_value cannot happen: HandleCall's signature fixes
	// what it returns. The nearest Go analog is a panic in HandleCall: the
	// server exits with a *process.PanicError and the caller gets a
	// *CallError wrapping it.
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		s := ftsNew(t)
		ref := ftsStart(t, n, b, s)
		exit := spawntest.WatchExit(t, n, ref.Pid())
		_, err := ref.Call(spawntest.Context(t), ftsReq{Op: ftsPanic})
		var ce *genserver.CallError
		if !errors.As(err, &ce) {
			t.Fatalf("error = %T %v; want a *genserver.CallError", err, err)
		}
		var pe *process.PanicError
		if !errors.As(ce.Reason, &pe) || pe.Value != ftsBoom || len(pe.Stack) == 0 {
			t.Fatalf("CallError.Reason = %v; want a *process.PanicError with %q and a stack", ce.Reason, ftsBoom)
		}
		r := exit.Wait()
		var exitPanic *process.PanicError
		if !errors.As(r, &exitPanic) || exitPanic.Value != ftsBoom {
			t.Fatalf("exit = %v; want a *process.PanicError with %q", r, ftsBoom)
		}
		if tr := spawntest.Recv(t, s.terminated); !errors.As(tr, &exitPanic) {
			t.Errorf("Terminate reason = %v; want the *process.PanicError", tr)
		}
	})
}
