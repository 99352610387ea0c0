// Package genserver is the typed server behaviour: a process that owns some
// state and answers calls (request and reply), casts (one-way requests) and
// other messages, one at a time, on the Backend chosen at start.
//
// # The behaviour
//
// A server is a Go type. Its methods are the callbacks; the type's method
// signatures fix the request, reply and cast types, so callers need no type
// assertions and the compiler checks every message:
//
//	type Counter struct{ n int }
//
//	type Add struct{ N int } // a call: add N, reply with the new total
//	type Reset struct{}      // a cast: set the count to zero
//
//	func (c *Counter) HandleCall(ctx *genserver.CallCtx[int], req Add) (int, error) {
//		c.n += req.N
//		return c.n, nil
//	}
//
//	func (c *Counter) HandleCast(ctx *genserver.Ctx, _ Reset) { c.n = 0 }
//
//	ref, err := genserver.Start(ctx, node, &Counter{})
//	total, err := ref.Call(ctx, Add{N: 2}) // total is an int
//	ref.Cast(Reset{})
//
// HandleCall and HandleCast are required; a server with no calls embeds
// [NoCalls], one with no casts embeds [NoCasts]. Several kinds of request
// share one type: an interface with a method of your own, or a struct with
// a field per kind, as the key-value store in the examples does.
//
// The optional callbacks are found by interface:
//
//   - Init(ctx *Ctx) error runs on the server's backend before anything else
//     (see [Initializer]). Return nil to run, [Ignore] to start nothing, or
//     an error to fail the start with that reason. The value passed to
//     Start is the server's initial state and its init arguments: set its
//     fields before starting.
//   - HandleInfo(ctx *Ctx, msg any) gets every other message: link.Exit and
//     link.Down, timer messages, plain sends ([InfoHandler]). Without it,
//     such messages are logged as unexpected and dropped.
//   - Terminate(ctx *Ctx, reason error) runs when the server stops: after
//     ctx.Stop, after a callback panics, on Stop, and when its parent exits
//     while it traps exits ([Terminator]). It never runs when the server is
//     killed, or dies of an exit signal it does not trap.
//
// # Replies and stopping
//
// HandleCall returns the reply. A returned error goes to the caller as the
// call's error and the server carries on: it is an answer, not a crash. To
// reply later, from any goroutine, keep ctx.From() and return ctx.NoReply().
// ctx.Stop(reason) ends the server once the callback returns, after the reply
// is sent; with ctx.NoReply() the caller instead fails with the server's
// exit reason. A panic in a callback ends the server with a
// *process.PanicError and runs Terminate first.
//
// # Names
//
// A server's name is best declared once, with the server's types, as a
// [Name]:
//
//	var Queue = genserver.NewName[Job, Result, genserver.Never]("queue")
//
//	_, err := Queue.Start(ctx, node, &QueueServer{}) // another server type does not compile
//	res, err := Queue.Ref(node).Call(ctx, job)       // res is a Result
//
// Its Ref looks the name up at every use, so it follows the server across
// restarts; supervisor.NamedGenServer starts a supervised child under it;
// Via puts it in a [Registrar] (OTP's {via, Module, Name}), and RefOn reaches
// the server registered under it on another node ({Name, Node}). The
// untyped forms remain: [WithName] and [WithVia] at start, [Named],
// [NamedVia] and [NamedOn] to reach a server, with the types spelled out.
//
// # Calls from anywhere
//
// [Ref.Call] works from any goroutine, process or not. It takes a context;
// without a deadline the call is bounded by [DefaultCallTimeout] (OTP's
// default of 5 s), and a context made by [WithoutTimeout] lifts that bound
// (OTP's infinity) while its cancellation still ends the wait. A call fails
// at once with an error wrapping process.NoProc when the server is dead or
// the name unknown, with the server's exit reason when it dies before
// replying, and with [ErrTimeout] when time runs out; the server then keeps
// running and its late reply is dropped. A server calling itself through the
// context its callbacks get gets [ErrCallingSelf] instead of a deadlock.
// Every such failure is a *[CallError]. A server killed while it handles a
// call never answers it: the caller gets the exit reason even if the
// server's code replies once it notices. A Ref made for a server of other
// types, or for a process that is not a GenServer, fails at once with
// [ErrWrongServer], for calls, casts and stops alike. A nil context fails at
// once with process.ErrNilContext. Casts never fail otherwise, except that a
// server started [WithMailboxLimit] refuses casts while its mailbox is full
// (process.ErrMailboxFull) rather than drop them silently. [Ref.Stop]'s
// request is never refused: it is the runtime's own, like an exit signal.
//
// # Differences from OTP
//
//   - A callback cannot return a malformed value (OTP's bad_return_value):
//     the types rule it out.
//   - A linked start whose init fails returns the error and does not kill
//     the caller: the server unlinks from a caller that does not trap exits
//     before it exits. A trapping caller still receives the link.Exit.
//   - Hibernation has no meaning in Go and is not offered. Continuations
//     (ctx.Continue) and idle timeouts (ctx.IdleTimeout) are.
package genserver
