package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/observer"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// hostileReason is an error type no node registered.
type hostileReason struct{ code int }

func (r hostileReason) Error() string { return fmt.Sprintf("hostile reason %d", r.code) }

// TestHostile_ClusterNilContexts: every function of the cluster that takes
// a context fails at once with an error wrapping process.ErrNilContext for
// a nil one, as the rest of the runtime does. Join, Leave, ServeObserver and
// the observer's Forward used to fail with a text of their own; WaitRoom
// would have panicked on a busy peer.
func TestHostile_ClusterNilContexts(t *testing.T) {
	a, ca, _, cb := pair(t)
	var nilCtx context.Context
	self := spawntest.SpawnIdle(t, a)
	cases := []struct {
		name string
		call func() error
	}{
		{"Join", func() error {
			_, err := cluster.Join(nilCtx, spawntest.NewNode(t), testConfig(clusterName(t)))
			return err
		}},
		{"Leave", func() error { return ca.Leave(nilCtx) }},
		{"ServeObserver", func() error {
			h := observer.Handler(a)
			defer h.Close()
			return ca.ServeObserver(nilCtx, h)
		}},
		{"ObserverPeers.Forward", func() error {
			_, err := ca.ObserverPeers().Forward(nilCtx, cb.Self().ID.String(), observer.Request{Method: "GET", Endpoint: "overview"})
			return err
		}},
		{"WaitRoom", func() error { return ca.WaitRoom(nilCtx, cb.Self().ID) }},
		{"Names.Register", func() error { return ca.Names().Register(nilCtx, "hostile", self) }},
		{"Names.Unregister", func() error { return ca.Names().Unregister(nilCtx, "hostile") }},
		{"Factory.Spawn", func() error {
			_, err := cluster.NewFactory[int]("hostile.nilctx").Spawn(nilCtx, ca, cb.Self().ID, 1)
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := spawntest.Bounded(t, c.name, c.call); !errors.Is(err, process.ErrNilContext) {
				t.Fatalf("got %v, want ErrNilContext", err)
			}
		})
	}
}

