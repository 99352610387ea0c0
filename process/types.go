package process

import (
	"fmt"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
)

// Backend says where a process's code runs. All backends have the same
// semantics and their processes talk to each other freely.
//
//   - Async (the default) runs code on ordinary goroutines. An idle Handler
//     process holds no goroutine, so millions of idle processes are cheap.
//   - Blocking runs code on a bounded pool (see [WithBlockingPool]) meant
//     for work that blocks an OS thread: cgo, blocking syscalls, libraries
//     without context support. The bound keeps a burst of such work from
//     exhausting Go's OS threads or starving Async processes.
//   - Thread gives the process one OS thread for its whole life
//     (runtime.LockOSThread), for thread-affine work: cgo libraries with
//     thread-local state, OpenGL, setns, per-thread priority.
type Backend uint8

// The backends.
const (
	Async    Backend = Backend(core.Async)
	Blocking Backend = Backend(core.Blocking)
	Thread   Backend = Backend(core.Thread)
)

// String returns the backend's name: "async", "blocking" or "thread".
func (b Backend) String() string { return core.Backend(b).String() }

// Valid reports whether b is one of the three backends.
func (b Backend) Valid() bool { return core.Backend(b).Valid() }

// MarshalText writes the backend's name, so that JSON and logs show it.
func (b Backend) MarshalText() ([]byte, error) {
	if !b.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrInvalidBackend, uint8(b))
	}
	return []byte(b.String()), nil
}

// UnmarshalText reads a backend's name.
func (b *Backend) UnmarshalText(text []byte) error {
	for _, c := range []Backend{Async, Blocking, Thread} {
		if string(text) == c.String() {
			*b = c
			return nil
		}
	}
	return fmt.Errorf("%w: %q", ErrInvalidBackend, text)
}

// Status says what a process is doing.
type Status uint8

// The statuses of [Info].
const (
	Waiting  Status = Status(core.Waiting)  // idle, waiting for a message
	Runnable Status = Status(core.Runnable) // has work, waiting for its turn
	Running  Status = Status(core.Running)  // its code is running
	Exited   Status = Status(core.Exited)   // dead
)

// String returns the status's name: "waiting", "runnable", "running" or
// "exited".
func (s Status) String() string { return core.Status(s).String() }

// MarshalText writes the status's name, so that JSON and logs show it.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a status's name.
func (s *Status) UnmarshalText(text []byte) error {
	for _, c := range []Status{Waiting, Runnable, Running, Exited} {
		if string(text) == c.String() {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("process: unknown status %q", text)
}

// Info is a snapshot of a live process.
type Info struct {
	Pid             pid.Pid   // the process
	Name            string    // its registered name, or ""
	Status          Status    // what it is doing: Waiting, Runnable or Running
	Backend         Backend   // the backend it runs on
	TrapExit        bool      // whether it traps exits
	MessageQueueLen int       // messages queued for it
	WaitingSenders  int       // senders blocked in SendWait on its bounded mailbox
	Links           []pid.Pid // its link partners, on any node
	Monitors        []Monitor // monitors it holds
	MonitoredBy     []pid.Pid // holders of monitors on it; a watch held by code that is not a process shows as the zero Pid
	Groups          []string  // groups it has joined
	Received        uint64    // messages queued for it so far
	Handled         uint64    // messages its code has taken
	Sent            uint64    // messages it has sent
	Behaviour       string    // what it runs (see Describer): a GenServer's type, "supervisor", "func"
}

// Monitor is one monitor in Info.Monitors.
type Monitor struct {
	Ref  pid.Ref // the monitor's reference, as its Down will carry
	Pid  pid.Pid // the monitored process (for a monitor by name, the holder found, if any)
	Name string  // for a monitor made by name
}

func infoOf(in core.Info) Info {
	out := Info{
		Pid: in.Pid, Name: in.Name, Status: Status(in.Status), Backend: Backend(in.Backend),
		TrapExit: in.TrapExit, MessageQueueLen: in.MessageQueueLen, WaitingSenders: in.WaitingSenders,
		Links: in.Links, MonitoredBy: in.MonitoredBy, Groups: in.Groups,
		Received: in.Received, Handled: in.Handled, Sent: in.Sent, Behaviour: in.Behaviour,
	}
	if len(in.Monitors) > 0 {
		out.Monitors = make([]Monitor, len(in.Monitors))
		for i, m := range in.Monitors {
			out.Monitors[i] = Monitor(m)
		}
	}
	return out
}

// Stats counts what a node holds and has done.
type Stats struct {
	Processes  int    // live processes
	Spawned    uint64 // processes ever spawned
	Exited     uint64 // processes that have exited
	Stragglers int64  // killed processes whose code still runs (see the package doc's "Kill in Go")
	Names      int    // registered names
	Groups     int    // non-empty process groups
	// Workers counts the worker goroutines parked for activations of
	// idle Handler processes: bounded, whatever the number of processes.
	Workers int
}

func statsOf(s core.Stats) Stats { return Stats(s) }

// Undeliverable may be implemented by a message that must learn when no
// process will handle it: it was sent to a dead process, or was still queued
// when its receiver exited. Undelivered then runs once, with the receiver's
// exit reason (NoProc when it was already gone), from the goroutine that
// found out; it must not block. Request-reply protocols use it to fail a
// request at once instead of waiting for a timeout.
type Undeliverable interface {
	Undelivered(reason error)
}
