// Package link connects processes so that they learn of each other's exits,
// with Erlang's semantics.
//
// A link is symmetric: when either process exits, the other receives an exit
// signal with the same reason. A process that does not trap exits dies of an
// abnormal signal and ignores a Normal one; a trapping process (see
// process.Process.TrapExit) receives an [Exit] message instead. Links are
// idempotent: two processes share at most one.
//
// A monitor is one-way and fires on every exit: the monitoring process
// receives a [Down] message carrying the monitor's Ref and the exit reason.
// Each Monitor call makes an independent monitor.
//
// Exit and Down messages travel in the same mailbox as ordinary messages, so
// everything a process sent before it died is received before its Exit or
// Down. Linking to or monitoring a dead process reports NoProc at once. Once
// Unlink or Demonitor returns, no signal from that link or monitor arrives
// any more.
//
// When a process dies, the processes that die of it through links (those
// not trapping exits) die first, the whole cascade; only then do trapping
// link partners receive their Exit and monitors their Down. Whoever hears of
// a death therefore finds everything that died of it dead already and its
// names free.
package link

import (
	"errors"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Exit is the message a trapping process receives for an exit signal.
type Exit struct {
	// From is the process that exited or sent the signal; the zero Pid
	// when the sender was not a process.
	From pid.Pid
	// Reason is the exit reason: why From exited, or what it sent.
	Reason error
}

// Down is the message a monitoring process receives when the monitored
// process exits, or at once (NoProc) when it was already dead.
type Down struct {
	// Ref is the monitor's reference, as Monitor returned it.
	Ref pid.Ref
	// Pid is the process that exited. For a monitor by name it is the
	// process that held the name, or the zero Pid if none did.
	Pid pid.Pid
	// Reason is its exit reason.
	Reason error
	// Name and Node are set for a monitor made by name (MonitorName,
	// MonitorNameOn): the name and the node it was looked up on.
	Name string
	Node pid.NodeID
}

// Error reports a link to a process that is not alive.
type Error struct {
	// Pid is the process that could not be linked.
	Pid pid.Pid
	// Reason is process.NoProc or process.NoConnection; errors.Is sees it.
	Reason error
}

// Error describes the failure.
func (e *Error) Error() string { return "link to " + e.Pid.String() + ": " + e.Reason.Error() }

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Reason }

func init() {
	core.SetSignalForms(
		func(m core.ExitMsg) any { return Exit(m) },
		func(m core.DownMsg) any { return Down(m) },
		func(m any) (pid.Ref, bool) { d, ok := m.(Down); return d.Ref, ok },
	)
}

// procOf returns the runtime's process behind self.
func procOf(self *process.Process) (*core.Proc, error) {
	if self == nil {
		return nil, process.ErrNilProcess
	}
	return (*core.Proc)(self), nil
}

// Link links self and target. Linking to self, or to a partner already
// linked, changes nothing. When target is dead, a trapping self receives
// Exit{From: target, Reason: NoProc} at once and Link returns nil; a
// process that does not trap gets an *Error wrapping NoProc instead.
func Link(self *process.Process, target pid.Pid) error {
	p, err := procOf(self)
	if err != nil {
		return err
	}
	err = p.Link(target)
	var le *core.LinkError
	if errors.As(err, &le) {
		return &Error{Pid: le.Pid, Reason: le.Reason}
	}
	return err
}

// Unlink removes the link between self and target, if there is one; it is
// harmless for a dead or unlinked target. Once it returns, no exit signal
// from that link reaches self.
func Unlink(self *process.Process, target pid.Pid) error {
	p, err := procOf(self)
	if err != nil {
		return err
	}
	return p.Unlink(target)
}

// Monitor makes self monitor target and returns the monitor's Ref. When
// target exits, self receives Down{Ref, target, reason}; when it is already
// dead the Down (reason NoProc) is queued before Monitor returns. Monitoring
// self is allowed and never fires.
func Monitor(self *process.Process, target pid.Pid) (pid.Ref, error) {
	p, err := procOf(self)
	if err != nil {
		return pid.Ref{}, err
	}
	return p.Monitor(target)
}

// MonitorName makes self monitor the process registered as name on self's
// node (MON-10). The monitor binds to the process holding the name now:
// its Down carries that Pid, the name and the node. When no process holds
// the name, the Down (reason NoProc, zero Pid) is queued before
// MonitorName returns (MON-11).
func MonitorName(self *process.Process, name string) (pid.Ref, error) {
	p, err := procOf(self)
	if err != nil {
		return pid.Ref{}, err
	}
	if name == "" {
		return pid.Ref{}, core.ErrEmptyName
	}
	return p.MonitorTarget(core.Target{Node: p.Node().ID(), Name: name})
}

// MonitorNameOn makes self monitor the process registered as name on the
// node at: Erlang's monitor(process, {Name, Node}) (DIST-08). For another
// node the name is looked up there, and the Down of an unregistered name
// (NoProc) or of an unreachable node (NoConnection) comes without blocking
// the caller (DIST-09, DIST-10). A zero at means self's node.
func MonitorNameOn(self *process.Process, at pid.NodeID, name string) (pid.Ref, error) {
	p, err := procOf(self)
	if err != nil {
		return pid.Ref{}, err
	}
	if name == "" {
		return pid.Ref{}, core.ErrEmptyName
	}
	if at.IsZero() {
		at = p.Node().ID()
	}
	return p.MonitorTarget(core.Target{Node: at, Name: name})
}

// Demonitor removes a monitor held by self and reports whether it was still
// active (false for an unknown Ref, or one whose Down was already queued).
// After it returns no Down for ref is queued any more; one queued before
// stays receivable (see DemonitorFlush).
func Demonitor(self *process.Process, ref pid.Ref) bool {
	p, err := procOf(self)
	if err != nil {
		return false
	}
	return p.Demonitor(ref)
}

// DemonitorFlush is Demonitor that also removes a Down for ref already in
// self's mailbox. Only self's own code may call it.
func DemonitorFlush(self *process.Process, ref pid.Ref) bool {
	p, err := procOf(self)
	if err != nil {
		return false
	}
	return p.DemonitorFlush(ref)
}

// Watch is a monitor for code that is not a process (any goroutine): notify
// is called once with the Down when target exits, from the goroutine that
// ends it, unless Unwatch runs first. If target is already dead, notify is
// called before Watch returns. notify must be quick and must not block. A
// panic in notify is contained and logged: it reaches neither the runtime
// nor whoever ended target, and the other watchers are still told.
func Watch(node *process.Node, target pid.Pid, notify func(Down)) (pid.Ref, error) {
	if node == nil {
		return pid.Ref{}, process.ErrNilNode
	}
	if notify == nil {
		return pid.Ref{}, process.ErrNilFunc
	}
	return (*core.Node)(node).Watch(target, func(d core.DownMsg) { notify(Down(d)) })
}

// Unwatch removes a watch made by Watch and reports whether it was still
// active. A notify already under way may still run. The Ref of a monitor a
// process holds is not a watch: Unwatch leaves it and reports false (see
// Demonitor).
func Unwatch(node *process.Node, target pid.Pid, ref pid.Ref) bool {
	if node == nil {
		return false
	}
	return (*core.Node)(node).Unwatch(target, ref)
}
