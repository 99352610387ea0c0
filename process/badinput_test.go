package process_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// badEnv is what the bad-input cases act on.
type badEnv struct {
	n       *process.Node
	probe   *spawntest.Probe // a Func process on n
	handler pid.Pid          // a Handler process on n that runs badInHandler messages
	dead    pid.Pid          // a dead process of n
	foreign pid.Pid          // a pid of a node that does not exist
	other   *spawntest.Probe // a process on another live node

	stopped    *process.Node
	stoppedPid pid.Pid // a pid of stopped, alive when it was stopped

	ran atomic.Bool // set by any Func or Handler the cases try to start
}

// badInHandler is a function run inside the Handler process.
type badInHandler struct {
	fn   func(p *process.Process) error
	done chan error
}

// errBadTrue reports a boolean result that should have been false.
var errBadTrue = errors.New("unexpected true")

func badBool(b bool) error {
	if b {
		return errBadTrue
	}
	return nil
}

func badNewEnv(t *testing.T) *badEnv {
	e := &badEnv{n: spawntest.NewNode(t), foreign: pid.New(pid.NewNodeID(), 1)}
	e.probe = spawntest.NewProbe(t, e.n)
	var err error
	e.handler, err = e.n.SpawnHandler(pkHandle(func(p *process.Process, msg any) error {
		if m, ok := msg.(badInHandler); ok {
			m.done <- m.fn(p)
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	e.dead, err = e.n.Spawn(func(*process.Process) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	spawntest.WaitExit(t, e.n, e.dead)
	e.other = spawntest.NewProbe(t, spawntest.NewNode(t))

	e.stopped = process.NewNode(process.WithLogger(nil))
	e.stoppedPid, err = e.stopped.Spawn(func(p *process.Process) error {
		_, err := p.Receive(context.Background())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := pkStopCtx(spawntest.Timeout)
	defer cancel()
	if err := e.stopped.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *badEnv) fn(*process.Process) error { e.ran.Store(true); return nil }

func (e *badEnv) h() process.Handler {
	return pkHandle(func(*process.Process, any) error { e.ran.Store(true); return nil })
}

// inProbe runs f inside the Func probe; it reports a hang as an error
// instead of failing from another goroutine.
func (e *badEnv) inProbe(f func(p *process.Process) error) error {
	var err error
	if !e.probe.TryDo(spawntest.Timeout, func(p *process.Process) error { err = f(p); return nil }) {
		return errors.New("probe did not run the case")
	}
	return err
}

func (e *badEnv) inHandler(f func(p *process.Process) error) error {
	m := badInHandler{fn: f, done: make(chan error, 1)}
	if err := e.n.Send(e.handler, m); err != nil {
		return err
	}
	select {
	case err := <-m.done:
		return err
	case <-time.After(spawntest.Timeout):
		return errors.New("handler did not run the case")
	}
}

func TestBadInput_Table(t *testing.T) {
	t.Parallel()
	e := badNewEnv(t)
	z := pid.Pid{}
	bad := process.Backend(9)
	type tc struct {
		name string
		call func() error
		want error // nil: the call must return nil
	}
	var cases []tc
	add := func(name string, want error, call func() error) {
		cases = append(cases, tc{name, call, want})
	}
	// Every operation that takes a target pid, with the zero pid, a
	// pid of an unknown node and a dead pid.
	targets := []struct {
		name      string
		p         pid.Pid
		want      error
		infoWant  error
		aliveWant bool
	}{
		{"zero", z, process.ErrZeroPid, process.ErrZeroPid, false},
		{"foreign", e.foreign, process.NoConnection, process.NoConnection, false},
		{"dead", e.dead, nil, process.NoProc, false},
	}
	for _, tg := range targets {
		p := tg.p
		add("Node.Send/"+tg.name, tg.want, func() error { return e.n.Send(p, "x") })
		add("Node.Exit/"+tg.name, tg.want, func() error { return e.n.Exit(p, errors.New("r")) })
		add("Node.Exit(Kill)/"+tg.name, tg.want, func() error { return e.n.Exit(p, process.Kill) })
		add("Node.Info/"+tg.name, tg.infoWant, func() error { _, err := e.n.Info(p); return err })
		add("Node.Alive/"+tg.name, nil, func() error { return badBool(e.n.Alive(p)) })
		add("process.Send/"+tg.name, tg.want, func() error { return process.Send(p, "x") })
		add("process.Exit/"+tg.name, tg.want, func() error { return process.Exit(p, process.Kill) })
		add("process.Alive/"+tg.name, nil, func() error { return badBool(process.Alive(p)) })
		add("Process.Send/"+tg.name, tg.want, func() error {
			return e.inProbe(func(self *process.Process) error { return self.Send(p, "x") })
		})
		add("Process.Exit/"+tg.name, tg.want, func() error {
			return e.inProbe(func(self *process.Process) error { return self.Exit(p, errors.New("r")) })
		})
		add("Process.Exit(Kill)/"+tg.name, tg.want, func() error {
			return e.inProbe(func(self *process.Process) error { return self.Exit(p, process.Kill) })
		})
		add("Process.SendAfter/"+tg.name, tg.want, func() error {
			return e.inProbe(func(self *process.Process) error {
				_, err := self.SendAfter(p, "x", time.Millisecond)
				return err
			})
		})
		add("Process.SendInterval/"+tg.name, tg.want, func() error {
			return e.inProbe(func(self *process.Process) error {
				ref, err := self.SendInterval(p, "x", time.Millisecond)
				self.CancelTimer(ref)
				return err
			})
		})
		add("Handler Process.Send/"+tg.name, tg.want, func() error {
			return e.inHandler(func(self *process.Process) error { return self.Send(p, "x") })
		})
	}

	// Nil Func or Handler.
	add("Node.Spawn(nil)", process.ErrNilFunc, func() error { _, err := e.n.Spawn(nil); return err })
	add("Node.SpawnHandler(nil)", process.ErrNilFunc, func() error { _, err := e.n.SpawnHandler(nil); return err })
	add("process.Spawn(nil)", process.ErrNilFunc, func() error { _, err := process.Spawn(nil); return err })
	add("Process.SpawnLink(nil)", process.ErrNilFunc, func() error {
		return e.inProbe(func(self *process.Process) error { _, err := self.SpawnLink(nil); return err })
	})
	add("Process.SpawnMonitor(nil)", process.ErrNilFunc, func() error {
		return e.inProbe(func(self *process.Process) error { _, _, err := self.SpawnMonitor(nil); return err })
	})
	add("Handler Process.SpawnLink(nil)", process.ErrNilFunc, func() error {
		return e.inHandler(func(self *process.Process) error { _, err := self.SpawnLink(nil); return err })
	})

	// Invalid backend.
	wb := process.WithBackend(bad)
	add("Node.Spawn/backend", process.ErrInvalidBackend, func() error { _, err := e.n.Spawn(e.fn, wb); return err })
	add("Node.SpawnHandler/backend", process.ErrInvalidBackend, func() error {
		_, err := e.n.SpawnHandler(e.h(), wb)
		return err
	})
	add("process.Spawn/backend", process.ErrInvalidBackend, func() error { _, err := process.Spawn(e.fn, wb); return err })
	add("Process.SpawnLink/backend", process.ErrInvalidBackend, func() error {
		return e.inProbe(func(self *process.Process) error { _, err := self.SpawnLink(e.fn, wb); return err })
	})
	add("Process.SpawnMonitor/backend", process.ErrInvalidBackend, func() error {
		return e.inProbe(func(self *process.Process) error { _, _, err := self.SpawnMonitor(e.fn, wb); return err })
	})
	add("Node.Spawn/backend+name", process.ErrInvalidBackend, func() error {
		_, err := e.n.Spawn(e.fn, process.WithName("bad-backend"), wb)
		return err
	})
	add("Backend.String", nil, func() error {
		if s := bad.String(); s == "" {
			return errors.New("empty String")
		}
		return nil
	})
	add("Status.String", nil, func() error {
		_ = process.Status(9).String()
		return nil
	})

	// A parent on another node.
	add("Node.Spawn/WithLink(foreign parent)", process.NoConnection, func() error {
		var err error
		if !e.other.TryDo(spawntest.Timeout, func(p *process.Process) error {
			_, err = e.n.Spawn(e.fn, process.WithLink(p))
			return nil
		}) {
			return errors.New("other probe did not run the case")
		}
		return err
	})
	add("Node.Spawn/WithLink(nil)", nil, func() error {
		p, err := e.n.Spawn(func(*process.Process) error { return nil }, process.WithLink(nil))
		if err == nil && p.IsZero() {
			return errors.New("zero pid")
		}
		return err
	})

	// Receiving.
	add("Process.ReceiveMatch(nil)", process.ErrNilFunc, func() error {
		return e.inProbe(func(self *process.Process) error {
			_, err := self.ReceiveMatch(context.Background(), nil)
			return err
		})
	})
	add("Handler Process.Receive", process.ErrNotReceiver, func() error {
		return e.inHandler(func(self *process.Process) error {
			_, err := self.Receive(context.Background())
			return err
		})
	})
	add("Handler Process.ReceiveMatch", process.ErrNotReceiver, func() error {
		return e.inHandler(func(self *process.Process) error {
			_, err := self.ReceiveMatch(context.Background(), func(any) bool { return true })
			return err
		})
	})
	add("Process.Receive(done ctx)", context.Canceled, func() error {
		return e.inProbe(func(self *process.Process) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := self.Receive(ctx)
			return err
		})
	})

	// Timers.
	for _, d := range []time.Duration{0, -time.Second} {
		add(fmt.Sprintf("Process.SendInterval(%v)", d), process.ErrBadInterval, func() error {
			return e.inProbe(func(self *process.Process) error {
				_, err := self.SendInterval(self.Self(), "x", d)
				return err
			})
		})
	}
	add("Process.CancelTimer(zero)", nil, func() error {
		return e.inProbe(func(self *process.Process) error { return badBool(self.CancelTimer(pid.Ref{})) })
	})
	add("Process.CancelTimer(unknown)", nil, func() error {
		return e.inProbe(func(self *process.Process) error { return badBool(self.CancelTimer(e.n.MakeRef())) })
	})
	add("Process.CancelTimer(foreign)", nil, func() error {
		return e.inProbe(func(self *process.Process) error {
			return badBool(self.CancelTimer(pid.NewRef(pid.NewNodeID(), 1)))
		})
	})

	// A stopped node.
	s, sp := e.stopped, e.stoppedPid
	add("stopped Node.Spawn", process.ErrNodeStopped, func() error { _, err := s.Spawn(e.fn); return err })
	add("stopped Node.SpawnHandler", process.ErrNodeStopped, func() error { _, err := s.SpawnHandler(e.h()); return err })
	add("stopped Node.Send", process.ErrNodeStopped, func() error { return s.Send(sp, "x") })
	add("stopped Node.Exit", process.ErrNodeStopped, func() error { return s.Exit(sp, process.Kill) })
	add("stopped Node.Info", process.ErrNodeStopped, func() error { _, err := s.Info(sp); return err })
	add("stopped Node.Alive", nil, func() error { return badBool(s.Alive(sp)) })
	add("stopped Node.Processes", nil, func() error { return badBool(len(s.Processes()) != 0) })
	add("stopped Node.Stats", nil, func() error { return badBool(s.Stats().Processes != 0) })
	add("stopped Node.Stop", nil, func() error {
		ctx, cancel := pkStopCtx(spawntest.Timeout)
		defer cancel()
		return s.Stop(ctx)
	})
	add("stopped process.Send", process.NoConnection, func() error { return process.Send(sp, "x") })
	add("stopped process.Exit", process.NoConnection, func() error { return process.Exit(sp, process.Kill) })
	add("stopped process.Alive", nil, func() error { return badBool(process.Alive(sp)) })

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, panicked := badRun(t, c.call)
			if panicked != nil {
				t.Fatalf("panicked: %v", panicked)
			}
			if c.want == nil {
				if got != nil {
					t.Errorf("got %v, want nil", got)
				}
				return
			}
			if !errors.Is(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}

	// Nothing the cases refused was started, and the node still works.
	if e.ran.Load() {
		t.Error("code of a refused spawn ran")
	}
	if _, ok := registry.Of(e.n).WhereIs("bad-backend"); ok {
		t.Error("a refused spawn left its name registered")
	}
	echo, err := e.n.SpawnHandler(pkEchoHandler())
	if err != nil {
		t.Fatal(err)
	}
	pkPingPong(t, e.probe, echo, 2)
}

// badRun calls f, turning a panic into a value and a hang into a failure.
func badRun(t *testing.T, f func() error) (err error, panicked any) {
	t.Helper()
	o := testkit.Try(f, 2*spawntest.Timeout)
	if o.Hung {
		t.Fatal("the call hung")
	}
	return o.Err, o.Panicked
}
