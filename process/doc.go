// Package process runs lightweight processes with Erlang's semantics.
//
// A process has a [pid.Pid], a mailbox and an exit reason. It runs either a
// [Func], which receives messages when it chooses (Receive, ReceiveMatch),
// or a [Handler], which the runtime calls once per message. Processes live
// in a [Node]'s process table. A program makes its node with [NewNode] and
// stops it when it ends; tests make one each, so they can run in parallel.
// [Default] is a node that lives as long as the program, for scripts and
// small tools: the package-level [Spawn] uses it.
//
// # Messages and order
//
// Send queues a message and never blocks. Messages from one sender to one
// receiver arrive in the order sent, and so do the exit and down signals that
// links and monitors deliver (package link): they travel in the same
// mailbox, so a process's last messages always arrive before the news of its
// death. Sending to a dead process is silently dropped, as in Erlang.
//
// # Exit reasons
//
// An exit reason is an error, compared with errors.Is: [Normal], [Shutdown]
// (and [ShutdownWith] a cause), [Kill], [Killed], [NoProc], [NoConnection],
// [Goexit], or any error of your own. A panic in a process never crashes the
// program: it becomes the process's exit reason as a [*PanicError] holding
// the panic value and stack. runtime.Goexit in a process's code (t.FailNow,
// testify's require) ends the process with [Goexit]. A panic in a callback
// the runtime calls (an [OnExit] function, a watch's notify, a message's
// Undelivered) is contained and logged; the runtime's other work goes on.
//
// [Process.Exit] sends an exit signal: a process that traps exits
// ([Process.TrapExit]) receives it as a link.Exit message; otherwise an
// abnormal reason ends it and Normal is ignored. Kill cannot be trapped.
//
// # Kill in Go
//
// A goroutine cannot be stopped from outside. When a process is killed (or
// ends by any exit signal) it is dead at once for everyone else: it is not
// Alive, its links and monitors fire, its name is free and its mailbox is
// dropped. Its [Process.Context] is cancelled with the exit reason as cause,
// and none of its callbacks runs again. Code that is running at that moment
// and ignores its context finishes in the background; what it sends is
// dropped. Such code is counted in [Stats] as a straggler until it returns.
//
// # Backends
//
// Each process runs on the [Backend] chosen at spawn; all three behave the
// same and their processes talk to each other freely:
//
//   - Async (default): ordinary goroutines. An idle Handler process holds no
//     goroutine, so a million idle processes are cheap. Pick it unless one
//     of the others applies.
//   - Blocking: a bounded pool ([WithBlockingPool]) for code that blocks an
//     OS thread: cgo calls, blocking syscalls, libraries without context
//     support. The bound keeps a burst of such work from exhausting Go's
//     threads; Async processes are never starved by it.
//   - Thread: one locked OS thread for the whole life of the process, for
//     thread-affine work (cgo libraries with thread-local state, OpenGL,
//     setns, per-thread priority). Every callback runs on that thread. Each
//     wake-up of an idle Thread process wakes its OS thread, which costs
//     tens of microseconds on a virtual machine: pick Thread for the
//     affinity, not for speed.
//
// A Func process holds a goroutine (and on Thread an OS thread) while it
// lives; on Blocking it holds a pool slot only while its code runs, not while
// it waits in Receive.
//
// # Nodes in tests
//
// Use an isolated node per test ([NewNode], stopped with [Node.Stop]): tests
// can then run in parallel, and after Stop no goroutine of the node is left,
// which go.uber.org/goleak checks. The default node lives as long as the
// program and keeps a few parked worker goroutines ([Stats].Workers).
//
// # Timers
//
// [Process.SendAfter] and [Process.SendInterval] send messages later on a
// process's behalf; [Process.CancelTimer] stops them, and a cancelled timer
// never delivers. A process's timers stop when it exits.
package process
