package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

var errSgBoom = errors.New("sg: boom")

// sgChild is a Func child that exits with the first error it is sent.
func sgChild(p *process.Process) error {
	for {
		m, err := p.Receive(p.Context())
		if err != nil {
			return err
		}
		if reason, ok := m.(error); ok {
			return reason
		}
	}
}

// sgTerminate, sent as a step's reason, ends the child by TerminateChild:
// an end the supervisor causes.
var sgTerminate = errors.New("sg: terminate it through the API")

// sgStep ends one child and says what the supervisor does then.
type sgStep struct {
	child    string // the child's ID
	reason   error  // what the child exits with; process.Kill: killed from outside; sgTerminate: TerminateChild
	stops    bool   // the supervisor then shuts down
	restarts bool   // the child is restarted
}

// sgCase is a supervisor with significant children and the ends of some.
type sgCase struct {
	label    string
	strategy supervisor.Strategy
	auto     supervisor.AutoShutdown
	children []supervisor.ChildSpec // ID, Restart, Significant; Start is filled in
	steps    []sgStep
}

func sgChildren(specs ...string) []supervisor.ChildSpec {
	var out []supervisor.ChildSpec
	for _, s := range specs { // "id:restart[:sig]"
		parts := strings.Split(s, ":")
		c := supervisor.ChildSpec{ID: parts[0]}
		switch parts[1] {
		case "permanent":
			c.Restart = supervisor.Permanent
		case "transient":
			c.Restart = supervisor.Transient
		case "temporary":
			c.Restart = supervisor.Temporary
		}
		c.Significant = len(parts) > 2
		out = append(out, c)
	}
	return out
}

// TestSUP25_SignificantChildren: with AnySignificant, a significant child
// that ends by itself (a transient one with a shutdown reason, a temporary
// one with any) stops the supervisor with Shutdown, which stops its other
// children; with AllSignificant, the last such end does. A transient
// child's crash restarts it instead, and an end the supervisor causes
// (TerminateChild, a sibling's restart) does not count.
func TestSUP25_SignificantChildren(t *testing.T) {
	t.Parallel()
	cases := []sgCase{
		{"any: transient exits normally", supervisor.OneForOne, supervisor.AnySignificant,
			sgChildren("a:permanent", "s:transient:sig"), []sgStep{{child: "s", reason: process.Normal, stops: true}}},
		{"any: transient exits with shutdown", supervisor.OneForOne, supervisor.AnySignificant,
			sgChildren("a:permanent", "s:transient:sig"), []sgStep{{child: "s", reason: process.Shutdown, stops: true}}},
		{"any: transient exits with shutdown and a cause", supervisor.OneForOne, supervisor.AnySignificant,
			sgChildren("s:transient:sig", "a:permanent"), []sgStep{{child: "s", reason: process.ShutdownWith(errSgBoom), stops: true}}},
		{"any: a transient crash restarts it", supervisor.OneForOne, supervisor.AnySignificant,
			sgChildren("a:permanent", "s:transient:sig"), []sgStep{
				{child: "s", reason: errSgBoom, restarts: true},
				{child: "s", reason: process.Kill, restarts: true},
				{child: "s", reason: process.Normal, stops: true}}},
		{"any: temporary crashes", supervisor.OneForOne, supervisor.AnySignificant,
			sgChildren("a:permanent", "t:temporary:sig"), []sgStep{{child: "t", reason: errSgBoom, stops: true}}},
		{"any: a child that is not significant", supervisor.OneForOne, supervisor.AnySignificant,
			sgChildren("n:transient", "t:temporary", "s:transient:sig"), []sgStep{
				{child: "n", reason: process.Normal},
				{child: "t", reason: process.Normal},
				{child: "s", reason: process.Normal, stops: true}}},
		{"any: terminated through the API", supervisor.OneForOne, supervisor.AnySignificant,
			sgChildren("a:permanent", "s:transient:sig"), []sgStep{{child: "s", reason: sgTerminate}}},
		{"any: a bystander of one_for_all", supervisor.OneForAll, supervisor.AnySignificant,
			sgChildren("s:transient:sig", "a:permanent"), []sgStep{
				{child: "a", reason: errSgBoom, restarts: true},
				{child: "s", reason: process.Normal, stops: true}}},
		{"any: a bystander of rest_for_one", supervisor.RestForOne, supervisor.AnySignificant,
			sgChildren("a:permanent", "t:temporary:sig", "s:transient:sig"), []sgStep{
				{child: "a", reason: errSgBoom, restarts: true}, // t, temporary, is gone with it
				{child: "s", reason: process.Normal, stops: true}}},
		{"all: the last one stops it", supervisor.OneForOne, supervisor.AllSignificant,
			sgChildren("s1:temporary:sig", "a:permanent", "s2:transient:sig"), []sgStep{
				{child: "s1", reason: errSgBoom},
				{child: "s2", reason: errSgBoom, restarts: true},
				{child: "s2", reason: process.Normal, stops: true}}},
		{"all: one left running", supervisor.OneForOne, supervisor.AllSignificant,
			sgChildren("s1:transient:sig", "s2:transient:sig"), []sgStep{{child: "s1", reason: process.Shutdown}}},
	}
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, tc := range cases {
			t.Run(tc.label, func(t *testing.T) { sgRun(t, b, tc) })
		}
	})
}

