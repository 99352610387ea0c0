package supervisor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// obsNext returns the next event of sub, failing after spawntest.Timeout.
func obsNext(t *testing.T, sub *event.Subscription) event.Event {
	t.Helper()
	return spawntest.Recv(t, sub.C())
}

// obsLine renders a supervisor event as a line to compare.
func obsLine(e event.Event, names map[pid.Pid]string) string {
	switch e := e.(type) {
	case event.ChildStarted:
		return fmt.Sprintf("%s started %s %s", e.SupervisorName, e.ID, names[e.Pid])
	case event.ChildRestarted:
		return fmt.Sprintf("%s restarted %s %s->%s after %v (cause %s)", e.SupervisorName, e.ID, names[e.Old], names[e.Pid], e.Reason, e.Cause)
	case event.ChildTerminated:
		return fmt.Sprintf("%s terminated %s %s: %v", e.SupervisorName, e.ID, names[e.Pid], e.Reason)
	case event.ChildStartFailed:
		return fmt.Sprintf("%s start failed %s: %v", e.SupervisorName, e.ID, e.Reason)
	case event.IntensityReached:
		return fmt.Sprintf("%s intensity %d in %v", e.SupervisorName, e.Intensity, e.Period)
	case event.GaveUp:
		return fmt.Sprintf("%s gave up: %v", e.SupervisorName, e.Reason)
	}
	return fmt.Sprintf("%T", e)
}

// TestEvents_SupervisorReports fires every supervisor event, in order: the
// starts, a one_for_all restart, a failed start, the intensity and the
// end; Inspect tells each child's restarts and last exit.
func TestEvents_SupervisorReports(t *testing.T) {
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		sub := n.Subscribe(event.Kinds(event.KindChildStarted, event.KindChildRestarted, event.KindChildTerminated,
			event.KindChildStartFailed, event.KindIntensityReached, event.KindGaveUp))
		defer sub.Close()
		worker := supervisor.Func(spawntest.Idle, process.WithBackend(b))
		ref := imStart(t, n, supervisor.Spec{
			Name: "evsup", Strategy: supervisor.OneForAll, Intensity: 1, Period: time.Hour, Backend: b,
			Children: []supervisor.ChildSpec{{ID: "a", Start: worker}, {ID: "b", Start: worker}},
		})
		sup := imWhereIs(t, n, "evsup")
		names := map[pid.Pid]string{}
		gen := map[string]int{}
		name := func(id string, p pid.Pid) {
			names[p] = fmt.Sprintf("%s%d", id, gen[id])
			gen[id]++
		}
		children := func() []supervisor.ChildReport {
			r, err := ref.Inspect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range r.Children {
				if _, ok := names[c.Pid]; !ok && !c.Pid.IsZero() {
					name(c.ID, c.Pid)
				}
			}
			return r.Children
		}
		first := children()
		boom := errors.New("boom")
		down := spawntest.WatchExit(t, n, first[1].Pid)
		if err := n.Exit(first[0].Pid, boom); err != nil {
			t.Fatal(err)
		}
		down.Wait()
		second := children() // after the restart
		if second[0].Restarts != 1 || !errors.Is(second[0].LastExit, boom) || second[0].LastExitAt.IsZero() ||
			second[1].Restarts != 1 || !errors.Is(second[1].LastExit, process.Shutdown) {
			t.Fatalf("after the restart: %+v", second)
		}
		bad := errors.New("no start")
		if _, err := ref.StartChild(ctx, supervisor.ChildSpec{ID: "c", Start: func(context.Context, *process.Process) (pid.Pid, error) {
			return pid.Pid{}, bad
		}}); !errors.Is(err, bad) {
			t.Fatalf("StartChild = %v", err)
		}
		supDown := spawntest.WatchExit(t, n, sup)
		if err := n.Exit(second[1].Pid, boom); err != nil {
			t.Fatal(err)
		}
		if r := supDown.Wait(); !errors.Is(r, process.Shutdown) {
			t.Fatalf("supervisor exited %v", r)
		}
		want := []string{
			"evsup started a a0", "evsup started b b0",
			"evsup terminated a a0: boom", "evsup terminated b b0: shutdown",
			"evsup restarted a a0->a1 after boom (cause a)", "evsup restarted b b0->b1 after boom (cause a)",
			"evsup start failed c: no start",
			"evsup terminated b b1: boom", "evsup intensity 1 in 1h0m0s",
			"evsup terminated a a1: shutdown", "evsup gave up: shutdown",
		}
		for i, w := range want {
			e := obsNext(t, sub)
			if got := obsLine(e, names); got != w {
				t.Fatalf("event %d: %q, want %q", i, got, w)
			}
			if e.When().IsZero() {
				t.Errorf("event %d has no time", i)
			}
		}
	})
}

