package cluster

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
)

// ProcessGroups are the cluster's process groups (Erlang's pg): a group
// gathers processes of any nodes under a name. A process joins groups of
// its own node only (joining a process of another node is ErrNotLocal);
// it may join a group several times, and is a member as many times. Every
// node sees every member: joins and leaves are told to every node on the
// streams that carry the processes' own frames, and a node that comes up
// is sent every member of the other nodes. Membership is eventually
// consistent: a join is seen on another node a frame later.
//
// Once the cluster is left (Cluster.Leave), Join, Leave and Monitor fail
// with ErrLeft.
//
// A member leaves every group when it dies, before its death can be
// observed (its node tells the others ahead of the death's exits and
// Downs), and when its node is lost, before any Down or NodeDown of the
// loss. An empty group disappears.
type ProcessGroups struct {
	c *Cluster

	mu     sync.Mutex
	local  map[string][]pid.Pid                // group -> members of this node, once per join
	remote map[pid.NodeID]map[string][]pid.Pid // node -> group -> its members
	mons   map[pid.Ref]groupMon
	byGrp  map[string]map[pid.Ref]struct{}
	owners map[pid.Pid]*groupOwner
}

// groupMon is a monitor of a group's membership.
type groupMon struct {
	owner pid.Pid
	group string
}

// groupOwner is a process holding group monitors, watched so that they
// end with it.
type groupOwner struct {
	watch pid.Ref
	refs  map[pid.Ref]struct{}
}

// GroupJoined is what a monitor of a group (ProcessGroups.Monitor)
// receives when Members joined it, on any node.
type GroupJoined struct {
	Ref     pid.Ref
	Group   string
	Members []pid.Pid
}

// GroupLeft is what a monitor of a group receives when Members left it:
// by Leave, by their exit, or with their node.
type GroupLeft struct {
	Ref     pid.Ref
	Group   string
	Members []pid.Pid
}

// groupTie holds what a local process joined, so that it leaves as it
// dies.
type groupTie struct {
	g      *ProcessGroups
	groups map[string]int
}

// Untie runs as the member dies, before it reads as dead.
func (t *groupTie) Untie(p pid.Pid) { t.g.died(p, t.groups) }

func newGroups(c *Cluster) *ProcessGroups {
	return &ProcessGroups{
		c:      c,
		local:  map[string][]pid.Pid{},
		remote: map[pid.NodeID]map[string][]pid.Pid{},
		mons:   map[pid.Ref]groupMon{},
		byGrp:  map[string]map[pid.Ref]struct{}{},
		owners: map[pid.Pid]*groupOwner{},
	}
}

// Groups returns the cluster's process groups.
func (c *Cluster) Groups() *ProcessGroups { return c.groups }

// errNilGroups is returned by the methods of a nil *ProcessGroups.
var errNilGroups = errors.New("cluster: nil ProcessGroups")

// check validates a group operation on the process p.
func (g *ProcessGroups) check(op, group string, p pid.Pid) error {
	switch {
	case g == nil:
		return errNilGroups
	case group == "":
		return fmt.Errorf("cluster: %s: %w", op, registry.ErrEmptyName)
	case p.IsZero():
		return fmt.Errorf("cluster: %s %q: %w", op, group, process.ErrZeroPid)
	case p.Node() != g.c.self:
		return fmt.Errorf("cluster: %s %q: %s: %w", op, group, p, ErrNotLocal)
	case g.c.leaving.Load():
		// No other node would ever hear of it, as Names refuses too.
		return fmt.Errorf("cluster: %s %q: %w", op, group, ErrLeft)
	}
	return nil
}

// Join makes each of pids, processes of this node, a member of group once
// more. It fails with ErrNotLocal for a process of another node (nothing
// joins then) and process.NoProc for a dead one (those before it joined).
func (g *ProcessGroups) Join(group string, pids ...pid.Pid) error {
	for _, p := range pids {
		if err := g.check("join", group, p); err != nil {
			return err
		}
	}
	for _, p := range pids {
		err := g.c.core.Tie(p, g, func(t core.Tie) (core.Tie, error) {
			gt, _ := t.(*groupTie)
			if gt == nil {
				gt = &groupTie{g: g, groups: map[string]int{}}
			}
			gt.groups[group]++
			g.mu.Lock()
			g.local[group] = append(g.local[group], p)
			g.c.broadcastSys(sysGroupJoin{Group: group, Members: []pid.Pid{p}})
			g.notifyLocked(group, []pid.Pid{p}, true)
			g.mu.Unlock()
			return gt, nil
		})
		if err != nil {
			return fmt.Errorf("cluster: join %q: %s: %w", group, p, err)
		}
	}
	return nil
}

