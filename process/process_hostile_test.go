package process_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// hostileIn runs fn as the code of a fresh process of n on backend b and
// returns fn's error, failing the test on a panic that escapes the
// runtime or if fn has not returned by the deadline.
func hostileIn(t *testing.T, n *process.Node, b process.Backend, fn func(p *process.Process) error) error {
	t.Helper()
	done := make(chan error, 1)
	_, err := n.Spawn(func(p *process.Process) error {
		done <- fn(p)
		return nil
	}, process.WithBackend(b))
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	return spawntest.Recv(t, done) // bounded: code that hangs fails the test
}

// hostileNoPanic runs fn and turns a panic into a test failure.
func hostileNoPanic(t *testing.T, fn func() error) error {
	t.Helper()
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("panicked: %v", v)
			}
		}()
		err = fn()
	}()
	return err
}

type hostileHandler struct{}

func (hostileHandler) HandleMessage(*process.Process, any) error { return nil }

// TestHostile_NilOptions: a nil SpawnOption or NodeOption sets nothing;
// it neither panics nor changes what the other options set.
func TestHostile_NilOptions(t *testing.T) {
	idle := func(p *process.Process) error { <-p.Context().Done(); return nil }
	cases := []struct {
		name string
		run  func(t *testing.T, n *process.Node) error
	}{
		{"Node.Spawn(fn, nil)", func(t *testing.T, n *process.Node) error {
			_, err := n.Spawn(idle, nil)
			return err
		}},
		{"Node.Spawn(fn, WithName, nil, WithBackend) keeps the others", func(t *testing.T, n *process.Node) error {
			p, err := n.Spawn(idle, process.WithName("hostile-nil-opt"), nil, process.WithBackend(process.Blocking))
			if err != nil {
				return err
			}
			in, err := n.Info(p)
			if err != nil {
				return err
			}
			if in.Name != "hostile-nil-opt" || in.Backend != process.Blocking {
				t.Fatalf("name %q backend %v: the options around the nil one were lost", in.Name, in.Backend)
			}
			return nil
		}},
		{"Node.SpawnHandler(h, nil)", func(t *testing.T, n *process.Node) error {
			_, err := n.SpawnHandler(hostileHandler{}, nil)
			return err
		}},
		{"Process.SpawnLink(fn, nil)", func(t *testing.T, n *process.Node) error {
			return hostileIn(t, n, process.Async, func(p *process.Process) error {
				_, err := p.SpawnLink(idle, nil)
				return err
			})
		}},
		{"Process.SpawnMonitor(fn, nil)", func(t *testing.T, n *process.Node) error {
			return hostileIn(t, n, process.Async, func(p *process.Process) error {
				_, _, err := p.SpawnMonitor(idle, nil)
				return err
			})
		}},
		{"NewNode(nil)", func(t *testing.T, n *process.Node) error {
			other := process.NewNode(nil, process.WithLogger(nil), nil)
			return other.Stop(spawntest.Context(t))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := spawntest.NewNode(t)
			if err := hostileNoPanic(t, func() error { return c.run(t, n) }); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
		})
	}
}

// TestHostile_SelfInflictedWaits: waits that only the waiting process
// could end fail at once instead of waiting out their context, on every
// backend.
func TestHostile_SelfInflictedWaits(t *testing.T) {
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		// Background: the wait would never end if it were allowed.
		bg := context.Background()
		cases := []struct {
			name string
			fn   func(p *process.Process) error
			want error
		}{
			{"SendWait to its own full mailbox", func(p *process.Process) error {
				if err := p.Send(p.Self(), 1); err != nil {
					return err
				}
				return p.SendWait(bg, p.Self(), 2)
			}, process.ErrMailboxFull},
			{"Receive after Exit(self, Kill)", func(p *process.Process) error {
				if err := p.Exit(p.Self(), process.Kill); err != nil {
					return err
				}
				_, err := p.Receive(bg)
				return err
			}, process.Killed},
			{"ReceiveMatch whose predicate kills its process", func(p *process.Process) error {
				if err := p.Send(p.Self(), "m"); err != nil {
					return err
				}
				_, err := p.ReceiveMatch(bg, func(any) bool { _ = p.Exit(p.Self(), process.Kill); return false })
				return err
			}, process.Killed},
			{"SendAfter, SendInterval and SendWait after Exit(self, Kill)", func(p *process.Process) error {
				if err := p.Exit(p.Self(), process.Kill); err != nil {
					return err
				}
				_, e1 := p.SendAfter(p.Self(), 1, time.Millisecond)
				_, e2 := p.SendInterval(p.Self(), 1, time.Millisecond)
				e3 := p.SendWait(bg, p.Self(), 3)
				if !errors.Is(e1, process.ErrCallerExited) || !errors.Is(e2, process.ErrCallerExited) {
					t.Errorf("timers after death: %v, %v; want ErrCallerExited", e1, e2)
				}
				return e3
			}, nil}, // a send after death is dropped, as every send is
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				done := make(chan error, 1)
				_, err := n.Spawn(func(p *process.Process) error {
					done <- c.fn(p)
					return nil
				}, process.WithBackend(b), process.WithMailboxLimit(1))
				if err != nil {
					t.Fatal(err)
				}
				err = spawntest.Recv(t, done) // bounded: a wait only the process could end fails
				if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
					t.Fatalf("got %v, want %v", err, c.want)
				}
			})
		}
	})
}

