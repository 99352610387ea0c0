package genserver_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// hostileTermServer is an hdServer with Init, Terminate and DebugState of
// its own.
type hostileTermServer struct {
	hdServer
	initFn func(ctx *genserver.Ctx) error
	term   func(ctx *genserver.Ctx, reason error)
	state  func() any
}

func (s *hostileTermServer) Init(ctx *genserver.Ctx) error {
	if s.initFn == nil {
		return nil
	}
	return s.initFn(ctx)
}

func (s *hostileTermServer) Terminate(ctx *genserver.Ctx, reason error) {
	if s.term != nil {
		s.term(ctx, reason)
	}
}

func (s *hostileTermServer) DebugState() any {
	if s.state == nil {
		return 0
	}
	return s.state()
}

type hostileRef = genserver.Ref[[]byte, int, string]

// hostileWait returns the error sent on ch, failing the test if none comes
// before the deadline.
func hostileWait(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(spawntest.Timeout):
		t.Fatalf("hung: %s", what)
		return nil
	}
}

// TestHostile_NilOptions: a nil Option sets nothing; Start, StartLink and
// a Name's Start work and keep the other options.
func TestHostile_NilOptions(t *testing.T) {
	cases := []struct {
		name  string
		start func(t *testing.T, n *process.Node) (hostileRef, error)
	}{
		{"Start(nil)", func(t *testing.T, n *process.Node) (hostileRef, error) {
			return genserver.Start(spawntest.Context(t), n, &hdServer{}, nil)
		}},
		{"Start(WithName, nil, WithBackend)", func(t *testing.T, n *process.Node) (hostileRef, error) {
			return genserver.Start(spawntest.Context(t), n, &hdServer{}, genserver.WithName("hostile"), nil,
				genserver.WithBackend(process.Blocking))
		}},
		{"Name.Start(nil)", func(t *testing.T, n *process.Node) (hostileRef, error) {
			return genserver.NewName[[]byte, int, string]("hostile").Start(spawntest.Context(t), n, &hdServer{}, nil)
		}},
		{"StartLink(nil)", func(t *testing.T, n *process.Node) (hostileRef, error) {
			pr := spawntest.NewProbe(t, n)
			var ref hostileRef
			var err error
			pr.Do(func(p *process.Process) error {
				ref, err = genserver.StartLink(spawntest.Context(t), p, &hdServer{}, nil)
				return nil
			})
			return ref, err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := spawntest.NewNode(t)
			var ref hostileRef
			var err error
			func() {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("panicked: %v", v)
					}
				}()
				ref, err = c.start(t, n)
			}()
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			if got, err := ref.Call(spawntest.Context(t), []byte("abc")); err != nil || got != 3 {
				t.Fatalf("call = %d, %v", got, err)
			}
		})
	}
}

// TestHostile_ReentrantCallsThroughTheCallbackContext: a server that calls,
// stops or asks the state of itself, from any of its callbacks, through the
// context its callbacks get, fails at once with ErrCallingSelf (a *CallError
// naming the operation) instead of waiting for itself; on every backend.
func TestHostile_ReentrantCallsThroughTheCallbackContext(t *testing.T) {
	ops := []struct {
		name string
		op   string
		do   func(ctx context.Context, ref hostileRef) error
	}{
		{"Call", genserver.OpCall, func(ctx context.Context, ref hostileRef) error { _, err := ref.Call(ctx, nil); return err }},
		{"Stop", genserver.OpStop, func(ctx context.Context, ref hostileRef) error { return ref.Stop(ctx, nil) }},
		{"GetState", genserver.OpCall, func(ctx context.Context, ref hostileRef) error {
			_, err := genserver.GetState(ctx, ref)
			return err
		}},
	}
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		for _, op := range ops {
			name := "hostile-self-" + op.name
			self := genserver.Named[[]byte, int, string](n, name)
			// try runs op from a callback and hands back its error.
			try := func(ctx *genserver.Ctx, out chan<- error) { out <- op.do(ctx.Context(), self) }
			t.Run(op.name+"/HandleCall", func(t *testing.T) {
				out := make(chan error, 1)
				ref := hdStart(t, n, b, &hdServer{call: func(ctx *genserver.CallCtx[int], _ []byte) (int, error) {
					try(ctx.Ctx, out)
					return 0, nil
				}}, genserver.WithName(name))
				defer ref.Stop(spawntest.Context(t), nil)
				if _, err := ref.Call(spawntest.Context(t), nil); err != nil {
					t.Fatalf("outer call: %v", err)
				}
				hostileSelfErr(t, hostileWait(t, out, op.name+" from HandleCall"), op.op)
			})
			t.Run(op.name+"/HandleCast", func(t *testing.T) {
				out := make(chan error, 1)
				ref := hdStart(t, n, b, &hdServer{cast: func(ctx *genserver.Ctx, _ string) { try(ctx, out) }},
					genserver.WithName(name))
				defer ref.Stop(spawntest.Context(t), nil)
				if err := ref.Cast("go"); err != nil {
					t.Fatal(err)
				}
				hostileSelfErr(t, hostileWait(t, out, op.name+" from HandleCast"), op.op)
			})
			t.Run(op.name+"/Init", func(t *testing.T) {
				out := make(chan error, 1)
				s := &hostileTermServer{initFn: func(ctx *genserver.Ctx) error { try(ctx, out); return nil }}
				ref, err := genserver.Start(spawntest.Context(t), n, s, genserver.WithName(name), genserver.WithBackend(b))
				if err != nil {
					t.Fatal(err)
				}
				defer ref.Stop(spawntest.Context(t), nil)
				hostileSelfErr(t, hostileWait(t, out, op.name+" from Init"), op.op)
			})
			t.Run(op.name+"/Terminate", func(t *testing.T) {
				out := make(chan error, 1)
				s := &hostileTermServer{term: func(ctx *genserver.Ctx, _ error) { try(ctx, out) }}
				ref, err := genserver.Start(spawntest.Context(t), n, s, genserver.WithName(name), genserver.WithBackend(b))
				if err != nil {
					t.Fatal(err)
				}
				if err := ref.Stop(spawntest.Context(t), nil); err != nil {
					t.Fatalf("stop: %v", err)
				}
				hostileSelfErr(t, hostileWait(t, out, op.name+" from Terminate"), op.op)
			})
		}
	})
}

