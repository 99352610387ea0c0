package process_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// killAfter is what a killed process's code observed once it was released.
type killAfter struct {
	alive      bool
	sendErr    error
	receiveErr error // Func only
	timerErr   error
	spawnErr   error
}

// killStuck spawns a process of the given kind whose code gets stuck in
// work that ignores its context. It returns the pid, the process's context
// (once the code is running), and a channel reporting what the code saw
// after the gate opened.
func killStuck(t *testing.T, n *process.Node, b process.Backend, kind string, gate *spawntest.Gate,
	to pid.Pid, calls *atomic.Int32) (pid.Pid, <-chan context.Context, <-chan killAfter) {
	t.Helper()
	ctxs := make(chan context.Context, 1)
	after := make(chan killAfter, 1)
	stuck := func(p *process.Process, receive bool) {
		ctxs <- p.Context()
		gate.Wait(context.Background()) // long work that ignores the context
		var a killAfter
		a.alive = p.Alive()
		a.sendErr = p.Send(to, "sent after the kill")
		if receive {
			_, a.receiveErr = p.Receive(context.Background())
		}
		_, a.timerErr = p.SendAfter(to, "timer after the kill", 0)
		_, a.spawnErr = p.SpawnLink(func(*process.Process) error { return nil })
		after <- a
	}
	var p pid.Pid
	var err error
	switch kind {
	case "func":
		p, err = n.Spawn(func(p *process.Process) error {
			calls.Add(1)
			stuck(p, true)
			return nil
		}, process.WithBackend(b))
	case "handler":
		p, err = n.SpawnHandler(pkHandle(func(p *process.Process, msg any) error {
			calls.Add(1)
			if msg == "block" {
				stuck(p, false)
			}
			return nil
		}), process.WithBackend(b))
		if err == nil {
			for _, m := range []string{"block", "second", "third"} {
				if err = n.Send(p, m); err != nil {
					break
				}
			}
		}
	case "init":
		p, err = n.SpawnHandler(&pkInitHandler{
			init: func(p *process.Process) error { stuck(p, false); return nil },
			handle: func(*process.Process, any) error {
				calls.Add(1)
				return nil
			},
		}, process.WithBackend(b))
		if err == nil {
			err = n.Send(p, "first")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return p, ctxs, after
}

func TestKill_StuckProcessIsDeadAtOnce(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, kind := range []string{"func", "handler", "init"} {
			t.Run(kind, func(t *testing.T) {
				t.Parallel()
				n := spawntest.NewNode(t)
				probe := spawntest.NewProbe(t, n)
				gate := spawntest.NewGate(t)
				var calls atomic.Int32
				p, ctxs, after := killStuck(t, n, b, kind, gate, probe.Pid(), &calls)
				ctx := spawntest.Recv(t, ctxs)
				w := spawntest.WatchExit(t, n, p)
				if s := n.Stats().Stragglers; s != 0 {
					t.Errorf("Stragglers = %d before the kill", s)
				}

				if err := n.Exit(p, process.Kill); err != nil {
					t.Fatalf("Exit: %v", err)
				}
				// Dead at once for everyone else.
				if n.Alive(p) || process.Alive(p) {
					t.Error("alive right after Exit(Kill)")
				}
				if _, err := n.Info(p); !errors.Is(err, process.NoProc) {
					t.Errorf("Info after the kill: %v, want NoProc", err)
				}
				for _, q := range n.Processes() {
					if q == p {
						t.Error("Processes lists the killed process")
					}
				}
				if r := w.Wait(); !errors.Is(r, process.Killed) || errors.Is(r, process.Kill) {
					t.Errorf("exit reason %v, want Killed", r)
				}
				if r := spawntest.WaitExit(t, n, p); !errors.Is(r, process.NoProc) {
					t.Errorf("WaitExit on the dead pid: %v, want NoProc", r)
				}
				// The context the code holds is cancelled with cause Killed.
				select {
				case <-ctx.Done():
				default:
					t.Fatal("context not cancelled by the kill")
				}
				if c := context.Cause(ctx); !errors.Is(c, process.Killed) {
					t.Errorf("context cause %v, want Killed", c)
				}
				if !errors.Is(ctx.Err(), context.Canceled) {
					t.Errorf("context error %v, want Canceled", ctx.Err())
				}
				// Its code still runs: a straggler.
				if s := n.Stats().Stragglers; s != 1 {
					t.Errorf("Stragglers = %d while the code runs, want 1", s)
				}
				// Messages to it are dropped silently.
				if err := n.Send(p, "after"); err != nil {
					t.Errorf("Send to the killed process: %v", err)
				}

				gate.Open()
				a := spawntest.Recv(t, after)
				if a.alive {
					t.Error("the straggler's Process.Alive is true after the kill")
				}
				if a.sendErr != nil {
					t.Errorf("the straggler's Send returned %v, want nil (dropped)", a.sendErr)
				}
				if kind == "func" && !errors.Is(a.receiveErr, process.Killed) {
					t.Errorf("the straggler's Receive returned %v, want Killed", a.receiveErr)
				}
				if !errors.Is(a.timerErr, process.ErrCallerExited) {
					t.Errorf("the straggler's SendAfter returned %v, want ErrCallerExited", a.timerErr)
				}
				if !errors.Is(a.spawnErr, process.ErrCallerExited) {
					t.Errorf("the straggler's SpawnLink returned %v, want ErrCallerExited", a.spawnErr)
				}
				// What it sent after the kill was dropped.
				probe.ExpectEmpty()
				spawntest.Eventually(t, "the straggler count drops to 0", func() bool { return n.Stats().Stragglers == 0 })

				stop, cancel := pkStopCtx(spawntest.Timeout)
				defer cancel()
				if err := n.Stop(stop); err != nil {
					t.Fatalf("Stop: %v", err)
				}
				// No callback ran after the kill.
				want := int32(1)
				if kind == "init" {
					want = 0
				}
				if c := calls.Load(); c != want {
					t.Errorf("callbacks ran %d times, want %d", c, want)
				}
				if s := n.Stats(); s.Stragglers != 0 || s.Processes != 0 {
					t.Errorf("Stats after Stop: %+v", s)
				}
			})
		}
	})
}

