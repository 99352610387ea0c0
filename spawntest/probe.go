package spawntest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Probe is a process that a test drives step by step, as Erlang tests use
// the shell process: each step (Do, or a shortcut such as Link, Monitor or
// Send) runs inside the process, and the messages the process receives stay in
// its mailbox until the test reads them (Receive, Expect, ExpectDown, ...).
//
// A Probe fails the test it was created with (NewProbe's t); the generic
// functions Expect and ExpectMatch fail the test they are given. The probe's
// own exit does not fail the test: a step that needs the probe alive does.
//
// A probe adds nothing that the test can see in process.Info: no link, no
// monitor.
type Probe struct {
	t    testing.TB
	node *process.Node
	pid  pid.Pid
	exit *exitRecord // nil for an adopted probe
}

// exitRecord holds a probe's exit reason, from process.OnExit.
type exitRecord struct {
	done   chan struct{} // closed once the process has exited
	reason error         // written before done is closed
}

// option returns a spawn option that records the exit in e, after any
// OnExit function the earlier options set.
func (e *exitRecord) option() process.SpawnOption {
	return func(s *core.Spec) {
		prev := s.OnExit
		s.OnExit = func(reason error) {
			if prev != nil {
				prev(reason)
			}
			e.reason = reason
			close(e.done)
		}
	}
}

// step is a function a probe runs for the test.
type step struct {
	fn       func(p *process.Process) error
	done     chan struct{} // closed when fn has returned or panicked
	panicked any           // fn's panic value, written before done is closed
	lost     chan error    // the probe's exit reason if the step never runs
}

// Undelivered tells the waiting test that the probe died before running the
// step (process.Undeliverable).
func (s *step) Undelivered(reason error) { s.lost <- reason }

// run runs the step; a panic in fn becomes the probe's exit reason, as the
// runtime would make it, after the test has been told.
func (s *step) run(p *process.Process) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.panicked = v
			close(s.done)
			err = &process.PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	err = s.fn(p)
	close(s.done)
	return err
}

func isStep(m any) bool    { _, ok := m.(*step); return ok }
func isMessage(m any) bool { return !isStep(m) }

// ProbeLoop is the body of a probe process: it runs the steps a test sends
// it and leaves every other message queued. Spawn it your own way (as a
// supervisor's child with supervisor.Func, say) and drive it with Adopt.
// It returns the error of the first step that returns one, so a step
// returning process.Normal ends the probe normally.
func ProbeLoop(p *process.Process) error {
	for {
		m, err := p.ReceiveMatch(p.Context(), isStep)
		if err != nil {
			return err
		}
		if err := m.(*step).run(p); err != nil {
			return err
		}
	}
}

// NewProbe spawns a probe on node with opts (a backend, a name, a link to a
// parent, ...).
func NewProbe(t testing.TB, node *process.Node, opts ...process.SpawnOption) *Probe {
	t.Helper()
	if node == nil {
		t.Fatal("spawntest: NewProbe: nil node")
	}
	pr := newProbe(t, node)
	p, err := node.Spawn(ProbeLoop, pr.options(opts)...)
	if err != nil {
		t.Fatalf("spawntest: NewProbe: spawn: %v", err)
	}
	pr.pid = p
	return pr
}

func newProbe(t testing.TB, node *process.Node) *Probe {
	return &Probe{t: t, node: node, exit: &exitRecord{done: make(chan struct{})}}
}

// options returns opts and the option that records the probe's exit.
func (pr *Probe) options(opts []process.SpawnOption) []process.SpawnOption {
	return append(slices.Clip(opts), pr.exit.option())
}

// Adopt returns a Probe for the process p of node, which must run
// ProbeLoop; steps sent to any other process are never run and time out.
// An adopted probe learns its exit reason only from a watch that WaitExit
// sets: if the probe is dead by then, the reason is process.NoProc.
func Adopt(t testing.TB, node *process.Node, p pid.Pid) *Probe {
	t.Helper()
	if node == nil {
		t.Fatal("spawntest: Adopt: nil node")
	}
	if p.IsZero() {
		t.Fatal("spawntest: Adopt: zero Pid")
	}
	return &Probe{t: t, node: node, pid: p}
}

// Pid returns the probe's Pid.
func (pr *Probe) Pid() pid.Pid { return pr.pid }

