// Command spawned runs one of the workloads W1–W8 of BENCHMARKS.md on
// spawned-go, through its public API, and prints the figure as
//
//	RESULT spawned <workload> <value> <unit>
//
// on stdout (nothing else goes to stdout; notes go to stderr). Run one
// workload per process, so that each starts from a fresh runtime:
//
//	go run ./bench/cmd/spawned W2
//	QUICK=1 go run ./bench/cmd/spawned W2   # every N divided by 10
//	OBSERVE=all go run ./bench/cmd/spawned W2   # with events, labels, metrics and a trace on
//
// The node's logger is off while measuring.
package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/supervisor"
)

const system = "spawned"

// quick is set by QUICK=1: every N is divided by 10.
var quick = os.Getenv("QUICK") == "1"

// n scales a workload size for QUICK runs.
func n(full int) int {
	if quick {
		return full / 10
	}
	return full
}

var workloads = map[string]func() error{
	"W1": w1Spawn,
	"W2": w2Call,
	"W3": w3Cast,
	"W4": w4FanIn,
	"W5": w5Ring,
	"W6": w6Cascade,
	"W7": w7Restart,
	"W8": w8Lookup,
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: spawned W1|W2|W3|W4|W5|W6|W7|W8   (QUICK=1 divides every N by 10)")
		os.Exit(2)
	}
	id := strings.ToUpper(os.Args[1])
	run, ok := workloads[id]
	if !ok {
		fmt.Fprintf(os.Stderr, "spawned: unknown workload %q (want W1..W8)\n", os.Args[1])
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "spawned %s: %v\n", id, err)
		os.Exit(1)
	}
}

// result prints one RESULT line.
func result(workload string, value float64, unit string) {
	prec := 1
	if unit == "msgs/s" || unit == "bytes/proc" {
		prec = 0
	}
	fmt.Printf("RESULT %s %s %s %s\n", system, workload, strconv.FormatFloat(value, 'f', prec, 64), unit)
}

// note prints a diagnostic on stderr.
func note(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "NOTE "+system+" "+format+"\n", args...)
}

// newNode returns a node with its logger off, observed as OBSERVE says
// (nothing by default).
func newNode() *process.Node {
	node := process.NewNode(process.WithLogger(nil))
	observe(node)
	return node
}

// stopNode stops node, bounded by a generous timeout.
func stopNode(node *process.Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return node.Stop(ctx)
}

// workCtx is the context of a workload's starts and calls. It has no
// deadline, as the plain-Go programs have none: a pending timer makes the
// Go scheduler read the clock each time it picks a goroutine on that
// processor (it looks for timers due), which cost about 30 ns of W2's call
// when this context had one. A call is still bounded, by
// genserver.DefaultCallTimeout, and runall bounds each run.
func workCtx() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

// waitFor waits for ch, failing after a long while.
func waitFor(ch <-chan struct{}, what string) error {
	select {
	case <-ch:
		return nil
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("%s did not finish", what)
	}
}

// ---------------------------------------------------------------------------
// W1: start N minimal genservers, each able to answer a call.

// minimal is the smallest server that answers a call.
type minimal struct{ genserver.NoCasts }

func (*minimal) HandleCall(*genserver.CallCtx[struct{}], struct{}) (struct{}, error) {
	return struct{}{}, nil
}

// rssBytes reads the resident set size from /proc/self/statm.
func rssBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("statm: %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

// heapInUse collects garbage and returns the Go heap in use.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func w1Spawn() error {
	count := n(100_000)
	node := newNode()
	ctx, cancel := workCtx()
	defer cancel()
	refs := make([]genserver.Ref[struct{}, struct{}, genserver.Never], count)

	heapBefore := heapInUse()
	rssBefore, err := rssBytes()
	if err != nil {
		return err
	}
	start := time.Now()
	for i := range refs {
		// Start returns once the server's Init has finished.
		if refs[i], err = genserver.Start(ctx, node, &minimal{}); err != nil {
			return fmt.Errorf("start %d: %w", i, err)
		}
	}
	elapsed := time.Since(start)
	heapAfter := heapInUse()
	rssAfter, err := rssBytes()
	if err != nil {
		return err
	}
	// Every server is alive and answers.
	for _, i := range []int{0, count / 2, count - 1} {
		if _, err := refs[i].Call(ctx, struct{}{}); err != nil {
			return fmt.Errorf("call server %d: %w", i, err)
		}
	}
	if live := node.Stats().Processes; live < count {
		return fmt.Errorf("%d processes alive, want %d", live, count)
	}
	result("W1", float64(elapsed.Nanoseconds())/float64(count), "ns/proc")
	result("W1", float64(rssAfter-rssBefore)/float64(count), "bytes/proc")
	note("W1 heap %.0f bytes/proc (Go heap in use, %d servers; RSS %d -> %d bytes)",
		float64(int64(heapAfter)-int64(heapBefore))/float64(count), count, rssBefore, rssAfter)
	runtime.KeepAlive(refs)
	return stopNode(node) // stop all
}