func sgRun(t *testing.T, b process.Backend, tc sgCase) {
	node, ctx := spawntest.NewNode(t), spawntest.Context(t)
	children := slices.Clone(tc.children) // the cases are shared by the backends
	for i := range children {
		children[i].Start = supervisor.Func(sgChild, process.WithBackend(b))
	}
	sup, err := supervisor.Start(ctx, node, supervisor.Spec{Strategy: tc.strategy, AutoShutdown: tc.auto,
		Intensity: 10, Period: time.Minute, Backend: b, Children: children})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	supExit := spawntest.WatchExit(t, node, sup.Pid())
	for i, st := range tc.steps {
		running := map[string]pid.Pid{}
		cs, err := sup.WhichChildren(ctx)
		if err != nil {
			t.Fatalf("step %d: WhichChildren: %v", i, err)
		}
		for _, c := range cs {
			if c.Status == supervisor.Running {
				running[c.ID] = c.Pid
			}
		}
		old, ok := running[st.child]
		if !ok {
			t.Fatalf("step %d: child %s is not running: %+v", i, st.child, cs)
		}
		exit := spawntest.WatchExit(t, node, old)
		switch st.reason {
		case sgTerminate:
			if err := sup.TerminateChild(ctx, st.child); err != nil {
				t.Fatalf("step %d: TerminateChild: %v", i, err)
			}
		case process.Kill:
			if err := node.Exit(old, process.Kill); err != nil {
				t.Fatalf("step %d: kill: %v", i, err)
			}
		default:
			if err := node.Send(old, st.reason); err != nil {
				t.Fatalf("step %d: send: %v", i, err)
			}
		}
		exit.Wait()
		if st.stops {
			if reason := supExit.Wait(); !errors.Is(reason, process.Shutdown) {
				t.Fatalf("step %d: the supervisor exited with %v; want Shutdown", i, reason)
			}
			for id, p := range running {
				if node.Alive(p) {
					t.Fatalf("step %d: child %s (%v) outlived its supervisor", i, id, p)
				}
			}
			if i != len(tc.steps)-1 {
				t.Fatalf("step %d stopped the supervisor; steps remain", i)
			}
			return
		}
		// The supervisor has handled the exit before this call: it is alive.
		if st.restarts {
			spawntest.WaitChild(t, sup, st.child, old)
		} else if _, err := sup.WhichChildren(ctx); err != nil {
			t.Fatalf("step %d: the supervisor does not answer: %v (exited: %v)", i, err, supExit.Exited())
		}
	}
	if supExit.Exited() {
		t.Fatalf("the supervisor exited: %v", supExit.Wait())
	}
}

