package process_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// TestHardening01_ReceiveMatchPredicate: a ReceiveMatch predicate is the
// process's own code. It used to run under the mailbox's lock: a panic in
// it left the lock held for ever (no Down, no exit, a Node.Stop that ran
// out its deadline), and one that called back into the runtime deadlocked.
func TestHardening01_ReceiveMatchPredicate(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("a panic is the exit reason", func(t *testing.T) {
			n := spawntest.NewNode(t)
			p, err := n.Spawn(func(p *process.Process) error {
				_, err := p.ReceiveMatch(context.Background(), func(m any) bool { return m.(int) == 7 })
				return err
			}, process.WithBackend(b), process.WithName("hd01-panic"))
			if err != nil {
				t.Fatal(err)
			}
			exit := spawntest.WatchExit(t, n, p)
			if err := n.Send(p, "not an int"); err != nil {
				t.Fatal(err)
			}
			var pe *process.PanicError
			if r := exit.Wait(); !errors.As(r, &pe) {
				t.Fatalf("exit reason %v; want a *PanicError", r)
			}
			if _, ok := registry.Of(n).WhereIs("hd01-panic"); ok {
				t.Error("the name outlived the process")
			}
			if s := n.Stats(); s.Exited != 1 || s.Processes != 0 {
				t.Errorf("stats %+v; want one process exited and none left", s)
			}
		})

		t.Run("the predicate may call the runtime", func(t *testing.T) {
			n := spawntest.NewNode(t)
			queued := make(chan int, 1)
			got := make(chan any, 1)
			p, err := n.Spawn(func(p *process.Process) error {
				m, err := p.ReceiveMatch(context.Background(), func(m any) bool {
					info, err := p.Node().Info(p.Self())
					if err != nil {
						t.Errorf("Info from a predicate: %v", err)
					}
					if m == "second" {
						queued <- info.MessageQueueLen
					}
					return m == "second"
				})
				if err != nil {
					return err
				}
				got <- m
				return nil
			}, process.WithBackend(b))
			if err != nil {
				t.Fatal(err)
			}
			exit := spawntest.WatchExit(t, n, p)
			n.Send(p, "first")
			n.Send(p, "second")
			if q := spawntest.Recv(t, queued); q < 1 {
				t.Errorf("Info saw %d messages queued; want at least 1", q)
			}
			if m := spawntest.Recv(t, got); m != "second" {
				t.Errorf("received %v; want second", m)
			}
			if r := exit.Wait(); !errors.Is(r, process.Normal) {
				t.Errorf("exit %v; want Normal", r)
			}
		})

		t.Run("a receive from the predicate is refused", func(t *testing.T) {
			n := spawntest.NewNode(t)
			nested := make(chan error, 1)
			got := make(chan any, 2)
			p, err := n.Spawn(func(p *process.Process) error {
				m, err := p.ReceiveMatch(context.Background(), func(m any) bool {
					if m == "first" {
						_, err := p.Receive(context.Background())
						nested <- err
					}
					return m == "second"
				})
				if err != nil {
					return err
				}
				got <- m
				m, err = p.Receive(context.Background())
				got <- m
				return err
			}, process.WithBackend(b))
			if err != nil {
				t.Fatal(err)
			}
			n.Send(p, "first")
			n.Send(p, "second")
			if err := spawntest.Recv(t, nested); !errors.Is(err, process.ErrNestedReceive) {
				t.Errorf("nested Receive = %v; want ErrNestedReceive", err)
			}
			if m := spawntest.Recv(t, got); m != "second" {
				t.Errorf("matched %v; want second", m)
			}
			if m := spawntest.Recv(t, got); m != "first" {
				t.Errorf("then received %v; want first, still queued", m)
			}
		})

		t.Run("DemonitorFlush from the predicate", func(t *testing.T) {
			n := spawntest.NewNode(t)
			monitored := make(chan struct{})
			got := make(chan any, 2)
			target := spawntest.SpawnIdle(t, n)
			p, err := n.Spawn(func(p *process.Process) error {
				ref, err := link.Monitor(p, target)
				if err != nil {
					return err
				}
				close(monitored)
				if _, err := p.ReceiveMatch(context.Background(), func(m any) bool { return m == "go" }); err != nil {
					return err
				}
				// Queued now: the Down, "last", "after".
				m, err := p.ReceiveMatch(context.Background(), func(m any) bool {
					if _, down := m.(link.Down); down {
						link.DemonitorFlush(p, ref) // removes the very message looked at
						return true
					}
					return m == "last"
				})
				if err != nil {
					return err
				}
				got <- m
				m, err = p.Receive(context.Background())
				got <- m
				return err
			}, process.WithBackend(b))
			if err != nil {
				t.Fatal(err)
			}
			spawntest.Recv(t, monitored)
			spawntest.ExitAndWait(t, n, target, process.Kill)
			for _, m := range []string{"last", "after", "go"} {
				n.Send(p, m)
			}
			if m := spawntest.Recv(t, got); m != "last" {
				t.Errorf("matched %#v; want last (the Down was flushed)", m)
			}
			if m := spawntest.Recv(t, got); m != "after" {
				t.Errorf("then received %#v; want after", m)
			}
		})
	})
}