// TestInspect_DynamicAndErrors: Inspect by Pid works for a dynamic
// supervisor and refuses what is not a supervisor.
func TestInspect_DynamicAndErrors(t *testing.T) {
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	d, err := supervisor.StartDynamic(ctx, n, supervisor.DynamicSpec[int]{Name: "dyn",
		Start: func(_ context.Context, sup *process.Process, _ int) (pid.Pid, error) {
			return sup.SpawnLink(spawntest.Idle)
		}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.StartChild(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := supervisor.Inspect(ctx, n, imWhereIs(t, n, "dyn"))
	if err != nil || !r.Dynamic || r.Name != "dyn" || len(r.Children) != 1 || r.Children[0].Pid != c || r.Intensity != 1 {
		t.Fatalf("Inspect = %+v, %v", r, err)
	}
	if r2, err := d.Inspect(ctx); err != nil || r2.Pid != r.Pid {
		t.Fatalf("Dynamic.Inspect = %+v, %v", r2, err)
	}
	in, err := n.Info(r.Pid)
	if err != nil || in.Behaviour != supervisor.Behaviour {
		t.Fatalf("supervisor's Behaviour = %q (%v)", in.Behaviour, err)
	}
	if _, err := supervisor.Inspect(ctx, n, c); !errors.Is(err, supervisor.ErrNotSupervisor) {
		t.Fatalf("Inspect of a plain process: %v, want ErrNotSupervisor", err)
	}
	srv, err := genserver.Start(ctx, n, &pidServer{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := supervisor.Inspect(ctx, n, srv.Pid()); !errors.Is(err, supervisor.ErrNotSupervisor) {
		t.Fatalf("Inspect of a GenServer: %v, want ErrNotSupervisor", err)
	}
	dead, _ := n.Spawn(func(*process.Process) error { return nil })
	spawntest.WaitExit(t, n, dead)
	if _, err := supervisor.Inspect(ctx, n, dead); !errors.Is(err, process.NoProc) {
		t.Fatalf("Inspect of a dead process: %v, want NoProc", err)
	}
	if _, err := supervisor.Inspect(ctx, nil, c); !errors.Is(err, process.ErrNilNode) {
		t.Fatalf("Inspect(nil node) = %v", err)
	}
}

// slogCrasher panics on every call.
type slogCrasher struct{ genserver.NoCasts }

func (*slogCrasher) HandleCall(*genserver.CallCtx[int], int) (int, error) { panic("bad call") }

// syncBuffer is a bytes.Buffer safe for the goroutines that log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) records(t *testing.T) map[string]map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		out[m["msg"].(string)] = m
	}
	return out
}

// TestSlog_ServerAndSupervisorReports: through log/slog, a server's crash
// report and its supervisor's reports are records with pid, name, reason
// and stack.
func TestSlog_ServerAndSupervisorReports(t *testing.T) {
	var buf syncBuffer
	n := spawntest.NewNode(t, process.WithSlog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	ctx := spawntest.Context(t)
	imStart(t, n, supervisor.Spec{Name: "slogsup", Intensity: 5, Period: time.Hour, Children: []supervisor.ChildSpec{
		{ID: "crasher", Start: supervisor.GenServer(func() *slogCrasher { return &slogCrasher{} }, genserver.WithName("crasher"))},
	}})
	old := imWhereIs(t, n, "crasher")
	down := spawntest.WatchExit(t, n, old)
	sub := n.Subscribe(event.Kinds(event.KindChildRestarted))
	defer sub.Close()
	genserver.At[int, int, genserver.Never](n, old).Call(ctx, 1)
	down.Wait()
	obsNext(t, sub)
	var recs map[string]map[string]any
	spawntest.Eventually(t, "the reports", func() bool {
		recs = buf.records(t)
		return recs["genserver terminated"] != nil && recs["child terminated"] != nil && recs["child restarted"] != nil
	})
	srv, sup := recs["genserver terminated"], recs["child terminated"]
	if srv["pid"] != old.String() || srv["name"] != "crasher" || srv["behaviour"] != "*supervisor_test.slogCrasher" ||
		srv["reason"] != "panic: bad call" || !strings.Contains(fmt.Sprint(srv["stack"]), "slogCrasher") {
		t.Errorf("server report %v", srv)
	}
	if sup["pid"] != old.String() || sup["id"] != "crasher" || sup["name"] != "slogsup" || sup["reason"] != "panic: bad call" ||
		!strings.Contains(fmt.Sprint(sup["stack"]), "slogCrasher") || sup["supervisor"] == nil {
		t.Errorf("supervisor report %v", sup)
	}
}
