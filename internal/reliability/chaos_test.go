package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// The chaos suite: a three-level supervision tree of named servers on
// mixed backends, under call and cast load from many goroutines calling by
// name, while a chaos goroutine kills leaves and middle supervisors at random.

const (
	chaosClients      = 8
	chaosCallDeadline = 100 * time.Millisecond // the deadline of every client call
	// chaosCallMargin is how late after its deadline a call may return: the
	// time a loaded 2-core machine under -race may take to schedule the
	// caller again (400 ms seen in a long run at load average 13). A call
	// later than that hung.
	chaosCallMargin = time.Second
	chaosTick       = 5 * time.Millisecond // one chaos operation per tick
	chaosSampleTick = time.Millisecond     // one registry sample per tick
	chaosTopName    = "chaos-top"
)

// errChaos is the custom reason of the abnormal exits chaos causes.
var errChaos = errors.New("chaos: abnormal exit")

// chaosReq is a call to a leaf: "ping" answers, "panic" panics, "stop"
// answers and then stops the server with process.Normal.
type chaosReq struct{ Op string }

// chaosRep is a leaf's answer: its id (so a misrouted call shows) and the
// casts it has handled.
type chaosRep struct {
	ID    string
	Casts int
}

type chaosCast struct{}

// chaosWorker is a leaf of the tree.
type chaosWorker struct {
	id    string
	casts int
}

func (w *chaosWorker) HandleCall(ctx *genserver.CallCtx[chaosRep], req chaosReq) (chaosRep, error) {
	switch req.Op {
	case "panic":
		panic("chaos: panic in " + w.id)
	case "stop":
		ctx.Stop(process.Normal)
	}
	return chaosRep{ID: w.id, Casts: w.casts}, nil
}

func (w *chaosWorker) HandleCast(_ *genserver.Ctx, _ chaosCast) { w.casts++ }

func chaosNamed(n *process.Node, name string) genserver.Ref[chaosReq, chaosRep, chaosCast] {
	return genserver.Named[chaosReq, chaosRep, chaosCast](n, name)
}

type chaosKind uint8

const (
	chaosOneForAll chaosKind = iota
	chaosRestForOne
	chaosDynamic
	chaosFragile // one_for_one with an intensity low enough to be exceeded
)

type chaosLeaf struct {
	id      string
	backend process.Backend
}

// chaosGroup is a middle supervisor and its leaves.
type chaosGroup struct {
	id      string
	kind    chaosKind
	backend process.Backend
	leaves  []chaosLeaf
}

// chaosGroups is the shape of the tree under the top one_for_one supervisor.
var chaosGroups = []chaosGroup{
	{id: "chaos-all", kind: chaosOneForAll, backend: process.Async, leaves: []chaosLeaf{
		{"chaos-all-0", process.Async}, {"chaos-all-1", process.Blocking}, {"chaos-all-2", process.Thread}}},
	{id: "chaos-rest", kind: chaosRestForOne, backend: process.Blocking, leaves: []chaosLeaf{
		{"chaos-rest-0", process.Blocking}, {"chaos-rest-1", process.Thread}, {"chaos-rest-2", process.Async}}},
	{id: "chaos-dyn", kind: chaosDynamic, backend: process.Thread, leaves: []chaosLeaf{
		{"chaos-dyn-0", process.Thread}, {"chaos-dyn-1", process.Async}, {"chaos-dyn-2", process.Blocking}}},
	{id: "chaos-fragile", kind: chaosFragile, backend: process.Async, leaves: []chaosLeaf{
		{"chaos-fragile-0", process.Async}, {"chaos-fragile-1", process.Thread}}},
}

// chaosTree starts the tree and records what happens to it: the starts of
// every id, the latest incarnation of every middle supervisor and how each
// incarnation ended.
type chaosTree struct {
	n        *process.Node
	stopping atomic.Bool // the node is being stopped: exits are no longer news

	mu          sync.Mutex
	starts      map[string]int // successful starts per id
	supPid      map[string]pid.Pid
	which       map[string]func(context.Context) ([]supervisor.Child, error)
	escalations map[string][]int // middle id -> incarnations that exceeded their intensity
	supExits    map[string]int   // middle exit reasons by kind
	failures    []string
	failed      int
}