// TestHostile_ClusterBadArguments: nil processes and functions given to the
// cluster fail with the runtime's sentinels (process.ErrNilProcess,
// process.ErrNilFunc), not with texts of their own; factories of unknown
// names, argument types and nodes with theirs.
func TestHostile_ClusterBadArguments(t *testing.T) {
	_, ca, _, cb := pair(t)
	ctx := spawntest.Context(t)
	f := cluster.NewFactory[int]("hostile.f")
	if err := f.Register(cb, func(*process.Process, int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"MonitorNode(nil process)", func() error { _, err := ca.MonitorNode(nil, cb.Self().ID); return err }, process.ErrNilProcess},
		{"MonitorNodes(nil process)", func() error { _, err := ca.MonitorNodes(nil); return err }, process.ErrNilProcess},
		{"Groups.Monitor(nil process)", func() error { _, _, err := ca.Groups().Monitor(nil, "g"); return err }, process.ErrNilProcess},
		{"Factory.Register(nil fn)", func() error { return cluster.NewFactory[int]("hostile.nil").Register(ca, nil) }, process.ErrNilFunc},
		{"Factory.Register twice", func() error {
			return f.Register(cb, func(*process.Process, int) error { return nil })
		}, cluster.ErrFactoryRegistered},
		{"Factory.SpawnLink(nil parent)", func() error { _, err := f.SpawnLink(ctx, nil, ca, cb.Self().ID, 1); return err }, process.ErrNilProcess},
		{"Factory.Spawn of an unknown factory", func() error {
			_, err := cluster.NewFactory[int]("hostile.none").Spawn(ctx, ca, cb.Self().ID, 1)
			return err
		}, cluster.ErrUnknownFactory},
		{"Factory.Spawn with another argument type", func() error {
			_, err := cluster.NewFactory[string]("hostile.f").Spawn(ctx, ca, cb.Self().ID, "x")
			return err
		}, cluster.ErrFactoryArgument},
		{"Factory.Spawn on the zero node", func() error { _, err := f.Spawn(ctx, ca, pid.NodeID{}, 1); return err }, process.ErrZeroPid},
		{"Factory.Spawn on a node never seen", func() error { _, err := f.Spawn(ctx, ca, pid.NewNodeID(), 1); return err }, process.NoConnection},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := spawntest.Bounded(t, c.name, c.call); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// TestHostile_ClusterAfterLeave: what a node does with the cluster it
// left. Names, groups, node monitors, spawns and the observer refuse with
// ErrLeft (groups used to accept a Join that no other node would ever
// hear of); sends and calls to the former peers fail with NoConnection at
// once; Leave again is harmless.
func TestHostile_ClusterAfterLeave(t *testing.T) {
	a, ca, b, cb := pair(t)
	ctx := spawntest.Context(t)
	srv, err := genserver.Start(ctx, b, &hostileEcho{})
	if err != nil {
		t.Fatal(err)
	}
	member := spawntest.SpawnIdle(t, a)
	if err := ca.Groups().Join("joined-before", member); err != nil {
		t.Fatal(err)
	}
	if err := ca.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	pr := spawntest.NewProbe(t, a)
	f := cluster.NewFactory[int]("hostile.after")
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"Leave again", func() error { return ca.Leave(ctx) }, nil},
		{"Names.Register", func() error { return ca.Names().Register(ctx, "n", member) }, cluster.ErrLeft},
		{"Names.Unregister", func() error { return ca.Names().Unregister(ctx, "n") }, cluster.ErrLeft},
		{"Groups.Join", func() error { return ca.Groups().Join("g", member) }, cluster.ErrLeft},
		{"Groups.Leave", func() error { return ca.Groups().Leave("joined-before", member) }, cluster.ErrLeft},
		{"Groups.Monitor", func() error {
			var err error
			pr.Do(func(p *process.Process) error { _, _, err = ca.Groups().Monitor(p, "g"); return nil })
			return err
		}, cluster.ErrLeft},
		{"MonitorNode", func() error {
			var err error
			pr.Do(func(p *process.Process) error { _, err = ca.MonitorNode(p, cb.Self().ID); return nil })
			return err
		}, cluster.ErrLeft},
		{"Factory.Spawn", func() error { _, err := f.Spawn(ctx, ca, cb.Self().ID, 1); return err }, cluster.ErrLeft},
		{"ServeObserver", func() error {
			h := observer.Handler(a)
			defer h.Close()
			return ca.ServeObserver(ctx, h)
		}, cluster.ErrLeft},
		{"Send to a former peer", func() error { return a.Send(srv.Pid(), "x") }, process.NoConnection},
		{"Call to a former peer", func() error {
			_, err := genserver.At[string, string, genserver.Never](a, srv.Pid()).Call(ctx, "x")
			var ce *genserver.CallError
			if !errors.As(err, &ce) {
				return fmt.Errorf("not a *CallError: %w", err)
			}
			return err
		}, process.NoConnection},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := spawntest.Bounded(t, c.name, c.call)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if nodes := ca.Nodes(); len(nodes) != 0 {
		t.Fatalf("Nodes after Leave: %v", nodes)
	}
}

type hostileEcho struct{ genserver.NoCasts }

func (hostileEcho) HandleCall(_ *genserver.CallCtx[string], req string) (string, error) {
	return req, nil
}

// TestHostile_ReasonsOfNoRegisteredType: an exit reason whose type no node
// registered still crosses, as its text: a monitor's Down, a trapped link's
// Exit and an exit signal sent across all carry it; none is dropped and
// none turns into NoProc.
func TestHostile_ReasonsOfNoRegisteredType(t *testing.T) {
	a, _, b, _ := pair(t)
	want := hostileReason{7}.Error()
	body := func(p *process.Process) error {
		if _, err := p.Receive(p.Context()); err != nil {
			return err
		}
		return hostileReason{7}
	}
	t.Run("monitor", func(t *testing.T) {
		target, err := b.Spawn(body)
		if err != nil {
			t.Fatal(err)
		}
		pr := spawntest.NewProbe(t, a)
		ref := pr.Monitor(target)
		pr.Send(target, "go") // after the monitor, from the same sender
		if d := pr.ExpectDown(ref); d.Reason == nil || d.Reason.Error() != want {
			t.Fatalf("Down reason %v, want %q", d.Reason, want)
		}
	})
	t.Run("link", func(t *testing.T) {
		target, err := b.Spawn(body)
		if err != nil {
			t.Fatal(err)
		}
		pr := spawntest.NewProbe(t, a)
		pr.TrapExit(true)
		pr.Link(target)
		pr.Send(target, "go")
		if e := pr.ExpectExit(target); e.Reason == nil || e.Reason.Error() != want {
			t.Fatalf("Exit reason %v, want %q", e.Reason, want)
		}
	})
	t.Run("exit signal", func(t *testing.T) {
		trapper := spawntest.NewProbe(t, b)
		trapper.TrapExit(true)
		pr := spawntest.NewProbe(t, a)
		var sendErr error
		pr.Do(func(p *process.Process) error { sendErr = p.Exit(trapper.Pid(), hostileReason{8}); return nil })
		if sendErr != nil {
			t.Fatalf("Exit across: %v", sendErr)
		}
		e := trapper.ExpectExit(pr.Pid())
		if e.Reason == nil || e.Reason.Error() != (hostileReason{8}).Error() {
			t.Fatalf("Exit reason %v", e.Reason)
		}
	})
}
