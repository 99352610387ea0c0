package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// imStartSup is supervisor.Supervisor(spec) that also hands each started
// Ref to refs.
func imStartSup(spec supervisor.Spec, refs chan<- supervisor.Ref) supervisor.StartFunc {
	return func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
		ref, err := supervisor.StartLink(ctx, sup, spec)
		if err == nil {
			refs <- ref
		}
		return ref.Pid(), err
	}
}

func TestSUP23_NestedSupervisorRestartsWithItsStaticSpecsOnly(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		events := imEvents()
		nestedRefs := make(chan supervisor.Ref, 4)
		nestedSpec := supervisor.Spec{Backend: b, Children: []supervisor.ChildSpec{imSpec("n1", b, events, false)}}
		top := imStart(t, n, supervisor.Spec{Intensity: 5, Period: 5 * time.Second, Children: []supervisor.ChildSpec{
			{ID: "nested", Type: supervisor.SupervisorChild, Start: imStartSup(nestedSpec, nestedRefs)},
		}})
		nested := <-nestedRefs
		n1 := imExpect(t, events, "n1", "init").Pid

		extra, err := nested.StartChild(ctx, imSpec("extra", b, events, false))
		if err != nil {
			t.Fatalf("StartChild(extra): %v", err)
		}
		imExpect(t, events, "extra", "init")
		if got := imIDs(imWhich(t, nested)); !slices.Equal(got, []string{"n1", "extra"}) {
			t.Fatalf("nested children %v", got)
		}

		down := spawntest.WatchExit(t, n, nested.Pid())
		n.Exit(nested.Pid(), process.Kill)
		if r := down.Wait(); !errors.Is(r, process.Killed) {
			t.Fatalf("nested exited with %v, want killed", r)
		}
		nested2 := spawntest.Recv(t, nestedRefs)
		if nested2.Pid() == nested.Pid() {
			t.Fatal("restarted nested supervisor kept its pid")
		}
		if e := imExpect(t, events, "n1", "init"); e.Pid == n1 {
			t.Fatal("n1 kept its pid")
		}
		imNoEvents(t, events) // extra was not started again

		cs := imWhich(t, nested2)
		if got := imIDs(cs); !slices.Equal(got, []string{"n1"}) {
			t.Fatalf("restarted nested children %v, want only the static n1", got)
		}
		if cs[0].Status != supervisor.Running || cs[0].Pid != imWhereIs(t, n, "n1") {
			t.Fatalf("n1 %+v", cs[0])
		}
		for _, p := range []pid.Pid{extra, n1} {
			if r := spawntest.WaitExit(t, n, p); !errors.Is(r, process.Killed) && !errors.Is(r, process.NoProc) {
				t.Fatalf("child %v of the killed supervisor exited with %v", p, r)
			}
		}
		if _, ok := registry.Of(n).WhereIs("extra"); ok {
			t.Fatal("extra is registered again")
		}
		if c := imChildOf(t, imWhich(t, top), "nested"); c.Pid != nested2.Pid() || c.Status != supervisor.Running {
			t.Fatalf("top's nested child %+v", c)
		}
		spawntest.Eventually(t, "top, nested and n1 only", func() bool { return len(n.Processes()) == 3 })
	})
}

func TestXREG07_NameFollowsTheRestartedChildAndTheOldPidIsDead(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		refs := make(chan imRef, 4)
		imStart(t, n, supervisor.Spec{Children: []supervisor.ChildSpec{{ID: "w", Start: imStartRefs(
			func() *imWorker { return &imWorker{id: "w"} }, refs, genserver.WithName("xreg"), genserver.WithBackend(b))}}})
		old := <-refs
		named := genserver.Named[imReq, string, imReq](n, "xreg")
		if _, err := named.Call(ctx, imReq{Op: "ping"}); err != nil {
			t.Fatalf("call by name: %v", err)
		}

		_, err := named.Call(ctx, imReq{Op: "panic"})
		var pe *process.PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("crash call: %v, want the panic", err)
		}
		cur := spawntest.Recv(t, refs)
		if cur.Pid() == old.Pid() {
			t.Fatal("restarted child kept its pid")
		}
		if p := imWhereIs(t, n, "xreg"); p != cur.Pid() {
			t.Fatalf("name resolves to %v, want the new pid %v", p, cur.Pid())
		}
		if got, err := named.Call(ctx, imReq{Op: "ping"}); err != nil || got != "w/" {
			t.Fatalf("call by name after the restart = %q, %v", got, err)
		}
		_, err = old.Call(ctx, imReq{Op: "ping"})
		var ce *genserver.CallError
		if !errors.Is(err, process.NoProc) || !errors.As(err, &ce) || ce.Server != old.Pid() {
			t.Fatalf("call through the old pid: %v, want a NoProc *CallError naming it", err)
		}
	})
}

// imTree holds the latest refs of the tree's inner supervisors.
type imTree struct {
	mu         sync.Mutex
	mid1, mid2 supervisor.Ref
	dyn        supervisor.Dynamic[string]
}

func (tr *imTree) refs() (supervisor.Ref, supervisor.Ref, supervisor.Dynamic[string]) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.mid1, tr.mid2, tr.dyn
}