func newChaosTree(n *process.Node) *chaosTree {
	return &chaosTree{
		n: n, starts: map[string]int{}, supPid: map[string]pid.Pid{},
		which:       map[string]func(context.Context) ([]supervisor.Child, error){},
		escalations: map[string][]int{}, supExits: map[string]int{},
	}
}

// fail records an invariant violation; the test reports them at the end.
func (tr *chaosTree) fail(format string, args ...any) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.failed++
	if len(tr.failures) < 20 {
		tr.failures = append(tr.failures, fmt.Sprintf(format, args...))
	}
}

func (tr *chaosTree) started(id string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.starts[id]++
	return tr.starts[id]
}

func (tr *chaosTree) startWorker(ctx context.Context, sup *process.Process, l chaosLeaf) (pid.Pid, error) {
	ref, err := genserver.StartLink(ctx, sup, &chaosWorker{id: l.id},
		genserver.WithName(l.id), genserver.WithBackend(l.backend))
	if err != nil {
		return pid.Pid{}, err
	}
	tr.started(l.id)
	return ref.Pid(), nil
}

func (tr *chaosTree) leafSpec(l chaosLeaf) supervisor.ChildSpec {
	return supervisor.ChildSpec{ID: l.id, Start: func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		return tr.startWorker(ctx, sup, l)
	}}
}

// middleSpec is the top's child spec for group g. The dynamic supervisor's
// start function also starts its children, so that a restart by the top
// restores the whole subtree.
func (tr *chaosTree) middleSpec(g chaosGroup) supervisor.ChildSpec {
	start := func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		var p pid.Pid
		var which func(context.Context) ([]supervisor.Child, error)
		if g.kind == chaosDynamic {
			d, err := supervisor.StartDynamicLink(ctx, sup, supervisor.DynamicSpec[chaosLeaf]{
				Start: tr.startWorker, Intensity: 50, Period: time.Second, Name: g.id, Backend: g.backend,
			})
			if err != nil {
				return pid.Pid{}, err
			}
			for _, l := range g.leaves {
				if _, err := d.StartChild(ctx, l); err != nil {
					// Not a child of the top yet: take it down with its
					// children, so the retry finds its names free.
					sup.Exit(d.Pid(), process.Kill)
					return pid.Pid{}, err
				}
			}
			p, which = d.Pid(), d.WhichChildren
		} else {
			spec := supervisor.Spec{Intensity: 50, Period: time.Second, Name: g.id, Backend: g.backend}
			switch g.kind {
			case chaosOneForAll:
				spec.Strategy = supervisor.OneForAll
			case chaosRestForOne:
				spec.Strategy = supervisor.RestForOne
			case chaosFragile:
				spec.Strategy, spec.Intensity, spec.Period = supervisor.OneForOne, 1, 5*time.Second
			}
			for _, l := range g.leaves {
				spec.Children = append(spec.Children, tr.leafSpec(l))
			}
			ref, err := supervisor.StartLink(ctx, sup, spec)
			if err != nil {
				return pid.Pid{}, err
			}
			p, which = ref.Pid(), ref.WhichChildren
		}
		tr.mu.Lock()
		tr.starts[g.id]++
		inc := tr.starts[g.id]
		tr.supPid[g.id], tr.which[g.id] = p, which
		tr.mu.Unlock()
		if _, err := link.Watch(tr.n, p, func(d link.Down) { tr.middleExited(g.id, inc, d.Reason) }); err != nil {
			tr.fail("watch %s: %v", g.id, err)
		}
		return p, nil
	}
	return supervisor.ChildSpec{ID: g.id, Start: start, Type: supervisor.SupervisorChild}
}

