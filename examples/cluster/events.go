package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// An event is what a node tells the director: one JSON object a line on
// the node's standard output, after the prefix "EV ". The director reads
// the three streams, waits for the events the story needs, and prints them
// in an order fixed by cause and effect, never by timing.
type event struct {
	Node string    `json:"node"`           // the node that tells it: node-1, node-2, node-3
	Kind string    `json:"kind"`           // see the kind constants
	Who  string    `json:"who,omitempty"`  // the process that speaks: greeter, caller, watcher...
	Text string    `json:"text,omitempty"` // what it says, for the narrative
	At   time.Time `json:"at"`             // when, on the node's clock (one machine: one clock)

	Members []string `json:"members,omitempty"` // group members, as node names
	Tally   *tally   `json:"tally,omitempty"`   // a caller's count, for kindTally

	seq int // the order the director received it in
}

// The kinds of events.
const (
	kindReady    = "ready"    // joined, and sees every other node
	kindPlace    = "place"    // the supervisor's placement of the greeter
	kindStarted  = "started"  // a greeter started (its Init)
	kindWatching = "watching" // a watcher set up its monitors
	kindFlowing  = "flowing"  // a caller has its first answers from a greeter
	kindFollowed = "followed" // a caller's first answer from a new greeter
	kindGroup    = "group"    // a watcher saw the group change
	kindDown     = "down"     // a watcher's monitor of the greeter fired
	kindNodeDown = "nodedown" // a watcher saw a node go down
	kindTally    = "tally"    // a caller stopped and counted
	kindView     = "view"     // what a node sees: nodes, the greeter's owner, the group
	kindExit     = "exit"     // the director's own: a node's OS process ended
)

// evPrefix starts every event line.
const evPrefix = "EV "

// emitter writes a node's events, one whole line at a time, from any of
// its processes.
type emitter struct {
	mu   sync.Mutex
	w    io.Writer
	node string
}

// emit writes an event of kind, said by who.
func (e *emitter) emit(kind, who, format string, args ...any) {
	e.send(event{Kind: kind, Who: who, Text: fmt.Sprintf(format, args...)})
}

// send writes ev, stamped with the node's name and the time.
func (e *emitter) send(ev event) {
	ev.Node, ev.At = e.node, time.Now()
	b, err := json.Marshal(ev)
	if err != nil { // only plain fields: cannot happen
		panic(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.w, "%s%s\n", evPrefix, b)
}

// tally is a caller's count of its calls.
type tally struct {
	Made     int               `json:"made"`
	Answered map[string]int    `json:"answered"` // by the node of the greeter that answered
	Failed   map[string]int    `json:"failed"`   // by the documented error the call failed with
	Samples  map[string]string `json:"samples"`  // one error text of each kind, as the caller got it
	Late     int               `json:"late"`     // calls that returned well after their deadline
}

func newTally() *tally {
	return &tally{Answered: map[string]int{}, Failed: map[string]int{}, Samples: map[string]string{}}
}

// answers returns the number of calls answered.
func (t *tally) answers() int { return sum(t.Answered) }

// failures returns the number of calls that failed.
func (t *tally) failures() int { return sum(t.Failed) }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
