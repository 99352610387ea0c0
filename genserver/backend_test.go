//go:build linux

package genserver_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Backend equivalence: the same scripts give the same transcripts on every
// backend; servers on different backends call each other; a blocked Thread
// server holds up nobody; a Thread server's callbacks share one OS thread.

var (
	errBeqStop    = errors.New("beq stop")
	errBeqRefused = errors.New("refused")
)

type beqOp int

const (
	beqAdd beqOp = iota
	beqGet
	beqFail
	beqHold  // keep From; answered by a later release cast
	beqTimer // keep From; answered from HandleInfo when a SendAfter fires
	beqStopCall
	beqPanic
)

func (o beqOp) String() string {
	return [...]string{"add", "get", "fail", "hold", "timer", "stop", "panic"}[o]
}

type beqReq struct {
	Op beqOp
	N  int
}

func (r beqReq) String() string { return fmt.Sprintf("%v(%d)", r.Op, r.N) }

type beqCast struct {
	Release bool // answer held calls, each from its own goroutine
	N       int
}

type beqInfo struct{ N int }

type beqTick struct{}

// beqServer is the scripted server of the equivalence test.
type beqServer struct {
	n          int
	held       []genserver.From[int]
	timerFrom  genserver.From[int]
	holding    chan struct{} // a call is held
	replies    chan string   // results of From.Reply, twice per release
	terminated chan error
}

func newBeqServer() *beqServer {
	return &beqServer{
		holding:    make(chan struct{}, 8),
		replies:    make(chan string, 8),
		terminated: make(chan error, 1),
	}
}

func (s *beqServer) HandleCall(ctx *genserver.CallCtx[int], req beqReq) (int, error) {
	switch req.Op {
	case beqAdd:
		s.n += req.N
	case beqFail:
		return 0, fmt.Errorf("%d: %w", req.N, errBeqRefused)
	case beqHold:
		s.held = append(s.held, ctx.From())
		s.holding <- struct{}{}
		return ctx.NoReply()
	case beqTimer:
		s.timerFrom = ctx.From()
		if _, err := ctx.SendAfter(beqTick{}, time.Millisecond); err != nil {
			return 0, err
		}
		return ctx.NoReply()
	case beqStopCall:
		ctx.Stop(errBeqStop)
	case beqPanic:
		panic("beq boom")
	}
	return s.n, nil
}

func (s *beqServer) HandleCast(_ *genserver.Ctx, m beqCast) {
	if !m.Release {
		s.n += m.N
		return
	}
	var wg sync.WaitGroup
	for _, f := range s.held {
		wg.Add(1)
		go func(v int) {
			defer wg.Done()
			first, second := f.Reply(v, nil), f.Reply(v+1, nil)
			s.replies <- fmt.Sprintf("reply %v then %v", first, second)
		}(s.n)
	}
	wg.Wait()
	s.held = nil
}

func (s *beqServer) HandleInfo(_ *genserver.Ctx, msg any) {
	switch m := msg.(type) {
	case beqInfo:
		s.n += m.N
	case beqTick:
		s.timerFrom.Reply(s.n*10, nil)
	}
}

func (s *beqServer) Terminate(_ *genserver.Ctx, reason error) { s.terminated <- reason }

// beqDescribe renders a call's error for a transcript.
func beqDescribe(err error) string {
	if err == nil {
		return "ok"
	}
	var ce *genserver.CallError
	if errors.As(err, &ce) {
		return "call-error(" + beqReason(ce.Reason) + ")"
	}
	return "error(" + err.Error() + ")"
}

// beqReason renders an exit reason for a transcript.
func beqReason(reason error) string {
	var pe *process.PanicError
	switch {
	case errors.As(reason, &pe):
		return fmt.Sprintf("panic %v", pe.Value)
	case errors.Is(reason, process.NoProc):
		return "noproc"
	case errors.Is(reason, process.Killed):
		return "killed"
	case errors.Is(reason, errBeqStop):
		return "stop"
	case errors.Is(reason, process.Normal):
		return "normal"
	case errors.Is(reason, genserver.ErrTimeout):
		return "timeout"
	}
	return "other " + reason.Error()
}

