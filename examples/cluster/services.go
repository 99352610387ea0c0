package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Hello is a caller's request to the greeter. It crosses between nodes, so
// its type is registered on every node under one name.
type Hello struct {
	From string // the caller's node
}

// Greeting is the greeter's answer.
type Greeting struct {
	Text   string // the greeting
	Node   string // the node the greeter runs on
	Served int    // how many calls this greeter has answered, this one included
}

func init() {
	cluster.MustRegister[Hello]("demo.Hello")
	cluster.MustRegister[Greeting]("demo.Greeting")
}

// greeterName is the greeter's global name; group is the callers' process
// group.
const (
	greeterName = "greeter"
	group       = "callers"
)

// greeterFactory starts a greeter on a node that registered it: every node
// does, with the global name, so a supervisor may place the greeter on any
// of them. Its argument is the word the greeter greets with.
var greeterFactory = cluster.NewServerFactory[string, Hello, Greeting, genserver.Never]("demo.greeter")

// greeter is the service: it answers every call with its node's name and
// how many calls it has answered. The count lives in its memory and dies
// with it: a restarted greeter counts from zero.
type greeter struct {
	genserver.NoCasts
	n      *nodeRun
	word   string
	served int
}

// Init runs once the global name is the greeter's: genserver.WithVia
// registers it before Init.
func (g *greeter) Init(ctx *genserver.Ctx) error {
	owner, _ := g.n.c.Names().WhereIs(greeterName)
	g.n.out.emit(kindStarted, "greeter", "started; the global name %q is mine: %v", greeterName, owner == ctx.Self())
	return nil
}

func (g *greeter) HandleCall(_ *genserver.CallCtx[Greeting], h Hello) (Greeting, error) {
	time.Sleep(greeterWork) // as if it did some work: calls are under way most of the time
	g.served++
	return Greeting{Text: g.word + ", " + h.From, Node: g.n.name, Served: g.served}, nil
}

// Callers call back to back, and pause a little after a failure, as a
// client of a real service would.
const (
	greeterWork  = 5 * time.Millisecond
	retryAfter   = 5 * time.Millisecond
	callTimeout  = 500 * time.Millisecond
	lateAfter    = callTimeout + 250*time.Millisecond // a call that returns later has hung
	flowingAfter = 20                                 // answers from one greeter before telling the director
)

// caller calls the greeter by its global name until stop closes, then
// sends its tally and waits to be stopped with its node (it stays in the
// group until then). It joins the group callers first.
func (n *nodeRun) caller(stop <-chan struct{}) process.Func {
	return func(p *process.Process) error {
		if err := n.c.Groups().Join(group, p.Self()); err != nil {
			return err
		}
		// NamedVia looks the name up at every call, in the node's cache of
		// the global names: the Ref follows the greeter wherever it runs.
		greeter := genserver.NamedVia[Hello, Greeting, genserver.Never](n.node, n.c.Names(), greeterName)
		t := newTally()
		var current string // the node of the greeter that answered last
		var streak int     // answers from it
		var since []string // the errors since the last answer
		for {
			var pause time.Duration
			start := time.Now()
			ctx, cancel := context.WithTimeout(p.Context(), callTimeout)
			rep, err := greeter.Call(ctx, Hello{From: n.name})
			cancel()
			t.Made++
			if time.Since(start) > lateAfter {
				t.Late++
			}
			switch {
			case err != nil:
				kind := errorKind(err)
				t.Failed[kind]++
				if _, ok := t.Samples[kind]; !ok {
					t.Samples[kind] = err.Error()
				}
				since = append(since, kind)
				pause = retryAfter
			case rep.Node != current:
				if current != "" {
					n.out.emit(kindFollowed, "caller", "answered by greeter@%s (its call %d) after %s",
						rep.Node, rep.Served, failures(since))
				}
				current, streak, since = rep.Node, 0, nil
				fallthrough
			default:
				t.Answered[rep.Node]++
				streak++
				since = nil
				if streak == flowingAfter {
					n.out.emit(kindFlowing, "caller", "%d answers from greeter@%s", streak, current)
				}
			}
			select {
			case <-stop:
				n.out.send(event{Kind: kindTally, Who: "caller", Tally: t})
				<-p.Context().Done()
				return nil
			case <-p.Context().Done():
				return nil
			case <-after(pause):
			}
		}
	}
}

