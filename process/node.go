package process

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/internal/zapslog"
	"github.com/spawned-go/spawned/pid"
)

// Node runs processes: it owns a process table, a name registry and process
// groups. A program makes its node with NewNode and stops it when it ends.
// Nodes are independent of each other, so tests can each use their own and
// run in parallel.
type Node core.Node

// NodeOption configures NewNode.
type NodeOption func(*core.Config)

// WithLogger sets the node's logger for crash reports; nil silences it.
// The default logs errors as JSON to standard error.
func WithLogger(l *zap.Logger) NodeOption {
	return func(c *core.Config) {
		if l == nil {
			l = zap.NewNop()
		}
		c.Logger = l
	}
}

// WithBlockingPool bounds how many handlers of Blocking processes run at
// once on the node (default 256). Further Blocking processes with work wait
// for a slot; Async and Thread processes are never held up by them.
func WithBlockingPool(n int) NodeOption {
	return func(c *core.Config) { c.BlockingPool = n }
}

// DefaultIdleSpin is how long, by default, a worker goroutine whose process
// has gone idle keeps its processor before it parks (see WithIdleSpin).
const DefaultIdleSpin = 50 * time.Microsecond

// WithIdleSpin sets how long a worker goroutine whose process has gone idle
// keeps its processor, yielding to whatever else is runnable there, before
// it parks (default DefaultIdleSpin, 50 µs; zero or less: it yields once
// and parks). A process woken meanwhile is handed to it with an atomic
// store, and the Go scheduler, finding no idle processor, wakes no thread:
// a wake-up costs the waker a system call, 5–15 µs on some virtual
// machines. At most one worker per processor spins, and only on the
// processor its last activation was scheduled from; a node started with
// GOMAXPROCS 1 never spins, as it would only keep its core from other
// programs. Spinning is the BEAM's trade too (its schedulers busy-wait
// before they sleep): a node that goes idle after every burst uses up to
// this much more CPU time per burst and processor. Turn it off where CPU
// time is billed or scarce.
func WithIdleSpin(d time.Duration) NodeOption {
	return func(c *core.Config) {
		if d <= 0 {
			d = -1
		}
		c.IdleSpin = d
	}
}

// NewNode starts a node. Call Stop when done with it.
func NewNode(opts ...NodeOption) *Node {
	cfg := core.Config{Logger: defaultLogger(), IdleSpin: DefaultIdleSpin}
	for _, o := range opts {
		if o != nil { // a nil option sets nothing
			o(&cfg)
		}
	}
	return (*Node)(core.NewNode(cfg))
}

var (
	defaultOnce sync.Once
	defaultNode *Node
)

// Default returns the process-wide default node, creating it on first use.
// It lives as long as the program and is never stopped: a convenience for
// scripts and small tools, used by the package-level Spawn. A program that
// stops in order, or a test, makes its own node with NewNode.
func Default() *Node {
	defaultOnce.Do(func() { defaultNode = NewNode() })
	return defaultNode
}

func defaultLogger() *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(os.Stderr), zap.ErrorLevel))
}

func (n *Node) core() *core.Node { return (*core.Node)(n) }

// ID returns the node's identity, which every Pid it makes carries.
func (n *Node) ID() pid.NodeID {
	if n == nil {
		return pid.NodeID{}
	}
	return n.core().ID()
}

// Logger returns the node's logger.
func (n *Node) Logger() *zap.Logger {
	if n == nil {
		return zap.NewNop()
	}
	return n.core().Logger()
}

// SetLogger replaces the node's logger; nil silences it.
func (n *Node) SetLogger(l *zap.Logger) {
	if n != nil {
		n.core().SetLogger(l)
	}
}

// MakeRef returns a reference unique within the node.
func (n *Node) MakeRef() pid.Ref {
	if n == nil {
		return pid.Ref{}
	}
	return n.core().MakeRef()
}

// Spawn starts a process running fn and returns its Pid. With
// [WithLink] the new process is linked to a parent in the same step.
func (n *Node) Spawn(fn Func, opts ...SpawnOption) (pid.Pid, error) {
	if n == nil {
		return pid.Pid{}, ErrNilNode
	}
	if fn == nil {
		return pid.Pid{}, ErrNilFunc
	}
	p, _, err := n.spawn(spec(adaptFunc(fn), nil, opts))
	return pidOf(p), err
}

// SpawnHandler starts a message-driven process: h handles one message at a
// time on the chosen backend, and an idle Async handler process holds no
// goroutine at all.
func (n *Node) SpawnHandler(h Handler, opts ...SpawnOption) (pid.Pid, error) {
	if n == nil {
		return pid.Pid{}, ErrNilNode
	}
	if h == nil {
		return pid.Pid{}, ErrNilFunc
	}
	p, _, err := n.spawn(spec(nil, adaptHandler(h), opts))
	return pidOf(p), err
}

func (n *Node) spawn(s core.Spec) (*core.Proc, pid.Ref, error) {
	if s.Parent != nil && s.Parent.Node() != n.core() {
		return nil, pid.Ref{}, NoConnection
	}
	return n.core().Spawn(s)
}

func pidOf(p *core.Proc) pid.Pid {
	if p == nil {
		return pid.Pid{}
	}
	return p.Pid()
}