// middleExited records how incarnation inc of middle supervisor id ended.
// The top never stops its children itself, so a Shutdown can only be the
// supervisor giving up after exceeding its intensity.
func (tr *chaosTree) middleExited(id string, inc int, reason error) {
	if tr.stopping.Load() {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	switch {
	case errors.Is(reason, process.Shutdown):
		tr.supExits["intensity"]++
		tr.escalations[id] = append(tr.escalations[id], inc)
	case errors.Is(reason, process.Killed):
		tr.supExits["killed"]++
	case errors.Is(reason, process.NoProc):
		tr.supExits["unseen"]++ // dead before the watch was set
	default:
		// A supervisor traps exits: the custom reason chaos sends it is a
		// message, never its death.
		tr.supExits["other"]++
		tr.failed++
		if len(tr.failures) < 20 {
			tr.failures = append(tr.failures, fmt.Sprintf("middle supervisor %s (incarnation %d) exited with %v", id, inc, reason))
		}
	}
}

func (tr *chaosTree) topSpec() supervisor.Spec {
	spec := supervisor.Spec{Name: chaosTopName, Strategy: supervisor.OneForOne, Intensity: 1 << 20, Period: time.Second}
	for _, g := range chaosGroups {
		spec.Children = append(spec.Children, tr.middleSpec(g))
	}
	return spec
}

// chaosCounts are the figures of a run.
type chaosCounts struct {
	calls, replies, casts atomic.Int64
	callErrs              [chaosErrKinds]atomic.Int64
	slowest               atomic.Int64 // the longest call, in ns

	ops, missed                                 atomic.Int64
	kills, abnormals, panics, normals, supKills atomic.Int64
	supTrapped                                  atomic.Int64

	samples, namesChecked, staleNames atomic.Int64
}

const (
	chaosErrNoProc = iota
	chaosErrKilled
	chaosErrAbnormal
	chaosErrPanic
	chaosErrNormal
	chaosErrShutdown
	chaosErrTimeout
	chaosErrKinds
)

var chaosErrNames = [chaosErrKinds]string{"noproc", "killed", "abnormal", "panic", "normal", "shutdown", "timeout"}

// chaosClassify sorts a failed call by its documented reason; ok is false
// for an error a call may not fail with.
func chaosClassify(err error) (kind int, ok bool) {
	var ce *genserver.CallError
	if !errors.As(err, &ce) {
		return 0, false
	}
	var pe *process.PanicError
	switch {
	case errors.Is(err, genserver.ErrTimeout):
		return chaosErrTimeout, true
	case errors.Is(err, process.NoProc):
		return chaosErrNoProc, true
	case errors.Is(err, process.Killed):
		return chaosErrKilled, true
	case errors.Is(err, errChaos):
		return chaosErrAbnormal, true
	case errors.As(err, &pe):
		return chaosErrPanic, true
	case errors.Is(err, process.Shutdown):
		return chaosErrShutdown, true
	case errors.Is(err, process.Normal):
		return chaosErrNormal, true
	}
	return 0, false
}

// call makes one call by name with the client deadline and checks that it
// returns in time with a reply from the right server or a documented error.
func (tr *chaosTree) call(c *chaosCounts, name string, op string) (chaosRep, error) {
	ctx, cancel := context.WithTimeout(context.Background(), chaosCallDeadline)
	defer cancel()
	start := time.Now()
	rep, err := chaosNamed(tr.n, name).Call(ctx, chaosReq{Op: op})
	took := time.Since(start)
	for {
		old := c.slowest.Load()
		if int64(took) <= old || c.slowest.CompareAndSwap(old, int64(took)) {
			break
		}
	}
	if took > chaosCallDeadline+chaosCallMargin {
		tr.fail("call %s %q took %v (deadline %v): %v", op, name, took, chaosCallDeadline, err)
	}
	if err == nil {
		if rep.ID != name {
			tr.fail("call %s %q answered by %q", op, name, rep.ID)
		}
		return rep, nil
	}
	if _, ok := chaosClassify(err); !ok {
		tr.fail("call %s %q failed with an undocumented error: %v (%T)", op, name, err, err)
	}
	return rep, err
}

func (tr *chaosTree) client(c *chaosCounts, r *rand.Rand, leaves []string, quit <-chan struct{}) {
	for {
		select {
		case <-quit:
			return
		default:
		}
		name := leaves[r.IntN(len(leaves))]
		if r.IntN(2) == 0 {
			if err := chaosNamed(tr.n, name).Cast(chaosCast{}); err != nil {
				tr.fail("cast %q: %v", name, err)
			}
			c.casts.Add(1)
			continue
		}
		c.calls.Add(1)
		if _, err := tr.call(c, name, "ping"); err == nil {
			c.replies.Add(1)
		} else if k, ok := chaosClassify(err); ok {
			c.callErrs[k].Add(1)
		}
	}
}

// chaos kills a random leaf or middle supervisor per tick.
func (tr *chaosTree) chaos(c *chaosCounts, r *rand.Rand, quit <-chan struct{}) {
	chaosEvery(chaosTick, quit, func() {
		c.ops.Add(1)
		g := chaosGroups[r.IntN(len(chaosGroups))]
		if r.IntN(5) == 0 { // a middle supervisor
			p, ok := registry.Of(tr.n).WhereIs(g.id)
			if !ok {
				c.missed.Add(1)
				return
			}
			if r.IntN(4) == 0 {
				// Trapped: a supervisor ignores an exit signal from a
				// process that is neither its parent nor its child.
				tr.n.Exit(p, errChaos)
				c.supTrapped.Add(1)
			} else {
				tr.n.Exit(p, process.Kill)
				c.supKills.Add(1)
			}
			return
		}
		name := g.leaves[r.IntN(len(g.leaves))].id
		switch r.IntN(4) {
		case 0, 1:
			p, ok := registry.Of(tr.n).WhereIs(name)
			if !ok {
				c.missed.Add(1)
				return
			}
			if r.IntN(2) == 0 {
				tr.n.Exit(p, process.Kill)
				c.kills.Add(1)
			} else {
				tr.n.Exit(p, errChaos)
				c.abnormals.Add(1)
			}
		case 2:
			_, err := tr.call(c, name, "panic")
			var pe *process.PanicError
			switch {
			case err == nil:
				tr.fail("panic call %q was answered", name)
			case errors.As(err, &pe):
				c.panics.Add(1)
			default:
				c.missed.Add(1)
			}
		case 3:
			if _, err := tr.call(c, name, "stop"); err == nil {
				c.normals.Add(1)
			} else {
				c.missed.Add(1)
			}
		}
	})
}

// sample checks that every registered name resolves to a live process or to
// nothing. A name found on a dead pid is a violation only if the name still
// points to that pid after its death was seen: the name is released before
// the process is marked dead.
func (tr *chaosTree) sample(c *chaosCounts, quit <-chan struct{}) {
	reg := registry.Of(tr.n)
	chaosEvery(chaosSampleTick, quit, func() {
		c.samples.Add(1)
		for _, name := range reg.Registered() {
			p, ok := reg.WhereIs(name)
			if !ok {
				continue
			}
			c.namesChecked.Add(1)
			if !tr.n.Alive(p) {
				if again, ok := reg.WhereIs(name); ok && again == p {
					c.staleNames.Add(1)
					tr.fail("name %q points to the dead process %v", name, p)
				}
				continue
			}
			if other, ok := reg.NameOf(p); ok && other != name {
				tr.fail("name %q resolves to %v, which is named %q", name, p, other)
			}
		}
	})
}

// chaosEvery calls f once per tick of period d until quit is closed.
func chaosEvery(d time.Duration, quit <-chan struct{}, f func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-quit:
			return
		case <-tick.C:
		}
		f()
	}
}

