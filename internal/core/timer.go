package core

import (
	"time"

	"github.com/spawned-go/spawned/pid"
)

// timer is a message to send later on behalf of its owner process.
type timer struct {
	ref      pid.Ref
	t        *time.Timer
	to       pid.Pid
	msg      any
	interval time.Duration // 0 for a one-shot timer
}

// SendAfter sends msg to to after d, on behalf of p. The timer stops when p
// exits or CancelTimer is called.
func (p *Proc) SendAfter(to pid.Pid, msg any, d time.Duration) (pid.Ref, error) {
	return p.startTimer(to, msg, d, 0)
}

// SendInterval sends msg to to every d, on behalf of p, until p exits or
// CancelTimer is called.
func (p *Proc) SendInterval(to pid.Pid, msg any, d time.Duration) (pid.Ref, error) {
	if d <= 0 {
		return pid.Ref{}, ErrBadInterval
	}
	return p.startTimer(to, msg, d, d)
}

func (p *Proc) startTimer(to pid.Pid, msg any, d, interval time.Duration) (pid.Ref, error) {
	if err := p.node.check(to); err != nil {
		return pid.Ref{}, err
	}
	tm := &timer{ref: p.node.MakeRef(), to: to, msg: msg, interval: interval}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead.Load() {
		return pid.Ref{}, ErrCallerExited
	}
	c := p.coldLocked()
	if c.timers == nil {
		c.timers = make(map[pid.Ref]*timer)
	}
	c.timers[tm.ref] = tm
	tm.t = time.AfterFunc(max(d, 0), func() { p.fire(tm) })
	return tm.ref, nil
}

// fire delivers a timer's message under the owner's lock, so that a
// cancelled timer or one whose owner died never delivers.
func (p *Proc) fire(tm *timer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.coldOf().timers[tm.ref] != tm {
		return
	}
	if tm.interval > 0 {
		tm.t.Reset(tm.interval)
	} else {
		delete(p.cold.timers, tm.ref)
	}
	if q := p.node.table.get(tm.to.Serial()); q != nil {
		q.deliver(tm.msg)
		p.sent.Add(1)
	}
}

// CancelTimer stops the timer ref. It reports whether the timer was still
// pending; once it returns, the timer delivers nothing more.
func (p *Proc) CancelTimer(ref pid.Ref) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	tm, ok := p.coldOf().timers[ref]
	if !ok {
		return false
	}
	delete(p.cold.timers, ref)
	tm.t.Stop()
	return true
}
