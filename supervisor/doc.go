// Package supervisor starts, watches and restarts processes, with OTP's
// semantics, so that a tree of services heals itself.
//
// A static supervisor ([Start]) starts the children of its [Spec] in order,
// each synchronously, and restarts them by its [Strategy] when they exit:
//
//   - OneForOne restarts only the child that exited;
//   - OneForAll terminates the others in reverse start order and restarts
//     all of them in start order;
//   - RestForOne does the same for the child and those started after it.
//
// A child's [Restart] type says which exits lead to a restart: Permanent
// children restart after any exit, Transient ones only after an abnormal one
// (Killed counts as abnormal; Normal, Shutdown and ShutdownWith do not), and
// Temporary ones never, their spec being dropped when they exit.
//
// Restarts are bounded by Intensity and Period: more than Intensity
// restarts within Period make the supervisor terminate its children and exit
// with Shutdown, handing the problem to its own supervisor. As in OTP the
// window counts whole seconds inclusively (a restart counts while
// now <= then + period), and a restart attempt that fails counts too and is
// retried. An injectable Clock makes the window testable.
//
// Children stop as their [Shutdown] says: an exit signal Shutdown and a
// grace period before a kill (5 s by default for workers), BrutalKill, or
// Infinity (the default for supervisor children). A supervisor that stops
// terminates its children in reverse start order.
//
// A dynamic supervisor ([StartDynamic]) starts children on demand from one
// template and an argument per child (OTP's simple_one_for_one); its
// children restart one for one and stop all at once.
//
// A child is started by a [StartFunc] that links it to the supervisor;
// [GenServer], [Supervisor], [DynamicSupervisor] and [Func] make one for
// the usual cases. A named child is callable by its name as soon as it has
// been restarted: names are released before an exit can be observed, so
// genserver.Named refs follow the restarts.
//
// # Differences from OTP
//
//   - WhichChildren lists static children in start order (OTP 25 lists
//     them in reverse).
//   - The child management calls that OTP rejects on a simple_one_for_one
//     supervisor (by id) do not exist on [Dynamic]; the compiler rejects
//     them.
//   - Significant children and auto_shutdown are not offered yet.
package supervisor