// beqRun drives one script against one server and records what it sees.
type beqRun struct {
	t     *testing.T
	ctx   context.Context
	node  *process.Node
	srv   *beqServer
	ref   genserver.Ref[beqReq, int, beqCast]
	exit  *spawntest.ExitWatch
	held  chan string
	lines []string
}

type beqStep func(r *beqRun)

func (r *beqRun) log(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func beqCall(op beqOp, n int) beqStep {
	return func(r *beqRun) {
		req := beqReq{Op: op, N: n}
		v, err := r.ref.Call(r.ctx, req)
		r.log("call %v -> %d %s", req, v, beqDescribe(err))
	}
}

func beqCastAdd(n int) beqStep {
	return func(r *beqRun) { r.log("cast add(%d) -> %v", n, r.ref.Cast(beqCast{N: n})) }
}

func beqSendInfo(n int) beqStep {
	return func(r *beqRun) { r.log("info add(%d) -> %v", n, r.node.Send(r.ref.Pid(), beqInfo{N: n})) }
}

// beqHoldCall starts a held call from another goroutine and waits until
// the server holds it.
func beqHoldCall(r *beqRun) {
	go func() {
		v, err := r.ref.Call(r.ctx, beqReq{Op: beqHold})
		r.held <- fmt.Sprintf("held call -> %d %s", v, beqDescribe(err))
	}()
	spawntest.Recv(r.t, r.srv.holding)
}

// beqCollect logs the result of the held call.
func beqCollect(r *beqRun) { r.log("%s", spawntest.Recv(r.t, r.held)) }

func beqRelease(r *beqRun) {
	r.log("cast release -> %v", r.ref.Cast(beqCast{Release: true}))
	beqCollect(r)
	r.log("%s", spawntest.Recv(r.t, r.srv.replies))
}

// beqExited logs the exit reason and whether Terminate ran before it.
func beqExited(r *beqRun) {
	r.log("exit %s", beqReason(r.exit.Wait()))
	select {
	case reason := <-r.srv.terminated:
		r.log("terminate %s", beqReason(reason))
	default:
		r.log("terminate not run")
	}
}

func beqRefStop(reason error) beqStep {
	return func(r *beqRun) { r.log("stop -> %s", beqDescribe(r.ref.Stop(r.ctx, reason))) }
}

func beqKill(r *beqRun) { r.log("kill -> %v", r.node.Exit(r.ref.Pid(), process.Kill)) }

func beqRunScript(t *testing.T, b process.Backend, steps []beqStep) []string {
	t.Helper()
	node := spawntest.NewNode(t)
	r := &beqRun{t: t, ctx: spawntest.Context(t), node: node, srv: newBeqServer(),
		held: make(chan string, 8)}
	ref, err := genserver.Start(r.ctx, node, r.srv, genserver.WithBackend(b))
	if err != nil {
		t.Fatalf("%v: start: %v", b, err)
	}
	r.ref = ref
	r.exit = spawntest.WatchExit(t, node, ref.Pid())
	for _, step := range steps {
		step(r)
	}
	return r.lines
}

func TestBackend_EquivalentTranscripts(t *testing.T) {
	t.Parallel()
	scripts := []struct {
		name  string
		steps []beqStep
		want  []string
	}{
		{
			name: "ctx-stop",
			steps: []beqStep{
				beqCall(beqAdd, 5), beqCastAdd(3), beqSendInfo(2), beqCall(beqGet, 0),
				beqCall(beqFail, 7), beqCall(beqGet, 0),
				beqHoldCall, beqCastAdd(1), beqRelease,
				beqCall(beqTimer, 0),
				beqHoldCall, beqCall(beqStopCall, 0), beqCollect, beqExited,
				beqCall(beqGet, 0), beqCastAdd(1), beqRefStop(nil),
			},
			want: []string{
				"call add(5) -> 5 ok",
				"cast add(3) -> <nil>",
				"info add(2) -> <nil>",
				"call get(0) -> 10 ok",
				"call fail(7) -> 0 error(7: refused)",
				"call get(0) -> 10 ok",
				"cast add(1) -> <nil>",
				"cast release -> <nil>",
				"held call -> 11 ok",
				"reply true then false",
				"call timer(0) -> 110 ok",
				"call stop(0) -> 11 ok",
				"held call -> 0 call-error(stop)",
				"exit stop",
				"terminate stop",
				"call get(0) -> 0 call-error(noproc)",
				"cast add(1) -> <nil>",
				"stop -> call-error(noproc)",
			},
		},
		{
			name: "panic",
			steps: []beqStep{
				beqCall(beqAdd, 1), beqHoldCall, beqCastAdd(1), beqCall(beqPanic, 0),
				beqCollect, beqExited, beqCall(beqGet, 0),
			},
			want: []string{
				"call add(1) -> 1 ok",
				"cast add(1) -> <nil>",
				"call panic(0) -> 0 call-error(panic beq boom)",
				"held call -> 0 call-error(panic beq boom)",
				"exit panic beq boom",
				"terminate panic beq boom",
				"call get(0) -> 0 call-error(noproc)",
			},
		},
		{
			name: "ref-stop",
			steps: []beqStep{
				beqSendInfo(4), beqCall(beqGet, 0), beqRefStop(errBeqStop), beqExited,
				beqCall(beqAdd, 1),
			},
			want: []string{
				"info add(4) -> <nil>",
				"call get(0) -> 4 ok",
				"stop -> ok",
				"exit stop",
				"terminate stop",
				"call add(1) -> 0 call-error(noproc)",
			},
		},
		{
			name: "kill",
			steps: []beqStep{
				beqCall(beqAdd, 2), beqHoldCall, beqKill, beqCollect, beqExited,
				beqCastAdd(1), beqCall(beqGet, 0),
			},
			want: []string{
				"call add(2) -> 2 ok",
				"kill -> <nil>",
				"held call -> 0 call-error(killed)",
				"exit killed",
				"terminate not run",
				"cast add(1) -> <nil>",
				"call get(0) -> 0 call-error(noproc)",
			},
		},
	}
	for _, sc := range scripts {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			got := make(map[process.Backend][]string)
			for _, b := range spawntest.Backends() {
				got[b] = beqRunScript(t, b, sc.steps)
			}
			for _, b := range spawntest.Backends() {
				if !slices.Equal(got[b], got[process.Async]) {
					t.Errorf("%v transcript differs from async:\n%v:\n  %s\nasync:\n  %s", b, b,
						strings.Join(got[b], "\n  "), strings.Join(got[process.Async], "\n  "))
				}
			}
			if !slices.Equal(got[process.Async], sc.want) {
				t.Errorf("async transcript:\n  %s\nwant:\n  %s",
					strings.Join(got[process.Async], "\n  "), strings.Join(sc.want, "\n  "))
			}
		})
	}
}