// TestSUP25_SignificantDynamicChildren: every child of a dynamic supervisor
// is significant when its spec says so: with AnySignificant the first to end
// by itself stops the supervisor, with AllSignificant the last one; a child
// stopped by TerminateChild does not count.
func TestSUP25_SignificantDynamicChildren(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, tc := range []struct {
			label   string
			restart supervisor.Restart
			auto    supervisor.AutoShutdown
			ends    []error // reasons the children end with, in order; sgTerminate: TerminateChild
			stopsAt int     // the end that stops the supervisor; -1: none
		}{
			{"any: temporary", supervisor.Temporary, supervisor.AnySignificant, []error{errSgBoom}, 0},
			{"any: transient crash then normal", supervisor.Transient, supervisor.AnySignificant,
				[]error{errSgBoom, process.Normal}, 1},
			{"all: the last child", supervisor.Transient, supervisor.AllSignificant,
				[]error{process.Normal, process.Shutdown, process.Normal}, 2},
			{"all: terminated through the API", supervisor.Temporary, supervisor.AllSignificant,
				[]error{process.Normal, process.Normal, sgTerminate}, -1},
		} {
			t.Run(tc.label, func(t *testing.T) {
				node, ctx := spawntest.NewNode(t), spawntest.Context(t)
				dyn, err := supervisor.StartDynamic(ctx, node, supervisor.DynamicSpec[int]{
					Start: func(_ context.Context, sup *process.Process, _ int) (pid.Pid, error) {
						return sup.SpawnLink(sgChild, process.WithBackend(b))
					},
					Restart: tc.restart, Significant: true, AutoShutdown: tc.auto,
					Intensity: 10, Period: time.Minute, Backend: b,
				})
				if err != nil {
					t.Fatalf("StartDynamic: %v", err)
				}
				supExit := spawntest.WatchExit(t, node, dyn.Pid())
				var pids []pid.Pid
				for i := range 3 {
					p, err := dyn.StartChild(ctx, i)
					if err != nil {
						t.Fatalf("StartChild: %v", err)
					}
					pids = append(pids, p)
				}
				for i, reason := range tc.ends {
					// Each end is the oldest child's; a restarted child keeps its place.
					cs, err := dyn.WhichChildren(ctx)
					if err != nil || len(cs) == 0 || cs[0].Status != supervisor.Running {
						t.Fatalf("end %d: WhichChildren = %+v, %v", i, cs, err)
					}
					p := cs[0].Pid
					exit := spawntest.WatchExit(t, node, p)
					if reason == sgTerminate {
						if err := dyn.TerminateChild(ctx, p); err != nil {
							t.Fatalf("TerminateChild: %v", err)
						}
					} else if err := node.Send(p, reason); err != nil {
						t.Fatalf("send: %v", err)
					}
					exit.Wait()
					if i == tc.stopsAt {
						if reason := supExit.Wait(); !errors.Is(reason, process.Shutdown) {
							t.Fatalf("end %d: the supervisor exited with %v; want Shutdown", i, reason)
						}
						for _, p := range pids {
							if node.Alive(p) {
								t.Fatalf("child %v outlived its supervisor", p)
							}
						}
						return
					}
					// The supervisor handled the exit before this call: it is alive.
					cs, err = dyn.WhichChildren(ctx)
					if err != nil {
						t.Fatalf("end %d: the supervisor does not answer: %v", i, err)
					}
					if errors.Is(reason, errSgBoom) && tc.restart == supervisor.Transient &&
						(len(cs) == 0 || cs[0].Pid == p || cs[0].Status != supervisor.Running) {
						t.Fatalf("end %d: the crashed child is not restarted: %+v", i, cs)
					}
				}
				if supExit.Exited() {
					t.Fatalf("the supervisor exited: %v", supExit.Wait())
				}
			})
		}
	})
}