// A Blocking process killed while it waits for a pool slot never runs.
func TestKill_BlockingProcessKilledBeforeItsSlot(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"func", "handler"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			n := spawntest.NewNode(t, process.WithBlockingPool(1))
			gate := spawntest.NewGate(t)
			holding := make(chan struct{})
			holder, err := n.Spawn(func(*process.Process) error {
				close(holding)
				gate.Wait(context.Background())
				return nil
			}, process.WithBackend(process.Blocking))
			if err != nil {
				t.Fatal(err)
			}
			spawntest.Recv(t, holding)

			var ran atomic.Bool
			var p pid.Pid
			if kind == "func" {
				p, err = n.Spawn(func(*process.Process) error { ran.Store(true); return nil },
					process.WithBackend(process.Blocking))
			} else {
				p, err = n.SpawnHandler(&pkInitHandler{
					init:   func(*process.Process) error { ran.Store(true); return nil },
					handle: func(*process.Process, any) error { ran.Store(true); return nil },
				}, process.WithBackend(process.Blocking))
				if err == nil {
					err = n.Send(p, "m")
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			w := spawntest.WatchExit(t, n, p)
			if err := n.Exit(p, process.Kill); err != nil {
				t.Fatal(err)
			}
			if r := w.Wait(); !errors.Is(r, process.Killed) {
				t.Errorf("exit %v, want Killed", r)
			}
			gate.Open()
			spawntest.WaitExit(t, n, holder)
			stop, cancel := pkStopCtx(spawntest.Timeout)
			defer cancel()
			if err := n.Stop(stop); err != nil {
				t.Fatal(err)
			}
			if ran.Load() {
				t.Error("code of a process killed before it got a slot ran")
			}
			if _, used := n.BlockingPool(); used != 0 {
				t.Errorf("%d Blocking slots still held", used)
			}
		})
	}
}

// A process that watches its context stops promptly when killed, and the
// kill is not counted as a straggler once its code has returned.
func TestKill_CooperativeProcessReturns(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		started := make(chan struct{})
		returned := make(chan error, 1)
		p, err := n.Spawn(func(p *process.Process) error {
			close(started)
			<-p.Context().Done()
			returned <- context.Cause(p.Context())
			return errors.New("ignored: the process is already dead")
		}, process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		spawntest.Recv(t, started)
		w := spawntest.WatchExit(t, n, p)
		if err := n.Exit(p, process.Kill); err != nil {
			t.Fatal(err)
		}
		if c := spawntest.Recv(t, returned); !errors.Is(c, process.Killed) {
			t.Errorf("cause %v, want Killed", c)
		}
		if r := w.Wait(); !errors.Is(r, process.Killed) {
			t.Errorf("exit %v, want Killed (the first reason decides)", r)
		}
		spawntest.Eventually(t, "no stragglers", func() bool { return n.Stats().Stragglers == 0 })
	})
}
