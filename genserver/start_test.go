package genserver_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// scReq is the call type of scServer.
type scReq struct {
	Op string  // "add", "get", "defer", "deferTo"
	N  int     // for "add"
	To pid.Pid // for "deferTo": the process that gets the From
}

// scMsg is the cast type of scServer: add N.
type scMsg struct{ N int }

// scServer is the test server of the start and call tests. Init runs
// initFn when set; every other field is touched only by its callbacks.
type scServer struct {
	initFn func(ctx *genserver.Ctx) error
	inits  atomic.Int32
	n      int
	froms  chan genserver.From[int] // "defer" sends the From here
}

func (s *scServer) Init(ctx *genserver.Ctx) error {
	s.inits.Add(1)
	if s.initFn != nil {
		return s.initFn(ctx)
	}
	return nil
}

func (s *scServer) HandleCall(cc *genserver.CallCtx[int], req scReq) (int, error) {
	switch req.Op {
	case "add":
		s.n += req.N
		return s.n, nil
	case "get":
		return s.n, nil
	case "defer":
		s.froms <- cc.From()
		return cc.NoReply()
	case "deferTo":
		if err := cc.Process().Send(req.To, cc.From()); err != nil {
			return 0, err
		}
		return cc.NoReply()
	}
	return 0, errors.New("scServer: unknown op " + req.Op)
}

func (s *scServer) HandleCast(_ *genserver.Ctx, msg scMsg) { s.n += msg.N }

// scPidCapture returns an Init hook that reports the server's Pid on the
// returned channel and then returns result(ctx).
func scPidCapture(result func(ctx *genserver.Ctx) error) (func(ctx *genserver.Ctx) error, <-chan pid.Pid) {
	ch := make(chan pid.Pid, 1)
	return func(ctx *genserver.Ctx) error {
		ch <- ctx.Self()
		if result == nil {
			return nil
		}
		return result(ctx)
	}, ch
}

// scStartLinked makes probe (trapping exits if trap) start a server linked
// to it whose Init returns result(ctx), with opts on backend b. It returns
// the server's Pid, as Init saw it, and the start's error.
func scStartLinked(t *testing.T, probe *spawntest.Probe, b process.Backend, trap bool,
	result func(ctx *genserver.Ctx) error, opts ...genserver.Option) (pid.Pid, error) {
	t.Helper()
	initFn, pids := scPidCapture(result)
	ctx := spawntest.Context(t)
	var err error
	probe.Do(func(p *process.Process) error {
		p.TrapExit(trap)
		_, err = genserver.StartLink(ctx, p, &scServer{initFn: initFn},
			append([]genserver.Option{genserver.WithBackend(b)}, opts...)...)
		return nil
	})
	return spawntest.Recv(t, pids), err
}

// scExpectNoName fails when name is registered on n.
// scExpectStartLeftNothing checks what a start that did not succeed left:
// the server whose Pid pids gives is dead (else the test fails with
// aliveMsg, a format with the server's %v), the node runs the before
// processes it ran, and name is free.
func scExpectStartLeftNothing(t *testing.T, n *process.Node, pids <-chan pid.Pid, before int, name, aliveMsg string) {
	t.Helper()
	if server := spawntest.Recv(t, pids); n.Alive(server) {
		t.Fatalf(aliveMsg, server)
	}
	scExpectProcesses(t, n, before)
	scExpectNoName(t, n, name)
}

func scExpectNoName(t *testing.T, n *process.Node, name string) {
	t.Helper()
	if p, ok := registry.Of(n).WhereIs(name); ok {
		t.Fatalf("name %q still registered to %v", name, p)
	}
}

// scExpectProcesses fails unless n has want live processes.
func scExpectProcesses(t *testing.T, n *process.Node, want int) {
	t.Helper()
	if got := len(n.Processes()); got != want {
		t.Fatalf("live processes: got %d, want %d (%v)", got, want, n.Processes())
	}
}

// scExpectProbeAlive proves that probe survived: after server's exit is
// fully propagated (its monitors fire after its links), the probe is alive
// and still runs commands.
func scExpectProbeAlive(t *testing.T, n *process.Node, probe *spawntest.Probe, server pid.Pid) {
	t.Helper()
	spawntest.WaitExit(t, n, server)
	if !n.Alive(probe.Pid()) {
		t.Fatalf("probe %v was killed by the failed linked start", probe.Pid())
	}
	probe.Do(func(*process.Process) error { return nil })
	probe.ExpectEmpty()
}