// TestHardening01_StopHonoursItsContext: Node.Stop returns at its ctx's
// deadline whatever a kill runs into, here an exit callback that blocks
// (which callbacks must not do), and a later Stop finishes the job.
func TestHardening01_StopHonoursItsContext(t *testing.T) {
	t.Parallel()
	n := process.NewNode(process.WithLogger(nil))
	release := make(chan struct{})
	if _, err := n.Spawn(spawntest.Idle, process.OnExit(func(error) { <-release })); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- n.Stop(ctx) }()
	if err := spawntest.Recv(t, stopped); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v; want the deadline's error", err)
	}
	close(release)
	if err := n.Stop(spawntest.Context(t)); err != nil {
		t.Errorf("second Stop = %v", err)
	}
}

// hdKinds are the ways process code runs: a Func, a Handler's Init and a
// Handler's HandleMessage.
var hdKinds = []string{"func", "init", "handler"}

// hdHandler is a Handler whose Init and HandleMessage run the functions
// given (nil: nothing).
type hdHandler struct {
	init   func(p *process.Process) error
	handle func(p *process.Process, msg any) error
}

func (h hdHandler) HandleMessage(p *process.Process, msg any) error {
	if h.handle == nil {
		return nil
	}
	return h.handle(p, msg)
}

type hdInitHandler struct{ hdHandler }

func (h hdInitHandler) Init(p *process.Process) error {
	if h.init == nil {
		return nil
	}
	return h.init(p)
}

// hdSpawn spawns a process of kind that runs code: in its Func, its Init
// or its HandleMessage (for the first message, which hdSpawn sends).
func hdSpawn(t *testing.T, n *process.Node, kind string, code func(p *process.Process) error, opts ...process.SpawnOption) pid.Pid {
	t.Helper()
	var p pid.Pid
	var err error
	switch kind {
	case "func":
		p, err = n.Spawn(code, opts...)
	case "init":
		p, err = n.SpawnHandler(hdInitHandler{hdHandler{init: code}}, opts...)
	case "handler":
		p, err = n.SpawnHandler(hdHandler{handle: func(p *process.Process, _ any) error { return code(p) }}, opts...)
		if err == nil {
			err = n.Send(p, "run")
		}
	}
	if err != nil {
		t.Fatalf("spawn %s: %v", kind, err)
	}
	return p
}

// TestHardening03_GoexitExits: runtime.Goexit (t.FailNow, require.*) in a
// process's code used to leave a zombie: alive for ever, no Down, its
// Blocking pool slot and worker goroutine lost. Now the process exits with
// reason Goexit, on every backend and for every kind of process code.
func TestHardening03_GoexitExits(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, kind := range hdKinds {
			t.Run(kind, func(t *testing.T) {
				n := spawntest.NewNode(t, process.WithBlockingPool(1))
				watcher := spawntest.NewProbe(t, n)
				var mon pid.Ref
				gate := make(chan struct{})
				p := hdSpawn(t, n, kind, func(p *process.Process) error {
					<-gate
					runtime.Goexit()
					return nil
				}, process.WithBackend(b), process.WithName("hd03"))
				watcher.Do(func(w *process.Process) error {
					var err error
					mon, err = link.Monitor(w, p)
					return err
				})
				exit := spawntest.WatchExit(t, n, p)
				close(gate)
				if r := exit.Wait(); !errors.Is(r, process.Goexit) {
					t.Fatalf("exit reason %v; want Goexit", r)
				}
				if d, ok := watcher.Receive().(link.Down); !ok || d.Ref != mon || !errors.Is(d.Reason, process.Goexit) {
					t.Errorf("monitor got %#v; want a Down with Goexit", d)
				}
				if _, ok := registry.Of(n).WhereIs("hd03"); ok {
					t.Error("the name outlived the process")
				}
				if bound, inUse := n.BlockingPool(); inUse != 0 {
					t.Errorf("%d of %d Blocking slots still in use", inUse, bound)
				}
				// A later process on the same backend still runs: with a
				// pool of one, a lost slot would stop every Blocking one.
				ran := make(chan struct{})
				hdSpawn(t, n, kind, func(*process.Process) error { close(ran); return nil }, process.WithBackend(b))
				spawntest.Recv(t, ran)
				if s := n.Stats(); s.Stragglers != 0 {
					t.Errorf("stats %+v; want no stragglers", s)
				}
			})
		}
	})
}

