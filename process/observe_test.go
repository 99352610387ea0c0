package process_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// obsEcho is a Handler that forwards every int it gets to a peer.
type obsEcho struct{ to pid.Pid }

func (e *obsEcho) HandleMessage(p *process.Process, msg any) error {
	if n, ok := msg.(int); ok && !e.to.IsZero() {
		return p.Send(e.to, n)
	}
	return nil
}

// obsNamed describes itself.
type obsNamed struct{}

func (obsNamed) HandleMessage(*process.Process, any) error { return nil }
func (obsNamed) Describe() string                          { return "named-thing" }

// nextEvent returns the next event, failing after spawntest.Timeout or if
// the subscription is closed.
func nextEvent(t *testing.T, sub *event.Subscription) event.Event {
	t.Helper()
	e := spawntest.Recv(t, sub.C())
	if e == nil {
		t.Fatal("subscription closed")
	}
	return e
}

// TestEvents_SpawnedThenExitedInOrder: every process's Spawned comes before
// its Exited, with what each says, on every backend and for every way out.
func TestEvents_SpawnedThenExitedInOrder(t *testing.T) {
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		sub := n.Subscribe(event.Kinds(event.KindSpawned, event.KindExited))
		defer sub.Close()
		boom := errors.New("boom")
		type want struct {
			name, behaviour string
			class           func(error) bool
		}
		wants := map[pid.Pid]want{}
		// A Func that returns an error, one that panics, a Handler that is
		// killed, a named describer shut down.
		p1, err := n.Spawn(func(*process.Process) error { return boom }, process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		wants[p1] = want{"", "func", func(r error) bool { return errors.Is(r, boom) }}
		p2, err := n.Spawn(func(*process.Process) error { panic("ouch") }, process.WithBackend(b), process.WithName("panicker"))
		if err != nil {
			t.Fatal(err)
		}
		wants[p2] = want{"panicker", "func", func(r error) bool { var pe *process.PanicError; return errors.As(r, &pe) }}
		p3, err := n.SpawnHandler(&obsEcho{}, process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		wants[p3] = want{"", "*process_test.obsEcho", func(r error) bool { return errors.Is(r, process.Killed) }}
		p4, err := n.SpawnHandler(obsNamed{}, process.WithBackend(b), process.WithName("desc"))
		if err != nil {
			t.Fatal(err)
		}
		stop := process.ShutdownWith(boom)
		wants[p4] = want{"desc", "named-thing", func(r error) bool { return errors.Is(r, process.Shutdown) }}
		if r := spawntest.ExitAndWait(t, n, p3, process.Kill); !errors.Is(r, process.Killed) {
			t.Fatalf("p3 exited %v", r)
		}
		if r := spawntest.ExitAndWait(t, n, p4, stop); r != stop {
			t.Fatalf("p4 exited %v", r)
		}
		spawned := map[pid.Pid]bool{}
		for len(wants) > 0 {
			switch e := nextEvent(t, sub).(type) {
			case event.Spawned:
				w, ok := wants[e.Pid]
				if !ok {
					continue
				}
				spawned[e.Pid] = true
				if e.Name != w.name || e.Behaviour != w.behaviour || e.Backend != b.String() || e.Time.IsZero() {
					t.Errorf("Spawned %+v; want name %q behaviour %q backend %s", e, w.name, w.behaviour, b)
				}
			case event.Exited:
				w, ok := wants[e.Pid]
				if !ok {
					continue
				}
				if !spawned[e.Pid] {
					t.Errorf("Exited of %v before its Spawned", e.Pid)
				}
				if e.Name != w.name || !w.class(e.Reason) {
					t.Errorf("Exited %+v; want name %q", e, w.name)
				}
				delete(wants, e.Pid)
			default:
				t.Fatalf("unexpected %T", e)
			}
		}
	})
}

// TestEvents_ParentAndFailedSpawn: a linked spawn names its parent; a
// spawn whose name is taken is seen spawned and exited normally, never
// half.
func TestEvents_ParentAndFailedSpawn(t *testing.T) {
	n := spawntest.NewNode(t)
	parent := spawntest.NewProbe(t, n)
	if _, err := n.Spawn(spawntest.Idle, process.WithName("taken")); err != nil {
		t.Fatal(err)
	}
	sub := n.Subscribe()
	defer sub.Close()
	var child pid.Pid
	parent.Do(func(p *process.Process) error {
		var err error
		child, err = p.SpawnLink(spawntest.Idle)
		return err
	})
	if e, ok := nextEvent(t, sub).(event.Spawned); !ok || e.Pid != child || e.Parent != parent.Pid() {
		t.Fatalf("got %+v, want Spawned of %v with parent %v", e, child, parent.Pid())
	}
	if _, err := n.Spawn(spawntest.Idle, process.WithName("taken")); err == nil {
		t.Fatal("spawn with a taken name succeeded")
	}
	s, ok := nextEvent(t, sub).(event.Spawned)
	if !ok || s.Name != "taken" {
		t.Fatalf("got %+v, want the failed spawn's Spawned", s)
	}
	if e, ok := nextEvent(t, sub).(event.Exited); !ok || e.Pid != s.Pid || !process.IsNormal(e.Reason) {
		t.Fatalf("got %+v, want its normal Exited", e)
	}
}