func TestSupervisorTree_ConvergesAfterRandomCrashes(t *testing.T) {
	t.Parallel()
	const (
		crashes   = 200
		intensity = 100_000 // never reached: only workers crash
	)
	const seed = 20240607
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))

	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	backends := spawntest.Backends()
	worker := func(name string, i int) supervisor.ChildSpec {
		return imSpec(name, backends[i%len(backends)], nil, i%2 == 0)
	}
	tr := &imTree{}
	midStart := func(spec supervisor.Spec, set func(supervisor.Ref)) supervisor.StartFunc {
		return func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
			ref, err := supervisor.StartLink(ctx, sup, spec)
			if err == nil {
				tr.mu.Lock()
				set(ref)
				tr.mu.Unlock()
			}
			return ref.Pid(), err
		}
	}
	dynSpec := supervisor.DynamicSpec[string]{
		Intensity: intensity, Period: 5 * time.Second,
		Start: func(ctx context.Context, sup *process.Process, name string) (pid.Pid, error) {
			i := int(name[len(name)-1] - '0')
			ref, err := genserver.StartLink(ctx, sup, &imWorker{id: name, trap: i%2 == 1},
				genserver.WithName(name), genserver.WithBackend(backends[i%len(backends)]))
			return ref.Pid(), err
		},
	}
	top := imStart(t, n, supervisor.Spec{
		Strategy: supervisor.OneForOne, Intensity: intensity, Period: 5 * time.Second,
		Children: []supervisor.ChildSpec{
			{ID: "mid1", Type: supervisor.SupervisorChild, Start: midStart(supervisor.Spec{
				Strategy: supervisor.OneForAll, Intensity: intensity, Period: 5 * time.Second, Backend: process.Blocking,
				Children: []supervisor.ChildSpec{worker("t1a", 0), worker("t1b", 1), worker("t1c", 2)},
			}, func(r supervisor.Ref) { tr.mid1 = r })},
			{ID: "mid2", Type: supervisor.SupervisorChild, Start: midStart(supervisor.Spec{
				Strategy: supervisor.RestForOne, Intensity: intensity, Period: 5 * time.Second, Backend: process.Thread,
				Children: []supervisor.ChildSpec{worker("t2a", 2), worker("t2b", 0), worker("t2c", 1)},
			}, func(r supervisor.Ref) { tr.mid2 = r })},
			{ID: "dyn", Type: supervisor.SupervisorChild, Start: func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
				d, err := supervisor.StartDynamicLink(ctx, sup, dynSpec)
				if err == nil {
					tr.mu.Lock()
					tr.dyn = d
					tr.mu.Unlock()
				}
				return d.Pid(), err
			}},
		},
	})
	_, _, dyn := tr.refs()
	names := []string{"t1a", "t1b", "t1c", "t2a", "t2b", "t2c"}
	for i := range 3 {
		name := fmt.Sprintf("td%d", i)
		if _, err := dyn.StartChild(ctx, name); err != nil {
			t.Fatalf("StartChild(%s): %v", name, err)
		}
		names = append(names, name)
	}
	topChildren := imWhich(t, top)

	// Crash random live workers.
	var kinds [3]int
	for i := range crashes {
		name := names[rng.IntN(len(names))]
		p := spawntest.WaitName(t, n, name) // restarted after an earlier crash
		kind := rng.IntN(3)
		kinds[kind]++
		switch kind {
		case 0: // a panic through a call; the call fails either way
			if _, err := genserver.Named[imReq, string, imReq](n, name).Call(ctx, imReq{Op: "panic"}); err == nil {
				t.Fatalf("crash %d: panic call to %s succeeded", i, name)
			}
		case 1:
			n.Exit(p, fmt.Errorf("im: tree crash %d", i))
		case 2:
			n.Exit(p, process.Kill)
		}
	}
	t.Logf("crashes by call panic, exit signal, kill: %v", kinds)

	// Every worker answers by name.
	for _, name := range names {
		ref := genserver.Named[imReq, string, imReq](n, name)
		var got string
		spawntest.Eventually(t, name+" answers", func() bool {
			var err error
			got, err = ref.Call(ctx, imReq{Op: "ping"})
			return err == nil
		})
		if got != name+"/" {
			t.Fatalf("%s answered %q", name, got)
		}
	}
	// Every supervisor lists all its children running.
	allRunning := func(cs []supervisor.Child, err error, want int) bool {
		if err != nil || len(cs) != want {
			return false
		}
		for _, c := range cs {
			if c.Status != supervisor.Running {
				return false
			}
		}
		return true
	}
	spawntest.Eventually(t, "all children running", func() bool {
		mid1, mid2, dyn := tr.refs()
		cs, err := top.WhichChildren(ctx)
		if !allRunning(cs, err, 3) {
			return false
		}
		cs, err = mid1.WhichChildren(ctx)
		if !allRunning(cs, err, 3) {
			return false
		}
		cs, err = mid2.WhichChildren(ctx)
		if !allRunning(cs, err, 3) {
			return false
		}
		cs, err = dyn.WhichChildren(ctx)
		return allRunning(cs, err, 3)
	})
	// No supervisor gave up: the top kept its children.
	if got := imWhich(t, top); !slices.Equal(got, topChildren) {
		t.Fatalf("top children changed: %+v, was %+v", got, topChildren)
	}
	// top, mid1, mid2, dyn, 6 workers, 3 dynamic children.
	spawntest.Eventually(t, "the tree's process count", func() bool { return len(n.Processes()) == 13 })
}
