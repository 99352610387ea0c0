package core

import (
	"slices"

	"github.com/spawned-go/spawned/pid"
)

// Tie is state that code outside the core keeps for a live process and must
// drop when the process dies: the entries of a keyed registry, for one.
// Processes that have no Tie pay nothing for the mechanism.
type Tie interface {
	// Untie runs once, as p dies: under p's lock, after its name and
	// groups are released and before p is marked dead, so whoever sees p
	// dead (a Down, an Exit, Alive, its context) finds what it tied gone.
	// It must not block, and must not take a process's lock or wait for
	// anything that does.
	Untie(p pid.Pid)
}

// tieSlot is one Tie a process carries and the holder it belongs to.
type tieSlot struct {
	holder any
	tie    Tie
}

// Tie runs fn under the lock of the live process target, with the Tie that
// holder keeps on target (nil when it keeps none). The Tie fn returns
// replaces it (nil removes it) and fn's error is returned. A dead target
// gives NoProc without calling fn. fn must not take a process's lock.
func (n *Node) Tie(target pid.Pid, holder any, fn func(Tie) (Tie, error)) error {
	if fn == nil {
		return ErrNilFunc
	}
	if err := n.check(target); err != nil {
		return err
	}
	q := n.proc(target)
	if q == nil {
		return NoProc
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead.Load() {
		return NoProc
	}
	ties := q.coldOf().ties
	i := slices.IndexFunc(ties, func(s tieSlot) bool { return s.holder == holder })
	var old Tie
	if i >= 0 {
		old = ties[i].tie
	}
	t, err := fn(old)
	switch {
	case t == nil && i >= 0:
		q.cold.ties = slices.Delete(ties, i, i+1)
	case t != nil && i >= 0:
		ties[i].tie = t
	case t != nil:
		c := q.coldLocked()
		c.ties = append(c.ties, tieSlot{holder: holder, tie: t})
	}
	return err
}

// untieAll runs the Untie of every Tie p carries. Caller holds p's lock.
func (p *Proc) untieAll(ties []tieSlot) {
	for _, s := range ties {
		s.tie.Untie(p.Pid())
	}
}
