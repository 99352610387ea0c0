package process_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

func TestInfo_Fields(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		probe := spawntest.NewProbe(t, n)
		gate1, gate2 := spawntest.NewGate(t), spawntest.NewGate(t)
		step := make(chan int, 2)
		subject, err := n.Spawn(func(p *process.Process) error {
			p.TrapExit(true)
			step <- 1
			gate1.Wait(context.Background())
			for range 2 {
				if _, err := p.Receive(context.Background()); err != nil {
					return err
				}
			}
			for i := range 2 {
				if err := p.Send(probe.Pid(), i); err != nil {
					return err
				}
			}
			step <- 2
			gate2.Wait(context.Background())
			for {
				if _, err := p.Receive(context.Background()); err != nil {
					return err
				}
			}
		}, process.WithBackend(b), process.WithName("info-subject"))
		if err != nil {
			t.Fatal(err)
		}
		if s := spawntest.Recv(t, step); s != 1 {
			t.Fatal(s)
		}
		for i := range 3 {
			if err := n.Send(subject, i); err != nil {
				t.Fatal(err)
			}
		}
		var monRef pid.Ref
		probe.Do(func(p *process.Process) error {
			if err := link.Link(p, subject); err != nil {
				return err
			}
			var err error
			monRef, err = link.Monitor(p, subject)
			return err
		})
		if _, err := link.Watch(n, subject, func(link.Down) {}); err != nil {
			t.Fatal(err)
		}
		reg := registry.Of(n)
		for _, g := range []string{"g2", "g1"} {
			if err := reg.Join(g, subject); err != nil {
				t.Fatal(err)
			}
		}

		in := spawntest.Info(t, n, subject)
		if in.Pid != subject {
			t.Errorf("Pid = %v, want %v", in.Pid, subject)
		}
		if in.Name != "info-subject" {
			t.Errorf("Name = %q", in.Name)
		}
		if in.Status != process.Running {
			t.Errorf("Status = %v, want Running", in.Status)
		}
		if in.Backend != b {
			t.Errorf("Backend = %v, want %v", in.Backend, b)
		}
		if !in.TrapExit {
			t.Error("TrapExit = false")
		}
		if in.MessageQueueLen != 3 || in.Received != 3 || in.Handled != 0 || in.Sent != 0 {
			t.Errorf("queue %d received %d handled %d sent %d, want 3 3 0 0",
				in.MessageQueueLen, in.Received, in.Handled, in.Sent)
		}
		if !slices.Equal(in.Links, []pid.Pid{probe.Pid()}) {
			t.Errorf("Links = %v, want [%v]", in.Links, probe.Pid())
		}
		if len(in.Monitors) != 0 {
			t.Errorf("Monitors = %v, want none", in.Monitors)
		}
		// The probe monitors it, and so does a watch (shown as the zero Pid).
		wantBy := []pid.Pid{{}, probe.Pid()}
		if !slices.Equal(in.MonitoredBy, wantBy) {
			t.Errorf("MonitoredBy = %v, want %v", in.MonitoredBy, wantBy)
		}
		if !slices.Equal(in.Groups, []string{"g1", "g2"}) {
			t.Errorf("Groups = %v, want [g1 g2]", in.Groups)
		}

		pin := spawntest.Info(t, n, probe.Pid())
		if !slices.Equal(pin.Links, []pid.Pid{subject}) {
			t.Errorf("probe Links = %v", pin.Links)
		}
		if len(pin.Monitors) != 1 || pin.Monitors[0].Ref != monRef || pin.Monitors[0].Pid != subject {
			t.Errorf("probe Monitors = %+v, want [{%v %v}]", pin.Monitors, monRef, subject)
		}
		if pin.Name != "" || pin.TrapExit || pin.Backend != process.Async {
			t.Errorf("probe Info = %+v", pin)
		}

		gate1.Open()
		if s := spawntest.Recv(t, step); s != 2 {
			t.Fatal(s)
		}
		in = spawntest.Info(t, n, subject)
		if in.MessageQueueLen != 1 || in.Received != 3 || in.Handled != 2 || in.Sent != 2 {
			t.Errorf("queue %d received %d handled %d sent %d, want 1 3 2 2",
				in.MessageQueueLen, in.Received, in.Handled, in.Sent)
		}
		for i := range 2 {
			if got := probe.Receive(); got != i {
				t.Errorf("probe got %#v", got)
			}
		}

		gate2.Open()
		spawntest.Eventually(t, "the subject waits in Receive with an empty mailbox", func() bool {
			in, err := n.Info(subject)
			return err == nil && in.Status == process.Waiting && in.MessageQueueLen == 0 && in.Handled == 3
		})

		// Dead: NoProc.
		probe.Do(func(p *process.Process) error { return link.Unlink(p, subject) })
		if err := n.Exit(subject, process.Kill); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Info(subject); !errors.Is(err, process.NoProc) {
			t.Errorf("Info of a dead pid: %v, want NoProc", err)
		}
		pin = spawntest.Info(t, n, probe.Pid())
		if len(pin.Links) != 0 || len(pin.Monitors) != 0 {
			t.Errorf("probe still shows links %v / monitors %v of a dead process", pin.Links, pin.Monitors)
		}
	})
}

