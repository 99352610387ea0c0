// Package event declares the typed events a node publishes about its
// processes and supervisors, and the subscriptions that deliver them.
//
// A program subscribes through its node (process.Node.Subscribe) and reads
// the events from the subscription's channel, switching on their types:
//
//	sub := node.Subscribe(event.Kinds(event.KindExited, event.KindChildRestarted))
//	defer sub.Close()
//	for e := range sub.C() {
//		switch e := e.(type) {
//		case event.Exited:
//			log.Printf("%v (%s) exited: %v", e.Pid, e.Name, e.Reason)
//		case event.ChildRestarted:
//			log.Printf("%s restarted %s after %v", e.SupervisorName, e.ID, e.Reason)
//		case event.Gap:
//			log.Printf("lost %d events", e.Lost)
//		}
//	}
//
// Delivery never slows the runtime. Each subscription has a bounded
// buffer; publishing never waits for it: an event that finds it full is
// counted instead, and the count arrives as a Gap event as soon as there is
// room again, ahead of the next event. The events of one process arrive in
// the order they happened.
// A node with no subscription pays one atomic load per spawn and per exit,
// and builds no event.
package event

import (
	"fmt"
	"time"

	"github.com/spawned-go/spawned/pid"
)

// Event is one of the event types of this package: Spawned, Exited,
// ChildStarted, ChildRestarted, ChildTerminated, ChildStartFailed,
// IntensityReached, GaveUp, Traced and Gap.
type Event interface {
	// Kind says which type of event it is.
	Kind() Kind
	// When returns the time the event happened (the zero time for a Gap).
	When() time.Time
}

// Kind names a type of event, for choosing what a subscription receives.
type Kind uint8

// The kinds of event.
const (
	KindSpawned Kind = iota
	KindExited
	KindChildStarted
	KindChildRestarted
	KindChildTerminated
	KindChildStartFailed
	KindIntensityReached
	KindGaveUp
	KindTraced
	KindGap
	numKinds
)

var kindNames = [numKinds]string{
	"spawned", "exited", "child_started", "child_restarted", "child_terminated",
	"child_start_failed", "intensity_reached", "gave_up", "traced", "gap",
}

// String returns the kind's name, as metrics and the observer show it.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Mask is a set of kinds.
type Mask uint32

// All is every kind.
const All Mask = 1<<numKinds - 1

// MaskOf returns the set of kinds ks.
func MaskOf(ks ...Kind) Mask {
	var m Mask
	for _, k := range ks {
		if k < numKinds {
			m |= 1 << k
		}
	}
	return m
}

// Has reports whether k is in m.
func (m Mask) Has(k Kind) bool { return m&(1<<k) != 0 }

// Spawned: a process started. Parent is the process it was linked to or
// monitored by at spawn (a supervisor, for its children), or zero.
type Spawned struct {
	Time      time.Time // when it happened
	Pid       pid.Pid   // the new process
	Name      string    // the name it was registered under as it spawned, or ""
	Backend   string    // "async", "blocking" or "thread"
	Behaviour string    // what it runs: a GenServer's type ("*main.Counter"), "supervisor", "func"...
	Parent    pid.Pid   // the process it was linked to or monitored by at spawn, or zero
}

// Exited: a process exited with Reason (a *process.PanicError for a crash).
type Exited struct {
	Time   time.Time // when it happened
	Pid    pid.Pid   // the process that exited
	Name   string    // the name it held when it exited, or ""
	Reason error     // its exit reason
}

// ChildStarted: a supervisor started a child for the first time (at its
// own start, or by StartChild). Restarts are ChildRestarted.
type ChildStarted struct {
	Time           time.Time // when it happened
	Supervisor     pid.Pid   // the supervisor
	SupervisorName string    // the supervisor's registered name, or ""
	ID             string    // the child's id (its label, for a child of a dynamic supervisor)
	Pid            pid.Pid   // the child's process
}

