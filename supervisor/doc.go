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
// A child is started by a [StartFunc] that links it to the supervisor;
// [GenServer], [NamedGenServer] (a server under a typed genserver.Name),
// [Supervisor], [DynamicSupervisor] and [Func] make one for the usual
// cases. A named child is callable by its name as soon as it has been
// restarted: names are released before an exit can be observed, so a
// Name's Ref (or genserver.Named) follows the restarts.
//
// A [Spec]'s Init runs first at every start of the supervisor and can
// decide not to start at all (OTP's init returning ignore): returning
// [ErrIgnore] makes Start return ErrIgnore, and a parent supervisor keeps
// such a child without a process. When the start fails or is ignored, a
// caller linked by StartLink that traps exits receives the supervisor's
// link.Exit with the reason (Normal for ignore), as in OTP.
//
// # Dynamic supervisors
//
// A dynamic supervisor ([StartDynamic]) starts children on demand from one
// template and an argument per child (OTP's simple_one_for_one); its
// children restart one for one and stop all at once. [DynamicGenServer]
// makes the template's start function from a constructor:
//
//	pool, err := supervisor.StartDynamic(ctx, node, supervisor.DynamicSpec[int]{
//		Name:  "workers",
//		Start: supervisor.DynamicGenServer(func(n int) *Worker { return &Worker{n: n} }),
//	})
//	p, err := pool.StartChild(ctx, 3)
//
// Each dynamic child carries a label in WhichChildren, logs and events,
// kept across its restarts: [DynamicSpec].ID's, or by default its argument
// when that is a string, number, boolean or fmt.Stringer ("3"), or else the
// number of the StartChild that started it ("#3").
//
// A dynamic supervisor that is restarted comes back empty, as in OTP: its
// own supervisor restarts it from its spec, and the children added with
// StartChild are gone. A pool meant to keep N workers needs one of two
// recipes:
//
//   - a fixed pool is a static supervisor of N children ([Supervisor] with
//     a Spec of N ChildSpecs), which every restart starts again;
//   - a dynamic pool gets a sibling after it, under RestForOne, that starts
//     the N workers: a Transient [Func] child that calls StartChild N times
//     and returns nil. Whenever the pool restarts, RestForOne starts the
//     refiller again after it.
//
// The second recipe, for a pool named "workers":
//
//	supervisor.Spec{Strategy: supervisor.RestForOne, Children: []supervisor.ChildSpec{
//		{ID: "pool", Type: supervisor.SupervisorChild, Start: supervisor.DynamicSupervisor(poolSpec)},
//		{ID: "refill", Restart: supervisor.Transient, Start: supervisor.Func(func(p *process.Process) error {
//			pool := supervisor.NamedDynamic[int](p.Node(), "workers")
//			for n := range 8 {
//				if _, err := pool.StartChild(p.Context(), n); err != nil {
//					return err // restarted, it tries again
//				}
//			}
//			return nil
//		})},
//	}}
//
// # Significant children
//
// A supervisor whose [Spec].AutoShutdown is [AnySignificant] or
// [AllSignificant] stops itself, with Shutdown, when any or the last of its
// Significant children ends by itself (OTP 24's auto_shutdown): for a
// subtree that is done when the work of one of its children is done. Only
// Transient and Temporary children may be significant, and only under such
// a supervisor; any other combination is a *SpecError. Ends the
// supervisor causes (TerminateChild, a sibling's restart) do not count, nor
// does a Transient child's crash, which restarts it.
//
// # Calls to a supervisor
//
// Every method of [Ref] and [Dynamic] is a call to the supervisor's
// process. One that gets no answer (the supervisor is dead or its name
// unknown, the wait ran out) fails with a *[CallError] naming the method
// and the supervisor and wrapping the reason (process.NoProc,
// genserver.ErrTimeout...); the answers the supervisor gives (ErrNotFound,
// a *SpecError...) come as they are. Without a deadline on the context a
// call waits at most genserver.DefaultCallTimeout; under
// genserver.WithoutTimeout it waits as long as it takes, as OTP's
// supervisor calls do.
//
// # Differences from OTP
//
//   - WhichChildren lists static children in start order (OTP 25 lists
//     them in reverse).
//   - The child management calls that OTP rejects on a simple_one_for_one
//     supervisor (by id) do not exist on [Dynamic]; the compiler rejects
//     them.
//   - Dynamic children have a label for an ID, where OTP's have undefined.
//   - A supervisor's calls wait at most genserver.DefaultCallTimeout unless
//     told otherwise (genserver.WithoutTimeout), where OTP's wait without
//     bound.
//   - A spec is checked before the supervisor's process starts: an invalid
//     one fails Start with a *SpecError and no process, so a linked caller
//     receives no exit for it.
//   - Spec.Init only decides whether to start (nil, ErrIgnore or an error):
//     the children are the Spec's, fixed when it is built.
package supervisor