func TestInfo_HandlerCountersAndStatus(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		target := spawntest.NewProbe(t, n)
		gate := spawntest.NewGate(t)
		blocked := make(chan struct{}, 1)
		h, err := n.SpawnHandler(pkHandle(func(p *process.Process, msg any) error {
			if msg == "block" {
				blocked <- struct{}{}
				gate.Wait(context.Background())
			}
			return p.Send(target.Pid(), msg)
		}), process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"a", "block", "b", "c"} {
			if err := n.Send(h, m); err != nil {
				t.Fatal(err)
			}
		}
		spawntest.Recv(t, blocked)
		in := spawntest.Info(t, n, h)
		if in.Status != process.Running || in.Received != 4 || in.Handled != 1 || in.Sent != 1 || in.MessageQueueLen != 2 {
			t.Errorf("while blocked: %+v, want Running received 4 handled 1 sent 1 queue 2", in)
		}
		if in.Backend != b {
			t.Errorf("Backend = %v", in.Backend)
		}
		gate.Open()
		for _, m := range []string{"a", "block", "b", "c"} {
			if got := target.Receive(); got != m {
				t.Fatalf("target got %#v, want %q", got, m)
			}
		}
		spawntest.Eventually(t, "the handler is idle", func() bool {
			in, err := n.Info(h)
			return err == nil && in.Status == process.Waiting
		})
		in = spawntest.Info(t, n, h)
		if in.Received != 4 || in.Handled != 4 || in.Sent != 4 || in.MessageQueueLen != 0 {
			t.Errorf("idle: %+v, want received 4 handled 4 sent 4 queue 0", in)
		}
	})
}

func TestInfo_RunnableWhileWaitingForBlockingSlot(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t, process.WithBlockingPool(1))
	gate := spawntest.NewGate(t)
	holding := make(chan struct{})
	if _, err := n.Spawn(func(*process.Process) error {
		close(holding)
		gate.Wait(context.Background())
		return nil
	}, process.WithBackend(process.Blocking)); err != nil {
		t.Fatal(err)
	}
	spawntest.Recv(t, holding)
	waiter, err := n.Spawn(func(*process.Process) error { return nil }, process.WithBackend(process.Blocking))
	if err != nil {
		t.Fatal(err)
	}
	w := spawntest.WatchExit(t, n, waiter)
	spawntest.Eventually(t, "the waiter is Runnable", func() bool {
		in, err := n.Info(waiter)
		return err == nil && in.Status == process.Runnable
	})
	gate.Open()
	if r := w.Wait(); !errors.Is(r, process.Normal) {
		t.Errorf("waiter exit %v", r)
	}
}

func TestInfo_ProcessesAndStats(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	if s := n.Stats(); s != (process.Stats{}) {
		t.Fatalf("fresh node Stats = %+v", s)
	}
	if ps := n.Processes(); len(ps) != 0 {
		t.Fatalf("fresh node Processes = %v", ps)
	}
	var pids []pid.Pid
	for i := range 5 {
		var p pid.Pid
		var err error
		if i%2 == 0 {
			p, err = n.Spawn(func(p *process.Process) error {
				_, err := p.Receive(context.Background())
				return err
			}, process.WithBackend(spawntest.Backends()[i%3]))
		} else {
			p, err = n.SpawnHandler(pkHandle(func(*process.Process, any) error { return process.Normal }),
				process.WithBackend(spawntest.Backends()[i%3]))
		}
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p)
	}
	byList := func() []pid.Pid {
		ps := n.Processes()
		slices.SortFunc(ps, func(a, b pid.Pid) int { return cmp.Compare(a.Serial(), b.Serial()) })
		return ps
	}
	if got := byList(); !slices.Equal(got, pids) {
		t.Errorf("Processes = %v, want %v", got, pids)
	}
	if s := n.Stats(); s.Processes != 5 || s.Spawned != 5 || s.Exited != 0 {
		t.Errorf("Stats = %+v, want 5 live, 5 spawned, 0 exited", s)
	}
	// Three of them exit.
	for _, p := range pids[:3] {
		w := spawntest.WatchExit(t, n, p)
		if err := n.Send(p, "exit"); err != nil {
			t.Fatal(err)
		}
		if r := w.Wait(); !errors.Is(r, process.Normal) {
			t.Errorf("%v exited with %v", p, r)
		}
	}
	if got := byList(); !slices.Equal(got, pids[3:]) {
		t.Errorf("Processes = %v, want %v", got, pids[3:])
	}
	if s := n.Stats(); s.Processes != 2 || s.Spawned != 5 || s.Exited != 3 || s.Stragglers != 0 {
		t.Errorf("Stats = %+v, want 2 live, 5 spawned, 3 exited", s)
	}
	// Names and groups.
	reg := registry.Of(n)
	if err := reg.Register("info-a", pids[3]); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"x", "y", "x"} {
		if err := reg.Join(g, pids[4]); err != nil {
			t.Fatal(err)
		}
	}
	if s := n.Stats(); s.Names != 1 || s.Groups != 2 {
		t.Errorf("Stats = %+v, want 1 name, 2 groups", s)
	}
	if in := spawntest.Info(t, n, pids[3]); in.Name != "info-a" {
		t.Errorf("Name = %q", in.Name)
	}
	if in := spawntest.Info(t, n, pids[4]); fmt.Sprint(in.Groups) != "[x y]" {
		t.Errorf("Groups = %v", in.Groups)
	}
}