// Node returns the node the probe runs on.
func (pr *Probe) Node() *process.Node { return pr.node }

// exitReason returns the probe's recorded exit reason, or lost if there is
// none (an adopted probe, or the record is not written yet).
func (pr *Probe) exitReason(lost error) error {
	if pr.exit != nil && isClosed(pr.exit.done) {
		return pr.exit.reason
	}
	return lost
}

// try sends fn to the probe and waits up to limit for it to return.
func (pr *Probe) try(limit time.Duration, fn func(p *process.Process) error) error {
	s := &step{fn: fn, done: make(chan struct{}), lost: make(chan error, 1)}
	if err := pr.node.Send(pr.pid, s); err != nil {
		return fmt.Errorf("sending the step: %w", err)
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-s.done:
		if s.panicked != nil {
			return fmt.Errorf("the step panicked: %v (the probe exits with the panic)", s.panicked)
		}
		return nil
	case reason := <-s.lost:
		return fmt.Errorf("the probe has exited (reason: %v)", pr.exitReason(reason))
	case <-timer.C:
		return fmt.Errorf("the step did not finish within %v (an earlier step still running? not a probe?)", limit)
	}
}

// Do runs fn inside the probe process and waits for it to return (at most
// Timeout). fn gets the probe's *process.Process: it may receive, send, link,
// monitor, trap exits, spawn. A non-nil error from fn ends the probe with that
// reason (process.Normal: a normal exit). fn runs on the probe's goroutine,
// so it must not call t.Fatal; hand results out through variables and check
// them after Do returns. Do fails the test if the probe has exited or fn does
// not return in time.
func (pr *Probe) Do(fn func(p *process.Process) error) {
	pr.t.Helper()
	if fn == nil {
		pr.t.Fatalf("spawntest: probe %v: Do(nil)", pr.pid)
	}
	if err := pr.try(Timeout, fn); err != nil {
		pr.t.Fatalf("spawntest: probe %v: Do: %v", pr.pid, err)
	}
}

// TryDo is Do for where failing the test is not wanted, for example in a
// goroutine other than the test's: it reports whether fn ran and returned
// within d, and false if the probe is dead. After a false, fn may still run
// later.
func (pr *Probe) TryDo(d time.Duration, fn func(p *process.Process) error) bool {
	return fn != nil && pr.try(d, fn) == nil
}

// doErr runs fn in the probe (which must run it) and fails the test if fn
// returns an error; what names the operation.
func (pr *Probe) doErr(what string, fn func(p *process.Process) error) {
	pr.t.Helper()
	var err error
	pr.Do(func(p *process.Process) error { err = fn(p); return nil })
	if err != nil {
		pr.t.Fatalf("spawntest: probe %v: %s: %v", pr.pid, what, err)
	}
}

// Send sends msg from the probe to to.
func (pr *Probe) Send(to pid.Pid, msg any) {
	pr.t.Helper()
	pr.doErr(fmt.Sprintf("Send to %v", to), func(p *process.Process) error { return p.Send(to, msg) })
}

// Link links the probe to target (link.Link). Linking to a dead process
// fails the test unless the probe traps exits; use Do to test that case.
func (pr *Probe) Link(target pid.Pid) {
	pr.t.Helper()
	pr.doErr(fmt.Sprintf("Link to %v", target), func(p *process.Process) error { return link.Link(p, target) })
}

// Unlink removes the probe's link to target (link.Unlink).
func (pr *Probe) Unlink(target pid.Pid) {
	pr.t.Helper()
	pr.doErr(fmt.Sprintf("Unlink from %v", target), func(p *process.Process) error { return link.Unlink(p, target) })
}

// Monitor makes the probe monitor target (link.Monitor) and returns the
// monitor's reference, which ExpectDown takes.
func (pr *Probe) Monitor(target pid.Pid) pid.Ref {
	pr.t.Helper()
	var ref pid.Ref
	pr.doErr(fmt.Sprintf("Monitor %v", target), func(p *process.Process) (err error) {
		ref, err = link.Monitor(p, target)
		return err
	})
	return ref
}

// TrapExit sets whether the probe traps exits (process.Process.TrapExit):
// a trapping probe receives exit signals as link.Exit messages.
func (pr *Probe) TrapExit(on bool) {
	pr.t.Helper()
	pr.Do(func(p *process.Process) error { p.TrapExit(on); return nil })
}

