// Command timers shows the timers a process sets: SendAfter delivers once,
// SendInterval delivers until it is cancelled, a cancelled timer never
// delivers, and a process's timers die with it. In a GenServer the same
// timers come from the callback's context, and an idle timeout ends a
// session that nobody uses any more.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/process"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "timers:", err)
		os.Exit(1)
	}
}

// tick is the message of interval timers; check marks a point in time.
type (
	tick  struct{}
	check struct{}
)

// processTimers is a process that sets timers and prints what arrives.
func processTimers(w io.Writer) process.Func {
	return func(p *process.Process) error {
		ctx := p.Context()
		say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
		next := func() any {
			m, err := p.Receive(ctx)
			if err != nil {
				panic(err) // only if the process is killed; it is not
			}
			return m
		}
		// nextAfter sets a timer for a check message d from now and returns
		// the first message to arrive.
		nextAfter := func(d time.Duration) any {
			if _, err := p.SendAfter(p.Self(), check{}, d); err != nil {
				panic(err)
			}
			return next()
		}

		say("1. SendAfter delivers a message once, later.")
		if _, err := p.SendAfter(p.Self(), "wake up", 20*time.Millisecond); err != nil {
			return err
		}
		say("   received: %v", next())

		say("2. A cancelled timer never delivers.")
		ref, err := p.SendAfter(p.Self(), "too late", 100*time.Millisecond)
		if err != nil {
			return err
		}
		say("   cancelled while pending: %v", p.CancelTimer(ref))
		_, isCheck := nextAfter(150 * time.Millisecond).(check)
		say("   after the time it was due, the first message is the check: %v", isCheck)

		say("3. SendInterval delivers until cancelled.")
		ref, err = p.SendInterval(p.Self(), tick{}, 10*time.Millisecond)
		if err != nil {
			return err
		}
		for i := 1; i <= 3; i++ {
			if _, ok := next().(tick); ok {
				say("   tick %d", i)
			}
		}
		say("   cancelled: %v", p.CancelTimer(ref))
		// A tick may have been queued just before the cancel; the marker,
		// sent after it, comes after any such tick. Nothing may come after
		// the marker but the check.
		p.Send(p.Self(), "marker")
		for next() != "marker" {
		}
		_, isCheck = nextAfter(50 * time.Millisecond).(check)
		say("   no tick after the cancel: %v", isCheck)

		say("4. A process's timers die with it.")
		beating, ref, err := p.SpawnMonitor(func(b *process.Process) error {
			// Timers that send to the story process, on behalf of this one.
			if _, err := b.SendInterval(p.Self(), tick{}, 10*time.Millisecond); err != nil {
				return err
			}
			if _, err := b.SendAfter(p.Self(), "late", 100*time.Millisecond); err != nil {
				return err
			}
			_, err := b.Receive(b.Context()) // until told to stop
			return err
		})
		if err != nil {
			return err
		}
		for range 2 {
			next() // two messages from its timers: they run
		}
		p.Send(beating, "stop")
		for {
			if d, ok := next().(link.Down); ok && d.Ref == ref {
				say("   the process with the timers exited: %v", d.Reason)
				break
			}
		}
		// Wait past the time "late" was due: nothing from its timers arrives.
		_, isCheck = nextAfter(150 * time.Millisecond).(check)
		say("   nothing from its timers after its exit: %v", isCheck)
		return nil
	}
}

// beat is the heartbeat's interval message.
type beat struct{}

// Heartbeat beats on an interval set in Init and stops itself after three
// beats; its timer goes with it.
type Heartbeat struct {
	genserver.NoCalls
	genserver.NoCasts
	beats  int
	report chan<- string
}

func (h *Heartbeat) Init(ctx *genserver.Ctx) error {
	_, err := ctx.SendInterval(beat{}, 10*time.Millisecond)
	return err
}

func (h *Heartbeat) HandleInfo(ctx *genserver.Ctx, msg any) {
	if _, ok := msg.(beat); !ok {
		return
	}
	h.beats++
	h.report <- fmt.Sprintf("heartbeat: beat %d", h.beats)
	if h.beats == 3 {
		ctx.Stop(process.Normal)
	}
}

// Terminate runs once the server stops; its interval timer stops with it.
func (h *Heartbeat) Terminate(_ *genserver.Ctx, reason error) {
	h.report <- fmt.Sprintf("heartbeat: stopped: %v", reason)
}

// Touch is a call to the session: it keeps the session alive and answers
// with the number of touches so far.
type Touch struct{}

// Session ends itself when nobody has touched it for idle.
type Session struct {
	genserver.NoCasts
	idle    time.Duration
	touches int
	report  chan<- string
}

func (s *Session) HandleCall(ctx *genserver.CallCtx[int], _ Touch) (int, error) {
	s.touches++
	// Ask for a Timeout message if nothing arrives within idle. Every
	// callback that wants it must ask again: any message cancels it.
	ctx.IdleTimeout(s.idle)
	return s.touches, nil
}

func (s *Session) HandleInfo(ctx *genserver.Ctx, msg any) {
	if _, ok := msg.(genserver.Timeout); ok {
		s.report <- fmt.Sprintf("session: idle for %v after %d touches, expiring", s.idle, s.touches)
		ctx.Stop(errExpired)
	}
}

var errExpired = errors.New("session expired")

// run tells the process part, then the GenServer part.
func run(w io.Writer) error {
	ctx := context.Background()
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(ctx)
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	// OnExit hears of the story's end however soon it comes.
	done := make(chan error, 1)
	if _, err := node.Spawn(processTimers(w), process.OnExit(func(reason error) { done <- reason })); err != nil {
		return err
	}
	if reason := <-done; !process.IsNormal(reason) {
		return fmt.Errorf("the timer story ended with %v", reason)
	}

	say("5. In a GenServer: an interval set in Init, stopped with the server.")
	report := make(chan string, 4)
	if _, err := genserver.Start(ctx, node, &Heartbeat{report: report}); err != nil {
		return err
	}
	for range 4 { // three beats and the last word
		say("   %s", <-report)
	}

	say("6. An idle timeout ends a session that nobody uses.")
	session, err := genserver.Start(ctx, node, &Session{idle: 200 * time.Millisecond, report: report})
	if err != nil {
		return err
	}
	// The session cannot expire before its first touch: no idle timeout
	// has been asked for yet, so watching it now misses nothing.
	expired := make(chan error, 1)
	if _, err := link.Watch(node, session.Pid(), func(d link.Down) { expired <- d.Reason }); err != nil {
		return err
	}
	for range 3 {
		n, err := session.Call(ctx, Touch{}) // each touch restarts the idle timer
		if err != nil {
			return err
		}
		say("   touch %d", n)
	}
	say("   %s", <-report)
	say("   the session exited: %v", <-expired)
	return nil
}
