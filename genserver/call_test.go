package genserver_test

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// scResult is the outcome of a call made in a goroutine.
type scResult struct {
	v   int
	err error
}

// scCallAsync makes a call in a goroutine and returns where its result
// arrives.
func scCallAsync(t *testing.T, ref genserver.Ref[scReq, int, scMsg], req scReq) <-chan scResult {
	ctx := spawntest.Context(t)
	ch := make(chan scResult, 1)
	go func() {
		v, err := ref.Call(ctx, req)
		ch <- scResult{v, err}
	}()
	return ch
}

// scExpectPending fails when the call already has a result.
func scExpectPending(t *testing.T, ch <-chan scResult) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("deferred call returned (%d, %v) before any reply", r.v, r.err)
	default:
	}
}

func TestGS06_CallReturnsReply(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		ref, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b))
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		for i, want := range []int{2, 5, 9} {
			v, err := ref.Call(ctx, scReq{Op: "add", N: []int{2, 3, 4}[i]})
			if err != nil || v != want {
				t.Fatalf("call %d: got (%d, %v), want (%d, nil)", i, v, err, want)
			}
		}
		// From a process too.
		probe := spawntest.NewProbe(t, n, process.WithBackend(b))
		var v int
		probe.Do(func(p *process.Process) error {
			v, err = ref.Call(p.Context(), scReq{Op: "get"})
			return nil
		})
		if err != nil || v != 9 {
			t.Fatalf("call from a process: got (%d, %v), want (9, nil)", v, err)
		}
		probe.ExpectEmpty() // the reply left nothing in the caller's mailbox
	})
}

// TestGS06_CallByName: WithName with Named, ByName, and a Ref's Pid.
func TestGS06_CallByName(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		ref, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b), genserver.WithName("gs06"))
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		if ref.Name() != "gs06" || ref.Pid().IsZero() {
			t.Fatalf("Ref: name %q pid %v", ref.Name(), ref.Pid())
		}
		named := genserver.Named[scReq, int, scMsg](n, "gs06")
		if v, err := named.Call(ctx, scReq{Op: "add", N: 1}); err != nil || v != 1 {
			t.Fatalf("Named call: got (%d, %v), want (1, nil)", v, err)
		}
		byName := ref.ByName()
		if !byName.Pid().IsZero() || byName.Name() != "gs06" {
			t.Fatalf("ByName: name %q pid %v, want the name only", byName.Name(), byName.Pid())
		}
		if v, err := byName.Call(ctx, scReq{Op: "add", N: 2}); err != nil || v != 3 {
			t.Fatalf("ByName call: got (%d, %v), want (3, nil)", v, err)
		}
		if err := named.Cast(scMsg{N: 4}); err != nil {
			t.Fatalf("Named cast: %v", err)
		}
		if v, err := ref.Call(ctx, scReq{Op: "get"}); err != nil || v != 7 {
			t.Fatalf("call by Pid: got (%d, %v), want (7, nil)", v, err)
		}

		// A server without a name keeps its Pid under ByName.
		anon, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b))
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		if anon.ByName().Pid() != anon.Pid() {
			t.Fatalf("ByName of an unnamed Ref lost its Pid")
		}
		if v, err := anon.ByName().Call(ctx, scReq{Op: "add", N: 5}); err != nil || v != 5 {
			t.Fatalf("unnamed ByName call: got (%d, %v), want (5, nil)", v, err)
		}

		// Once stopped, the name is unknown: NoProc at once.
		if err := ref.Stop(ctx, nil); err != nil {
			t.Fatalf("stop: %v", err)
		}
		_, err = named.Call(ctx, scReq{Op: "get"})
		var ce *genserver.CallError
		if !errors.As(err, &ce) || !errors.Is(err, process.NoProc) || ce.Name != "gs06" {
			t.Fatalf("call to a stopped name: got %v, want a *CallError naming gs06 wrapping NoProc", err)
		}
	})
}

var errSCDeferred = errors.New("deferred failure")

func TestGS07_DeferredReply(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("from_goroutine", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			srv := &scServer{froms: make(chan genserver.From[int], 1)}
			ref, err := genserver.Start(ctx, n, srv, genserver.WithBackend(b))
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			res := scCallAsync(t, ref, scReq{Op: "defer"})
			from := spawntest.Recv(t, srv.froms)

			// The server answers other calls while one is deferred.
			if v, err := ref.Call(ctx, scReq{Op: "add", N: 3}); err != nil || v != 3 {
				t.Fatalf("call while another is deferred: got (%d, %v)", v, err)
			}
			scExpectPending(t, res)

			replied := make(chan bool, 1)
			go func() { replied <- from.Reply(42, nil) }()
			if !spawntest.Recv(t, replied) {
				t.Fatal("first Reply reported false")
			}
			if r := spawntest.Recv(t, res); r.err != nil || r.v != 42 {
				t.Fatalf("deferred call: got (%d, %v), want (42, nil)", r.v, r.err)
			}
			if from.Reply(43, nil) {
				t.Fatal("second Reply reported true")
			}

			// A deferred error reply reaches the caller unchanged.
			res = scCallAsync(t, ref, scReq{Op: "defer"})
			from = spawntest.Recv(t, srv.froms)
			go func() { replied <- from.Reply(0, errSCDeferred) }()
			if !spawntest.Recv(t, replied) {
				t.Fatal("error Reply reported false")
			}
			r := spawntest.Recv(t, res)
			var ce *genserver.CallError
			if r.err != errSCDeferred || errors.As(r.err, &ce) {
				t.Fatalf("deferred error reply: got %v, want %v unchanged", r.err, errSCDeferred)
			}
			if v, err := ref.Call(ctx, scReq{Op: "get"}); err != nil || v != 3 {
				t.Fatalf("server after deferred replies: got (%d, %v), want (3, nil)", v, err)
			}
		})
		t.Run("from_process", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			ref, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b))
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			probe := spawntest.NewProbe(t, n, process.WithBackend(b))
			res := scCallAsync(t, ref, scReq{Op: "deferTo", To: probe.Pid()})
			msg := probe.Receive()
			from, ok := msg.(genserver.From[int])
			if !ok {
				t.Fatalf("probe got %#v, want a genserver.From[int]", msg)
			}
			scExpectPending(t, res)
			var first, second bool
			probe.Do(func(*process.Process) error {
				first = from.Reply(7, nil)
				second = from.Reply(8, nil)
				return nil
			})
			if !first || second {
				t.Fatalf("Reply from a process: first %v, second %v; want true, false", first, second)
			}
			if r := spawntest.Recv(t, res); r.err != nil || r.v != 7 {
				t.Fatalf("deferred call: got (%d, %v), want (7, nil)", r.v, r.err)
			}
			probe.ExpectEmpty()
		})
	})
}