func hostileSelfErr(t *testing.T, err error, op string) {
	t.Helper()
	var ce *genserver.CallError
	if !errors.Is(err, genserver.ErrCallingSelf) || !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *CallError wrapping ErrCallingSelf", err)
	}
	if got := ce.Op; got != op && !(got == "" && op == genserver.OpCall) {
		t.Fatalf("CallError.Op = %q, want %q", got, op)
	}
}

// TestHostile_StopRacesCalls: several goroutines call a server while
// several others stop it. Every call returns by its deadline with a reply or
// a *CallError wrapping NoProc or the Normal stop; each Stop succeeds
// (it found the server alive, as OTP's concurrent stops all return ok) or
// fails with NoProc, at least one succeeds; nothing hangs. On every
// backend, and with direct calls.
func TestHostile_StopRacesCalls(t *testing.T) {
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		opts := [][]genserver.Option{nil}
		if b == process.Async {
			opts = append(opts, []genserver.Option{genserver.WithDirectCalls()})
		}
		for _, o := range opts {
			for range 20 {
				ref := hdStart(t, n, b, &hdServer{}, o...)
				ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
				var wg sync.WaitGroup
				start := make(chan struct{})
				var mu sync.Mutex
				stops := 0
				for range 4 {
					wg.Go(func() {
						<-start
						for range 20 {
							got, err := ref.Call(ctx, []byte("xy"))
							var ce *genserver.CallError
							switch {
							case err == nil && got == 2:
							case errors.As(err, &ce) && (errors.Is(err, process.NoProc) || errors.Is(err, process.Normal)):
							default:
								t.Errorf("call = %d, %v", got, err)
								return
							}
						}
					})
				}
				for range 3 {
					wg.Go(func() {
						<-start
						err := ref.Stop(ctx, nil)
						switch {
						case err == nil:
							mu.Lock()
							stops++
							mu.Unlock()
						case errors.Is(err, process.NoProc):
						default:
							t.Errorf("stop: %v", err)
						}
					})
				}
				close(start)
				wg.Wait()
				cancel()
				if stops < 1 {
					t.Fatal("no Stop succeeded")
				}
				if err := ref.Stop(spawntest.Context(t), nil); !errors.Is(err, process.NoProc) {
					t.Fatalf("Stop after stop = %v, want NoProc", err)
				}
			}
		}
	})
}

