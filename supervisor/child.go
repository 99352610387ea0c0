package supervisor

import (
	"context"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// GenServer returns a StartFunc that starts a fresh server from
// newServer, linked to the supervisor, with opts (a name, a backend...).
// Each restart calls newServer again, so the server starts from its initial
// state:
//
//	supervisor.ChildSpec{ID: "counter", Start: supervisor.GenServer(
//		func() *Counter { return &Counter{} }, genserver.WithName("counter"))}
func GenServer[S genserver.Behaviour[Req, Rep, Msg], Req, Rep, Msg any](newServer func() S, opts ...genserver.Option) StartFunc {
	return func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		ref, err := genserver.StartLink[Req, Rep, Msg](ctx, sup, newServer(), opts...)
		if err == nil {
			noteLinked(ctx, sup, ref.Pid())
		}
		return ref.Pid(), err
	}
}

// NamedGenServer returns a StartFunc that starts a fresh server from
// newServer under name, linked to the supervisor, with opts: GenServer with
// the name's types, so a server of other types does not compile, and
// callers reach each restarted server by name.Ref(node):
//
//	var Queue = genserver.NewName[Job, Result, genserver.Never]("queue")
//
//	supervisor.ChildSpec{ID: "queue", Start: supervisor.NamedGenServer(Queue,
//		func() *QueueServer { return &QueueServer{} })}
func NamedGenServer[S genserver.Behaviour[Req, Rep, Msg], Req, Rep, Msg any](name genserver.Name[Req, Rep, Msg], newServer func() S, opts ...genserver.Option) StartFunc {
	return func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		ref, err := name.StartLink(ctx, sup, newServer(), opts...)
		if err == nil {
			noteLinked(ctx, sup, ref.Pid())
		}
		return ref.Pid(), err
	}
}

// DynamicGenServer returns a DynamicSpec.Start that starts a fresh server
// from newServer(arg), linked to the supervisor, with opts: the dynamic
// counterpart of GenServer.
//
//	pool, err := supervisor.StartDynamic(ctx, node, supervisor.DynamicSpec[int]{
//		Start: supervisor.DynamicGenServer(func(n int) *Worker { return &Worker{n: n} }),
//	})
//	p, err := pool.StartChild(ctx, 3) // a Worker with n 3, labelled "3"
//
// Each restart calls newServer again with the child's argument. The same
// opts apply to every child, so a name among them would be taken by the
// first child only: for a name per child, write the start function, with
// genserver.StartLink and the name made from arg.
func DynamicGenServer[A any, S genserver.Behaviour[Req, Rep, Msg], Req, Rep, Msg any](newServer func(arg A) S, opts ...genserver.Option) func(ctx context.Context, sup *process.Process, arg A) (pid.Pid, error) {
	return func(ctx context.Context, sup *process.Process, arg A) (pid.Pid, error) {
		ref, err := genserver.StartLink[Req, Rep, Msg](ctx, sup, newServer(arg), opts...)
		if err == nil {
			noteLinked(ctx, sup, ref.Pid())
		}
		return ref.Pid(), err
	}
}

// Supervisor returns a StartFunc that starts a static supervisor with spec
// as a child: a subtree. Each restart starts it from spec, so children added
// to it later with StartChild are not restored.
func Supervisor(spec Spec) StartFunc {
	return func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		ref, err := StartLink(ctx, sup, spec)
		if err == nil {
			noteLinked(ctx, sup, ref.Pid())
		}
		return ref.Pid(), err
	}
}

// DynamicSupervisor returns a StartFunc that starts a dynamic supervisor
// with spec as a child.
func DynamicSupervisor[A any](spec DynamicSpec[A]) StartFunc {
	return func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		d, err := StartDynamicLink(ctx, sup, spec)
		if err == nil {
			noteLinked(ctx, sup, d.Pid())
		}
		return d.Pid(), err
	}
}

// Func returns a StartFunc that spawns fn as a plain process linked to the
// supervisor, with opts.
func Func(fn process.Func, opts ...process.SpawnOption) StartFunc {
	return func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		p, err := sup.SpawnLink(fn, opts...)
		if err == nil {
			noteLinked(ctx, sup, p)
		}
		return p, err
	}
}