// ---------------------------------------------------------------------------
// W2–W4: one counting server.

// countMsg is a cast that costs no allocation to box.
type countMsg struct{}

// counter counts casts; a call adds its argument and replies with the count.
type counter struct{ n int }

func (c *counter) HandleCall(_ *genserver.CallCtx[int], add int) (int, error) {
	c.n += add
	return c.n, nil
}

func (c *counter) HandleCast(*genserver.Ctx, countMsg) { c.n++ }

type counterRef = genserver.Ref[int, int, countMsg]

func startCounter(ctx context.Context, node *process.Node) (counterRef, error) {
	return genserver.Start(ctx, node, &counter{})
}

// w2Call measures W2 on a default server, then, as the figure W2direct,
// on a server started with genserver.WithDirectCalls, whose HandleCall
// runs on the caller's goroutine when the server is idle.
func w2Call() error {
	node := newNode()
	ctx, cancel := workCtx()
	defer cancel()
	for _, w := range []struct {
		figure string
		opts   []genserver.Option
	}{
		{"W2", nil},
		{"W2direct", []genserver.Option{genserver.WithDirectCalls()}},
	} {
		ref, err := genserver.Start(ctx, node, &counter{}, w.opts...)
		if err != nil {
			return err
		}
		perCall, err := callRoundTrips(ctx, ref)
		if err != nil {
			return fmt.Errorf("%s: %w", w.figure, err)
		}
		result(w.figure, perCall, "ns/call")
	}
	return stopNode(node)
}