// Cross-backend calls.

type beqHopKind int

const (
	beqHopPath  beqHopKind = iota // reply with the backends along the chain
	beqHopDefer                   // the same, each hop answering through From
	beqHopFail                    // the last hop refuses; the error comes back unchanged
	beqHopCount                   // each hop's backend and cast count
)

type beqHop struct{ Kind beqHopKind }

type beqHopCast struct{}

type beqRelayRef = genserver.Ref[beqHop, string, beqHopCast]

// beqRelay answers a call by calling next (if any) and prefixing its own
// backend; casts are counted and forwarded.
type beqRelay struct {
	next  *beqRelayRef
	casts int
}

func (r *beqRelay) HandleCall(ctx *genserver.CallCtx[string], req beqHop) (string, error) {
	me := ctx.Process().Backend().String()
	if req.Kind == beqHopCount {
		me += ":" + strconv.Itoa(r.casts)
	}
	if r.next == nil {
		if req.Kind == beqHopFail {
			return "", fmt.Errorf("%s: %w", me, errBeqRefused)
		}
		return me, nil
	}
	if req.Kind == beqHopDefer {
		from, next, cctx := ctx.From(), *r.next, ctx.Context()
		go func() {
			rest, err := next.Call(cctx, req)
			if err != nil {
				from.Reply("", err)
				return
			}
			from.Reply(me+">"+rest, nil)
		}()
		return ctx.NoReply()
	}
	rest, err := r.next.Call(ctx.Context(), req)
	if err != nil {
		return "", err
	}
	return me + ">" + rest, nil
}

