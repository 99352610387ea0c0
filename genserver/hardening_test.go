package genserver_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// hdServer runs the functions it is given for its callbacks; a nil one
// does nothing (a nil call answers with the request).
type hdServer struct {
	init func(ctx *genserver.Ctx) error
	call func(ctx *genserver.CallCtx[int], req []byte) (int, error)
	cast func(ctx *genserver.Ctx, msg string)
}

func (s *hdServer) HandleCall(ctx *genserver.CallCtx[int], req []byte) (int, error) {
	if s.call == nil {
		return len(req), nil
	}
	return s.call(ctx, req)
}

func (s *hdServer) HandleCast(ctx *genserver.Ctx, msg string) {
	if s.cast != nil {
		s.cast(ctx, msg)
	}
}

type hdInitServer struct{ hdServer }

func (s *hdInitServer) Init(ctx *genserver.Ctx) error {
	if s.init == nil {
		return nil
	}
	return s.init(ctx)
}

func hdStart(t testing.TB, n *process.Node, b process.Backend, s *hdServer, opts ...genserver.Option) genserver.Ref[[]byte, int, string] {
	t.Helper()
	ref, err := genserver.Start(spawntest.Context(t), n, s, append([]genserver.Option{genserver.WithBackend(b)}, opts...)...)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return ref
}

// TestHardening02_ReplyBeforeNoReplyHoldsNothing: a call answered through
// From before HandleCall returned NoReply used to be kept for the server's
// life (50,000 such calls left 54 MB live). An answered call holds nothing
// now, whichever of the reply and the return comes first.
//
// Not parallel: the heap it measures is then its own.
func TestHardening02_ReplyBeforeNoReplyHoldsNothing(t *testing.T) {
	const calls = 50_000
	const payload = 1 << 10 // each call carries 1 KiB, which a kept call keeps
	n := spawntest.NewNode(t)
	ref := hdStart(t, n, process.Async, &hdServer{call: func(ctx *genserver.CallCtx[int], req []byte) (int, error) {
		if !ctx.From().Reply(len(req), nil) {
			t.Error("Reply reported the call settled")
		}
		return ctx.NoReply()
	}})
	heap := func() uint64 {
		runtime.GC()
		runtime.GC() // and what sync.Pools kept through the first
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	ctx := spawntest.Context(t)
	before := heap()
	for i := range calls {
		if got, err := ref.Call(ctx, make([]byte, payload)); err != nil || got != payload {
			t.Fatalf("call %d = %d, %v", i, got, err)
		}
	}
	after := heap()
	const bound = 16 << 20 // 50,000 kept calls hold more than 50 MiB
	t.Logf("heap %d KiB before, %d KiB after %d answered calls", before>>10, after>>10, calls)
	if after > before && after-before > bound {
		t.Errorf("heap grew by %d MiB over %d answered calls; want less than %d MiB", (after-before)>>20, calls, bound>>20)
	}
	runtime.KeepAlive(ref)
}

// TestHardening03_GoexitInCallbacks: runtime.Goexit in a GenServer callback
// used to leave a zombie server whose callers waited out their timeout.
// The server exits with process.Goexit now: the call it was handling fails
// with it, its name is free, and a Start whose Init called it fails.
func TestHardening03_GoexitInCallbacks(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("HandleCall", func(t *testing.T) {
			n := spawntest.NewNode(t, process.WithBlockingPool(1))
			ref := hdStart(t, n, b, &hdServer{call: func(*genserver.CallCtx[int], []byte) (int, error) {
				runtime.Goexit()
				return 0, nil
			}}, genserver.WithName("hd03"))
			exit := spawntest.WatchExit(t, n, ref.Pid())
			_, err := ref.Call(spawntest.Context(t), nil)
			var ce *genserver.CallError
			if !errors.As(err, &ce) || !errors.Is(err, process.Goexit) {
				t.Fatalf("call = %v; want a *CallError wrapping Goexit", err)
			}
			if r := exit.Wait(); !errors.Is(r, process.Goexit) {
				t.Errorf("exit %v; want Goexit", r)
			}
			if _, ok := registry.Of(n).WhereIs("hd03"); ok {
				t.Error("the name outlived the server")
			}
			again := hdStart(t, n, b, &hdServer{})
			if got, err := again.Call(spawntest.Context(t), []byte("ab")); err != nil || got != 2 {
				t.Errorf("a later server answered %d, %v", got, err)
			}
		})
		t.Run("Init", func(t *testing.T) {
			n := spawntest.NewNode(t)
			_, err := genserver.Start(spawntest.Context(t), n, &hdInitServer{hdServer{init: func(*genserver.Ctx) error {
				runtime.Goexit()
				return nil
			}}}, genserver.WithBackend(b))
			var se *genserver.StartError
			if !errors.As(err, &se) || !errors.Is(err, process.Goexit) {
				t.Fatalf("start = %v; want a *StartError wrapping Goexit", err)
			}
		})
		t.Run("StartLink's parent lives", func(t *testing.T) {
			n := spawntest.NewNode(t)
			parent := spawntest.NewProbe(t, n)
			var err error
			parent.Do(func(p *process.Process) error {
				_, err = genserver.StartLink(spawntest.Context(t), p, &hdInitServer{hdServer{init: func(*genserver.Ctx) error {
					runtime.Goexit()
					return nil
				}}}, genserver.WithBackend(b))
				return nil
			})
			if !errors.Is(err, process.Goexit) {
				t.Fatalf("start = %v; want Goexit", err)
			}
			parent.ExpectEmpty() // alive: a failed start does not kill its parent
		})
	})
}

