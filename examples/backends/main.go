// Command backends runs the same blocking work on each backend (Async,
// Blocking and Thread) while an Async heartbeat server ticks every 10 ms.
// Each worker's handler blocks for 100 ms in a simulated blocking call (a
// sleep standing for a cgo call or a blocking syscall). The heartbeat keeps
// ticking whatever the backend of the blocked handlers, and on Blocking the
// pool bound (process.WithBlockingPool) caps how many of them run at once:
// the others wait for a slot.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "backends:", err)
		os.Exit(1)
	}
}

const (
	workers   = 6                      // blocking calls made at once on each backend
	poolBound = 2                      // the node's bound on Blocking handlers
	blockFor  = 100 * time.Millisecond // how long each handler blocks
	beatEvery = 10 * time.Millisecond
	// While handlers are blocked for 100 ms or more, the heartbeat should
	// tick about 10 times. A heartbeat stopped by the blocked handlers
	// would not tick at all, so one tick is the threshold: generous
	// enough for a machine loaded with other work.
	minBeats = 1
)

// Heartbeat is an Async server that counts ticks of an interval timer. The
// count is an atomic shared with the workers, for the demonstration only:
// it lets a blocked worker see whether the heartbeat got to run meanwhile.
type Heartbeat struct {
	genserver.NoCalls
	genserver.NoCasts
	beats *atomic.Int64
}

type tick struct{}

func (h *Heartbeat) Init(ctx *genserver.Ctx) error {
	_, err := ctx.SendInterval(tick{}, beatEvery)
	return err
}

func (h *Heartbeat) HandleInfo(_ *genserver.Ctx, msg any) {
	if _, ok := msg.(tick); ok {
		h.beats.Add(1)
	}
}

// gauge tracks how many handlers are blocked at once, the most ever, and
// the heartbeat count when the first handler blocked and when the last one
// returned.
type gauge struct {
	mu         sync.Mutex
	now, max   int
	first, end int64
}

func (g *gauge) enter(beats int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.max == 0 {
		g.first = beats
	}
	g.now++
	g.max = max(g.max, g.now)
}

func (g *gauge) leave(beats int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.now--
	g.end = beats
}

// Work is the worker's call.
type Work struct{}

// Worker answers each call after a blocking call.
type Worker struct {
	genserver.NoCasts
	beats *atomic.Int64
	gauge *gauge
}

func (w *Worker) HandleCall(_ *genserver.CallCtx[struct{}], _ Work) (struct{}, error) {
	w.gauge.enter(w.beats.Load())
	blockingCall()
	w.gauge.leave(w.beats.Load())
	return struct{}{}, nil
}

// blockingCall stands for a call that blocks its OS thread, such as a cgo
// call into a C library.
func blockingCall() { time.Sleep(blockFor) }

// result is what one round of blocking calls on a backend showed.
type result struct {
	atOnce  int           // most handlers blocked at the same time
	elapsed time.Duration // for all the calls to be answered
	beats   int64         // heartbeats handled while handlers were blocked
}

// round starts one worker per call on backend b, makes the calls all at
// once and waits for every answer.
func round(ctx context.Context, node *process.Node, b process.Backend, beats *atomic.Int64) (result, error) {
	g := &gauge{}
	refs := make([]genserver.Ref[Work, struct{}, genserver.Never], workers)
	for i := range refs {
		ref, err := genserver.Start(ctx, node, &Worker{beats: beats, gauge: g}, genserver.WithBackend(b))
		if err != nil {
			return result{}, err
		}
		defer ref.Stop(ctx, nil)
		refs[i] = ref
	}
	errs := make([]error, workers)
	start := time.Now()
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Go(func() { _, errs[i] = ref.Call(ctx, Work{}) })
	}
	wg.Wait()
	res := result{atOnce: g.max, elapsed: time.Since(start), beats: g.end - g.first}
	for _, err := range errs {
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func run(w io.Writer) error {
	ctx := context.Background()
	node := process.NewNode(process.WithLogger(nil), process.WithBlockingPool(poolBound))
	defer node.Stop(ctx)
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	beats := new(atomic.Int64)
	if _, err := genserver.Start(ctx, node, &Heartbeat{beats: beats}); err != nil {
		return err
	}
	bound, _ := node.BlockingPool()
	say("%d calls at once on each backend, each handler blocking for %v; an async heartbeat ticks every %v.", workers, blockFor, beatEvery)

	for _, b := range []process.Backend{process.Async, process.Blocking, process.Thread} {
		res, err := round(ctx, node, b, beats)
		if err != nil {
			return err
		}
		say("%s:", b)
		say("   handlers blocked at once: %d", res.atOnce)
		say("   while they blocked, the heartbeat kept ticking: %v", res.beats >= minBeats)
		if b == process.Blocking {
			say("   at most %d at once, the pool bound: %v", bound, res.atOnce <= bound)
			// With at most 2 at once, 6 calls of 100 ms need 3 rounds.
			rounds := (workers + bound - 1) / bound
			say("   the calls queued for a slot and took at least %d x %v: %v", rounds, blockFor, res.elapsed >= time.Duration(rounds)*blockFor)
		}
	}

	say("What to pick:")
	say("   async:    almost everything. Idle handler processes cost no goroutine. A handler")
	say("             that blocks its OS thread (cgo) holds a thread, and nothing bounds how many.")
	say("   blocking: code that blocks an OS thread: cgo, blocking syscalls, libraries without")
	say("             context support. At most WithBlockingPool(n) such handlers run at once; the")
	say("             rest wait for a slot, and async processes are never held up by them.")
	say("   thread:   thread-affine code: cgo libraries with thread-local state, OpenGL, setns.")
	say("             The process keeps one locked OS thread for its whole life.")
	return nil
}