// ChildRestarted: a supervisor restarted a child. Reason is the exit reason
// that caused the restart: the child's own, or under one_for_all and
// rest_for_one that of the sibling named by Cause.
type ChildRestarted struct {
	Time           time.Time // when it happened
	Supervisor     pid.Pid   // the supervisor
	SupervisorName string    // the supervisor's registered name, or ""
	ID             string    // the child's id (its label, for a child of a dynamic supervisor)
	Pid            pid.Pid   // the new process
	Old            pid.Pid   // the process it replaces
	Reason         error     // the exit reason that caused the restart
	Cause          string    // the id of the child whose exit caused the restart
}

// ChildTerminated: a child's process ended: it exited by itself (Reason
// is its exit reason) or the supervisor stopped it (Shutdown, or Killed
// after its shutdown time).
type ChildTerminated struct {
	Time           time.Time // when it happened
	Supervisor     pid.Pid   // the supervisor
	SupervisorName string    // the supervisor's registered name, or ""
	ID             string    // the child's id (its label, for a child of a dynamic supervisor)
	Pid            pid.Pid   // the process that ended
	Reason         error     // its exit reason
}

// ChildStartFailed: a child's start function failed (Reason), at the
// supervisor's start, by StartChild or in a restart.
type ChildStartFailed struct {
	Time           time.Time // when it happened
	Supervisor     pid.Pid   // the supervisor
	SupervisorName string    // the supervisor's registered name, or ""
	ID             string    // the child's id (its label, for a child of a dynamic supervisor)
	Reason         error     // why the start failed
}

// IntensityReached: a supervisor saw more than Intensity restarts within
// Period, and shuts down: it stops its children and exits with Shutdown
// (GaveUp follows).
type IntensityReached struct {
	Time           time.Time     // when it happened
	Supervisor     pid.Pid       // the supervisor
	SupervisorName string        // the supervisor's registered name, or ""
	Intensity      int           // the restarts it allows within Period
	Period         time.Duration // its intensity window
}

// GaveUp: a supervisor that reached its restart intensity has stopped its
// children and is exiting with Reason, passing the failure to its parent.
type GaveUp struct {
	Time           time.Time // when it happened
	Supervisor     pid.Pid   // the supervisor
	SupervisorName string    // the supervisor's registered name, or ""
	Reason         error     // its exit reason (Shutdown)
}

// Gap: Lost events of this subscription were dropped because its buffer
// was full. It arrives as soon as there is room again, before any later
// event.
type Gap struct {
	Lost uint64 // how many events were dropped
}

// Kind returns KindSpawned.
func (Spawned) Kind() Kind { return KindSpawned }

// When returns the time of the event.
func (e Spawned) When() time.Time { return e.Time }

// Kind returns KindExited.
func (Exited) Kind() Kind { return KindExited }

// When returns the time of the event.
func (e Exited) When() time.Time { return e.Time }

// Kind returns KindChildStarted.
func (ChildStarted) Kind() Kind { return KindChildStarted }

// When returns the time of the event.
func (e ChildStarted) When() time.Time { return e.Time }

// Kind returns KindChildRestarted.
func (ChildRestarted) Kind() Kind { return KindChildRestarted }

// When returns the time of the event.
func (e ChildRestarted) When() time.Time { return e.Time }

// Kind returns KindChildTerminated.
func (ChildTerminated) Kind() Kind { return KindChildTerminated }

// When returns the time of the event.
func (e ChildTerminated) When() time.Time { return e.Time }

// Kind returns KindChildStartFailed.
func (ChildStartFailed) Kind() Kind { return KindChildStartFailed }

// When returns the time of the event.
func (e ChildStartFailed) When() time.Time { return e.Time }

// Kind returns KindIntensityReached.
func (IntensityReached) Kind() Kind { return KindIntensityReached }

// When returns the time of the event.
func (e IntensityReached) When() time.Time { return e.Time }

// Kind returns KindGaveUp.
func (GaveUp) Kind() Kind { return KindGaveUp }

// When returns the time of the event.
func (e GaveUp) When() time.Time { return e.Time }

// Kind returns KindGap.
func (Gap) Kind() Kind { return KindGap }

// When returns the zero time: a Gap stands for events of many moments.
func (Gap) When() time.Time { return time.Time{} }
