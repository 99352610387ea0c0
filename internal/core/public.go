package core

import "github.com/spawned-go/spawned/pid"

// The public packages declare the types of the values the runtime hands to
// user code (link.Exit, link.Down, process.PanicError,
// registry.NameTakenError), so that their documentation shows their fields.
// They cannot be declared here, below those packages, so each package
// installs a constructor for its types when it is initialised, before any
// user code runs; until then the runtime makes its own types.
var (
	newExit      = func(m ExitMsg) any { return m }
	newDown      = func(m DownMsg) any { return m }
	downRef      = func(m any) (pid.Ref, bool) { d, ok := m.(DownMsg); return d.Ref, ok }
	newPanic     = func(v any, stack []byte) error { return &PanicError{Value: v, Stack: stack} }
	newNameTaken = func(name string, owner pid.Pid) error { return &NameTakenError{Name: name, Owner: owner} }
)

// SetSignalForms installs the constructors of the Exit and Down messages
// delivered to processes, and the way to read a Down's Ref back. Package
// link calls it from its init function.
func SetSignalForms(exit func(ExitMsg) any, down func(DownMsg) any, ref func(m any) (pid.Ref, bool)) {
	newExit, newDown, downRef = exit, down, ref
}

// SetPanicForm installs the constructor of the exit reason of a process
// whose code panicked. Package process calls it from its init function.
func SetPanicForm(f func(v any, stack []byte) error) { newPanic = f }

// SetNameTakenForm installs the constructor of the error for a name that
// another process holds. Package registry calls it from its init function.
func SetNameTakenForm(f func(name string, owner pid.Pid) error) { newNameTaken = f }

// exitMessage and downMessage make the messages delivered for exit signals
// and monitors.
func exitMessage(from pid.Pid, reason error) any { return newExit(ExitMsg{From: from, Reason: reason}) }
func downMessage(m DownMsg) any                  { return newDown(m) }
