package core

import (
	"fmt"
	"slices"
	"sort"

	"github.com/spawned-go/spawned/pid"
)

// NameTakenError reports a name that another process holds.
type NameTakenError struct {
	Name  string
	Owner pid.Pid
}

// Error describes the failure.
func (e *NameTakenError) Error() string {
	return fmt.Sprintf("name %q already registered to %s", e.Name, e.Owner)
}

// Is reports whether target is ErrNameTaken.
func (e *NameTakenError) Is(target error) bool { return target == ErrNameTaken }

// Register gives the live process p the name. A process has at most one
// name and a name at most one process.
func (n *Node) Register(name string, p pid.Pid) error {
	if name == "" {
		return ErrEmptyName
	}
	if err := n.check(p); err != nil {
		return err
	}
	q := n.proc(p)
	if q == nil {
		return fmt.Errorf("register %q: %w", name, NoProc)
	}
	return n.register(name, q)
}

func (n *Node) register(name string, q *Proc) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.dead.Load():
		return fmt.Errorf("register %q: %w", name, NoProc)
	case q.coldOf().name == name:
		return newNameTaken(name, q.Pid())
	case q.coldOf().name != "":
		return fmt.Errorf("register %q: %w: %q", name, ErrAlreadyNamed, q.cold.name)
	}
	if owner, taken := n.names.loadOrStore(name, q); taken {
		return newNameTaken(name, owner.Pid())
	}
	q.coldLocked().name = name
	return nil
}

// Unregister removes name.
func (n *Node) Unregister(name string) error {
	if name == "" {
		return ErrEmptyName
	}
	if n.stopped.Load() {
		return ErrNodeStopped
	}
	for {
		q, ok := n.names.load(name)
		if !ok {
			return fmt.Errorf("unregister %q: %w", name, ErrNotRegistered)
		}
		q.mu.Lock()
		if q.coldOf().name == name {
			n.names.compareAndDelete(name, q)
			q.cold.name = ""
			q.mu.Unlock()
			return nil
		}
		q.mu.Unlock() // the owner changed meanwhile; look again
	}
}

// WhereIs returns the Pid registered under name. A nil node has no names.
func (n *Node) WhereIs(name string) (pid.Pid, bool) { return WhereIs(n, name) }

// NameOf returns the registered name of p.
func (n *Node) NameOf(p pid.Pid) (string, bool) {
	q := n.proc(p)
	if q == nil {
		return "", false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	name := q.coldOf().name
	return name, name != ""
}

// Name returns the process's registered name, or "".
func (p *Proc) Name() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.coldOf().name
}

// Registered lists the registered names, sorted.
func (n *Node) Registered() []string {
	var out []string
	n.names.each(func(name string, _ *Proc) { out = append(out, name) })
	sort.Strings(out)
	return out
}

// SendName sends msg to the process registered as name.
func (n *Node) SendName(name string, msg any) error {
	return n.sendName(nil, name, msg)
}

// SendName sends msg from p to the process registered as name.
func (p *Proc) SendName(name string, msg any) error {
	return p.node.sendName(p, name, msg)
}

func (n *Node) sendName(from *Proc, name string, msg any) error {
	if name == "" {
		return ErrEmptyName
	}
	if n.stopped.Load() {
		return ErrNodeStopped
	}
	q, ok := n.names.load(name)
	if !ok {
		return fmt.Errorf("send to %q: %w", name, ErrNotRegistered)
	}
	to := q.Pid()
	if from != nil {
		return from.Send(to, msg)
	}
	return n.Send(to, msg)
}

// Join adds p to group; a process may join a group more than once.
func (n *Node) Join(group string, p pid.Pid) error {
	if group == "" {
		return ErrEmptyName
	}
	if err := n.check(p); err != nil {
		return err
	}
	q := n.proc(p)
	if q == nil {
		return fmt.Errorf("join %q: %w", group, NoProc)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead.Load() {
		return fmt.Errorf("join %q: %w", group, NoProc)
	}
	c := q.coldLocked()
	if c.groups == nil {
		c.groups = make(map[string]int)
	}
	c.groups[group]++
	n.groupsMu.Lock()
	n.groups[group] = append(n.groups[group], p)
	n.groupsMu.Unlock()
	return nil
}

// Leave removes one membership of p in group.
func (n *Node) Leave(group string, p pid.Pid) error {
	if group == "" {
		return ErrEmptyName
	}
	if err := n.check(p); err != nil {
		return err
	}
	q := n.proc(p)
	if q == nil {
		return fmt.Errorf("leave %q: %w", group, ErrNotJoined)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.coldOf().groups[group] == 0 {
		return fmt.Errorf("leave %q: %w", group, ErrNotJoined)
	}
	if q.cold.groups[group]--; q.cold.groups[group] == 0 {
		delete(q.cold.groups, group)
	}
	n.groupsMu.Lock()
	defer n.groupsMu.Unlock()
	members := n.groups[group]
	if i := slices.Index(members, p); i >= 0 {
		members = slices.Delete(members, i, i+1)
	}
	n.setMembers(group, members)
	return nil
}

// leaveAll removes p from every group it joined. Caller holds p's lock.
func (n *Node) leaveAll(p pid.Pid, groups map[string]int) {
	n.groupsMu.Lock()
	defer n.groupsMu.Unlock()
	for g := range groups {
		n.setMembers(g, slices.DeleteFunc(n.groups[g], func(m pid.Pid) bool { return m == p }))
	}
}

func (n *Node) setMembers(group string, members []pid.Pid) {
	if len(members) == 0 {
		delete(n.groups, group)
		return
	}
	n.groups[group] = members
}

// Members returns the members of group in join order, with a process that
// joined twice listed twice.
func (n *Node) Members(group string) []pid.Pid {
	n.groupsMu.Lock()
	defer n.groupsMu.Unlock()
	return slices.Clone(n.groups[group])
}

// Groups lists the groups that have members, sorted.
func (n *Node) Groups() []string {
	n.groupsMu.Lock()
	defer n.groupsMu.Unlock()
	out := make([]string, 0, len(n.groups))
	for g := range n.groups {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}