// TestSUP25_AutoShutdownEndsATransientSubtree: the use auto_shutdown is
// for: a transient subtree that is done when its significant child is done
// shuts down, and its parent, seeing Shutdown, does not restart it.
func TestSUP25_AutoShutdownEndsATransientSubtree(t *testing.T) {
	t.Parallel()
	node, ctx := spawntest.NewNode(t), spawntest.Context(t)
	sub := supervisor.Spec{Name: "sg-session", AutoShutdown: supervisor.AnySignificant, Children: []supervisor.ChildSpec{
		{ID: "conn", Start: supervisor.Func(sgChild), Restart: supervisor.Permanent},
		{ID: "job", Start: supervisor.Func(sgChild), Restart: supervisor.Transient, Significant: true},
	}}
	top, err := supervisor.Start(ctx, node, supervisor.Spec{Children: []supervisor.ChildSpec{
		{ID: "session", Start: supervisor.Supervisor(sub), Type: supervisor.SupervisorChild, Restart: supervisor.Transient},
	}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	session := supervisor.Named(node, "sg-session")
	cs, err := session.WhichChildren(ctx)
	if err != nil || len(cs) != 2 {
		t.Fatalf("session's children %v, %v", cs, err)
	}
	tops, err := top.WhichChildren(ctx)
	if err != nil || len(tops) != 1 {
		t.Fatalf("top's children %v, %v", tops, err)
	}
	sessionExit := spawntest.WatchExit(t, node, tops[0].Pid)
	if err := node.Send(cs[1].Pid, process.Normal); err != nil { // the job is done
		t.Fatalf("send: %v", err)
	}
	if reason := sessionExit.Wait(); !errors.Is(reason, process.Shutdown) {
		t.Fatalf("the session exited with %v; want Shutdown", reason)
	}
	got, err := top.WhichChildren(ctx)
	if err != nil || len(got) != 1 || got[0].Status != supervisor.NotRunning {
		t.Fatalf("top's children %+v, %v; want the session not running, not restarted", got, err)
	}
}

// TestSUP25_SignificantSpecsChecked: a significant child must be transient
// or temporary, under a supervisor whose AutoShutdown is not never; any
// other combination is a *SpecError, at Start, StartChild and StartDynamic.
func TestSUP25_SignificantSpecsChecked(t *testing.T) {
	t.Parallel()
	node, ctx := spawntest.NewNode(t), spawntest.Context(t)
	child := func(r supervisor.Restart, sig bool) supervisor.ChildSpec {
		return supervisor.ChildSpec{ID: "c", Start: supervisor.Func(sgChild), Restart: r, Significant: sig}
	}
	for _, tc := range []struct {
		label string
		auto  supervisor.AutoShutdown
		child supervisor.ChildSpec
		want  string // in the SpecError's text; "" for a valid spec
	}{
		{"permanent significant", supervisor.AnySignificant, child(supervisor.Permanent, true), "permanent"},
		{"significant under never", supervisor.NoAutoShutdown, child(supervisor.Transient, true), "never"},
		{"permanent significant under never", supervisor.NoAutoShutdown, child(supervisor.Permanent, true), "never"},
		{"invalid auto shutdown", supervisor.AutoShutdown(9), child(supervisor.Transient, false), "auto shutdown"},
		{"transient significant", supervisor.AllSignificant, child(supervisor.Transient, true), ""},
		{"temporary significant", supervisor.AnySignificant, child(supervisor.Temporary, true), ""},
		{"not significant under any", supervisor.AnySignificant, child(supervisor.Permanent, false), ""},
	} {
		t.Run(tc.label, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				var se *supervisor.SpecError
				switch {
				case tc.want == "" && err != nil:
					t.Fatalf("%s: %v; want success", what, err)
				case tc.want != "" && (!errors.As(err, &se) || !errors.Is(err, supervisor.ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want)):
					t.Fatalf("%s: %v; want a *SpecError about %q", what, err, tc.want)
				}
			}
			sup, err := supervisor.Start(ctx, node, supervisor.Spec{AutoShutdown: tc.auto, Children: []supervisor.ChildSpec{tc.child}})
			check("Start", err)
			if err == nil {
				if err := sup.Stop(ctx); err != nil {
					t.Fatalf("Stop: %v", err)
				}
			}
			if tc.auto <= supervisor.AllSignificant {
				empty, err := supervisor.Start(ctx, node, supervisor.Spec{AutoShutdown: tc.auto})
				if err != nil {
					t.Fatalf("Start without children: %v", err)
				}
				_, err = empty.StartChild(ctx, tc.child)
				check("StartChild", err)
				if err := empty.Stop(ctx); err != nil {
					t.Fatalf("Stop: %v", err)
				}
			}
			dyn, err := supervisor.StartDynamic(ctx, node, supervisor.DynamicSpec[int]{AutoShutdown: tc.auto,
				Restart: tc.child.Restart, Significant: tc.child.Significant,
				Start: func(_ context.Context, sup *process.Process, _ int) (pid.Pid, error) { return sup.SpawnLink(sgChild) }})
			check("StartDynamic", err)
			if err == nil {
				if err := dyn.Stop(ctx); err != nil {
					t.Fatalf("Stop: %v", err)
				}
			}
		})
	}
	if n := node.Stats().Processes; n != 0 {
		t.Fatalf("%d processes left", n)
	}
}