func (r *beqRelay) HandleCast(_ *genserver.Ctx, m beqHopCast) {
	r.casts++
	if r.next != nil {
		r.next.Cast(m)
	}
}

// beqChain starts relays on bs, the first calling the second and so on, and
// returns the first.
func beqChain(t *testing.T, node *process.Node, bs ...process.Backend) beqRelayRef {
	t.Helper()
	ctx := spawntest.Context(t)
	var next *beqRelayRef
	for i := len(bs) - 1; i >= 0; i-- {
		ref, err := genserver.Start(ctx, node, &beqRelay{next: next}, genserver.WithBackend(bs[i]))
		if err != nil {
			t.Fatalf("start relay on %v: %v", bs[i], err)
		}
		next = &ref
	}
	return *next
}

// beqCheckChain checks every kind of hop through the chain on bs.
func beqCheckChain(t *testing.T, bs ...process.Backend) {
	t.Helper()
	node := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	head := beqChain(t, node, bs...)
	var names, counts []string
	for _, b := range bs {
		names = append(names, b.String())
		counts = append(counts, b.String()+":3")
	}
	path := strings.Join(names, ">")
	for _, kind := range []beqHopKind{beqHopPath, beqHopDefer} {
		got, err := head.Call(ctx, beqHop{Kind: kind})
		if err != nil || got != path {
			t.Errorf("call kind %d = %q, %v; want %q", kind, got, err, path)
		}
	}
	_, err := head.Call(ctx, beqHop{Kind: beqHopFail})
	var ce *genserver.CallError
	if !errors.Is(err, errBeqRefused) || errors.As(err, &ce) {
		t.Errorf("failing call = %v; want the last hop's own error, not a CallError", err)
	}
	want := bs[len(bs)-1].String() + ": refused"
	if err != nil && err.Error() != want {
		t.Errorf("failing call error %q; want %q", err, want)
	}
	for range 3 {
		if err := head.Cast(beqHopCast{}); err != nil {
			t.Fatalf("cast: %v", err)
		}
	}
	got, err := head.Call(ctx, beqHop{Kind: beqHopCount})
	if want := strings.Join(counts, ">"); err != nil || got != want {
		t.Errorf("count = %q, %v; want %q", got, err, want)
	}
}

func TestBackend_CrossBackendCallMatrix(t *testing.T) {
	t.Parallel()
	for _, x := range spawntest.Backends() {
		for _, y := range spawntest.Backends() {
			t.Run(x.String()+"-to-"+y.String(), func(t *testing.T) {
				t.Parallel()
				beqCheckChain(t, x, y)
			})
		}
	}
}

func TestBackend_CrossBackendCallChain(t *testing.T) {
	t.Parallel()
	t.Run("async-thread-blocking-async", func(t *testing.T) {
		t.Parallel()
		beqCheckChain(t, process.Async, process.Thread, process.Blocking, process.Async)
	})
	t.Run("thread-blocking-async-thread", func(t *testing.T) {
		t.Parallel()
		beqCheckChain(t, process.Thread, process.Blocking, process.Async, process.Thread)
	})
}

// A blocked Thread (or Blocking) server does not hold up an Async server's
// timer.

// beqTicker counts the ticks of a 5ms interval timer set in Init.
type beqTicker struct {
	genserver.NoCalls
	genserver.NoCasts
	ticks chan struct{}
}

func (k *beqTicker) Init(ctx *genserver.Ctx) error {
	_, err := ctx.SendInterval(beqTick{}, 5*time.Millisecond)
	return err
}

func (k *beqTicker) HandleInfo(_ *genserver.Ctx, msg any) {
	if _, ok := msg.(beqTick); ok {
		select {
		case k.ticks <- struct{}{}:
		default:
		}
	}
}