// TestEvents_SlowSubscriberNeverBlocks: a subscriber that never reads
// holds up nothing; it learns what it lost.
func TestEvents_SlowSubscriberNeverBlocks(t *testing.T) {
	n := spawntest.NewNode(t)
	sub := n.Subscribe(event.Buffer(4))
	defer sub.Close()
	const count = 2000
	for range count {
		p, err := n.Spawn(func(*process.Process) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		spawntest.WaitExit(t, n, p)
	}
	if got := sub.Dropped(); got != 2*count-4 {
		t.Fatalf("Dropped = %d, want %d", got, 2*count-4)
	}
	for range 4 {
		<-sub.C()
	}
	p, _ := n.Spawn(spawntest.Idle)
	if g, ok := nextEvent(t, sub).(event.Gap); !ok || g.Lost != 2*count-4 {
		t.Fatalf("got %+v, want a Gap of %d", g, 2*count-4)
	}
	if e, ok := nextEvent(t, sub).(event.Spawned); !ok || e.Pid != p {
		t.Fatalf("got %+v after the gap, want the new Spawned", e)
	}
	var nilNode *process.Node
	if _, open := <-nilNode.Subscribe().C(); open {
		t.Fatal("a nil node's subscription is open")
	}
}

// TestInfo_Behaviour: Info says what a process runs.
func TestInfo_Behaviour(t *testing.T) {
	n := spawntest.NewNode(t)
	for _, tc := range []struct {
		spawn func() (pid.Pid, error)
		want  string
	}{
		{func() (pid.Pid, error) { return n.Spawn(spawntest.Idle) }, "func"},
		{func() (pid.Pid, error) { return n.SpawnHandler(&obsEcho{}) }, "*process_test.obsEcho"},
		{func() (pid.Pid, error) { return n.SpawnHandler(obsNamed{}) }, "named-thing"},
	} {
		p, err := tc.spawn()
		if err != nil {
			t.Fatal(err)
		}
		in, err := n.Info(p)
		if err != nil || in.Behaviour != tc.want {
			t.Errorf("Behaviour = %q (%v), want %q", in.Behaviour, err, tc.want)
		}
	}
}

// TestTrace_MessagesAndSignals: the trace of a process lists the messages
// it got, handled and sent, its links, monitors and exit signals, and its
// exit, as they happened; Traced events carry the same entries.
func TestTrace_MessagesAndSignals(t *testing.T) {
	n := spawntest.NewNode(t)
	probe := spawntest.NewProbe(t, n)
	echo, err := n.SpawnHandler(&obsEcho{to: probe.Pid()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Trace(echo); err != nil {
		t.Fatal(err)
	}
	if !n.Traced(echo) || n.Traced(probe.Pid()) {
		t.Fatal("Traced is wrong")
	}
	sub := n.Subscribe(event.Kinds(event.KindTraced))
	defer sub.Close()
	probe.Do(func(p *process.Process) error { return link.Link(p, echo) })
	for i := 1; i <= 3; i++ { // one at a time, so that the log's order is known
		probe.Do(func(p *process.Process) error { return p.Send(echo, i) })
		if got := probe.Receive(); got != i {
			t.Fatalf("probe got %v, want %d", got, i)
		}
	}
	probe.Do(func(p *process.Process) error {
		if err := link.Unlink(p, echo); err != nil {
			return err
		}
		ref, err := link.Monitor(p, echo)
		if err != nil {
			return err
		}
		link.Demonitor(p, ref)
		return nil
	})
	boom := errors.New("boom")
	if r := spawntest.ExitAndWait(t, n, echo, boom); !errors.Is(r, boom) {
		t.Fatalf("echo exited %v", r)
	}
	log, err := n.TraceLog(echo)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range log {
		if e.Pid != echo {
			t.Errorf("entry of %v in the log of %v", e.Pid, echo)
		}
		s := e.Op.String()
		if e.Text != "" {
			s += " " + e.Text
		}
		ops = append(ops, s)
	}
	want := []string{
		"link", "in 1", "handled 1", "out 1", "in 2", "handled 2", "out 2", "in 3", "handled 3", "out 3",
		"unlink",
		"exit-signal boom", "exit boom",
	}
	if strings.Join(ops, "|") != strings.Join(want, "|") {
		t.Fatalf("trace:\n%s\nwant:\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
	if log[1].Peer != probe.Pid() || log[3].Peer != probe.Pid() || log[0].Peer != probe.Pid() {
		t.Errorf("peers: %v %v %v, want the probe", log[0].Peer, log[1].Peer, log[3].Peer)
	}
	for i := range want {
		e, ok := nextEvent(t, sub).(event.Traced)
		if !ok || e.Op != log[i].Op || e.Text != log[i].Text {
			t.Fatalf("event %d: %+v, want %+v", i, e, log[i])
		}
	}
	if n.Traced(echo) {
		t.Error("a dead process is still traced")
	}
}

// TestTrace_OnAndOff: untraced, a process records nothing more; its log
// stays readable; tracing again starts afresh; errors are clear.
func TestTrace_OnAndOff(t *testing.T) {
	n := spawntest.NewNode(t)
	p := spawntest.NewProbe(t, n)
	if _, err := n.TraceLog(p.Pid()); !errors.Is(err, process.ErrNotTraced) {
		t.Fatalf("TraceLog of an untraced process: %v", err)
	}
	if err := n.Trace(pid.Pid{}); !errors.Is(err, process.ErrZeroPid) {
		t.Fatalf("Trace(zero) = %v", err)
	}
	dead, _ := n.Spawn(func(*process.Process) error { return nil })
	spawntest.WaitExit(t, n, dead)
	if err := n.Trace(dead); !errors.Is(err, process.NoProc) {
		t.Fatalf("Trace(dead) = %v", err)
	}
	if err := n.Trace(p.Pid()); err != nil {
		t.Fatal(err)
	}
	n.Send(p.Pid(), "one")
	if got := p.Receive(); got != "one" {
		t.Fatalf("got %v", got)
	}
	if !n.Untrace(p.Pid()) || n.Untrace(p.Pid()) {
		t.Fatal("Untrace reports wrong")
	}
	n.Send(p.Pid(), "two")
	p.Receive()
	log, err := n.TraceLog(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, e := range log {
		if strings.Contains(e.Text, "two") {
			t.Errorf("recorded after Untrace: %v", e)
		}
		texts = append(texts, e.String())
	}
	if len(log) == 0 || !strings.Contains(strings.Join(texts, "\n"), `"one"`) {
		t.Fatalf("log after Untrace: %v", texts)
	}
	if err := n.Trace(p.Pid()); err != nil {
		t.Fatal(err)
	}
	if log, _ := n.TraceLog(p.Pid()); len(log) != 0 {
		t.Fatalf("a new trace starts with %d entries", len(log))
	}
	var nilNode *process.Node
	if err := nilNode.Trace(p.Pid()); !errors.Is(err, process.ErrNilNode) || nilNode.Traced(p.Pid()) || nilNode.Untrace(p.Pid()) {
		t.Fatal("nil node")
	}
	if _, err := nilNode.TraceLog(p.Pid()); !errors.Is(err, process.ErrNilNode) {
		t.Fatal("nil node TraceLog")
	}
}

// TestTrace_Bounded: the log keeps the last entries only.
func TestTrace_Bounded(t *testing.T) {
	n := spawntest.NewNode(t)
	p := spawntest.NewProbe(t, n)
	if err := n.Trace(p.Pid()); err != nil {
		t.Fatal(err)
	}
	const sends = process.DefaultTraceEntries
	for i := range sends {
		n.Send(p.Pid(), i)
	}
	for range sends {
		p.Receive()
	}
	log, _ := n.TraceLog(p.Pid())
	if len(log) != process.DefaultTraceEntries {
		t.Fatalf("log has %d entries, want %d", len(log), process.DefaultTraceEntries)
	}
	for i := 1; i < len(log); i++ {
		if log[i].Time.Before(log[i-1].Time) {
			t.Fatalf("entries out of order at %d", i)
		}
	}
}

// TestEvents_StopClosesSubscriptions: a subscription made before Stop gets
// the Exited of every process the stop killed, and then its channel ends,
// whether Stop is called from outside the node or from a process of it.
func TestEvents_StopClosesSubscriptions(t *testing.T) {
	cases := []struct {
		name string
		stop func(t *testing.T, n *process.Node)
	}{
		{"Stop from outside", func(t *testing.T, n *process.Node) {
			if err := n.Stop(spawntest.Context(t)); err != nil {
				t.Fatal(err)
			}
		}},
		{"Stop from a process of the node", func(t *testing.T, n *process.Node) {
			stopped := make(chan error, 1)
			if _, err := n.Spawn(func(p *process.Process) error {
				stopped <- n.Stop(spawntest.Context(t))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := spawntest.Recv(t, stopped); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := spawntest.NewNode(t)
			sub := n.Subscribe(event.Kinds(event.KindExited))
			defer sub.Close()
			live := map[pid.Pid]bool{}
			for _, b := range spawntest.Backends() {
				live[spawntest.SpawnIdle(t, n, process.WithBackend(b))] = true
			}
			c.stop(t, n)
			err := spawntest.Bounded(t, "a loop over the subscription after Stop", func() error {
				for e := range sub.C() {
					if x, ok := e.(event.Exited); ok && process.IsShutdown(x.Reason) {
						delete(live, x.Pid)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(live) != 0 {
				t.Fatalf("no Exited of %v before the channel ended", live)
			}
			if _, open := <-n.Subscribe().C(); open {
				t.Fatal("a subscription made after Stop is open")
			}
		})
	}
}