// TestHostile_TimersOutliveNothing: timers of the longest and shortest
// periods die with their process; the node stops and goleak finds nothing.
func TestHostile_TimersOutliveNothing(t *testing.T) {
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		n := process.NewNode(process.WithLogger(nil))
		var p pid.Pid
		err := hostileIn(t, n, b, func(self *process.Process) error {
			var err error
			p, err = n.Spawn(func(p *process.Process) error {
				if _, err := p.SendAfter(p.Self(), "never", time.Duration(math.MaxInt64)); err != nil {
					return err
				}
				if _, err := p.SendInterval(p.Self(), "storm", time.Nanosecond); err != nil {
					return err
				}
				for range 100 {
					if _, err := p.Receive(p.Context()); err != nil {
						return err
					}
				}
				<-p.Context().Done()
				return nil
			}, process.WithBackend(b))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := spawntest.ExitAndWait(t, n, p, process.Kill); !errors.Is(err, process.Killed) {
			t.Fatalf("exit: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Fatalf("stop: %v", err)
		}
	})
}

// TestHostile_SpawnRacesNodeStop: spawns, sends and registrations racing
// Node.Stop from several goroutines, Stop itself called from several
// goroutines and from a process of the node. Each call returns nil or
// ErrNodeStopped (or NoProc for a process killed by the stop), every Stop
// returns by its deadline, and nothing of the node is left.
func TestHostile_SpawnRacesNodeStop(t *testing.T) {
	for round := range 20 {
		n := process.NewNode(process.WithLogger(nil))
		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		idle := func(p *process.Process) error { <-p.Context().Done(); return nil }
		stopper, err := n.Spawn(func(p *process.Process) error {
			if _, err := p.Receive(p.Context()); err != nil {
				return err
			}
			return n.Stop(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, 1024)
		backends := spawntest.Backends()
		for g := range 3 {
			wg.Go(func() {
				<-start
				for i := range 30 {
					p, err := n.Spawn(idle, process.WithBackend(backends[(g+i)%len(backends)]))
					if err != nil {
						errs <- err
						return
					}
					errs <- n.Send(p, i)
					errs <- registry.Of(n).Register("r", p)
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				<-start
				errs <- n.Stop(ctx)
			})
		}
		close(start)
		if err := n.Send(stopper, "stop"); err != nil && !errors.Is(err, process.ErrNodeStopped) {
			t.Fatalf("round %d: send to stopper: %v", round, err)
		}
		wg.Wait()
		if err := n.Stop(ctx); err != nil {
			t.Fatalf("round %d: stop: %v", round, err)
		}
		close(errs)
		for err := range errs {
			switch {
			case err == nil, errors.Is(err, process.ErrNodeStopped), errors.Is(err, process.NoProc),
				errors.Is(err, registry.ErrNameTaken), errors.Is(err, registry.ErrAlreadyNamed):
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ps := n.Processes(); len(ps) != 0 {
			t.Fatalf("round %d: %d processes left after Stop", round, len(ps))
		}
		if st := n.Stats(); st.Processes != 0 || st.Names != 0 {
			t.Fatalf("round %d: stats after Stop: %+v", round, st)
		}
		cancel()
	}
}

// TestHostile_SubscribeToAStoppedNode: a stopped node publishes nothing
// more, so its subscription's channel is closed and a loop over it ends,
// as a nil node's does; it used to stay open for ever.
func TestHostile_SubscribeToAStoppedNode(t *testing.T) {
	n := process.NewNode(process.WithLogger(nil))
	if err := n.Stop(spawntest.Context(t)); err != nil {
		t.Fatal(err)
	}
	var nilNode *process.Node
	for name, sub := range map[string]*event.Subscription{"stopped": n.Subscribe(), "nil": nilNode.Subscribe(event.Buffer(4))} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range sub.C() {
			}
		}()
		select {
		case <-done:
		case <-time.After(spawntest.Timeout):
			t.Fatalf("%s node: the subscription's channel is still open", name)
		}
		sub.Close()
		sub.Close()
	}
}