func TestGS01_StartReturnsAfterSlowInit(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, linked := range []bool{false, true} {
			name := "start"
			if linked {
				name = "start_link"
			}
			t.Run(name, func(t *testing.T) {
				n := spawntest.NewNode(t)
				ctx := spawntest.Context(t)
				gate := spawntest.NewGate(t)
				parents := make(chan pid.Pid, 1)
				entered := make(chan struct{})
				// Init sets the state after the gate: the first call must
				// see it.
				srv := &scServer{}
				srv.initFn = func(ctx *genserver.Ctx) error {
					parents <- ctx.Parent()
					close(entered)
					gate.Wait(context.Background()) // ignores its context, on purpose
					srv.n = 100
					return nil
				}

				var returned atomic.Bool
				early := make(chan bool, 1)
				queued := make(chan int, 1)
				go func() {
					<-entered
					early <- returned.Load()
					// A call by name made during Init waits behind Init.
					go func() {
						v, err := genserver.Named[scReq, int, scMsg](n, "gs01").Call(ctx, scReq{Op: "get"})
						if err != nil {
							v = -1
						}
						queued <- v
					}()
					gate.Open()
				}()

				var ref genserver.Ref[scReq, int, scMsg]
				var err error
				var probe *spawntest.Probe
				opts := []genserver.Option{genserver.WithBackend(b), genserver.WithName("gs01")}
				if linked {
					probe = spawntest.NewProbe(t, n, process.WithBackend(b))
					probe.Do(func(p *process.Process) error {
						ref, err = genserver.StartLink(ctx, p, srv, opts...)
						returned.Store(true)
						return nil
					})
				} else {
					ref, err = genserver.Start(ctx, n, srv, opts...)
					returned.Store(true)
				}
				if err != nil {
					t.Fatalf("start: %v", err)
				}
				if spawntest.Recv(t, early) {
					t.Fatal("Start returned before Init finished")
				}
				if ref.Pid().IsZero() || !n.Alive(ref.Pid()) {
					t.Fatalf("Start returned %v, which is not alive", ref.Pid())
				}
				parent := spawntest.Recv(t, parents)
				if linked && parent != probe.Pid() {
					t.Fatalf("Parent() = %v, want the probe %v", parent, probe.Pid())
				}
				if !linked && !parent.IsZero() {
					t.Fatalf("Parent() = %v, want the zero Pid", parent)
				}
				v, err := ref.Call(ctx, scReq{Op: "add", N: 1})
				if err != nil || v != 101 {
					t.Fatalf("first call: got (%d, %v), want (101, nil)", v, err)
				}
				if got := spawntest.Recv(t, queued); got != 100 && got != 101 {
					t.Fatalf("call by name made during Init: got %d, want the state set by Init", got)
				}
				if got := srv.inits.Load(); got != 1 {
					t.Fatalf("Init ran %d times, want 1", got)
				}
			})
		}
	})
}

// TestGS01_StartRejectsNilArguments: nil node, nil parent, nil server.
func TestGS01_StartRejectsNilArguments(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		before := len(n.Processes())

		if _, err := genserver.Start(ctx, nil, &scServer{}, genserver.WithBackend(b)); !errors.Is(err, process.ErrNilNode) {
			t.Fatalf("Start with nil node: got %v, want ErrNilNode", err)
		}
		if _, err := genserver.StartLink(ctx, nil, &scServer{}, genserver.WithBackend(b)); !errors.Is(err, process.ErrNilProcess) {
			t.Fatalf("StartLink with nil parent: got %v, want ErrNilProcess", err)
		}
		if _, err := genserver.Start[scReq, int, scMsg](ctx, n, nil, genserver.WithBackend(b)); !errors.Is(err, genserver.ErrNilServer) {
			t.Fatalf("Start with nil server: got %v, want ErrNilServer", err)
		}
		probe := spawntest.NewProbe(t, n, process.WithBackend(b))
		var err error
		probe.Do(func(p *process.Process) error {
			_, err = genserver.StartLink[scReq, int, scMsg](ctx, p, nil, genserver.WithBackend(b))
			return nil
		})
		if !errors.Is(err, genserver.ErrNilServer) {
			t.Fatalf("StartLink with nil server: got %v, want ErrNilServer", err)
		}
		scExpectProcesses(t, n, before+1) // only the probe
	})
}