// hdBlocked starts a server with a bounded mailbox whose HandleCast blocks
// on "block" until gate closes, and returns it once it is blocked there.
func hdBlocked(t *testing.T, n *process.Node, b process.Backend, gate chan struct{}) genserver.Ref[[]byte, int, string] {
	t.Helper()
	blocked := make(chan struct{})
	ref := hdStart(t, n, b, &hdServer{cast: func(_ *genserver.Ctx, msg string) {
		if msg == "block" {
			close(blocked)
			<-gate
		}
	}}, genserver.WithMailboxLimit(1))
	if err := ref.Cast("block"); err != nil {
		t.Fatal(err)
	}
	spawntest.Recv(t, blocked)
	if err := ref.Cast("fill"); err != nil {
		t.Fatal(err)
	}
	if err := ref.Cast("more"); !errors.Is(err, process.ErrMailboxFull) {
		t.Fatalf("cast to a full server = %v; want ErrMailboxFull", err)
	}
	return ref
}

// TestHardening04_StopPastAFullMailbox: Stop's request used to be refused
// by a full bounded mailbox, silently: Stop waited out its deadline, said
// "call", and the server kept running. Stopping is the runtime's own
// request now, never refused for room, and its errors say stop.
func TestHardening04_StopPastAFullMailbox(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		gate := make(chan struct{})
		ref := hdBlocked(t, n, b, gate)
		stopped := make(chan error, 1)
		go func() { stopped <- ref.Stop(spawntest.Context(t), nil) }()
		queued := func() bool {
			info, err := n.Info(ref.Pid())
			return err == nil && info.MessageQueueLen == 2 // "fill" and the stop request
		}
		deadline := time.Now().Add(2 * time.Second)
		for !queued() && time.Now().Before(deadline) {
			runtime.Gosched()
		}
		close(gate)
		if err := spawntest.Recv(t, stopped); err != nil {
			t.Fatalf("stop = %v; want nil", err)
		}
		if n.Alive(ref.Pid()) {
			t.Error("the server outlived Stop")
		}
		err := ref.Stop(spawntest.Context(t), nil)
		if !errors.Is(err, process.NoProc) || !strings.Contains(err.Error(), "genserver: stop ") {
			t.Errorf("stop of a dead server = %v; want NoProc, in an error that says stop", err)
		}
	})
	t.Run("a timeout says stop", func(t *testing.T) {
		n := spawntest.NewNode(t)
		gate := make(chan struct{})
		defer close(gate)
		ref := hdBlocked(t, n, process.Async, gate)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		err := ref.Stop(ctx, nil)
		var ce *genserver.CallError
		if !errors.Is(err, genserver.ErrTimeout) || !errors.As(err, &ce) || ce.Op != genserver.OpStop || !strings.Contains(err.Error(), "genserver: stop ") {
			t.Errorf("stop = %v; want ErrTimeout, in a *CallError of Op stop", err)
		}
	})
}