// callRoundTrips makes W2's calls to ref, after its warm-up, and returns
// the time per call in nanoseconds.
func callRoundTrips(ctx context.Context, ref counterRef) (float64, error) {
	calls := n(1_000_000)
	for range 10_000 { // warm-up, not divided by QUICK
		if _, err := ref.Call(ctx, 0); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	for range calls {
		if _, err := ref.Call(ctx, 1); err != nil {
			return 0, err
		}
	}
	elapsed := time.Since(start)
	if got, err := ref.Call(ctx, 0); err != nil || got != calls {
		return 0, fmt.Errorf("server counted %d (%v); want %d", got, err, calls)
	}
	return float64(elapsed.Nanoseconds()) / float64(calls), nil
}

func w3Cast() error {
	casts := n(2_000_000)
	node := newNode()
	ctx, cancel := workCtx()
	defer cancel()
	ref, err := startCounter(ctx, node)
	if err != nil {
		return err
	}
	start := time.Now()
	for range casts {
		if err := ref.Cast(countMsg{}); err != nil {
			return err
		}
	}
	got, err := ref.Call(ctx, 0) // handled after every cast before it
	elapsed := time.Since(start)
	if err != nil || got != casts {
		return fmt.Errorf("server counted %d (%v); want %d", got, err, casts)
	}
	result("W3", float64(casts)/elapsed.Seconds(), "msgs/s")
	return stopNode(node)
}

func w4FanIn() error {
	const senders = 8
	each := n(250_000)
	node := newNode()
	ctx, cancel := workCtx()
	defer cancel()
	ref, err := startCounter(ctx, node)
	if err != nil {
		return err
	}
	var ready, done sync.WaitGroup
	go1 := make(chan struct{})
	var failed atomic.Value
	for range senders {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-go1
			for range each {
				if err := ref.Cast(countMsg{}); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	ready.Wait()
	start := time.Now()
	close(go1)
	done.Wait()
	// Each sender's casts precede this call in the mailbox once it has
	// returned, so the reply counts them all.
	got, err := ref.Call(ctx, 0)
	elapsed := time.Since(start)
	if e, _ := failed.Load().(error); e != nil {
		return e
	}
	if err != nil || got != senders*each {
		return fmt.Errorf("server counted %d (%v); want %d", got, err, senders*each)
	}
	result("W4", float64(senders*each)/elapsed.Seconds(), "msgs/s")
	return stopNode(node)
}

// ---------------------------------------------------------------------------
// W5: a ring of Handler processes passing one token.

// token is passed around the ring: one pointer, so forwarding it allocates
// nothing in this program's own code.
type token struct{ left int }

type ringNode struct {
	next pid.Pid
	done chan struct{}
}

func (r *ringNode) HandleMessage(p *process.Process, msg any) error {
	tok := msg.(*token)
	if tok.left == 0 {
		close(r.done)
		return nil
	}
	tok.left--
	return p.Send(r.next, tok)
}

func w5Ring() error {
	size := n(10_000)
	const rounds = 100
	hops := size * rounds
	node := newNode()
	done := make(chan struct{})
	ring := make([]*ringNode, size)
	pids := make([]pid.Pid, size)
	for i := range ring {
		ring[i] = &ringNode{done: done}
		p, err := node.SpawnHandler(ring[i])
		if err != nil {
			return err
		}
		pids[i] = p
	}
	for i := range ring {
		ring[i].next = pids[(i+1)%size]
	}
	start := time.Now()
	// The process that gets the token with no hops left stops the clock:
	// that is after exactly hops sends.
	if err := node.Send(pids[0], &token{left: hops}); err != nil {
		return err
	}
	if err := waitFor(done, "ring"); err != nil {
		return err
	}
	elapsed := time.Since(start)
	result("W5", float64(elapsed.Nanoseconds())/float64(hops), "ns/hop")
	return stopNode(node)
}

// ---------------------------------------------------------------------------
// W6: an exit cascading along a chain of linked processes.

// chainLink links itself to prev as it starts and then ignores messages.
// It does not trap exits.
type chainLink struct {
	prev  pid.Pid
	ready *sync.WaitGroup
	err   *atomic.Value
}

func (c *chainLink) Init(p *process.Process) error {
	defer c.ready.Done()
	if !c.prev.IsZero() {
		if err := link.Link(p, c.prev); err != nil {
			c.err.Store(err)
		}
	}
	return nil
}

func (*chainLink) HandleMessage(*process.Process, any) error { return nil }

type cascadeError struct{}

func (cascadeError) Error() string { return "cascade" }

func w6Cascade() error {
	length := n(10_000)
	node := newNode()
	var ready sync.WaitGroup
	var linkErr atomic.Value
	var first, prev pid.Pid
	for i := range length {
		ready.Add(1)
		p, err := node.SpawnHandler(&chainLink{prev: prev, ready: &ready, err: &linkErr})
		if err != nil {
			return err
		}
		if i == 0 {
			first = p
		}
		prev = p
	}
	ready.Wait()
	if e, _ := linkErr.Load().(error); e != nil {
		return fmt.Errorf("link: %w", e)
	}
	last := make(chan error, 1)
	if _, err := link.Watch(node, prev, func(d link.Down) { last <- d.Reason }); err != nil {
		return err
	}
	start := time.Now()
	if err := node.Exit(first, cascadeError{}); err != nil {
		return err
	}
	var reason error
	select {
	case reason = <-last:
	case <-time.After(10 * time.Minute):
		return errors.New("cascade did not reach the last process")
	}
	elapsed := time.Since(start)
	if !errors.Is(reason, cascadeError{}) {
		return fmt.Errorf("last process died of %v; want cascade", reason)
	}
	if live := node.Stats().Processes; live != 0 {
		note("W6 %d processes still alive after the cascade", live)
	}
	result("W6", float64(elapsed.Nanoseconds())/float64(length), "ns/proc")
	return stopNode(node)
}

// ---------------------------------------------------------------------------
// W7: crash a supervised, registered server and call it by name until the
// restarted one answers.

// selfServer answers a call with its own Pid, so the caller can tell a
// restarted server from the one it crashed.
type selfServer struct{ genserver.NoCasts }

func (*selfServer) HandleCall(c *genserver.CallCtx[pid.Pid], _ struct{}) (pid.Pid, error) {
	return c.Self(), nil
}

type crashError struct{}

func (crashError) Error() string { return "crash" }

func w7Restart() error {
	const name = "w7"
	restarts := n(1_000)
	node := newNode()
	ctx, cancel := workCtx()
	defer cancel()
	if _, err := supervisor.Start(ctx, node, supervisor.Spec{
		Strategy:  supervisor.OneForOne,
		Intensity: 1 << 30, // never give up within the run
		Period:    time.Second,
		Children: []supervisor.ChildSpec{{
			ID:      name,
			Restart: supervisor.Permanent,
			Start: supervisor.GenServer(func() *selfServer { return &selfServer{} },
				genserver.WithName(name)),
		}},
	}); err != nil {
		return err
	}
	ref := genserver.Named[struct{}, pid.Pid, genserver.Never](node, name)
	cur, err := ref.Call(ctx, struct{}{})
	if err != nil {
		return err
	}
	reg := registry.Of(node)
	retries := 0
	each := make([]time.Duration, 0, restarts)
	start := time.Now()
	last := start
	for i := range restarts {
		if p, ok := reg.WhereIs(name); !ok || p != cur {
			return fmt.Errorf("restart %d: %q is %v, want %v", i, name, p, cur)
		}
		if err := node.Exit(cur, crashError{}); err != nil { // abnormal exit
			return err
		}
		for {
			p, err := ref.Call(ctx, struct{}{})
			if err == nil && p != cur {
				cur = p
				now := time.Now()
				each = append(each, now.Sub(last))
				last = now
				break
			}
			if err != nil && !errors.Is(err, process.NoProc) && !errors.Is(err, crashError{}) {
				return fmt.Errorf("restart %d: %w", i, err)
			}
			retries++
			runtime.Gosched()
		}
	}
	elapsed := time.Since(start)
	result("W7", float64(elapsed.Nanoseconds())/1e3/float64(restarts), "us/restart")
	note("W7 %d calls failed or reached the old server while restarting (%.2f per restart)",
		retries, float64(retries)/float64(restarts))
	note("W7 %s", spread(each))
	return stopNode(node)
}

// ---------------------------------------------------------------------------
// W8: random lookups in a registry of 10,000 names from 2 goroutines.

type idle struct{}

func (idle) HandleMessage(*process.Process, any) error { return nil }

func w8Lookup() error {
	const names = 10_000 // the registry's size is not scaled by QUICK
	const goroutines = 2
	each := n(1_000_000)
	node := newNode()
	keys := make([]string, names)
	for i := range keys {
		keys[i] = "w8-" + strconv.Itoa(i)
		if _, err := node.SpawnHandler(idle{}, process.WithName(keys[i])); err != nil {
			return err
		}
	}
	reg := registry.Of(node)
	// The random index sequences are drawn before the clock starts, so
	// the RNG is not measured; 2 bytes an entry keeps them small.
	seqs := make([][]uint16, goroutines)
	for g := range seqs {
		rng := rand.New(rand.NewPCG(uint64(g)+1, 8))
		seqs[g] = make([]uint16, each)
		for i := range seqs[g] {
			seqs[g][i] = uint16(rng.IntN(names))
		}
	}
	var ready, done sync.WaitGroup
	var misses atomic.Int64
	begin := make(chan struct{})
	for g := range goroutines {
		ready.Add(1)
		done.Add(1)
		go func(seq []uint16) {
			defer done.Done()
			ready.Done()
			<-begin
			miss := 0
			for _, k := range seq {
				if _, ok := reg.WhereIs(keys[k]); !ok {
					miss++
				}
			}
			misses.Add(int64(miss))
		}(seqs[g])
	}
	ready.Wait()
	start := time.Now()
	close(begin)
	done.Wait()
	elapsed := time.Since(start)
	if m := misses.Load(); m != 0 {
		return fmt.Errorf("%d lookups missed", m)
	}
	result("W8", float64(elapsed.Nanoseconds())/float64(goroutines*each), "ns/lookup")
	return stopNode(node)
}

// spread describes how long each of the restarts took: a few restarts
// that wait out a thread's time off the CPU (an operating system tick, 4
// ms) set the mean of a run of 1,000, so the median tells the restart's
// own cost.
func spread(each []time.Duration) string {
	if len(each) == 0 {
		return "no restart"
	}
	s := slices.Clone(each)
	slices.Sort(s)
	slow := len(s) - sort.Search(len(s), func(i int) bool { return s[i] > time.Millisecond })
	return fmt.Sprintf("restarts: median %v, 99th percentile %v, slowest %v; %d of %d over 1 ms",
		s[len(s)/2].Round(100*time.Nanosecond), s[len(s)*99/100].Round(100*time.Nanosecond),
		s[len(s)-1].Round(time.Microsecond), slow, len(s))
}