// Leave takes one membership of group from each of pids, processes of
// this node. It fails with registry.ErrNotJoined for a process that is
// not a member (those before it left).
func (g *ProcessGroups) Leave(group string, pids ...pid.Pid) error {
	for _, p := range pids {
		if err := g.check("leave", group, p); err != nil {
			return err
		}
	}
	for _, p := range pids {
		err := g.c.core.Tie(p, g, func(t core.Tie) (core.Tie, error) {
			gt, _ := t.(*groupTie)
			if gt == nil || gt.groups[group] == 0 {
				return t, registry.ErrNotJoined
			}
			gt.groups[group]--
			if gt.groups[group] == 0 {
				delete(gt.groups, group)
			}
			g.mu.Lock()
			g.local[group] = removeOnce(g.local[group], p)
			if len(g.local[group]) == 0 {
				delete(g.local, group)
			}
			g.c.broadcastSys(sysGroupLeave{Group: group, Members: []pid.Pid{p}})
			g.notifyLocked(group, []pid.Pid{p}, false)
			g.mu.Unlock()
			if len(gt.groups) == 0 {
				return nil, nil
			}
			return gt, nil
		})
		if errors.Is(err, process.NoProc) {
			err = registry.ErrNotJoined // it left as it died
		}
		if err != nil {
			return fmt.Errorf("cluster: leave %q: %s: %w", group, p, err)
		}
	}
	return nil
}

// removeOnce removes one occurrence of p from s.
func removeOnce(s []pid.Pid, p pid.Pid) []pid.Pid {
	if i := slices.Index(s, p); i >= 0 {
		return slices.Delete(s, i, i+1)
	}
	return s
}

// died takes a dying process out of its groups, under its lock.
func (g *ProcessGroups) died(p pid.Pid, groups map[string]int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for group, n := range groups {
		left := make([]pid.Pid, 0, n)
		for range n {
			g.local[group] = removeOnce(g.local[group], p)
			left = append(left, p)
		}
		if len(g.local[group]) == 0 {
			delete(g.local, group)
		}
		g.c.broadcastSys(sysGroupLeave{Group: group, Members: left})
		g.notifyLocked(group, left, false)
	}
}

// Members returns the members of group on every node, a process once per
// membership, in no particular order.
func (g *ProcessGroups) Members(group string) []pid.Pid {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := slices.Clone(g.local[group])
	for _, groups := range g.remote {
		out = append(out, groups[group]...)
	}
	return out
}

// LocalMembers returns the members of group that run on this node.
func (g *ProcessGroups) LocalMembers(group string) []pid.Pid {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.local[group])
}

// Groups returns the groups that have a member on some node, sorted.
func (g *ProcessGroups) Groups() []string {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	seen := map[string]struct{}{}
	for group := range g.local {
		seen[group] = struct{}{}
	}
	for _, groups := range g.remote {
		for group, m := range groups {
			if len(m) > 0 {
				seen[group] = struct{}{}
			}
		}
	}
	g.mu.Unlock()
	out := make([]string, 0, len(seen))
	for group := range seen {
		out = append(out, group)
	}
	sort.Strings(out)
	return out
}

// Monitor makes p monitor group's membership (Erlang's pg:monitor): it
// returns the monitor's Ref and the members now, and p then receives a
// GroupJoined or GroupLeft for every change, until Demonitor or p's exit.
func (g *ProcessGroups) Monitor(p *process.Process, group string) (pid.Ref, []pid.Pid, error) {
	switch {
	case g == nil:
		return pid.Ref{}, nil, errNilGroups
	case p == nil:
		return pid.Ref{}, nil, errNilProcess
	case group == "":
		return pid.Ref{}, nil, fmt.Errorf("cluster: monitor group: %w", registry.ErrEmptyName)
	case g.c.leaving.Load():
		return pid.Ref{}, nil, fmt.Errorf("cluster: monitor group %q: %w", group, ErrLeft)
	case !p.Alive():
		return pid.Ref{}, nil, process.ErrCallerExited
	}
	self := p.Self()
	g.mu.Lock()
	o := g.owners[self]
	g.mu.Unlock()
	var spare pid.Ref
	if o == nil {
		w, err := g.c.core.Watch(self, func(core.DownMsg) { g.ownerExited(self) })
		if err != nil {
			return pid.Ref{}, nil, err
		}
		spare = w
	}
	ref := g.c.node.MakeRef()
	g.mu.Lock()
	if o = g.owners[self]; o == nil {
		o = &groupOwner{watch: spare, refs: map[pid.Ref]struct{}{}}
		g.owners[self] = o
	} else if !spare.IsZero() {
		defer g.c.core.Unwatch(self, spare)
	}
	o.refs[ref] = struct{}{}
	g.mons[ref] = groupMon{owner: self, group: group}
	set := g.byGrp[group]
	if set == nil {
		set = map[pid.Ref]struct{}{}
		g.byGrp[group] = set
	}
	set[ref] = struct{}{}
	members := slices.Clone(g.local[group])
	for _, groups := range g.remote {
		members = append(members, groups[group]...)
	}
	g.mu.Unlock()
	if !g.c.core.Alive(self) {
		g.ownerExited(self)
	}
	return ref, members, nil
}