type beqBlockHow int

const (
	beqBlockNone    beqBlockHow = iota
	beqBlockChan                // wait on a channel
	beqBlockSyscall             // a blocking read(2) on a pipe: the OS thread itself is stuck
)

type beqBlockReq struct{ How beqBlockHow }

// beqBlocker blocks inside a callback until the test releases it, standing
// for long cgo work.
type beqBlocker struct {
	entered chan struct{}
	release chan struct{}
	fd      int
}

func (s *beqBlocker) block(how beqBlockHow) {
	if how == beqBlockNone {
		return
	}
	s.entered <- struct{}{}
	if how == beqBlockSyscall {
		var buf [1]byte
		for {
			if _, err := syscall.Read(s.fd, buf[:]); err != syscall.EINTR {
				return
			}
		}
	}
	<-s.release
}

func (s *beqBlocker) HandleCall(_ *genserver.CallCtx[string], req beqBlockReq) (string, error) {
	s.block(req.How)
	return "done", nil
}

func (s *beqBlocker) HandleCast(_ *genserver.Ctx, m beqBlockReq) { s.block(m.How) }

func TestBackend_BlockedServerDoesNotDelayAsyncTimer(t *testing.T) {
	t.Parallel()
	const wantTicks = 10
	cases := []struct {
		name    string
		backend process.Backend
		how     beqBlockHow
		cast    bool
	}{
		{"thread/call-chan", process.Thread, beqBlockChan, false},
		{"thread/cast-chan", process.Thread, beqBlockChan, true},
		{"thread/cast-syscall", process.Thread, beqBlockSyscall, true},
		{"blocking/call-chan", process.Blocking, beqBlockChan, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var fds [2]int
			if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
				t.Fatalf("pipe: %v", err)
			}
			t.Cleanup(func() { syscall.Close(fds[0]); syscall.Close(fds[1]) }) // after the node has stopped
			node := spawntest.NewNode(t)
			ctx := spawntest.Context(t)
			blocker := &beqBlocker{entered: make(chan struct{}, 1), release: make(chan struct{}), fd: fds[0]}
			var once sync.Once
			release := func() {
				once.Do(func() {
					close(blocker.release)
					syscall.Write(fds[1], []byte{1})
				})
			}
			t.Cleanup(release) // runs before the node stops, so the stop never waits on the blocker
			srv, err := genserver.Start(ctx, node, blocker, genserver.WithBackend(tc.backend))
			if err != nil {
				t.Fatalf("start blocker: %v", err)
			}
			ticker := &beqTicker{ticks: make(chan struct{}, 1024)}
			if _, err := genserver.Start(ctx, node, ticker); err != nil {
				t.Fatalf("start ticker: %v", err)
			}

			callDone := make(chan error, 1)
			if tc.cast {
				srv.Cast(beqBlockReq{How: tc.how})
			} else {
				go func() {
					_, err := srv.Call(ctx, beqBlockReq{How: tc.how})
					callDone <- err
				}()
			}
			spawntest.Recv(t, blocker.entered)
			for len(ticker.ticks) > 0 { // count only ticks that arrive while it is blocked
				<-ticker.ticks
			}
			deadline := time.After(spawntest.Timeout)
			for i := range wantTicks {
				select {
				case <-ticker.ticks:
				case <-deadline:
					t.Fatalf("only %d of %d ticks arrived while the %v server was blocked", i, wantTicks, tc.backend)
				}
			}
			select {
			case err := <-callDone:
				t.Fatalf("the blocked call returned early: %v", err)
			default:
			}
			if info, err := node.Info(srv.Pid()); err != nil || info.Status != process.Running {
				t.Errorf("blocker info = %+v, %v; want it running its callback", info, err)
			}
			release()
			if !tc.cast {
				if err := spawntest.Recv(t, callDone); err != nil {
					t.Errorf("blocked call: %v", err)
				}
			}
			if got, err := srv.Call(ctx, beqBlockReq{}); err != nil || got != "done" {
				t.Errorf("call after release = %q, %v", got, err)
			}
		})
	}
}