// converged returns what keeps the tree from its full shape, or "".
func (tr *chaosTree) converged(ctx context.Context, top supervisor.Ref) string {
	reg := registry.Of(tr.n)
	cs, err := top.WhichChildren(ctx)
	if err != nil {
		return fmt.Sprintf("top WhichChildren: %v", err)
	}
	if len(cs) != len(chaosGroups) {
		return fmt.Sprintf("top has %d children, want %d", len(cs), len(chaosGroups))
	}
	want := []string{chaosTopName}
	for i, g := range chaosGroups {
		want = append(want, g.id)
		if c := cs[i]; c.ID != g.id || c.Status != supervisor.Running {
			return fmt.Sprintf("top child %d is %+v, want %s running", i, c, g.id)
		}
		tr.mu.Lock()
		p, which := tr.supPid[g.id], tr.which[g.id]
		tr.mu.Unlock()
		if p != cs[i].Pid {
			return fmt.Sprintf("%s runs as %v, last started as %v", g.id, cs[i].Pid, p)
		}
		if wp, ok := reg.WhereIs(g.id); !ok || wp != p {
			return fmt.Sprintf("name %s resolves to %v (%v), want %v", g.id, wp, ok, p)
		}
		kids, err := which(ctx)
		if err != nil {
			return fmt.Sprintf("%s WhichChildren: %v", g.id, err)
		}
		if len(kids) != len(g.leaves) {
			return fmt.Sprintf("%s has %d children, want %d", g.id, len(kids), len(g.leaves))
		}
		pids := map[pid.Pid]bool{}
		for j, k := range kids {
			if k.Status != supervisor.Running || (g.kind != chaosDynamic && k.ID != g.leaves[j].id) {
				return fmt.Sprintf("%s child %d is %+v", g.id, j, k)
			}
			pids[k.Pid] = true
		}
		for _, l := range g.leaves {
			want = append(want, l.id)
			lp, ok := reg.WhereIs(l.id)
			if !ok || !pids[lp] {
				return fmt.Sprintf("leaf %s resolves to %v (%v), not a child of %s", l.id, lp, ok, g.id)
			}
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			rep, err := chaosNamed(tr.n, l.id).Call(cctx, chaosReq{Op: "ping"})
			cancel()
			if err != nil || rep.ID != l.id {
				return fmt.Sprintf("leaf %s answers %+v, %v", l.id, rep, err)
			}
		}
	}
	slices.Sort(want)
	if got := reg.Registered(); !slices.Equal(got, want) {
		return fmt.Sprintf("registered names %v, want %v", got, want)
	}
	if got := len(tr.n.Processes()); got != len(want) {
		return fmt.Sprintf("%d processes, want %d (one per name)", got, len(want))
	}
	return ""
}