// now is ready at once: after(0).
var now = func() chan time.Time { c := make(chan time.Time); close(c); return c }()

// after is time.After, and ready at once for 0.
func after(d time.Duration) <-chan time.Time {
	if d == 0 {
		return now
	}
	return time.After(d)
}

// failures describes the errors of the failed calls in a row: "3 failed
// calls (1 noconnection, 2 noproc)".
func failures(kinds []string) string {
	if len(kinds) == 0 {
		return "no failed call"
	}
	count := map[string]int{}
	for _, k := range kinds {
		count[k]++
	}
	return fmt.Sprintf("%s (%s)", plural(len(kinds), "failed call"), counts(count))
}

// counts is "1 noconnection, 2 noproc", in a stable order.
func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// errorKind names the documented error a call failed with, or "other".
func errorKind(err error) string {
	switch {
	case errors.Is(err, process.NoConnection):
		return "noconnection"
	case errors.Is(err, process.NoProc):
		return "noproc"
	case errors.Is(err, genserver.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "other"
}

// watcher monitors the greeter (a monitor across nodes), every node
// (cluster.MonitorNodes) and the group callers (a pg monitor), and tells
// what it receives, in the order it receives it.
func (n *nodeRun) watcher(greeter pid.Pid, ready chan<- error) process.Func {
	return func(p *process.Process) error {
		_, err := link.Monitor(p, greeter)
		if err == nil {
			_, err = n.c.MonitorNodes(p)
		}
		var members []pid.Pid
		if err == nil {
			_, members, err = n.c.Groups().Monitor(p, group)
		}
		ready <- err
		if err != nil {
			return err
		}
		// Every caller joined before the watchers start; a join is seen
		// here a frame after it was made.
		for len(members) < len(nodeNames) {
			m, err := p.Receive(p.Context())
			if err != nil {
				return nil
			}
			if _, ok := m.(cluster.GroupJoined); ok {
				members = n.c.Groups().Members(group)
			}
		}
		n.out.send(event{Kind: kindWatching, Who: "watcher", Members: n.nodesOf(members),
			Text: fmt.Sprintf("monitors greeter@%s, every node, and the group %s: %s",
				n.nameOf(greeter.Node()), group, strings.Join(n.nodesOf(members), ", "))})
		for {
			m, err := p.Receive(p.Context())
			if err != nil {
				return nil // stopped with its node
			}
			switch m := m.(type) {
			case cluster.GroupLeft:
				now := n.c.Groups().Members(group)
				n.out.send(event{Kind: kindGroup, Who: "watcher", Members: n.nodesOf(now),
					Text: fmt.Sprintf("GroupLeft %s: the caller of %s; members now: %s",
						m.Group, strings.Join(n.nodesOf(m.Members), ", "), strings.Join(n.nodesOf(now), ", "))})
			case link.Down:
				// The name is released before the Down can be observed: it is
				// free now, or already taken by the greeter's successor.
				owner := "nobody (free)"
				if q, ok := n.c.Names().WhereIs(greeterName); ok {
					owner = "greeter@" + n.nameOf(q.Node())
					if q == m.Pid {
						owner = "still the dead greeter"
					}
				}
				n.out.emit(kindDown, "watcher", "Down from greeter@%s: %v; WhereIs(%q) now: %s",
					n.nameOf(m.Pid.Node()), m.Reason, greeterName, owner)
			case cluster.NodeDown:
				n.out.emit(kindNodeDown, "watcher", "NodeDown %s: %v", m.Name, m.Reason)
			}
		}
	}
}