var errSCInitStop = errors.New("init says stop")

func TestGS02_InitErrorFailsStart(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("start", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			before := len(n.Processes())
			initFn, pids := scPidCapture(func(*genserver.Ctx) error { return errSCInitStop })
			ref, err := genserver.Start(ctx, n, &scServer{initFn: initFn}, genserver.WithBackend(b), genserver.WithName("gs02"))
			var se *genserver.StartError
			if !errors.As(err, &se) || !errors.Is(err, errSCInitStop) {
				t.Fatalf("Start: got %v, want a *StartError wrapping %v", err, errSCInitStop)
			}
			if !errors.Is(se.Reason, errSCInitStop) {
				t.Fatalf("StartError.Reason = %v, want %v", se.Reason, errSCInitStop)
			}
			if !ref.Pid().IsZero() {
				t.Fatalf("failed Start returned Pid %v", ref.Pid())
			}
			scExpectStartLeftNothing(t, n, pids, before, "gs02", "server %v alive after a failed start")
		})
		t.Run("start_link_trapping", func(t *testing.T) {
			n := spawntest.NewNode(t)
			probe := spawntest.NewProbe(t, n, process.WithBackend(b))
			server, err := scStartLinked(t, probe, b, true, func(*genserver.Ctx) error { return errSCInitStop })
			var se *genserver.StartError
			if !errors.As(err, &se) || !errors.Is(err, errSCInitStop) {
				t.Fatalf("StartLink: got %v, want a *StartError wrapping %v", err, errSCInitStop)
			}
			msg := probe.Receive()
			ex, ok := msg.(link.Exit)
			if !ok || ex.From != server || !errors.Is(ex.Reason, errSCInitStop) {
				t.Fatalf("trapping parent got %#v, want link.Exit{From: %v, Reason: %v}", msg, server, errSCInitStop)
			}
			probe.ExpectEmpty()
		})
		t.Run("start_link_not_trapping", func(t *testing.T) {
			n := spawntest.NewNode(t)
			probe := spawntest.NewProbe(t, n, process.WithBackend(b))
			server, err := scStartLinked(t, probe, b, false, func(*genserver.Ctx) error { return errSCInitStop })
			var se *genserver.StartError
			if !errors.As(err, &se) || !errors.Is(err, errSCInitStop) {
				t.Fatalf("StartLink: got %v, want a *StartError wrapping %v", err, errSCInitStop)
			}
			scExpectProbeAlive(t, n, probe, server)
		})
	})
}

func TestGS03_InitIgnoreLeavesNothing(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("start", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			before := len(n.Processes())
			initFn, pids := scPidCapture(func(*genserver.Ctx) error { return genserver.Ignore })
			ref, err := genserver.Start(ctx, n, &scServer{initFn: initFn}, genserver.WithBackend(b), genserver.WithName("gs03"))
			if !errors.Is(err, genserver.ErrIgnored) {
				t.Fatalf("Start: got %v, want ErrIgnored", err)
			}
			if !ref.Pid().IsZero() {
				t.Fatalf("ignored Start returned Pid %v", ref.Pid())
			}
			scExpectStartLeftNothing(t, n, pids, before, "gs03", "server %v alive after Ignore")

			// The name can be used again at once.
			again, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b), genserver.WithName("gs03"))
			if err != nil {
				t.Fatalf("Start with the freed name: %v", err)
			}
			if p, ok := registry.Of(n).WhereIs("gs03"); !ok || p != again.Pid() {
				t.Fatalf("WhereIs(gs03) = %v, %v; want %v", p, ok, again.Pid())
			}
		})
		t.Run("start_link_trapping", func(t *testing.T) {
			// A trapping parent sees the ignored server exit normal.
			n := spawntest.NewNode(t)
			probe := spawntest.NewProbe(t, n, process.WithBackend(b))
			server, err := scStartLinked(t, probe, b, true, func(*genserver.Ctx) error { return genserver.Ignore }, genserver.WithName("gs03"))
			if !errors.Is(err, genserver.ErrIgnored) {
				t.Fatalf("StartLink: got %v, want ErrIgnored", err)
			}
			msg := probe.Receive()
			ex, ok := msg.(link.Exit)
			if !ok || ex.From != server || !errors.Is(ex.Reason, process.Normal) {
				t.Fatalf("trapping parent got %#v, want link.Exit{From: %v, Reason: Normal}", msg, server)
			}
			probe.ExpectEmpty()
			scExpectNoName(t, n, "gs03")
		})
		t.Run("start_link_not_trapping", func(t *testing.T) {
			n := spawntest.NewNode(t)
			probe := spawntest.NewProbe(t, n, process.WithBackend(b))
			server, err := scStartLinked(t, probe, b, false, func(*genserver.Ctx) error { return genserver.Ignore }, genserver.WithName("gs03"))
			if !errors.Is(err, genserver.ErrIgnored) {
				t.Fatalf("StartLink: got %v, want ErrIgnored", err)
			}
			scExpectProbeAlive(t, n, probe, server)
			scExpectNoName(t, n, "gs03")
		})
	})
}