func TestChaos_TreeUnderLoadConverges(t *testing.T) {
	seed := seedFromEnv(t)
	mode, duration := "quick", 3*time.Second
	if longMode() {
		mode, duration = "long", 2*time.Minute
	}
	// The test is not parallel, so the goroutines alive now are all that
	// may be left once its node has stopped.
	goroutinesBefore := goleak.IgnoreCurrent()

	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	tr := newChaosTree(n)
	top, err := supervisor.Start(ctx, n, tr.topSpec())
	if err != nil {
		t.Fatalf("start the tree: %v", err)
	}
	var leaves []string
	for _, g := range chaosGroups {
		for _, l := range g.leaves {
			leaves = append(leaves, l.id)
		}
	}
	if p := tr.converged(ctx, top); p != "" {
		t.Fatalf("the tree did not start whole: %s", p)
	}

	// The load: clients, a registry sampler and the chaos goroutine. The
	// cleanup stops them before the node stops (cleanups run last first).
	var c chaosCounts
	quit := make(chan struct{})
	var wg sync.WaitGroup
	stopLoad := sync.OnceFunc(func() { close(quit); wg.Wait() })
	t.Cleanup(stopLoad)
	for i := range chaosClients {
		r := rand.New(rand.NewPCG(seed, uint64(i)+1))
		wg.Go(func() { tr.client(&c, r, leaves, quit) })
	}
	wg.Go(func() { tr.sample(&c, quit) })
	chaosRand := rand.New(rand.NewPCG(seed, 0))
	wg.Go(func() { tr.chaos(&c, chaosRand, quit) })

	run := time.NewTimer(duration)
	<-run.C
	stopLoad()

	// After the load the tree heals to its full shape.
	healStart := time.Now()
	problem := "not checked"
	defer func() {
		if t.Failed() && problem != "" {
			t.Logf("last convergence problem: %s", problem)
		}
	}()
	ctx = spawntest.Context(t) // the first one may have run out during a long run
	spawntest.Eventually(t, "the tree to converge to its full shape", func() bool {
		problem = tr.converged(ctx, top)
		return problem == ""
	})
	healed := time.Since(healStart)

	// Every supervisor that exceeded its intensity was restarted by the top.
	tr.mu.Lock()
	escalations := 0
	for id, incs := range tr.escalations {
		escalations += len(incs)
		for _, inc := range incs {
			if tr.starts[id] <= inc {
				t.Errorf("%s exceeded its intensity in incarnation %d and was not restarted (%d starts)", id, inc, tr.starts[id])
			}
		}
	}
	fragileEscalations := len(tr.escalations["chaos-fragile"])
	leafRestarts, supRestarts := 0, 0
	for _, g := range chaosGroups {
		supRestarts += tr.starts[g.id] - 1
		for _, l := range g.leaves {
			leafRestarts += tr.starts[l.id] - 1
		}
	}
	supExits := fmt.Sprintf("killed=%d intensity=%d unseen=%d other=%d",
		tr.supExits["killed"], tr.supExits["intensity"], tr.supExits["unseen"], tr.supExits["other"])
	tr.mu.Unlock()
	if fragileEscalations == 0 {
		t.Errorf("chaos-fragile never exceeded its intensity (%d chaos operations): the escalation path was not exercised", c.ops.Load())
	}

	// After Stop: no process, no straggler, no goroutine.
	tr.stopping.Store(true)
	stopCtx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	defer cancel()
	if err := n.Stop(stopCtx); err != nil {
		t.Errorf("node stop: %v", err)
	}
	st := n.Stats()
	if st.Processes != 0 || st.Stragglers != 0 || st.Names != 0 {
		t.Errorf("after stop: %d processes, %d stragglers, %d names; want none", st.Processes, st.Stragglers, st.Names)
	}
	leakedGoroutines := 0
	if err := goleak.Find(goroutinesBefore); err != nil {
		leakedGoroutines = max(1, strings.Count(err.Error(), "Goroutine "))
		t.Errorf("goroutines left after the node stopped: %v", err)
	}

	tr.mu.Lock()
	for _, f := range tr.failures {
		t.Errorf("invariant violated: %s", f)
	}
	failed := tr.failed
	tr.mu.Unlock()
	if failed > len(tr.failures) {
		t.Errorf("... %d violations in all", failed)
	}

	var errs strings.Builder
	for k, name := range chaosErrNames {
		fmt.Fprintf(&errs, " %s=%d", name, c.callErrs[k].Load())
	}
	t.Logf("FIGURES chaos: seed=%d mode=%s duration=%v processes=%d (1 top, %d middle, %d leaves) clients=%d "+
		"calls=%d replies=%d casts=%d failed{%s } slowest-call=%v (deadline %v) "+
		"chaos-ops=%d killed{kill=%d abnormal=%d panic=%d normal=%d supervisor-kill=%d} trapped-by-supervisor=%d missed=%d "+
		"restarts{leaves=%d middle=%d} middle-exits{%s} escalations=%d (fragile %d), all restarted by top "+
		"registry-samples=%d names-checked=%d stale-names=%d healed-in=%v violations=%d "+
		"leaks{processes=%d stragglers=%d goroutines=%d}",
		seed, mode, duration, 1+len(chaosGroups)+len(leaves), len(chaosGroups), len(leaves), chaosClients,
		c.calls.Load(), c.replies.Load(), c.casts.Load(), errs.String(), time.Duration(c.slowest.Load()).Round(time.Millisecond), chaosCallDeadline,
		c.ops.Load(), c.kills.Load(), c.abnormals.Load(), c.panics.Load(), c.normals.Load(), c.supKills.Load(), c.supTrapped.Load(), c.missed.Load(),
		leafRestarts, supRestarts, supExits, escalations, fragileEscalations,
		c.samples.Load(), c.namesChecked.Load(), c.staleNames.Load(), healed.Round(time.Millisecond), failed,
		st.Processes, st.Stragglers, leakedGoroutines)
}