func TestGS12_CastNeverFails(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		ref, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b))
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		if err := ref.Cast(scMsg{N: 2}); err != nil {
			t.Fatalf("cast to a live server: %v", err)
		}
		// The cast from this goroutine is handled before the next call.
		if v, err := ref.Call(ctx, scReq{Op: "get"}); err != nil || v != 2 {
			t.Fatalf("after cast: got (%d, %v), want (2, nil)", v, err)
		}

		if err := ref.Stop(ctx, nil); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if n.Alive(ref.Pid()) {
			t.Fatalf("server %v alive after Stop", ref.Pid())
		}
		if err := ref.Cast(scMsg{N: 1}); err != nil {
			t.Fatalf("cast to a dead server: got %v, want nil", err)
		}
		if err := genserver.Named[scReq, int, scMsg](n, "gs12-nobody").Cast(scMsg{N: 1}); err != nil {
			t.Fatalf("cast to an unknown name: got %v, want nil", err)
		}

		var zero genserver.Ref[scReq, int, scMsg]
		if err := zero.Cast(scMsg{N: 1}); !errors.Is(err, genserver.ErrZeroRef) {
			t.Fatalf("cast on the zero Ref: got %v, want ErrZeroRef", err)
		}
	})
}

// scInfoServer is scServer with HandleInfo.
type scInfoServer struct {
	scServer
	infos chan any
}

func (s *scInfoServer) HandleInfo(_ *genserver.Ctx, msg any) { s.infos <- msg }

// scPlain is a plain message sent with Node.Send.
type scPlain struct{ Text string }

func TestGS13_HandleInfoIsOptional(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("without_handle_info", func(t *testing.T) {
			core, logs := observer.New(zapcore.WarnLevel)
			n := spawntest.NewNode(t, process.WithLogger(zap.New(core)))
			ctx := spawntest.Context(t)
			ref, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b), genserver.WithName("gs13"))
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			if err := n.Send(ref.Pid(), scPlain{"hello"}); err != nil {
				t.Fatalf("send: %v", err)
			}
			// The message was sent first, so it has been handled when the
			// call is answered.
			if v, err := ref.Call(ctx, scReq{Op: "add", N: 1}); err != nil || v != 1 {
				t.Fatalf("call after a plain message: got (%d, %v), want (1, nil)", v, err)
			}
			if !n.Alive(ref.Pid()) {
				t.Fatal("server died of a plain message")
			}
			entries := logs.FilterMessageSnippet("unexpected message").AllUntimed()
			if len(entries) != 1 {
				t.Fatalf("got %d \"unexpected message\" log entries, want 1; all: %v", len(entries), logs.AllUntimed())
			}
			e := entries[0]
			if e.Level != zapcore.WarnLevel {
				t.Fatalf("log level %v, want warn", e.Level)
			}
			fields := e.ContextMap()
			if fields["pid"] != ref.Pid().String() || fields["name"] != "gs13" {
				t.Fatalf("log fields %v do not name the server %v gs13", fields, ref.Pid())
			}
			if m, _ := fields["message"].(string); !strings.Contains(m, "scPlain") {
				t.Fatalf("log fields %v do not describe the message", fields)
			}
			if logs.Len() != 1 {
				t.Fatalf("unexpected extra log entries: %v", logs.AllUntimed())
			}
		})
		t.Run("with_handle_info", func(t *testing.T) {
			core, logs := observer.New(zapcore.WarnLevel)
			n := spawntest.NewNode(t, process.WithLogger(zap.New(core)))
			ctx := spawntest.Context(t)
			srv := &scInfoServer{infos: make(chan any, 1)}
			ref, err := genserver.Start(ctx, n, srv, genserver.WithBackend(b))
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			if err := n.Send(ref.Pid(), scPlain{"hello"}); err != nil {
				t.Fatalf("send: %v", err)
			}
			if got := spawntest.Recv(t, srv.infos); got != (scPlain{"hello"}) {
				t.Fatalf("HandleInfo got %#v, want %#v", got, scPlain{"hello"})
			}
			if v, err := ref.Call(ctx, scReq{Op: "add", N: 1}); err != nil || v != 1 {
				t.Fatalf("call after a plain message: got (%d, %v), want (1, nil)", v, err)
			}
			if logs.Len() != 0 {
				t.Fatalf("unexpected log entries: %v", logs.AllUntimed())
			}
		})
	})
}
