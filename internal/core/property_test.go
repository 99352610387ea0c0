package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/spawned-go/spawned/pid"
)

var errBoom = errors.New("boom")

// recorder is a Handler that counts the Down and Exit messages it handles.
type recorder struct {
	mu    *sync.Mutex
	downs map[pid.Ref][]error
	exits map[[2]pid.Pid][]error
}

type syncMsg chan struct{}

func (r *recorder) HandleMessage(p *Proc, msg any) error {
	switch m := msg.(type) {
	case DownMsg:
		r.mu.Lock()
		r.downs[m.Ref] = append(r.downs[m.Ref], m.Reason)
		r.mu.Unlock()
	case ExitMsg:
		r.mu.Lock()
		k := [2]pid.Pid{m.From, p.Pid()}
		r.exits[k] = append(r.exits[k], m.Reason)
		r.mu.Unlock()
	case syncMsg:
		close(m)
	}
	return nil
}

// model is what the property test expects of the runtime.
type model struct {
	alive    map[*Proc]bool
	trap     map[*Proc]bool
	reason   map[*Proc]error
	links    map[*Proc]map[*Proc]bool
	monitors map[pid.Ref]*modelMonitor
	names    map[string]*Proc
}

type modelMonitor struct {
	watcher, target *Proc
	active          bool
	fired           error // the reason the Down carries, once fired
}

// die applies the death of p with reason to the model, following links.
func (m *model) die(p *Proc, reason error) {
	type ev struct {
		p      *Proc
		reason error
	}
	for work := []ev{{p, reason}}; len(work) > 0; {
		e := work[0]
		work = work[1:]
		if !m.alive[e.p] {
			continue
		}
		m.alive[e.p] = false
		m.reason[e.p] = e.reason
		for name, owner := range m.names {
			if owner == e.p {
				delete(m.names, name)
			}
		}
		for _, mon := range m.monitors {
			if mon.target == e.p && mon.active {
				mon.active = false
				mon.fired = e.reason
			}
			if mon.watcher == e.p {
				mon.active = false
			}
		}
		for q := range m.links[e.p] {
			delete(m.links[q], e.p)
			if m.alive[q] && !m.trap[q] && !IsNormal(e.reason) {
				work = append(work, ev{q, e.reason})
			}
		}
		m.links[e.p] = nil
	}
}