// Demonitor removes a group monitor and reports whether it was active; no
// message of it arrives after it returns.
func (g *ProcessGroups) Demonitor(ref pid.Ref) bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.removeMonLocked(ref)
}

func (g *ProcessGroups) removeMonLocked(ref pid.Ref) bool {
	m, ok := g.mons[ref]
	if !ok {
		return false
	}
	delete(g.mons, ref)
	if set := g.byGrp[m.group]; set != nil {
		delete(set, ref)
		if len(set) == 0 {
			delete(g.byGrp, m.group)
		}
	}
	if o := g.owners[m.owner]; o != nil {
		delete(o.refs, ref)
	}
	return true
}

// ownerExited drops the monitors of a process that exited.
func (g *ProcessGroups) ownerExited(owner pid.Pid) {
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.owners[owner]
	if o == nil {
		return
	}
	delete(g.owners, owner)
	for ref := range o.refs {
		g.removeMonLocked(ref)
	}
}

// notifyLocked tells the monitors of group that members joined or left.
// Delivered under the lock: a Demonitor that returned sees no more.
func (g *ProcessGroups) notifyLocked(group string, members []pid.Pid, joined bool) {
	for ref := range g.byGrp[group] {
		m := g.mons[ref]
		var msg any
		if joined {
			msg = GroupJoined{Ref: ref, Group: group, Members: slices.Clone(members)}
		} else {
			msg = GroupLeft{Ref: ref, Group: group, Members: slices.Clone(members)}
		}
		_ = g.c.core.SendSystem(core.Target{Pid: m.owner}, msg)
	}
}

// remoteJoin records members of node from that joined group.
func (g *ProcessGroups) remoteJoin(from pid.NodeID, group string, members []pid.Pid) {
	members = ofNode(from, members)
	if len(members) == 0 || group == "" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	groups := g.remote[from]
	if groups == nil {
		groups = map[string][]pid.Pid{}
		g.remote[from] = groups
	}
	groups[group] = append(groups[group], members...)
	g.notifyLocked(group, members, true)
}

// remoteLeave records members of node from that left group.
func (g *ProcessGroups) remoteLeave(from pid.NodeID, group string, members []pid.Pid) {
	g.mu.Lock()
	defer g.mu.Unlock()
	groups := g.remote[from]
	if groups == nil {
		return
	}
	var left []pid.Pid
	for _, p := range members {
		before := len(groups[group])
		groups[group] = removeOnce(groups[group], p)
		if len(groups[group]) < before {
			left = append(left, p)
		}
	}
	if len(groups[group]) == 0 {
		delete(groups, group)
	}
	if len(left) > 0 {
		g.notifyLocked(group, left, false)
	}
}

// remoteSync replaces what this node knows of the members of node from.
func (g *ProcessGroups) remoteSync(from pid.NodeID, all map[string][]pid.Pid) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.remote[from]
	next := map[string][]pid.Pid{}
	for group, members := range all {
		if m := ofNode(from, members); len(m) > 0 && group != "" {
			next[group] = m
		}
	}
	g.remote[from] = next
	for group, members := range old {
		if _, ok := next[group]; !ok {
			g.notifyLocked(group, members, false)
		}
	}
	for group, members := range next {
		was := old[group]
		if slices.Equal(was, members) {
			continue
		}
		if len(was) > 0 {
			g.notifyLocked(group, was, false)
		}
		g.notifyLocked(group, members, true)
	}
}

// ofNode keeps the members that are processes of node: a node speaks only
// for its own processes.
func ofNode(node pid.NodeID, members []pid.Pid) []pid.Pid {
	out := members[:0:0]
	for _, p := range members {
		if p.Node() == node && !p.IsZero() {
			out = append(out, p)
		}
	}
	return out
}

// nodeLost drops the members of a lost node, before anything of the loss
// can be observed here.
func (g *ProcessGroups) nodeLost(id pid.NodeID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	groups := g.remote[id]
	delete(g.remote, id)
	for group, members := range groups {
		g.notifyLocked(group, members, false)
	}
}

// syncTo sends p every member of this node, at the start of session s.
// Under mu, so that a join made meanwhile goes after it.
func (g *ProcessGroups) syncTo(p *peer, s uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	all := make(map[string][]pid.Pid, len(g.local))
	for group, members := range g.local {
		all[group] = slices.Clone(members)
	}
	g.c.sendSys(p, s, sysGroupSync{Groups: all})
}

// clear forgets every remote member and monitor, on Leave.
func (g *ProcessGroups) clear() {
	g.mu.Lock()
	owners := g.owners
	g.remote = map[pid.NodeID]map[string][]pid.Pid{}
	g.mons = map[pid.Ref]groupMon{}
	g.byGrp = map[string]map[pid.Ref]struct{}{}
	g.owners = map[pid.Pid]*groupOwner{}
	g.mu.Unlock()
	for owner, o := range owners {
		g.c.core.Unwatch(owner, o.watch)
	}
}
