package core

import (
	"iter"
	"slices"
	"sync/atomic"

	"github.com/spawned-go/spawned/pid"
)

// linkSetInline is how many links a linkSet holds before it needs a map.
// Most processes have one link, to their supervisor.
const linkSetInline = 2

// linkSet is a process's set of links. A nil *linkSet is the empty set. It
// holds a few Pids inline and moves them to a map once there are more, so a
// supervised process pays one small allocation for its link instead of a
// map, and a supervisor with thousands of children still adds and removes
// in constant time.
type linkSet struct {
	inline [linkSetInline]pid.Pid
	n      int // Pids in inline; unused once big is set
	big    map[pid.Pid]struct{}
}

// has reports whether p is in s.
func (s *linkSet) has(p pid.Pid) bool {
	switch {
	case s == nil:
		return false
	case s.big != nil:
		_, ok := s.big[p]
		return ok
	}
	return slices.Contains(s.inline[:s.n], p)
}

// add puts p in *s, allocating the set on first use.
func addTo(s **linkSet, p pid.Pid) {
	l := *s
	if l == nil {
		*s = newLinkSet(p)
		return
	}
	switch {
	case l.big != nil:
		l.big[p] = struct{}{}
	case slices.Contains(l.inline[:l.n], p):
	case l.n < linkSetInline:
		l.inline[l.n] = p
		l.n++
	default:
		l.big = make(map[pid.Pid]struct{}, 2*linkSetInline)
		for _, q := range l.inline[:l.n] {
			l.big[q] = struct{}{}
		}
		l.big[p] = struct{}{}
		l.inline, l.n = [linkSetInline]pid.Pid{}, 0
	}
}

// newLinkSet returns a set holding p: a dead process's set when one is
// free (see release), so that a process that lives briefly, as a child
// restarted over and over, costs no fresh memory for its link. A new set is
// built with p in it, written before it is read: a fresh page read first is
// mapped to the kernel's zero page, and the write after it then has to
// flush that mapping from every core the program runs on, an interrupt to
// each (1–3 % of a restart's time on a 2-vCPU VM).
func newLinkSet(p pid.Pid) *linkSet {
	for i := range freeLinkSets {
		if l := freeLinkSets[i].Load(); l != nil && freeLinkSets[i].CompareAndSwap(l, nil) {
			l.inline[0], l.n = p, 1
			return l
		}
	}
	return &linkSet{inline: [linkSetInline]pid.Pid{p}, n: 1}
}

// freeLinkSets holds a few small sets of dead processes, emptied: enough
// for children restarted over and over, and bounded, so that a cascade of
// deaths through thousands of links leaves its sets to the collector
// instead of piling them up (a sync.Pool took 270 KB of fresh memory more
// per cascade of 10,000 to hold them all).
var freeLinkSets [4]atomic.Pointer[linkSet]

// release gives s, which nothing refers to any more, back for newLinkSet
// when there is room. A set that grew a map is left to the collector.
func (s *linkSet) release() {
	if s == nil || s.big != nil {
		return
	}
	*s = linkSet{}
	for i := range freeLinkSets {
		if freeLinkSets[i].Load() == nil && freeLinkSets[i].CompareAndSwap(nil, s) {
			return
		}
	}
}

// remove takes p out of s and reports whether it was there.
func (s *linkSet) remove(p pid.Pid) bool {
	switch {
	case s == nil:
		return false
	case s.big != nil:
		_, ok := s.big[p]
		delete(s.big, p)
		return ok
	}
	i := slices.Index(s.inline[:s.n], p)
	if i < 0 {
		return false
	}
	s.n--
	s.inline[i] = s.inline[s.n]
	s.inline[s.n] = pid.Pid{}
	return true
}

// len returns the number of Pids in s.
func (s *linkSet) len() int {
	switch {
	case s == nil:
		return 0
	case s.big != nil:
		return len(s.big)
	}
	return s.n
}

// all yields every Pid in s, in no particular order.
func (s *linkSet) all() iter.Seq[pid.Pid] {
	return func(yield func(pid.Pid) bool) {
		switch {
		case s == nil:
		case s.big != nil:
			for p := range s.big {
				if !yield(p) {
					return
				}
			}
		default:
			for _, p := range s.inline[:s.n] {
				if !yield(p) {
					return
				}
			}
		}
	}
}