// TestHardening07_PanickingHooksAndCallbacks: a logger hook that panics
// while a server's crash is reported, or a WithOnExit that panics, used to
// escape; both are contained now, and the server's callers still learn of
// its exit.
func TestHardening07_PanickingHooksAndCallbacks(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		n.SetLogger(spawntest.NewLogs(zapcore.DebugLevel).Logger().WithOptions(
			zap.Hooks(func(zapcore.Entry) error { panic("hook") })))
		ref := hdStart(t, n, b, &hdServer{call: func(*genserver.CallCtx[int], []byte) (int, error) {
			panic("crash")
		}}, genserver.WithOnExit(func(error) { panic("WithOnExit") }))
		exit := spawntest.WatchExit(t, n, ref.Pid())
		var err error
		testkit.NoPanic(t, "Call", func() { _, err = ref.Call(spawntest.Context(t), nil) })
		var pe *process.PanicError
		if !errors.As(err, &pe) || pe.Value != "crash" {
			t.Errorf("call = %v; want the crash", err)
		}
		if r := exit.Wait(); !errors.As(r, &pe) {
			t.Errorf("exit %v; want the crash", r)
		}
	})
}

// TestHardening08_NilContext: a nil context.Context used to panic in
// Start, Call and Stop; it fails at once with process.ErrNilContext now.
func TestHardening08_NilContext(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	ref := hdStart(t, n, process.Async, &hdServer{})
	parent := spawntest.NewProbe(t, n)
	var nilCtx context.Context
	cases := []struct {
		name string
		call func() error
	}{
		{"Start", func() error { _, err := genserver.Start(nilCtx, n, &hdServer{}); return err }},
		{"Start with Init", func() error { _, err := genserver.Start(nilCtx, n, &hdInitServer{}); return err }},
		{"StartLink", func() (err error) {
			parent.Do(func(p *process.Process) error { _, err = genserver.StartLink(nilCtx, p, &hdServer{}); return nil })
			return err
		}},
		{"Call", func() error { _, err := ref.Call(nilCtx, nil); return err }},
		{"Call by name", func() error {
			_, err := genserver.Named[[]byte, int, string](n, "hd08").Call(nilCtx, nil)
			return err
		}},
		{"Stop", func() error { return ref.Stop(nilCtx, nil) }},
	}
	for _, c := range cases {
		testkit.ExpectError(t, c.name, process.ErrNilContext, c.call)
	}
	if got := n.Stats().Processes; got != 2 {
		t.Errorf("%d processes; want the server and the probe only", got)
	}
}