// SpawnLink spawns a new probe linked to this one in one step (Erlang's
// spawn_link), with opts.
func (pr *Probe) SpawnLink(opts ...process.SpawnOption) *Probe {
	pr.t.Helper()
	child := newProbe(pr.t, pr.node)
	pr.doErr("SpawnLink", func(p *process.Process) (err error) {
		child.pid, err = p.SpawnLink(ProbeLoop, child.options(opts)...)
		return err
	})
	return child
}

// SpawnMonitor spawns a new probe monitored by this one in one step
// (Erlang's spawn_monitor), with opts, and returns it and the monitor's
// reference.
func (pr *Probe) SpawnMonitor(opts ...process.SpawnOption) (*Probe, pid.Ref) {
	pr.t.Helper()
	child := newProbe(pr.t, pr.node)
	var ref pid.Ref
	pr.doErr("SpawnMonitor", func(p *process.Process) (err error) {
		child.pid, ref, err = p.SpawnMonitor(ProbeLoop, child.options(opts)...)
		return err
	})
	return child, ref
}

// Exit makes the probe's own code return reason (nil: process.Normal), as
// Erlang's exit/1, and waits until the probe is dead and the news has
// spread: when Exit returns, the processes linked to the probe have had its
// exit signal and its monitors their Down.
func (pr *Probe) Exit(reason error) {
	pr.t.Helper()
	if reason == nil {
		reason = process.Normal
	}
	w := WatchExit(pr.t, pr.node, pr.pid)
	pr.Do(func(*process.Process) error { return reason })
	w.Wait()
}

// WaitExit waits until the probe has exited and returns its exit reason. It
// fails the test if the probe is still alive after Timeout. It may return
// before the probe's link partners have had their exit signals (Exit, or a
// WatchExit set before the cause, waits for them).
func (pr *Probe) WaitExit() error {
	pr.t.Helper()
	if pr.exit == nil {
		return WatchExit(pr.t, pr.node, pr.pid).Wait()
	}
	if limit := Timeout; !closedWithin(pr.exit.done, limit) {
		pr.t.Fatalf("spawntest: probe %v is still alive after %v, want it to exit", pr.pid, limit)
	}
	return pr.exit.reason
}

// receive takes the probe's oldest message for which match holds, waiting
// up to Timeout, and fails t if none comes; want describes the message.
func (pr *Probe) receive(t testing.TB, want string, match func(any) bool) any {
	t.Helper()
	limit := Timeout // read here: the step runs on the probe's goroutine
	var msg any
	var err error
	var queued []any
	if e := pr.try(limit+max(limit, time.Second), func(p *process.Process) error {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		msg, err = p.ReceiveMatch(ctx, func(m any) bool { return isMessage(m) && match(m) })
		if err != nil {
			queued = peek(p)
		}
		return nil
	}); e != nil {
		t.Fatalf("spawntest: probe %v: waiting for %s: %v", pr.pid, want, e)
	}
	switch {
	case err == nil:
		return msg
	case errors.Is(err, context.DeadlineExceeded):
		t.Fatalf("spawntest: probe %v: no %s within %v; the mailbox holds %s", pr.pid, want, limit, describe(queued))
	default:
		t.Fatalf("spawntest: probe %v: waiting for %s: the probe exited (reason: %v)", pr.pid, want, err)
	}
	return nil
}

// peek returns the queued messages without taking them. Only the probe's
// own code may call it.
func peek(p *process.Process) []any {
	var seen []any
	_, _ = p.ReceiveMatch(doneContext(), func(m any) bool {
		if isMessage(m) {
			seen = append(seen, m)
		}
		return false
	})
	return seen
}

// doneContext returns a context that is already done: a receive with it
// takes a queued message but does not wait for one.
func doneContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// describe renders messages for a failure message.
func describe(msgs []any) string {
	if len(msgs) == 0 {
		return "nothing"
	}
	return fmt.Sprintf("%d message(s): %s", len(msgs),
		list(msgs, 10, func(m any) string { return fmt.Sprintf("%T %+v", m, m) }))
}

// list renders at most the first most items, joined by "; ".
func list[T any](items []T, most int, render func(T) string) string {
	parts := make([]string, 0, min(len(items), most)+1)
	for i, it := range items {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(items)-most))
			break
		}
		parts = append(parts, render(it))
	}
	return strings.Join(parts, "; ")
}