// Send queues msg in the mailbox of to. Sending to a dead process is not an
// error: the message is dropped, as in Erlang. Messages from one sender to
// one receiver arrive in the order sent. A full bounded mailbox
// (WithMailboxLimit) refuses the message with ErrMailboxFull.
func (n *Node) Send(to pid.Pid, msg any) error {
	if n == nil {
		return ErrNilNode
	}
	return n.core().Send(to, msg)
}

// SendWait is Send that waits for room when to's bounded mailbox is full,
// until ctx is done. A nil ctx fails with ErrNilContext.
func (n *Node) SendWait(ctx context.Context, to pid.Pid, msg any) error {
	if n == nil {
		return ErrNilNode
	}
	return n.core().SendWait(ctx, to, msg)
}

// Exit sends an exit signal with reason to the process to, from a goroutine
// that is not a process (the zero Pid is the sender). See [Process.Exit].
// After a signal to a process of this node it yields the processor once, so
// that a process the signal woke (a supervisor told of its child's exit)
// runs first; it does not wait for it.
func (n *Node) Exit(to pid.Pid, reason error) error {
	if n == nil {
		return ErrNilNode
	}
	return n.core().Exit(to, reason)
}

// Alive reports whether p names a live process of this node.
func (n *Node) Alive(p pid.Pid) bool {
	if n == nil {
		return false
	}
	return n.core().Alive(p)
}

// Processes lists the node's live processes.
func (n *Node) Processes() []pid.Pid {
	if n == nil {
		return nil
	}
	return n.core().Processes()
}

// Info returns a snapshot of a live process; NoProc if it is dead.
func (n *Node) Info(p pid.Pid) (Info, error) {
	if n == nil {
		return Info{}, ErrNilNode
	}
	in, err := n.core().Info(p)
	if err != nil {
		return Info{}, err
	}
	return infoOf(in), nil
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	if n == nil {
		return Stats{}
	}
	return statsOf(n.core().Stats())
}

// BlockingPool returns the bound on Blocking handlers running at once, and
// how many run now.
func (n *Node) BlockingPool() (bound, inUse int) {
	if n == nil {
		return 0, 0
	}
	return n.core().BlockingPool(), n.core().BlockingInUse()
}

// Stop kills every process of the node with reason Shutdown (untrappably,
// so no callback of the processes runs), refuses new work from then on, and
// waits until all goroutines the node started have returned or ctx is done.
// Code that ignores its process's context keeps Stop waiting; ctx bounds the
// wait, whatever the processes' code and exit callbacks do. Calling Stop
// again is harmless. A nil ctx fails with ErrNilContext.
//
// Once the last goroutine of the node has returned, every event
// subscription (Subscribe) is closed, after the events already buffered in
// it, among them the Exited of the killed processes: a loop over one ends.
// A Stop that returns nil has seen that happen; one that ctx ended has not,
// and the subscriptions close when the stragglers return.
//
// Stop may be called from a process of the node, or from an OnExit or watch
// callback: it cannot wait for the goroutine it runs on, so it then returns
// once every other goroutine of the node has returned (the calling code,
// now a killed process's, goes on until it returns, and the subscriptions
// close when it has). Stop tells such a
// caller by its stack, which shows a goroutine of the runtime but not of
// which node: called from a process of another node, it returns when at
// most one goroutine of this node is still finishing.
func (n *Node) Stop(ctx context.Context) error {
	if n == nil {
		return ErrNilNode
	}
	return n.core().Stop(ctx)
}

// nodeOf finds the local node that owns p.
func nodeOf(p pid.Pid) (*core.Node, error) {
	if p.IsZero() {
		return nil, ErrZeroPid
	}
	n, ok := core.Lookup(p.Node())
	if !ok {
		return nil, NoConnection
	}
	return n, nil
}

// Spawn starts a process running fn on the default node.
func Spawn(fn Func, opts ...SpawnOption) (pid.Pid, error) { return Default().Spawn(fn, opts...) }

// Send queues msg for to on whichever local node owns it. A Pid of a node
// that is not running gives an error wrapping NoConnection.
func Send(to pid.Pid, msg any) error {
	n, err := nodeOf(to)
	if err != nil {
		return err
	}
	return n.Send(to, msg)
}

// Exit sends an exit signal with reason to the process to, on whichever
// local node owns it, from a goroutine that is not a process.
func Exit(to pid.Pid, reason error) error {
	n, err := nodeOf(to)
	if err != nil {
		return err
	}
	return n.Exit(to, reason)
}

// Alive reports whether p names a live process on a running local node.
func Alive(p pid.Pid) bool {
	n, err := nodeOf(p)
	return err == nil && n.Alive(p)
}

// WithSlog makes the node report through l, a log/slog logger, instead of
// zap: crash reports and the supervisors' and servers' reports become
// slog records with the same attributes (pid, name, behaviour, reason,
// stack...). nil silences the node.
func WithSlog(l *slog.Logger) NodeOption {
	return func(c *core.Config) {
		if l == nil {
			c.Logger = zap.NewNop()
			return
		}
		c.Logger = zap.New(zapslog.NewCore(l.Handler()))
	}
}
