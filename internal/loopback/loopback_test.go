package loopback_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/loopback"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair returns two connected nodes, A and B, and their network.
func pair(t *testing.T) (a, b *process.Node, net *loopback.Net) {
	a, b = spawntest.NewNode(t), spawntest.NewNode(t)
	net = loopback.New()
	t.Cleanup(net.Close)
	net.Join(a)
	net.Join(b)
	return a, b, net
}

var errBoom = errors.New("boom")

func TestLoopbackOrderThenDown(t *testing.T) {
	a, b, _ := pair(t)
	pr := spawntest.NewProbe(t, a)
	const n = 2000
	var ref pid.Ref
	sender, err := b.Spawn(func(p *process.Process) error {
		if _, err := p.Receive(p.Context()); err != nil { // wait until monitored
			return err
		}
		for i := range n {
			p.Send(pr.Pid(), i)
		}
		return errBoom
	})
	require.NoError(t, err)
	pr.Do(func(p *process.Process) error {
		ref, err = link.Monitor(p, sender)
		return err
	})
	require.NoError(t, b.Send(sender, "go"))
	for i := range n {
		require.Equal(t, i, pr.Receive())
	}
	require.Equal(t, link.Down{Ref: ref, Pid: sender, Reason: errBoom}, pr.Receive())
}

func TestLoopbackLinks(t *testing.T) {
	a, b, _ := pair(t)
	t.Run("abnormal exit kills across the link with the same reason", func(t *testing.T) {
		r := testkit.SpawnTarget(t, b)
		l := spawntest.NewProbe(t, a)
		exited := spawntest.WatchExit(t, a, l.Pid())
		testkit.Linked(t, l, b, r)
		require.NoError(t, b.Send(r, errBoom))
		require.Equal(t, errBoom, exited.Wait())
	})
	t.Run("normal exit does not kill and the link goes", func(t *testing.T) {
		r := testkit.SpawnTarget(t, b)
		l := spawntest.NewProbe(t, a)
		testkit.Linked(t, l, b, r)
		watch := spawntest.WatchExit(t, b, r)
		require.NoError(t, b.Send(r, process.Normal))
		watch.Wait()
		l.ExpectEmpty() // the link's exit signal, ignored, was handled before the marker
		spawntest.Eventually(t, "the link gone", func() bool {
			info, err := a.Info(l.Pid())
			return err == nil && len(info.Links) == 0
		})
	})
	t.Run("trapping partner gets Exit; unlink stops it", func(t *testing.T) {
		r, r2 := testkit.SpawnTarget(t, b), testkit.SpawnTarget(t, b)
		pr := spawntest.NewProbe(t, a)
		pr.Do(func(p *process.Process) error {
			p.TrapExit(true)
			if err := link.Link(p, r); err != nil {
				return err
			}
			if err := link.Link(p, r2); err != nil {
				return err
			}
			return link.Unlink(p, r2)
		})
		spawntest.Eventually(t, "the link recorded on the remote node", func() bool {
			info, err := b.Info(r)
			return err == nil && slices.Contains(info.Links, pr.Pid())
		})
		require.NoError(t, b.Send(r2, errBoom))
		require.NoError(t, b.Send(r, errBoom))
		require.Equal(t, link.Exit{From: r, Reason: errBoom}, pr.Receive())
		pr.ExpectEmpty()
	})
	t.Run("local death crosses to the remote partner", func(t *testing.T) {
		r := testkit.SpawnTarget(t, b)
		watch := spawntest.WatchExit(t, b, r)
		pr := spawntest.NewProbe(t, a)
		testkit.Linked(t, pr, b, r)
		shutdown := process.ShutdownWith(errBoom)
		pr.Exit(shutdown)
		require.Equal(t, shutdown, watch.Wait())
	})
	t.Run("dead remote pid: NoProc comes as a signal", func(t *testing.T) {
		r := testkit.SpawnTarget(t, b)
		require.NoError(t, b.Send(r, process.Normal))
		spawntest.WaitExit(t, b, r)
		pr := spawntest.NewProbe(t, a)
		pr.Do(func(p *process.Process) error { p.TrapExit(true); return link.Link(p, r) })
		require.Equal(t, link.Exit{From: r, Reason: process.NoProc}, pr.Receive())
		victim := spawntest.NewProbe(t, a)
		exited := spawntest.WatchExit(t, a, victim.Pid())
		victim.Do(func(p *process.Process) error { return link.Link(p, r) })
		require.ErrorIs(t, exited.Wait(), process.NoProc)
	})
}

