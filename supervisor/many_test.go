package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// manyCrash crashes p with an abnormal reason and waits until it is dead.
func manyCrash(t testing.TB, n *process.Node, p pid.Pid) {
	t.Helper()
	stratEnd(t, n, p, stratExit{"crash",
		func(t testing.TB, n *process.Node, p pid.Pid) { n.Exit(p, errW7Crash) },
		func(r error) bool { return errors.Is(r, errW7Crash) }})
}

// manyPids returns the Pids of cs by id, checking that all run.
func manyPids(t testing.TB, cs []supervisor.Child) map[string]pid.Pid {
	t.Helper()
	out := make(map[string]pid.Pid, len(cs))
	for _, c := range cs {
		if c.Status != supervisor.Running || c.Pid.IsZero() {
			t.Fatalf("child %+v is not running", c)
		}
		out[c.ID] = c.Pid
	}
	return out
}

// TestSUP03_OneForOneWithManyChildren checks one_for_one as the number of
// children grows from a few (found by a scan) to many (found by Pid): each
// crash restarts exactly the child that crashed, and a terminated child's
// exit is not taken for a crash.
func TestSUP03_OneForOneWithManyChildren(t *testing.T) {
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	spec := func(id string) supervisor.ChildSpec {
		return supervisor.ChildSpec{ID: id, Start: supervisor.GenServer(func() *pidServer { return &pidServer{} })}
	}
	var children []supervisor.ChildSpec
	for i := range 5 {
		children = append(children, spec(fmt.Sprint("s", i)))
	}
	ref := imStart(t, n, supervisor.Spec{Strategy: supervisor.OneForOne, Intensity: 100, Period: time.Hour, Children: children})
	check := func(crash string) {
		t.Helper()
		before := manyPids(t, imWhich(t, ref))
		manyCrash(t, n, before[crash])
		var after map[string]pid.Pid
		spawntest.Eventually(t, crash+" restarted", func() bool {
			cs, err := ref.WhichChildren(ctx)
			if err != nil {
				return false
			}
			for _, c := range cs {
				if c.ID == crash && (c.Pid.IsZero() || c.Pid == before[crash]) {
					return false
				}
			}
			after = manyPids(t, cs)
			return true
		})
		for id, p := range before {
			if id != crash && after[id] != p {
				t.Fatalf("%s crashed, and %s was restarted too (%v -> %v)", crash, id, p, after[id])
			}
		}
	}
	check("s0")
	check("s4")
	// Grow past the children a scan finds, then crash old and new ones.
	for i := 5; i < 20; i++ {
		if _, err := ref.StartChild(ctx, spec(fmt.Sprint("s", i))); err != nil {
			t.Fatalf("StartChild: %v", err)
		}
	}
	for _, id := range []string{"s0", "s3", "s7", "s19", "s0"} {
		check(id)
	}
	// A terminated child is not restarted, and restarts as asked.
	if err := ref.TerminateChild(ctx, "s12"); err != nil {
		t.Fatalf("TerminateChild: %v", err)
	}
	if c := imChildOf(t, imWhich(t, ref), "s12"); c.Status != supervisor.NotRunning {
		t.Fatalf("s12 after TerminateChild: %+v", c)
	}
	p, err := ref.RestartChild(ctx, "s12")
	if err != nil {
		t.Fatalf("RestartChild: %v", err)
	}
	if c := imChildOf(t, imWhich(t, ref), "s12"); c.Pid != p {
		t.Fatalf("s12 after RestartChild: %+v, want pid %v", c, p)
	}
	check("s12")
	if c := imCount(t, ref); c != (supervisor.Counts{Specs: 20, Active: 20, Workers: 20}) {
		t.Fatalf("CountChildren = %+v", c)
	}
}

// TestSUP06_DynamicSupervisorWithManyChildren checks a dynamic supervisor
// past the children a scan finds: crashes restart the right child, and
// TerminateChild finds children by Pid and refuses other Pids.
func TestSUP06_DynamicSupervisorWithManyChildren(t *testing.T) {
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	d, err := supervisor.StartDynamic(ctx, n, supervisor.DynamicSpec[int]{
		Start: func(ctx context.Context, sup *process.Process, _ int) (pid.Pid, error) {
			ref, err := genserver.StartLink(ctx, sup, &pidServer{})
			return ref.Pid(), err
		},
		Intensity: 100, Period: time.Hour,
	})
	if err != nil {
		t.Fatalf("StartDynamic: %v", err)
	}
	var pids []pid.Pid
	for i := range 20 {
		p, err := d.StartChild(ctx, i)
		if err != nil {
			t.Fatalf("StartChild: %v", err)
		}
		pids = append(pids, p)
	}
	running := func() map[pid.Pid]bool {
		cs, err := d.WhichChildren(ctx)
		if err != nil {
			t.Fatalf("WhichChildren: %v", err)
		}
		out := map[pid.Pid]bool{}
		for _, c := range cs {
			out[c.Pid] = true
		}
		return out
	}
	// A crash replaces the child's Pid and keeps the others.
	var crashed []pid.Pid
	for _, i := range []int{0, 9, 19} {
		crashed = append(crashed, pids[i])
		manyCrash(t, n, pids[i])
		spawntest.Eventually(t, "restart", func() bool {
			r := running()
			return len(r) == 20 && !r[pids[i]]
		})
		r := running()
		for j, p := range pids {
			if j != i && !r[p] {
				t.Fatalf("child %d (%v) is gone after child %d crashed", j, p, i)
			}
			delete(r, p)
		}
		for p := range r { // the one left is the restarted child
			pids[i] = p
		}
	}
	if err := d.TerminateChild(ctx, pids[5]); err != nil {
		t.Fatalf("TerminateChild: %v", err)
	}
	if r := running(); len(r) != 19 || r[pids[5]] || n.Alive(pids[5]) {
		t.Fatalf("after TerminateChild: %d running, %v among them: %v", len(r), pids[5], r[pids[5]])
	}
	for _, p := range []pid.Pid{pids[5], crashed[0], {}} { // terminated, restarted since, zero
		if err := d.TerminateChild(ctx, p); !errors.Is(err, supervisor.ErrNotFound) {
			t.Fatalf("TerminateChild(%v) = %v, want ErrNotFound", p, err)
		}
	}
}