// scExpectInitPanic checks that err is a failed start caused by a panic in
// Init with value "init boom".
func scExpectInitPanic(t *testing.T, err error) {
	t.Helper()
	var se *genserver.StartError
	if !errors.As(err, &se) {
		t.Fatalf("start: got %v, want a *StartError", err)
	}
	var pe *process.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("start: got %v, want an error wrapping *process.PanicError", err)
	}
	if pe.Value != "init boom" {
		t.Fatalf("PanicError.Value = %#v, want %q", pe.Value, "init boom")
	}
	if len(pe.Stack) == 0 || !bytes.Contains(pe.Stack, []byte("Init")) {
		t.Fatalf("PanicError.Stack does not show Init:\n%s", pe.Stack)
	}
}

func TestGS04_InitPanicFailsStart(t *testing.T) {
	t.Parallel()
	boom := func(*genserver.Ctx) error { panic("init boom") }
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("start", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			before := len(n.Processes())
			initFn, pids := scPidCapture(boom)
			ref, err := genserver.Start(ctx, n, &scServer{initFn: initFn}, genserver.WithBackend(b), genserver.WithName("gs04"))
			scExpectInitPanic(t, err)
			if !ref.Pid().IsZero() {
				t.Fatalf("failed Start returned Pid %v", ref.Pid())
			}
			scExpectStartLeftNothing(t, n, pids, before, "gs04", "server %v alive after Init panicked")
		})
		t.Run("start_link_not_trapping", func(t *testing.T) {
			n := spawntest.NewNode(t)
			probe := spawntest.NewProbe(t, n, process.WithBackend(b))
			server, err := scStartLinked(t, probe, b, false, boom, genserver.WithName("gs04"))
			scExpectInitPanic(t, err)
			scExpectProbeAlive(t, n, probe, server)
			scExpectNoName(t, n, "gs04")
		})
		t.Run("start_link_trapping", func(t *testing.T) {
			n := spawntest.NewNode(t)
			probe := spawntest.NewProbe(t, n, process.WithBackend(b))
			server, err := scStartLinked(t, probe, b, true, boom)
			scExpectInitPanic(t, err)
			msg := probe.Receive()
			var pe *process.PanicError
			ex, ok := msg.(link.Exit)
			if !ok || ex.From != server || !errors.As(ex.Reason, &pe) {
				t.Fatalf("trapping parent got %#v, want link.Exit{From: %v, Reason: *PanicError}", msg, server)
			}
			probe.ExpectEmpty()
		})
	})
}