// TestHostile_CallbackMisuse: the Ctx and From of a callback used in ways
// the documentation does not invite. None panics, none hangs, the answers
// are the documented ones.
func TestHostile_CallbackMisuse(t *testing.T) {
	n := spawntest.NewNode(t)
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"timers of no period, Continue(nil), negative IdleTimeout, unknown CancelTimer", func(t *testing.T) {
			out := make(chan error, 1)
			ref := hdStart(t, n, process.Async, &hdServer{call: func(ctx *genserver.CallCtx[int], _ []byte) (int, error) {
				_, e1 := ctx.SendInterval("x", 0)
				_, e2 := ctx.SendInterval("x", -time.Second)
				ctx.Continue(nil)
				ctx.IdleTimeout(-time.Second)
				if ctx.CancelTimer(ctx.Node().MakeRef()) {
					t.Error("CancelTimer of a Ref that is no timer reported true")
				}
				out <- errors.Join(
					hostileWant(e1, process.ErrBadInterval),
					hostileWant(e2, process.ErrBadInterval))
				return 1, nil
			}})
			if got, err := ref.Call(spawntest.Context(t), nil); err != nil || got != 1 {
				t.Fatalf("call = %d, %v", got, err)
			}
			if err := hostileWait(t, out, "callback"); err != nil {
				t.Fatal(err)
			}
			if got, err := ref.Call(spawntest.Context(t), []byte("ab")); err != nil || got != 1 {
				t.Fatalf("second call = %d, %v: the server did not go on", got, err)
			}
		}},
		{"Reply twice, then return a value: the first answer wins", func(t *testing.T) {
			out := make(chan [2]bool, 1)
			ref := hdStart(t, n, process.Async, &hdServer{call: func(ctx *genserver.CallCtx[int], _ []byte) (int, error) {
				f := ctx.From()
				out <- [2]bool{f.Reply(7, nil), f.Reply(8, nil)}
				return 9, nil
			}})
			got, err := ref.Call(spawntest.Context(t), nil)
			if err != nil || got != 7 {
				t.Fatalf("call = %d, %v; want 7", got, err)
			}
			if r := <-out; !r[0] || r[1] {
				t.Fatalf("Reply reported %v, want [true false]", r)
			}
		}},
		{"a DebugState that panics fails GetState, not the server", func(t *testing.T) {
			s := &hostileTermServer{state: func() any { panic("debug state") }}
			ref, err := genserver.Start(spawntest.Context(t), n, s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := genserver.GetState(spawntest.Context(t), ref); err == nil {
				t.Fatal("GetState of a panicking DebugState succeeded")
			}
			if got, err := ref.Call(spawntest.Context(t), []byte("a")); err != nil || got != 1 {
				t.Fatalf("call after = %d, %v", got, err)
			}
		}},
		{"Stop with an expired context on a live server", func(t *testing.T) {
			ref := hdStart(t, n, process.Async, &hdServer{})
			ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
			defer cancel()
			err := ref.Stop(ctx, nil)
			var ce *genserver.CallError
			if err != nil && (!errors.As(err, &ce) || ce.Op != genserver.OpStop) {
				t.Fatalf("Stop = %v, want nil or a *CallError of op stop", err)
			}
			if err != nil {
				spawntest.WaitExit(t, n, ref.Pid()) // the request was queued: it stops anyway
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("panicked: %v", v)
				}
			}()
			c.run(t)
		})
	}
}

func hostileWant(err, want error) error {
	if !errors.Is(err, want) {
		return errors.New("got " + errString(err) + ", want " + want.Error())
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

type hostilePlain struct{}

func (hostilePlain) HandleMessage(*process.Process, any) error { return nil }

// TestHostile_StateOfBadInput: GetState and StateOf given what they cannot
// ask. Each fails at once with its documented error; a nil context used to
// panic in both.
func TestHostile_StateOfBadInput(t *testing.T) {
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	var nilCtx context.Context
	plain := spawntest.SpawnIdle(t, n)
	handler, err := n.SpawnHandler(hostilePlain{})
	if err != nil {
		t.Fatal(err)
	}
	dead := spawntest.SpawnIdle(t, n)
	spawntest.ExitAndWait(t, n, dead, process.Kill)
	quiet := hdStart(t, n, process.Async, &hdServer{}) // no DebugState
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"GetState(nil ctx)", func() error { _, err := genserver.GetState(nilCtx, quiet); return err }, process.ErrNilContext},
		{"StateOf(nil ctx)", func() error { _, err := genserver.StateOf(nilCtx, n, quiet.Pid()); return err }, process.ErrNilContext},
		{"StateOf(nil node)", func() error { _, err := genserver.StateOf(ctx, nil, quiet.Pid()); return err }, process.ErrNilNode},
		{"StateOf(zero pid)", func() error { _, err := genserver.StateOf(ctx, n, pid.Pid{}); return err }, process.ErrZeroPid},
		{"StateOf(dead)", func() error { _, err := genserver.StateOf(ctx, n, dead); return err }, process.NoProc},
		{"StateOf(pid of another node)", func() error {
			_, err := genserver.StateOf(ctx, n, pid.New(pid.NewNodeID(), quiet.Pid().Serial()))
			return err
		}, genserver.ErrNoState},
		{"StateOf(plain process)", func() error { _, err := genserver.StateOf(ctx, n, plain); return err }, genserver.ErrNoState},
		{"StateOf(handler process)", func() error { _, err := genserver.StateOf(ctx, n, handler); return err }, genserver.ErrNoState},
		{"GetState(no StateReporter)", func() error { _, err := genserver.GetState(ctx, quiet); return err }, genserver.ErrNoState},
		{"GetState(zero Ref)", func() error { _, err := genserver.GetState(ctx, hostileRef{}); return err }, genserver.ErrZeroRef},
		{"GetState(unknown name)", func() error {
			_, err := genserver.GetState(ctx, genserver.Named[[]byte, int, string](n, "nobody"))
			return err
		}, process.NoProc},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := make(chan error, 1)
			go func() {
				defer func() {
					if v := recover(); v != nil {
						out <- errors.New("panicked")
						t.Errorf("panicked: %v", v)
					}
				}()
				out <- c.call()
			}()
			if err := hostileWait(t, out, c.name); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}