// typeName names T for failure messages.
func typeName[T any]() string { return reflect.TypeFor[T]().String() }

// Receive takes the probe's oldest message, waiting up to Timeout for one.
func (pr *Probe) Receive() any {
	pr.t.Helper()
	return pr.receive(pr.t, "message", func(any) bool { return true })
}

// Expect takes the probe's oldest message of type T (a selective receive:
// messages of other types stay queued), waiting up to Timeout for one. It
// fails t, listing what the mailbox holds, if none comes.
//
//	down := spawntest.Expect[link.Down](t, probe)
func Expect[T any](t testing.TB, pr *Probe) T {
	t.Helper()
	return expect(t, pr, typeName[T](), func(T) bool { return true })
}

// ExpectMatch takes the probe's oldest message of type T for which match
// holds, waiting up to Timeout for one; other messages stay queued.
func ExpectMatch[T any](t testing.TB, pr *Probe, match func(T) bool) T {
	t.Helper()
	return expect(t, pr, "matching "+typeName[T](), match)
}

// ExpectDown takes the link.Down of the monitor ref, waiting up to Timeout
// for it; other messages stay queued.
func (pr *Probe) ExpectDown(ref pid.Ref) link.Down {
	pr.t.Helper()
	return expect(pr.t, pr, fmt.Sprintf("link.Down of monitor %v", ref),
		func(d link.Down) bool { return d.Ref == ref })
}

// ExpectExit takes the link.Exit from the process from (the probe must trap
// exits), waiting up to Timeout for it; other messages stay queued.
func (pr *Probe) ExpectExit(from pid.Pid) link.Exit {
	pr.t.Helper()
	return expect(pr.t, pr, fmt.Sprintf("link.Exit from %v", from),
		func(e link.Exit) bool { return e.From == from })
}

// expect takes the oldest message of type T for which match holds; want
// describes it for the failure message.
func expect[T any](t testing.TB, pr *Probe, want string, match func(T) bool) T {
	t.Helper()
	switch {
	case pr == nil:
		t.Fatalf("spawntest: waiting for %s: nil probe", want)
	case match == nil:
		t.Fatalf("spawntest: waiting for %s: nil match", want)
	}
	m := pr.receive(t, want, func(m any) bool { v, ok := m.(T); return ok && match(v) })
	v, _ := m.(T)
	return v
}

// ExpectEmpty fails the test unless the probe's mailbox is empty now: every
// message sent to it before the call has been received. It does not wait.
func (pr *Probe) ExpectEmpty() {
	pr.t.Helper()
	var queued []any
	pr.Do(func(p *process.Process) error { queued = peek(p); return nil })
	if len(queued) > 0 {
		pr.t.Fatalf("spawntest: probe %v: the mailbox holds %s, want it empty", pr.pid, describe(queued))
	}
}

// ExpectNothing fails the test if a message arrives at the probe (or is
// queued already) within d. It always waits for d: use it only where
// "nothing arrives" is the behaviour under test, with the shortest d that
// would catch the message if it were coming; ExpectEmpty checks without
// waiting.
func (pr *Probe) ExpectNothing(d time.Duration) {
	pr.t.Helper()
	var msg any
	var err error
	if e := pr.try(d+Timeout, func(p *process.Process) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		msg, err = p.ReceiveMatch(ctx, isMessage)
		return nil
	}); e != nil {
		pr.t.Fatalf("spawntest: probe %v: ExpectNothing: %v", pr.pid, e)
	}
	switch {
	case err == nil:
		pr.t.Fatalf("spawntest: probe %v: received %T %+v within %v, want nothing", pr.pid, msg, msg, d)
	case !errors.Is(err, context.DeadlineExceeded):
		pr.t.Fatalf("spawntest: probe %v: ExpectNothing: the probe exited (reason: %v)", pr.pid, err)
	}
}

// Flush takes every message queued at the probe, oldest first, without
// waiting.
func (pr *Probe) Flush() []any {
	pr.t.Helper()
	var out []any
	pr.Do(func(p *process.Process) error {
		ctx := doneContext()
		for {
			m, err := p.ReceiveMatch(ctx, isMessage)
			if err != nil {
				return nil
			}
			out = append(out, m)
		}
	})
	return out
}