func TestPropertyLinksMonitorsNames(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := NewNode(Config{})
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := n.Stop(ctx); err != nil {
				rt.Fatalf("stop: %v", err)
			}
		}()
		rec := &recorder{mu: new(sync.Mutex), downs: map[pid.Ref][]error{}, exits: map[[2]pid.Pid][]error{}}
		m := &model{
			alive: map[*Proc]bool{}, trap: map[*Proc]bool{}, reason: map[*Proc]error{},
			links: map[*Proc]map[*Proc]bool{}, monitors: map[pid.Ref]*modelMonitor{}, names: map[string]*Proc{},
		}
		var procs []*Proc
		pick := func(label string) *Proc { return procs[rapid.IntRange(0, len(procs)-1).Draw(rt, label)] }
		names := []string{"a", "b", "c"}

		spawn := func() {
			b := Backend(rapid.IntRange(0, 2).Draw(rt, "backend"))
			p, _, err := n.Spawn(Spec{Handler: rec, Backend: b})
			if err != nil {
				rt.Fatalf("spawn: %v", err)
			}
			procs = append(procs, p)
			m.alive[p] = true
			m.links[p] = map[*Proc]bool{}
		}
		spawn()
		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		for range steps {
			switch op := rapid.IntRange(0, 10).Draw(rt, "op"); op {
			case 0:
				spawn()
			case 1: // link
				a, b := pick("a"), pick("b")
				err := a.Link(b.Pid())
				switch {
				case a == b:
				case !m.alive[a]:
					if !errors.Is(err, ErrCallerExited) {
						rt.Fatalf("link from dead: %v", err)
					}
				case !m.alive[b]:
					if m.trap[a] != (err == nil) {
						rt.Fatalf("link to dead (trap=%v): %v", m.trap[a], err)
					}
				default:
					m.links[a][b], m.links[b][a] = true, true
				}
			case 2: // unlink
				a, b := pick("a"), pick("b")
				if err := a.Unlink(b.Pid()); err != nil {
					rt.Fatalf("unlink: %v", err)
				}
				delete(m.links[a], b)
				delete(m.links[b], a)
			case 3: // monitor
				a, b := pick("watcher"), pick("target")
				ref, err := a.Monitor(b.Pid())
				if !m.alive[a] {
					if !errors.Is(err, ErrCallerExited) {
						rt.Fatalf("monitor from dead: %v", err)
					}
					break
				}
				mon := &modelMonitor{watcher: a, target: b, active: m.alive[b]}
				if !m.alive[b] {
					mon.fired = NoProc
				}
				m.monitors[ref] = mon
			case 4: // demonitor
				if len(m.monitors) == 0 {
					break
				}
				var refs []pid.Ref
				for r := range m.monitors {
					refs = append(refs, r)
				}
				ref := rapid.SampledFrom(sortRefs(refs)).Draw(rt, "ref")
				mon := m.monitors[ref]
				if got := mon.watcher.Demonitor(ref); got != mon.active {
					rt.Fatalf("demonitor active=%v, model %v", got, mon.active)
				}
				mon.active = false
			case 5: // exit signal from the test
				p := pick("target")
				reasons := []error{Normal, errBoom, Kill, Shutdown}
				reason := reasons[rapid.IntRange(0, len(reasons)-1).Draw(rt, "reason")]
				if err := n.Exit(p.Pid(), reason); err != nil {
					rt.Fatalf("exit: %v", err)
				}
				switch {
				case !m.alive[p]:
				case errors.Is(reason, Kill):
					m.die(p, Killed)
				case m.trap[p]:
				case IsNormal(reason):
				default:
					m.die(p, reason)
				}
			case 6: // trap exit
				p := pick("p")
				on := rapid.Bool().Draw(rt, "on")
				if prev := p.TrapExit(on); m.alive[p] && prev != m.trap[p] {
					rt.Fatalf("trap previous %v, model %v", prev, m.trap[p])
				}
				if m.alive[p] {
					m.trap[p] = on
				}
			case 7: // register
				p, name := pick("p"), rapid.SampledFrom(names).Draw(rt, "name")
				err := n.Register(name, p.Pid())
				_, hasName := m.nameOf(p)
				ok := m.alive[p] && m.names[name] == nil && !hasName
				if ok != (err == nil) {
					rt.Fatalf("register %q to %v: %v (model ok=%v)", name, p.Pid(), err, ok)
				}
				if ok {
					m.names[name] = p
				}
			case 8: // unregister
				name := rapid.SampledFrom(names).Draw(rt, "name")
				err := n.Unregister(name)
				if (m.names[name] != nil) != (err == nil) {
					rt.Fatalf("unregister %q: %v", name, err)
				}
				delete(m.names, name)
			case 9: // spawn linked and monitored by a parent
				parent := pick("parent")
				child, ref, err := n.Spawn(Spec{Handler: rec, Parent: parent, Link: true, Monitor: true})
				if !m.alive[parent] {
					if !errors.Is(err, ErrCallerExited) {
						rt.Fatalf("spawn under dead parent: %v", err)
					}
					break
				}
				if err != nil {
					rt.Fatalf("spawn linked: %v", err)
				}
				procs = append(procs, child)
				m.alive[child] = true
				m.links[child] = map[*Proc]bool{parent: true}
				m.links[parent][child] = true
				m.monitors[ref] = &modelMonitor{watcher: parent, target: child, active: true}
			case 10: // join a group
				p := pick("p")
				err := n.Join("g", p.Pid())
				if m.alive[p] != (err == nil) {
					rt.Fatalf("join %v: %v", p.Pid(), err)
				}
			default:
				panic(op)
			}
			checkInvariants(rt, n, m, procs)
		}

		// Drain every live mailbox, then compare delivered messages.
		for _, p := range procs {
			if m.alive[p] {
				done := make(syncMsg)
				p.deliver(done)
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					rt.Fatalf("%v did not drain", p.Pid())
				}
			}
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for ref, mon := range m.monitors {
			got := rec.downs[ref]
			if !m.alive[mon.watcher] {
				if len(got) > 1 {
					rt.Fatalf("monitor %v fired %d times", ref, len(got))
				}
				continue
			}
			switch {
			case mon.fired == nil && len(got) != 0:
				rt.Fatalf("monitor %v fired %v, expected nothing", ref, got)
			case mon.fired != nil && mon.watcher != mon.target && (len(got) != 1 || !errors.Is(got[0], mon.fired)):
				rt.Fatalf("monitor %v: got %v, expected one Down with %v", ref, got, mon.fired)
			}
		}
	})
}