func TestLoopbackExitSignals(t *testing.T) {
	a, b, _ := pair(t)
	trapper, err := b.Spawn(func(p *process.Process) error {
		p.TrapExit(true)
		<-p.Context().Done()
		return nil
	})
	require.NoError(t, err)
	pr := spawntest.NewProbe(t, a)
	var ref pid.Ref
	pr.Do(func(p *process.Process) error {
		p.TrapExit(true)
		if err := link.Link(p, trapper); err != nil {
			return err
		}
		ref, err = link.Monitor(p, trapper)
		if err != nil {
			return err
		}
		return p.Exit(trapper, process.Kill)
	})
	got := []any{pr.Receive(), pr.Receive()}
	require.ElementsMatch(t, []any{
		link.Exit{From: trapper, Reason: process.Killed},
		link.Down{Ref: ref, Pid: trapper, Reason: process.Killed},
	}, got)

	r := testkit.SpawnTarget(t, b)
	watch := spawntest.WatchExit(t, b, r)
	require.NoError(t, a.Exit(r, process.Normal)) // ignored
	require.NoError(t, a.Exit(r, errBoom))
	require.ErrorIs(t, watch.Wait(), errBoom)
}

func TestLoopbackMonitors(t *testing.T) {
	a, b, _ := pair(t)
	t.Run("by pid and by name", func(t *testing.T) {
		r := testkit.SpawnTarget(t, b)
		named := testkit.SpawnTarget(t, b, process.WithName("rn"))
		pr := spawntest.NewProbe(t, a)
		var byPid, byName pid.Ref
		pr.Do(func(p *process.Process) (err error) {
			if byPid, err = link.Monitor(p, r); err != nil {
				return err
			}
			byName, err = link.MonitorNameOn(p, b.ID(), "rn")
			return err
		})
		testkit.Monitored(t, b, r, 1)
		testkit.Monitored(t, b, named, 1)
		require.NoError(t, b.Send(r, errBoom))
		require.Equal(t, link.Down{Ref: byPid, Pid: r, Reason: errBoom}, pr.Receive())
		require.NoError(t, b.Send(named, errBoom))
		require.Equal(t, link.Down{Ref: byName, Pid: named, Reason: errBoom, Name: "rn", Node: b.ID()}, pr.Receive())
	})
	t.Run("dead pid and unregistered name: NoProc later", func(t *testing.T) {
		r := testkit.SpawnTarget(t, b)
		require.NoError(t, b.Send(r, process.Normal))
		spawntest.WaitExit(t, b, r)
		pr := spawntest.NewProbe(t, a)
		var m1, m2 pid.Ref
		pr.Do(func(p *process.Process) (err error) {
			if m1, err = link.Monitor(p, r); err != nil {
				return err
			}
			m2, err = link.MonitorNameOn(p, b.ID(), "nope")
			return err
		})
		require.Equal(t, link.Down{Ref: m1, Pid: r, Reason: process.NoProc}, pr.Receive())
		require.Equal(t, link.Down{Ref: m2, Reason: process.NoProc, Name: "nope", Node: b.ID()}, pr.Receive())
	})
	t.Run("demonitor: no Down afterwards", func(t *testing.T) {
		r := testkit.SpawnTarget(t, b)
		pr := spawntest.NewProbe(t, a)
		pr.Do(func(p *process.Process) error {
			ref, err := link.Monitor(p, r)
			if err != nil {
				return err
			}
			testkit.Monitored(t, b, r, 1)
			if !link.Demonitor(p, ref) {
				return errors.New("demonitor of a live monitor reported false")
			}
			return p.Exit(r, errBoom)
		})
		spawntest.WaitExit(t, b, r)
		pr.ExpectEmpty()
	})
	t.Run("watch from outside any process", func(t *testing.T) {
		r := testkit.SpawnTarget(t, b)
		got := make(chan link.Down, 1)
		_, err := link.Watch(a, r, func(d link.Down) { got <- d })
		require.NoError(t, err)
		testkit.Monitored(t, b, r, 1)
		require.NoError(t, b.Send(r, errBoom))
		d := spawntest.Recv(t, got)
		require.Equal(t, r, d.Pid)
		require.Equal(t, errBoom, d.Reason)
	})
}