// TestHardening03_GoexitLinkedAndHandedOff: a process linked to the one
// that called Goexit dies of it (Goexit is abnormal), and a process that
// waited to run on the dying worker's goroutine still runs.
func TestHardening03_GoexitLinkedAndHandedOff(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		got := make(chan any, 1)
		next, err := n.SpawnHandler(hdHandler{handle: func(_ *process.Process, msg any) error { got <- msg; return nil }})
		if err != nil {
			t.Fatal(err)
		}
		partner := spawntest.SpawnIdle(t, n)
		p, err := n.SpawnHandler(hdHandler{handle: func(p *process.Process, msg any) error {
			if err := link.Link(p, partner); err != nil {
				return err
			}
			p.Send(next, "handed off") // waits in this worker's next slot
			runtime.Goexit()
			return nil
		}}, process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		exit := spawntest.WatchExit(t, n, partner)
		n.Send(p, "go")
		if r := exit.Wait(); !errors.Is(r, process.Goexit) {
			t.Errorf("linked partner died of %v; want Goexit", r)
		}
		if m := spawntest.Recv(t, got); m != "handed off" {
			t.Errorf("got %v", m)
		}
	})
}

// hdStopFrom runs Node.Stop from a goroutine the runtime runs code on and
// reports what it returned.
func TestHardening05_StopFromTheNodesOwnCode(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, kind := range hdKinds {
			t.Run(kind, func(t *testing.T) {
				n := process.NewNode(process.WithLogger(nil))
				spawntest.SpawnIdle(t, n, process.WithBackend(b))
				stopped := make(chan error, 1)
				hdSpawn(t, n, kind, func(p *process.Process) error {
					stopped <- p.Node().Stop(context.Background())
					return nil
				}, process.WithBackend(b))
				if err := spawntest.Recv(t, stopped); err != nil {
					t.Fatalf("Stop = %v", err)
				}
				if err := n.Stop(spawntest.Context(t)); err != nil {
					t.Fatalf("Stop from the test = %v", err)
				}
				if s := n.Stats(); s.Processes != 0 {
					t.Errorf("stats %+v; want no process left", s)
				}
			})
		}
		t.Run("OnExit", func(t *testing.T) {
			n := process.NewNode(process.WithLogger(nil))
			stopped := make(chan error, 1)
			p, err := n.Spawn(func(p *process.Process) error { return nil }, process.WithBackend(b), process.OnExit(func(error) {
				stopped <- n.Stop(context.Background())
			}))
			if err != nil {
				t.Fatal(err)
			}
			if err := spawntest.Recv(t, stopped); err != nil {
				t.Fatalf("Stop = %v", err)
			}
			if n.Alive(p) {
				t.Error("process alive")
			}
			if err := n.Stop(spawntest.Context(t)); err != nil {
				t.Fatalf("Stop from the test = %v", err)
			}
		})
		t.Run("Watch notify run by a dying process", func(t *testing.T) {
			n := process.NewNode(process.WithLogger(nil))
			stopped := make(chan error, 1)
			gate := make(chan struct{})
			p, err := n.Spawn(func(p *process.Process) error { <-gate; return nil }, process.WithBackend(b))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := link.Watch(n, p, func(link.Down) { stopped <- n.Stop(context.Background()) }); err != nil {
				t.Fatal(err)
			}
			close(gate)
			if err := spawntest.Recv(t, stopped); err != nil {
				t.Fatalf("Stop = %v", err)
			}
			if err := n.Stop(spawntest.Context(t)); err != nil {
				t.Fatalf("Stop from the test = %v", err)
			}
		})
	})
}