func (m *model) nameOf(p *Proc) (string, bool) {
	for name, owner := range m.names {
		if owner == p {
			return name, true
		}
	}
	return "", false
}

func sortRefs(refs []pid.Ref) []pid.Ref {
	for i := range refs {
		for j := i + 1; j < len(refs); j++ {
			if refs[j].ID() < refs[i].ID() {
				refs[i], refs[j] = refs[j], refs[i]
			}
		}
	}
	return refs
}

// checkInvariants compares the runtime's state with the model: liveness,
// exit reasons, symmetric links between live processes only, monitors held
// only by and on live processes, and names owned only by live processes.
func checkInvariants(rt *rapid.T, n *Node, m *model, procs []*Proc) {
	if c := &noCold; c.onExit != nil || c.ctx != nil || c.monIn != nil || c.monOut != nil || c.name != "" || c.groups != nil || c.timers != nil {
		rt.Fatalf("the shared empty cold state was written: %+v", c)
	}
	for _, p := range procs {
		p.mu.Lock()
		alive := !p.dead.Load()
		c := p.coldOf()
		state := fmt.Sprintf("links=%v monIn=%d monOut=%d name=%q", slices.Collect(p.links.all()), len(c.monIn), len(c.monOut), c.name)
		if alive != m.alive[p] {
			p.mu.Unlock()
			rt.Fatalf("%v alive=%v, model %v", p.Pid(), alive, m.alive[p])
		}
		if !alive {
			if p.links != nil || c.monIn != nil || c.monOut != nil || c.name != "" || c.groups != nil {
				p.mu.Unlock()
				rt.Fatalf("dead %v keeps state: %s", p.Pid(), state)
			}
			if !errors.Is(p.reason, m.reason[p]) {
				p.mu.Unlock()
				rt.Fatalf("%v died with %v, model %v", p.Pid(), p.reason, m.reason[p])
			}
			if n.table.get(p.serial) != nil {
				p.mu.Unlock()
				rt.Fatalf("dead %v still in the table", p.Pid())
			}
		}
		if p.links.len() != len(m.links[p]) {
			p.mu.Unlock()
			rt.Fatalf("%v %s, model links %d", p.Pid(), state, len(m.links[p]))
		}
		links := make([]pid.Pid, 0, p.links.len())
		for l := range p.links.all() {
			links = append(links, l)
		}
		out := make(map[pid.Ref]pid.Pid, len(c.monOut))
		for r, t := range c.monOut {
			out[r] = t.pid
		}
		p.mu.Unlock()

		for _, l := range links {
			q := n.table.get(l.Serial())
			if q == nil {
				rt.Fatalf("%v linked to dead %v", p.Pid(), l)
			}
			q.mu.Lock()
			back := q.links.has(p.Pid())
			q.mu.Unlock()
			if !back {
				rt.Fatalf("link %v-%v is one-sided", p.Pid(), l)
			}
		}
		for r, target := range out {
			mon := m.monitors[r]
			if mon == nil || !mon.active || mon.target.Pid() != target {
				rt.Fatalf("%v holds monitor %v on %v the model does not", p.Pid(), r, target)
			}
			q := n.table.get(target.Serial())
			if q == nil {
				rt.Fatalf("%v monitors dead %v", p.Pid(), target)
			}
			q.mu.Lock()
			w, ok := q.coldOf().monIn[r]
			q.mu.Unlock()
			if !ok || w.proc != p {
				rt.Fatalf("monitor %v missing on target %v", r, target)
			}
		}
	}
	for name, owner := range m.names {
		got, ok := n.WhereIs(name)
		if !ok || got != owner.Pid() {
			rt.Fatalf("whereis %q = %v %v, model %v", name, got, ok, owner.Pid())
		}
	}
	for _, member := range n.Members("g") {
		if q := n.table.get(member.Serial()); q == nil || q.dead.Load() {
			rt.Fatalf("dead %v is still a group member", member)
		}
	}
	for _, name := range n.Registered() {
		if m.names[name] == nil {
			rt.Fatalf("name %q registered, model has none", name)
		}
	}
}
