package link_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Section 5 of CONFORMANCE.md: signal ordering.

const ordN = 10000

// ordSeq is the i-th message of a sender.
type ordSeq int

// ordGo tells a sender to send its messages to To and then exit.
type ordGo struct{ To pid.Pid }

var (
	ordDone  = errors.New("ord: sender done")
	ordCrash = errors.New("crash")
)

// ordMode is how the receiver learns of the sender's death.
type ordMode int

const (
	ordMonitor ordMode = iota // link.Down (ORD-01)
	ordLink                   // trapped link.Exit (ORD-02)
)

func ordSendAll(p *process.Process, to pid.Pid) {
	for i := range ordN {
		_ = p.Send(to, ordSeq(i))
	}
}

type ordSenderHandler struct{ reason error }

func (h ordSenderHandler) HandleMessage(p *process.Process, msg any) error {
	g, ok := msg.(ordGo)
	if !ok {
		return nil
	}
	ordSendAll(p, g.To)
	return h.reason
}

// ordSpawnSender starts a sender of the given kind that waits for ordGo.
func ordSpawnSender(t testing.TB, n *process.Node, kind string, b process.Backend, reason error) pid.Pid {
	t.Helper()
	var p pid.Pid
	var err error
	switch kind {
	case "func":
		p, err = n.Spawn(func(p *process.Process) error {
			m, err := p.ReceiveMatch(context.Background(), func(m any) bool { _, ok := m.(ordGo); return ok })
			if err != nil {
				return err
			}
			ordSendAll(p, m.(ordGo).To)
			return reason
		}, process.WithBackend(b))
	case "handler":
		p, err = n.SpawnHandler(ordSenderHandler{reason}, process.WithBackend(b))
	}
	if err != nil {
		t.Fatalf("spawn sender: %v", err)
	}
	return p
}

// ordWatchSender sets up the receiver's side in p: a monitor, or a link
// with trap_exit. It returns the monitor's ref.
func ordWatchSender(p *process.Process, mode ordMode, sender pid.Pid) (pid.Ref, error) {
	if mode == ordMonitor {
		return link.Monitor(p, sender)
	}
	p.TrapExit(true)
	return pid.Ref{}, link.Link(p, sender)
}

// ordRecorder is a receiver Handler: it watches target, starts it, and
// records every message up to the Down or Exit.
type ordRecorder struct {
	mode   ordMode
	target pid.Pid
	ref    pid.Ref
	got    []any
	done   chan ordResult
}

type ordResult struct {
	ref pid.Ref
	got []any
	err error
}

func (r *ordRecorder) Init(p *process.Process) error {
	var err error
	if r.ref, err = ordWatchSender(p, r.mode, r.target); err == nil {
		err = p.Send(r.target, ordGo{p.Self()})
	}
	if err != nil {
		r.done <- ordResult{err: err}
	}
	return err
}

func (r *ordRecorder) HandleMessage(_ *process.Process, msg any) error {
	r.got = append(r.got, msg)
	switch msg.(type) {
	case link.Down, link.Exit:
		r.done <- ordResult{ref: r.ref, got: r.got}
		return process.Normal
	}
	return nil
}

// ordCheck checks that got is ordSeq 0..ordN-1 followed by the sender's
// Down or Exit.
func ordCheck(got []any, mode ordMode, ref pid.Ref, sender pid.Pid) error {
	if len(got) != ordN+1 {
		return fmt.Errorf("received %d messages, want %d and then the notice", len(got), ordN)
	}
	for i, m := range got[:ordN] {
		if m != ordSeq(i) {
			return fmt.Errorf("message %d is %#v, want ordSeq(%d)", i, m, i)
		}
	}
	last := got[ordN]
	if mode == ordMonitor {
		if s := monCheckDown(last, ref, sender, process.Normal); s != "" {
			return errors.New(s)
		}
		return nil
	}
	e, ok := last.(link.Exit)
	if !ok || e.From != sender || !errors.Is(e.Reason, ordDone) {
		return fmt.Errorf("last message is %#v, want link.Exit{From: %v, Reason: %v}", last, sender, ordDone)
	}
	return nil
}

func ordRun(t *testing.T, mode ordMode) {
	reason := error(process.Normal)
	if mode == ordLink {
		reason = ordDone
	}
	spawntest.ForEachBackend(t, func(t *testing.T, rb process.Backend) {
		for _, recv := range []string{"probe", "handler"} {
			for _, send := range []string{"func", "handler"} {
				for _, sb := range spawntest.Backends() {
					t.Run(fmt.Sprintf("recv=%s/send=%s-%v", recv, send, sb), func(t *testing.T) {
						t.Parallel()
						n := spawntest.NewNode(t)
						sender := ordSpawnSender(t, n, send, sb, reason)
						var res ordResult
						if recv == "probe" {
							res = ordReceiveProbe(t, n, rb, mode, sender)
						} else {
							res = ordReceiveHandler(t, n, rb, mode, sender)
						}
						if res.err != nil {
							t.Fatal(res.err)
						}
						if err := ordCheck(res.got, mode, res.ref, sender); err != nil {
							t.Fatal(err)
						}
					})
				}
			}
		}
	})
}