// Thread affinity.

type beqTidReq struct{ Panic bool }

type beqTidMsg struct{}

// beqTidServer records the OS thread of every callback.
type beqTidServer struct {
	mu    sync.Mutex
	seen  map[string][]int
	ready chan struct{} // closed by Init
}

func newBeqTidServer() *beqTidServer {
	return &beqTidServer{seen: make(map[string][]int), ready: make(chan struct{})}
}

func (s *beqTidServer) note(callback string) {
	tid := syscall.Gettid()
	s.mu.Lock()
	s.seen[callback] = append(s.seen[callback], tid)
	s.mu.Unlock()
	runtime.Gosched() // give an unlocked goroutine the chance to move
}

func (s *beqTidServer) Init(ctx *genserver.Ctx) error {
	s.note("Init")
	_, err := ctx.SendInterval(beqTidMsg{}, time.Millisecond)
	return err
}

func (s *beqTidServer) HandleCall(_ *genserver.CallCtx[int], req beqTidReq) (int, error) {
	s.note("HandleCall")
	if req.Panic {
		panic("beq tid boom")
	}
	return syscall.Gettid(), nil
}

func (s *beqTidServer) HandleCast(*genserver.Ctx, beqTidReq) { s.note("HandleCast") }

func (s *beqTidServer) HandleInfo(*genserver.Ctx, any) { s.note("HandleInfo") }

func (s *beqTidServer) Terminate(*genserver.Ctx, error) { s.note("Terminate") }

// threads returns the distinct threads seen, and the callbacks seen.
func (s *beqTidServer) threads() (tids []int, callbacks []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cb, ts := range s.seen {
		callbacks = append(callbacks, cb)
		for _, tid := range ts {
			if !slices.Contains(tids, tid) {
				tids = append(tids, tid)
			}
		}
	}
	slices.Sort(callbacks)
	return tids, callbacks
}

func TestBackend_ThreadCallbacksShareOneOSThread(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	ctx := spawntest.Context(t)

	// Busy goroutines keep the scheduler moving goroutines between threads.
	stop := make(chan struct{})
	var churn sync.WaitGroup
	for range 4 {
		churn.Add(1)
		go func() {
			defer churn.Done()
			for {
				select {
				case <-stop:
					return
				default:
					runtime.Gosched()
				}
			}
		}()
	}
	defer func() { close(stop); churn.Wait() }()

	a, b := newBeqTidServer(), newBeqTidServer()
	refA, err := genserver.Start(ctx, node, a, genserver.WithBackend(process.Thread))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	refB, err := genserver.Start(ctx, node, b, genserver.WithBackend(process.Thread))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	for range 200 {
		for _, ref := range []genserver.Ref[beqTidReq, int, beqTidReq]{refA, refB} {
			if _, err := ref.Call(ctx, beqTidReq{}); err != nil {
				t.Fatalf("call: %v", err)
			}
			ref.Cast(beqTidReq{})
			node.Send(ref.Pid(), "info")
		}
	}
	tidA, err := refA.Call(ctx, beqTidReq{})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	tidB, err := refB.Call(ctx, beqTidReq{})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if tidA == tidB {
		t.Errorf("two live Thread servers share OS thread %d", tidA)
	}
	if err := refA.Stop(ctx, nil); err != nil {
		t.Fatalf("stop: %v", err)
	}
	_, err = refB.Call(ctx, beqTidReq{Panic: true})
	var pe *process.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("panicking call = %v; want a PanicError", err)
	}
	spawntest.WaitExit(t, node, refB.Pid())

	all := []string{"HandleCall", "HandleCast", "HandleInfo", "Init", "Terminate"}
	for name, s := range map[string]*beqTidServer{"stopped": a, "panicked": b} {
		tids, callbacks := s.threads()
		if len(tids) != 1 {
			t.Errorf("%s server: callbacks ran on %d OS threads %v; want one", name, len(tids), tids)
		}
		if !slices.Equal(callbacks, all) {
			t.Errorf("%s server: callbacks seen %v; want %v", name, callbacks, all)
		}
	}
}