// TestHardening07_CallbackPanicsAreContained: a panic in an OnExit, a
// Watch notify or a message's Undelivered used to come out of whoever
// ended the process (the caller of Node.Exit, or a runtime goroutine,
// which crashed the program), and the other watchers were never told.
func TestHardening07_CallbackPanicsAreContained(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, end := range []string{"node.Exit", "own return"} {
			t.Run(end, func(t *testing.T) {
				logs := spawntest.NewLogs(zapcore.DebugLevel)
				n := spawntest.NewNode(t)
				n.SetLogger(logs.Logger())
				gate := make(chan struct{})
				p, err := n.Spawn(func(p *process.Process) error { <-gate; return nil },
					process.WithBackend(b), process.OnExit(func(error) { panic("OnExit") }))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := link.Watch(n, p, func(link.Down) { panic("notify") }); err != nil {
					t.Fatal(err)
				}
				second := spawntest.WatchExit(t, n, p)
				watcher := spawntest.NewProbe(t, n)
				watcher.Do(func(w *process.Process) error { _, err := link.Monitor(w, p); return err })
				if end == "node.Exit" {
					testkit.NoPanic(t, "node.Exit", func() { n.Exit(p, process.Kill) })
				}
				close(gate)
				if r := second.Wait(); r == nil {
					t.Error("no reason")
				}
				if _, ok := watcher.Receive().(link.Down); !ok {
					t.Error("the monitor got no Down")
				}
				logs.Expect(t, "callback panicked")
				// A dead process's Watch runs notify at once, in Watch.
				testkit.NoPanic(t, "Watch of a dead process", func() {
					link.Watch(n, p, func(link.Down) { panic("notify at once") })
				})
			})
		}
	})
	t.Run("Undelivered", func(t *testing.T) {
		n := spawntest.NewNode(t)
		p := spawntest.SpawnIdle(t, n)
		n.Send(p, hdBadMessage{})
		testkit.NoPanic(t, "node.Exit", func() { spawntest.ExitAndWait(t, n, p, process.Kill) })
		testkit.NoPanic(t, "Send to a dead process", func() { n.Send(p, hdBadMessage{}) })
	})
}

// hdBadMessage panics when told it was not delivered.
type hdBadMessage struct{}

func (hdBadMessage) Undelivered(error) { panic("Undelivered") }

// TestHardening07_PanickingLogHook: a logger hook that panics while the
// runtime reports a crash used to escape and crash the program; the crash
// report is lost now, nothing else.
func TestHardening07_PanickingLogHook(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, kind := range hdKinds {
			t.Run(kind, func(t *testing.T) {
				n := spawntest.NewNode(t)
				n.SetLogger(spawntest.NewLogs(zapcore.DebugLevel).Logger().WithOptions(
					zap.Hooks(func(zapcore.Entry) error { panic("hook") })))
				gate := make(chan struct{})
				p := hdSpawn(t, n, kind, func(p *process.Process) error {
					<-gate
					panic("crash")
				}, process.WithBackend(b))
				exit := spawntest.WatchExit(t, n, p)
				close(gate)
				var pe *process.PanicError
				if r := exit.Wait(); !errors.As(r, &pe) || pe.Value != "crash" {
					t.Errorf("exit reason %v; want the panic", r)
				}
			})
		}
	})
}

// TestHardening08_NilContext: a nil context.Context used to panic; it is
// a documented error now.
func TestHardening08_NilContext(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	actor := spawntest.NewProbe(t, n)
	var nilCtx context.Context
	cases := []struct {
		name string
		call func() error
	}{
		{"Node.SendWait", func() error { return n.SendWait(nilCtx, actor.Pid(), 1) }},
		{"Process.SendWait", func() (err error) {
			actor.Do(func(p *process.Process) error { err = p.SendWait(nilCtx, actor.Pid(), 1); return nil })
			return err
		}},
		{"Process.Receive", func() (err error) {
			actor.Do(func(p *process.Process) error { _, err = p.Receive(nilCtx); return nil })
			return err
		}},
		{"Process.ReceiveMatch", func() (err error) {
			actor.Do(func(p *process.Process) error {
				_, err = p.ReceiveMatch(nilCtx, func(any) bool { return true })
				return nil
			})
			return err
		}},
		{"Node.Stop", func() error { return n.Stop(nilCtx) }},
	}
	for _, c := range cases {
		testkit.ExpectError(t, c.name, process.ErrNilContext, c.call)
	}
	if n.Stats().Processes != 1 {
		t.Error("a nil context changed something")
	}
}