func ordReceiveProbe(t *testing.T, n *process.Node, b process.Backend, mode ordMode, sender pid.Pid) ordResult {
	t.Helper()
	pr := spawntest.NewProbe(t, n, process.WithBackend(b))
	var res ordResult
	pr.Do(func(p *process.Process) error {
		if res.ref, res.err = ordWatchSender(p, mode, sender); res.err == nil {
			res.err = p.Send(sender, ordGo{p.Self()})
		}
		return nil
	})
	if res.err != nil {
		return res
	}
	pr.Do(func(p *process.Process) error {
		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		defer cancel()
		for range ordN + 1 {
			m, err := p.Receive(ctx)
			if err != nil {
				res.err = fmt.Errorf("after %d messages: %w", len(res.got), err)
				return nil
			}
			res.got = append(res.got, m)
		}
		return nil
	})
	if res.err == nil {
		pr.ExpectEmpty() // nothing after the notice
	}
	return res
}

func ordReceiveHandler(t *testing.T, n *process.Node, b process.Backend, mode ordMode, sender pid.Pid) ordResult {
	t.Helper()
	r := &ordRecorder{mode: mode, target: sender, done: make(chan ordResult, 1)}
	if _, err := n.SpawnHandler(r, process.WithBackend(b)); err != nil {
		t.Fatalf("spawn receiver: %v", err)
	}
	return spawntest.Recv(t, r.done)
}

func TestORD01_MessagesBeforeDeathArriveBeforeDown(t *testing.T) {
	t.Parallel()
	ordRun(t, ordMonitor)
}

func TestORD02_MessagesBeforeDeathArriveBeforeTrappedExit(t *testing.T) {
	t.Parallel()
	ordRun(t, ordLink)
}

// ORD-03: a small server that replies to pings.

type ordPing struct {
	From  pid.Pid
	After bool // sent after the exit signal: must never be handled
}

type ordPong struct{}

// ordBusy holds the server inside its code until release is closed.
type ordBusy struct{ entered, release chan struct{} }

type ordServer struct{ handledAfter *atomic.Int64 }

func (s ordServer) handle(p *process.Process, msg any) {
	switch m := msg.(type) {
	case ordPing:
		if m.After {
			s.handledAfter.Add(1)
		}
		_ = p.Send(m.From, ordPong{})
	case ordBusy:
		close(m.entered)
		<-m.release
	}
}

func (s ordServer) HandleMessage(p *process.Process, msg any) error {
	s.handle(p, msg)
	return nil
}

func (s ordServer) loop(p *process.Process) error {
	for {
		m, err := p.Receive(context.Background())
		if err != nil {
			return err
		}
		s.handle(p, m)
	}
}

func TestORD03_ExitSignalThenMessageStaysInOrder(t *testing.T) {
	t.Parallel()
	const rounds = 50
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, kind := range []string{"handler", "func"} {
			t.Run(kind, func(t *testing.T) {
				n := spawntest.NewNode(t)
				var handledAfter atomic.Int64
				srv := ordServer{&handledAfter}
				s := spawntest.NewProbe(t, n, process.WithBackend(b))
				for i := range rounds {
					var target pid.Pid
					var err error
					if kind == "handler" {
						target, err = n.SpawnHandler(srv, process.WithBackend(b))
					} else {
						target, err = n.Spawn(srv.loop, process.WithBackend(b))
					}
					if err != nil {
						t.Fatalf("spawn: %v", err)
					}
					ref := monMonitor(t, s, target)

					// The server does reply to a ping.
					s.Do(func(p *process.Process) error { return p.Send(target, ordPing{From: p.Self()}) })
					if m := s.Receive(); m != (ordPong{}) {
						t.Fatalf("round %d: got %#v, want a pong", i, m)
					}

					// On odd rounds the server is inside its code when the signal comes.
					busy := i%2 == 1
					var release chan struct{}
					if busy {
						entered := make(chan struct{})
						release = make(chan struct{})
						s.Do(func(p *process.Process) error {
							return p.Send(target, ordBusy{entered: entered, release: release})
						})
						spawntest.Recv(t, entered)
					}

					var exitErr, sendErr error
					s.Do(func(p *process.Process) error {
						exitErr = p.Exit(target, ordCrash)
						sendErr = p.Send(target, ordPing{From: p.Self(), After: true})
						return nil
					})
					if busy {
						close(release)
					}
					if exitErr != nil || sendErr != nil {
						t.Fatalf("round %d: exit: %v, send: %v", i, exitErr, sendErr)
					}
					monWantDown(t, s.Receive(), ref, target, ordCrash)
					s.ExpectEmpty() // no pong
				}
				// Stop waits for all the node's goroutines, so no server code
				// can still handle a ping after this.
				ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
				defer cancel()
				if err := n.Stop(ctx); err != nil {
					t.Fatal(err)
				}
				if c := handledAfter.Load(); c != 0 {
					t.Fatalf("a killed server handled %d pings sent after the exit signal", c)
				}
			})
		}
	})
}