func TestLoopbackNodeLost(t *testing.T) {
	a, b, net := pair(t)
	r1, r2, r3 := testkit.SpawnTarget(t, b), testkit.SpawnTarget(t, b), testkit.SpawnTarget(t, b, process.WithName("nb"))
	l1 := spawntest.NewProbe(t, a)
	l1exit := spawntest.WatchExit(t, a, l1.Pid())
	testkit.Linked(t, l1, b, r1)
	pr := spawntest.NewProbe(t, a)
	var m3, mName pid.Ref
	pr.Do(func(p *process.Process) (err error) {
		p.TrapExit(true)
		if err = link.Link(p, r2); err != nil {
			return err
		}
		if m3, err = link.Monitor(p, r3); err != nil {
			return err
		}
		mName, err = link.MonitorNameOn(p, b.ID(), "nb")
		return err
	})
	// B's side: a process linked to A's probe.
	bl, err := b.Spawn(func(p *process.Process) error { <-p.Context().Done(); return nil })
	require.NoError(t, err)
	blExit := spawntest.WatchExit(t, b, bl)
	pr.Do(func(p *process.Process) error { return link.Link(p, bl) })
	testkit.Linked(t, pr, b, r2)
	testkit.Linked(t, pr, b, bl)
	testkit.Monitored(t, b, r3, 2)

	net.Cut(b.ID())

	require.ErrorIs(t, l1exit.Wait(), process.NoConnection)
	got := []any{pr.Receive(), pr.Receive(), pr.Receive(), pr.Receive()}
	require.ElementsMatch(t, []any{
		link.Exit{From: r2, Reason: process.NoConnection},
		link.Exit{From: bl, Reason: process.NoConnection},
		link.Down{Ref: m3, Pid: r3, Reason: process.NoConnection},
		link.Down{Ref: mName, Reason: process.NoConnection, Name: "nb", Node: b.ID()},
	}, got)
	require.ErrorIs(t, blExit.Wait(), process.NoConnection)

	// Afterwards, the lost node's Pids give NoConnection at once.
	pr.Do(func(p *process.Process) error {
		ref, err := link.Monitor(p, r3)
		if err != nil {
			return err
		}
		m3 = ref
		return link.Link(p, r3)
	})
	got = []any{pr.Receive(), pr.Receive()}
	require.ElementsMatch(t, []any{
		link.Down{Ref: m3, Pid: r3, Reason: process.NoConnection},
		link.Exit{From: r3, Reason: process.NoConnection},
	}, got)
}

// echo is a server answering calls with its request, crashing on "crash"
// and sleeping on a duration.
type echo struct{}

func (echo) HandleCall(ctx *genserver.CallCtx[any], req any) (any, error) {
	switch r := req.(type) {
	case string:
		if r == "crash" {
			panic("asked to crash")
		}
	case time.Duration:
		select {
		case <-time.After(r):
		case <-ctx.Context().Done():
		}
	}
	return req, nil
}
func (echo) HandleCast(*genserver.Ctx, any) {}

