// Package registry names processes and groups them.
//
// A name belongs to one live process and a process has at most one name, as
// with Erlang's register/2. A name is released when its owner exits, before
// anyone can observe the exit: by the time a monitor's Down arrives, WhereIs
// no longer finds the name and it can be registered again at once. That is
// what lets a supervisor restart a named child immediately.
//
// Process groups (Erlang's pg) gather processes under a group name; a
// process may join a group several times and is removed from all its groups
// when it exits. An empty group disappears.
//
// A Registry is a view of one node's names: [Of] gives it for a node and
// [Default] for the default node.
//
// # Keyed registries
//
// [Keys], made by [NewKeys], is Elixir's Registry with Go's types:
// processes register under keys of a type K, each entry with a value of a
// type V. In a [Unique] registry a key names one process, for names made at
// run time ("session-42", a worker's id); [Via] makes one the name service
// of genserver.WithVia. In a [Duplicate] registry a key gathers any number of
// entries, for publish and subscribe: [Keys.Dispatch] hands a publisher
// every entry of a topic. Lookups take no lock. An entry goes when its
// process exits, before anyone can observe the exit, as a name does.
package registry

import (
	"fmt"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Errors of the registry; test with errors.Is.
var (
	// ErrNameTaken: the name belongs to another process. The error is a
	// *NameTakenError naming the owner.
	ErrNameTaken = core.ErrNameTaken
	// ErrAlreadyNamed: the process already has a name.
	ErrAlreadyNamed = core.ErrAlreadyNamed
	// ErrNotRegistered: no process has the name.
	ErrNotRegistered = core.ErrNotRegistered
	// ErrEmptyName: "" is not a name.
	ErrEmptyName = core.ErrEmptyName
	// ErrNotJoined: the process is not a member of the group.
	ErrNotJoined = core.ErrNotJoined
)

// NameTakenError reports a name that another process holds. It matches
// ErrNameTaken under errors.Is.
type NameTakenError struct {
	Name  string  // the name asked for
	Owner pid.Pid // the process that holds it
}

// Error describes the failure.
func (e *NameTakenError) Error() string {
	return fmt.Sprintf("name %q already registered to %s", e.Name, e.Owner)
}

// Is reports whether target is ErrNameTaken.
func (e *NameTakenError) Is(target error) bool { return target == ErrNameTaken }

func init() {
	core.SetNameTakenForm(func(name string, owner pid.Pid) error { return &NameTakenError{Name: name, Owner: owner} })
}

// Registry is the name registry and the process groups of one node. The
// zero Registry has no node and every method fails with process.ErrNilNode.
type Registry struct{ n *core.Node }

// Of returns the registry of node.
func Of(node *process.Node) Registry { return Registry{n: (*core.Node)(node)} }

// Default returns the registry of the default node.
func Default() Registry { return Of(process.Default()) }

// Register gives the live process p the name. It fails with a
// *NameTakenError when the name is taken (even by p itself),
// ErrAlreadyNamed when p has another name, process.NoProc when p is dead,
// ErrEmptyName for "".
func (r Registry) Register(name string, p pid.Pid) error {
	if r.n == nil {
		return process.ErrNilNode
	}
	return r.n.Register(name, p)
}

// Unregister removes name; ErrNotRegistered when no process has it.
func (r Registry) Unregister(name string) error {
	if r.n == nil {
		return process.ErrNilNode
	}
	return r.n.Unregister(name)
}

// WhereIs returns the process registered as name. It takes no lock and is
// inlined into the caller, so a lookup costs one call into the name table.
func (r Registry) WhereIs(name string) (pid.Pid, bool) {
	return core.WhereIs(r.n, name) // the zero Registry's nil node has no names
}

// NameOf returns the name p is registered under.
func (r Registry) NameOf(p pid.Pid) (string, bool) {
	if r.n == nil {
		return "", false
	}
	return r.n.NameOf(p)
}

// Registered lists the registered names, sorted.
func (r Registry) Registered() []string {
	if r.n == nil {
		return nil
	}
	return r.n.Registered()
}

// Send sends msg to the process registered as name, from a goroutine that
// is not a process. An unknown name is an error (ErrNotRegistered), unlike
// a dead Pid.
func (r Registry) Send(name string, msg any) error {
	if r.n == nil {
		return process.ErrNilNode
	}
	return r.n.SendName(name, msg)
}

// SendFrom sends msg from the process self to the process registered as
// name on self's node.
func SendFrom(self *process.Process, name string, msg any) error {
	if self == nil {
		return process.ErrNilProcess
	}
	return (*core.Proc)(self).SendName(name, msg)
}

// SendOn sends msg to the process registered as name on node at, from a
// goroutine that is not a process: Erlang's {Name, Node} ! Msg. For another
// node it cannot report delivery (DIST-01): an unknown name there, or a node
// that is down, drops the message; only a local problem is an error (a
// message type with no codec, a payload too large). A zero or local at is
// Send.
func (r Registry) SendOn(at pid.NodeID, name string, msg any) error {
	if r.n == nil {
		return process.ErrNilNode
	}
	if at.IsZero() {
		at = r.n.ID()
	}
	return r.n.SendTo(core.Target{Node: at, Name: name}, msg)
}

// SendFromOn is SendOn from the process self, in order with everything else
// self sends.
func SendFromOn(self *process.Process, at pid.NodeID, name string, msg any) error {
	if self == nil {
		return process.ErrNilProcess
	}
	p := (*core.Proc)(self)
	if at.IsZero() {
		at = p.Node().ID()
	}
	return p.SendTo(core.Target{Node: at, Name: name}, msg)
}

// Join adds p to group. A process may join the same group more than once
// and is then listed once per join. A dead p gives process.NoProc.
func (r Registry) Join(group string, p pid.Pid) error {
	if r.n == nil {
		return process.ErrNilNode
	}
	return r.n.Join(group, p)
}

// Leave removes one membership of p in group; ErrNotJoined when p is not a
// member (a dead process is a member of nothing).
func (r Registry) Leave(group string, p pid.Pid) error {
	if r.n == nil {
		return process.ErrNilNode
	}
	return r.n.Leave(group, p)
}

// Members returns the members of group in join order; a process that
// joined twice is listed twice.
func (r Registry) Members(group string) []pid.Pid {
	if r.n == nil {
		return nil
	}
	return r.n.Members(group)
}

// Groups lists the groups that have at least one member, sorted.
func (r Registry) Groups() []string {
	if r.n == nil {
		return nil
	}
	return r.n.Groups()
}