func TestGS05_StartTimeoutKillsHalfStartedServer(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		// check runs after the failed start: the server is gone, with its
		// name, while its Init is still blocked; then Init is released.
		check := func(t *testing.T, n *process.Node, gate *spawntest.Gate, pids <-chan pid.Pid, before int) {
			t.Helper()
			scExpectStartLeftNothing(t, n, pids, before, "gs05", "half-started server %v still alive")
			gate.Open()
		}
		// Init ignores its context, on purpose: only the kill ends it.
		blocked := func(gate *spawntest.Gate) (func(*genserver.Ctx) error, <-chan pid.Pid) {
			return scPidCapture(func(*genserver.Ctx) error { gate.Wait(context.Background()); return nil })
		}

		t.Run("start_timeout", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			before := len(n.Processes())
			gate := spawntest.NewGate(t)
			initFn, pids := blocked(gate)
			ref, err := genserver.Start(ctx, n, &scServer{initFn: initFn}, genserver.WithBackend(b),
				genserver.WithName("gs05"), genserver.WithStartTimeout(50*time.Millisecond))
			var se *genserver.StartError
			if !errors.Is(err, genserver.ErrTimeout) || !errors.As(err, &se) {
				t.Fatalf("Start: got %v, want a *StartError wrapping ErrTimeout", err)
			}
			if !ref.Pid().IsZero() {
				t.Fatalf("timed-out Start returned Pid %v", ref.Pid())
			}
			check(t, n, gate, pids, before)

			// The name is free at once.
			if _, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b), genserver.WithName("gs05")); err != nil {
				t.Fatalf("Start with the freed name: %v", err)
			}
		})
		t.Run("context_cancelled", func(t *testing.T) {
			n := spawntest.NewNode(t)
			before := len(n.Processes())
			gate := spawntest.NewGate(t)
			ctx, cancel := context.WithCancel(spawntest.Context(t))
			defer cancel()
			// Init cancels the start's context as it starts waiting.
			initFn, pids := scPidCapture(func(*genserver.Ctx) error {
				cancel()
				gate.Wait(context.Background())
				return nil
			})
			_, err := genserver.Start(ctx, n, &scServer{initFn: initFn}, genserver.WithBackend(b), genserver.WithName("gs05"))
			var se *genserver.StartError
			if !errors.Is(err, context.Canceled) || !errors.As(err, &se) {
				t.Fatalf("Start: got %v, want a *StartError wrapping context.Canceled", err)
			}
			check(t, n, gate, pids, before)
		})
		t.Run("context_deadline", func(t *testing.T) {
			n := spawntest.NewNode(t)
			before := len(n.Processes())
			gate := spawntest.NewGate(t)
			initFn, pids := blocked(gate)
			ctx, cancel := context.WithTimeout(spawntest.Context(t), 50*time.Millisecond)
			defer cancel()
			_, err := genserver.Start(ctx, n, &scServer{initFn: initFn}, genserver.WithBackend(b), genserver.WithName("gs05"))
			var se *genserver.StartError
			if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &se) {
				t.Fatalf("Start: got %v, want a *StartError wrapping context.DeadlineExceeded", err)
			}
			check(t, n, gate, pids, before)
		})
		for _, trap := range []bool{false, true} {
			name := "start_link_not_trapping"
			if trap {
				name = "start_link_trapping"
			}
			t.Run(name, func(t *testing.T) {
				n := spawntest.NewNode(t)
				ctx := spawntest.Context(t)
				probe := spawntest.NewProbe(t, n, process.WithBackend(b))
				before := len(n.Processes())
				gate := spawntest.NewGate(t)
				initFn, pids := blocked(gate)
				var err error
				probe.Do(func(p *process.Process) error {
					p.TrapExit(trap)
					_, err = genserver.StartLink(ctx, p, &scServer{initFn: initFn}, genserver.WithBackend(b),
						genserver.WithName("gs05"), genserver.WithStartTimeout(50*time.Millisecond))
					return nil
				})
				if !errors.Is(err, genserver.ErrTimeout) {
					t.Fatalf("StartLink: got %v, want ErrTimeout", err)
				}
				check(t, n, gate, pids, before)
				if !n.Alive(probe.Pid()) {
					t.Fatalf("probe %v was killed with the half-started server", probe.Pid())
				}
				// Start unlinks before the kill, so even a trapping parent
				// gets no link.Exit (as OTP's proc_lib flushes it).
				probe.ExpectEmpty()
			})
		}
	})
}