// TestHardening09_NoReplyAfterTheKill: a caller used to get a success (1 to
// 20% of tries) from a server killed while it handled the call, when the
// handler woke on its context's end and replied. Once the kill has taken
// effect nothing the dead server's code does reaches anyone: the call
// fails with Killed, every time, whether the reply is HandleCall's return
// or a From.Reply: from another goroutine after HandleCall returned
// NoReply, or from HandleCall itself, which the kill did not stop.
func TestHardening09_NoReplyAfterTheKill(t *testing.T) {
	t.Parallel()
	tries := 200
	if testing.Short() {
		tries = 50
	}
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, how := range []string{"return", "From.Reply", "From.Reply in HandleCall"} {
			t.Run(how, func(t *testing.T) {
				n := spawntest.NewNode(t)
				for i := range tries {
					handling := make(chan struct{})
					lateReply := make(chan bool, 1)
					ref := hdStart(t, n, b, &hdServer{call: func(ctx *genserver.CallCtx[int], _ []byte) (int, error) {
						done := ctx.Context().Done()
						close(handling)
						switch how {
						case "return":
							<-done
							return 42, nil
						case "From.Reply in HandleCall": // the call is not kept yet
							from := ctx.From()
							<-done
							lateReply <- from.Reply(42, nil)
							return ctx.NoReply()
						}
						from := ctx.From()
						go func() {
							<-done
							from.Reply(42, nil)
						}()
						return ctx.NoReply()
					}})
					result := make(chan error, 1)
					go func() {
						got, err := ref.Call(context.Background(), nil)
						if err == nil {
							err = fmt.Errorf("a reply of %d", got)
						}
						result <- err
					}()
					spawntest.Recv(t, handling)
					if err := n.Exit(ref.Pid(), process.Kill); err != nil {
						t.Fatal(err)
					}
					if err := spawntest.Recv(t, result); !errors.Is(err, process.Killed) {
						t.Fatalf("try %d: call = %v; want Killed", i, err)
					}
					if how == "From.Reply in HandleCall" && spawntest.Recv(t, lateReply) {
						t.Fatalf("try %d: From.Reply after the kill = true; want false", i)
					}
				}
			})
		}
	})
}

// hdOther is a server of other types than hdServer's.
type hdOther struct{}

func (*hdOther) HandleCall(*genserver.CallCtx[string], string) (string, error) { return "", nil }
func (*hdOther) HandleCast(*genserver.Ctx, int)                                {}

// TestHardening10_WrongServerFailsAtOnce: a Ref of the wrong types used to
// fail late or not at all: a Cast returned nil and the message was dropped,
// a Call failed naming *genserver.call[...], and a Call to a plain process
// waited out its whole timeout. Each fails at once with ErrWrongServer now,
// in words naming what the Ref expects and what the process is.
func TestHardening10_WrongServerFailsAtOnce(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	ctx := context.Background() // no deadline: a miss would wait DefaultCallTimeout
	other, err := genserver.Start(ctx, n, &hdOther{}, genserver.WithName("hd10"))
	if err != nil {
		t.Fatal(err)
	}
	plain := spawntest.SpawnIdle(t, n)
	named := genserver.Named[[]byte, int, string](n, "hd10")
	at := genserver.At[[]byte, int, string](n, other.Pid())
	atPlain := genserver.At[[]byte, int, string](n, plain)
	server := "GenServer[string, string, int]"
	cases := []struct {
		name, runs string
		op         func() error
	}{
		{"Cast by name", server, func() error { return named.Cast("hello") }},
		{"Cast by Pid", server, func() error { return at.Cast("hello") }},
		{"Call by name", server, func() error { _, err := named.Call(ctx, nil); return err }},
		{"Call by Pid", server, func() error { _, err := at.Call(ctx, nil); return err }},
		{"Call to a plain process", "not a GenServer", func() error { _, err := atPlain.Call(ctx, nil); return err }},
		{"Cast to a plain process", "not a GenServer", func() error { return atPlain.Cast("hello") }},
		{"Stop of a plain process", "not a GenServer", func() error { return atPlain.Stop(ctx, nil) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.op()
			var ce *genserver.CallError
			if !errors.Is(err, genserver.ErrWrongServer) || !errors.As(err, &ce) {
				t.Fatalf("%s = %v; want a *CallError wrapping ErrWrongServer", c.name, err)
			}
			text := err.Error()
			for _, want := range []string{"GenServer[[]uint8, int, string]", c.runs} {
				if !strings.Contains(text, want) {
					t.Errorf("error %q does not say %q", text, want)
				}
			}
			if strings.Contains(text, "genserver.call[") {
				t.Errorf("error %q names the runtime's own message type", text)
			}
		})
	}
	// The right Ref still works, and the wrong ones changed nothing.
	right := genserver.Named[string, string, int](n, "hd10")
	if _, err := right.Call(ctx, "x"); err != nil {
		t.Errorf("call with the right types = %v", err)
	}
	if !n.Alive(plain) {
		t.Error("Stop with the wrong Ref stopped the plain process")
	}
}