func TestLoopbackCalls(t *testing.T) {
	a, b, net := pair(t)
	ctx := spawntest.Context(t)
	srv, err := genserver.Start(ctx, b, echo{}, genserver.WithName("gsd"))
	require.NoError(t, err)

	byPid := genserver.At[any, any, any](a, srv.Pid())
	rep, err := byPid.Call(ctx, "ping")
	require.NoError(t, err)
	require.Equal(t, "ping", rep)

	byName := genserver.NamedOn[any, any, any](a, b.ID(), "gsd")
	rep, err = byName.Call(ctx, "ping")
	require.NoError(t, err)
	require.Equal(t, "ping", rep)

	_, err = genserver.NamedOn[any, any, any](a, b.ID(), "nope").Call(ctx, "ping")
	require.ErrorIs(t, err, process.NoProc)

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = byPid.Call(short, 200*time.Millisecond)
	require.ErrorIs(t, err, genserver.ErrTimeout)

	_, err = byPid.Call(ctx, "crash")
	var pe *process.PanicError
	require.ErrorAs(t, err, &pe)

	_, err = byPid.Call(ctx, "ping")
	require.ErrorIs(t, err, process.NoProc)

	// Wrong types are refused by the server's node.
	srv2, err := genserver.Start(ctx, b, echo{})
	require.NoError(t, err)
	_, err = genserver.At[int, any, any](a, srv2.Pid()).Call(ctx, 1)
	require.NoError(t, err)
	_, err = genserver.At[int, string, any](a, srv2.Pid()).Call(ctx, 1)
	require.ErrorIs(t, err, genserver.ErrWrongServer) // the reply, 1, is not a string

	// A call in flight when the node is lost fails with NoConnection at once.
	failed := make(chan error, 1)
	go func() {
		_, err := genserver.At[any, any, any](a, srv2.Pid()).Call(context.Background(), time.Minute)
		failed <- err
	}()
	spawntest.Eventually(t, "the server in its call", func() bool {
		info, err := b.Info(srv2.Pid())
		return err == nil && info.Status == process.Running
	})
	net.Cut(b.ID())
	require.ErrorIs(t, spawntest.Recv(t, failed), process.NoConnection)
	_, err = byName.Call(ctx, "ping")
	require.ErrorIs(t, err, process.NoConnection)
}

func TestLoopbackCastAndStop(t *testing.T) {
	a, b, _ := pair(t)
	ctx := spawntest.Context(t)
	got := make(chan any, 1)
	srv, err := genserver.Start(ctx, b, &recorder{got: got}, genserver.WithName("rec"))
	require.NoError(t, err)
	require.NoError(t, genserver.NamedOn[int, int, string](a, b.ID(), "rec").Cast("hello"))
	require.Equal(t, "hello", <-got)
	require.NoError(t, genserver.At[int, int, string](a, srv.Pid()).Stop(ctx, errBoom))
	require.False(t, b.Alive(srv.Pid()))
	require.ErrorIs(t, genserver.At[int, int, string](a, srv.Pid()).Stop(ctx, nil), process.NoProc)
}

type recorder struct{ got chan any }

func (r *recorder) HandleCall(*genserver.CallCtx[int], int) (int, error) { return 0, nil }
func (r *recorder) HandleCast(_ *genserver.Ctx, m string)                { r.got <- m }

// TestLoopbackExitThenCall is ORD-03 across nodes: an exit signal then a
// call from the same sender never lets the call succeed.
func TestLoopbackExitThenCall(t *testing.T) {
	a, b, _ := pair(t)
	ctx := spawntest.Context(t)
	for i := range 20 {
		srv, err := genserver.Start(ctx, b, echo{})
		require.NoError(t, err, "round %d", i)
		require.NoError(t, a.Exit(srv.Pid(), errBoom))
		_, err = genserver.At[any, any, any](a, srv.Pid()).Call(ctx, "ping")
		require.ErrorIs(t, err, process.NoProc, "round %d", i)
	}
}

func TestLoopbackSendByName(t *testing.T) {
	a, b, _ := pair(t)
	pr := spawntest.NewProbe(t, a)
	echoes, err := b.Spawn(func(p *process.Process) error {
		for {
			m, err := p.Receive(p.Context())
			if err != nil {
				return err
			}
			to := m.(pid.Pid)
			p.Send(to, fmt.Sprint("echo from ", p.Self()))
		}
	}, process.WithName("echo"))
	require.NoError(t, err)
	require.NoError(t, registry.Of(a).SendOn(b.ID(), "echo", pr.Pid()))
	require.NoError(t, registry.Of(a).SendOn(b.ID(), "nope", pr.Pid())) // dropped, no error
	require.Equal(t, fmt.Sprint("echo from ", echoes), pr.Receive())
	pr.ExpectEmpty()
}