func TestREG09_StartWithTakenName(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		first, err := genserver.Start(ctx, n, &scServer{}, genserver.WithBackend(b), genserver.WithName("reg09"))
		if err != nil {
			t.Fatalf("first start: %v", err)
		}
		before := len(n.Processes())

		check := func(t *testing.T, err error, second *scServer) {
			t.Helper()
			var ase *genserver.AlreadyStartedError
			if !errors.As(err, &ase) {
				t.Fatalf("second start: got %v, want *AlreadyStartedError", err)
			}
			if !errors.Is(err, genserver.ErrAlreadyStarted) {
				t.Fatalf("second start: %v is not ErrAlreadyStarted", err)
			}
			if ase.Pid != first.Pid() || ase.Name != "reg09" {
				t.Fatalf("AlreadyStartedError names %q %v, want %q %v", ase.Name, ase.Pid, "reg09", first.Pid())
			}
			if got := second.inits.Load(); got != 0 {
				t.Fatalf("Init of the second server ran %d times", got)
			}
			scExpectProcesses(t, n, before)
			if p, ok := registry.Of(n).WhereIs("reg09"); !ok || p != first.Pid() {
				t.Fatalf("WhereIs(reg09) = %v, %v; want %v", p, ok, first.Pid())
			}
		}

		second := &scServer{}
		ref, err := genserver.Start(ctx, n, second, genserver.WithBackend(b), genserver.WithName("reg09"))
		check(t, err, second)
		if !ref.Pid().IsZero() {
			t.Fatalf("failed Start returned Pid %v", ref.Pid())
		}

		probe := spawntest.NewProbe(t, n, process.WithBackend(b))
		before++
		third := &scServer{}
		probe.Do(func(p *process.Process) error {
			_, err = genserver.StartLink(ctx, p, third, genserver.WithBackend(b), genserver.WithName("reg09"))
			return nil
		})
		check(t, err, third)
		probe.ExpectEmpty()

		if v, err := first.Call(ctx, scReq{Op: "add", N: 1}); err != nil || v != 1 {
			t.Fatalf("first server: got (%d, %v), want (1, nil)", v, err)
		}
	})
}

// bareServer has no Init: a call answers with its Pid and the casts it
// has handled.
type bareServer struct{ casts int }

type bareState struct {
	Self  pid.Pid
	Casts int
}

func (s *bareServer) HandleCall(cc *genserver.CallCtx[bareState], _ struct{}) (bareState, error) {
	return bareState{Self: cc.Self(), Casts: s.casts}, nil
}

func (s *bareServer) HandleCast(_ *genserver.Ctx, _ struct{}) { s.casts++ }

// A server without Init has nothing to wait for: Start returns as soon as
// it exists, idle, and it serves casts, calls and Stop as any other.
func TestStart_WithoutInitReturnsAtOnce(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := context.Background()
		ref, err := genserver.Start(ctx, n, &bareServer{}, genserver.WithBackend(b), genserver.WithName("bare"))
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := registry.Of(n).WhereIs("bare"); !ok || p != ref.Pid() {
			t.Fatalf("name: %v %v, want %v", p, ok, ref.Pid())
		}
		for range 3 {
			if err := ref.Cast(struct{}{}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := ref.Call(ctx, struct{}{})
		if want := (bareState{Self: ref.Pid(), Casts: 3}); err != nil || got != want {
			t.Fatalf("Call: %+v, %v; want %+v", got, err, want)
		}
		if err := ref.Stop(ctx, nil); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if n.Alive(ref.Pid()) {
			t.Fatal("alive after Stop")
		}
	})
}

// A start whose context is already done starts nothing, with or without
// Init to wait for.
func TestStart_CancelledContextStartsNothing(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := n.Stats().Spawned
	for _, start := range []func() error{
		func() error { _, err := genserver.Start(ctx, n, &bareServer{}, genserver.WithName("c1")); return err },
		func() error { _, err := genserver.Start(ctx, n, &scServer{}, genserver.WithName("c2")); return err },
	} {
		var se *genserver.StartError
		if err := start(); !errors.As(err, &se) || !errors.Is(err, context.Canceled) {
			t.Errorf("Start with a cancelled context: %v, want a *StartError wrapping context.Canceled", err)
		}
	}
	if got := n.Stats().Spawned; got != before {
		t.Errorf("%d processes spawned", got-before)
	}
	if _, ok := registry.Of(n).WhereIs("c1"); ok {
		t.Error("the name c1 is registered")
	}
}

func TestStartWithProcessOptions(t *testing.T) {
	n := spawntest.NewNode(t)
	exited := make(chan error, 1)
	ref, err := genserver.Start(spawntest.Context(t), n, &scServer{},
		genserver.WithProcessOptions(process.OnExit(func(reason error) { exited <- reason }), nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Stop(spawntest.Context(t), process.Shutdown); err != nil {
		t.Fatal(err)
	}
	if reason := spawntest.Recv(t, exited); !errors.Is(reason, process.Shutdown) {
		t.Fatalf("exit reason %v", reason)
	}
}
