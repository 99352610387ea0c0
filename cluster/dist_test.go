package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// Section 10 of CONFORMANCE.md, DIST-01..19 and 25..29, with the peer on
// another node of a cluster over the embedded NATS server. The crash
// scenarios run the peer in another OS process too (multiproc_test.go).

var (
	errBoom  = errors.New("boom")
	errBang  = errors.New("bang")
	errDone  = errors.New("done")
	errFrop  = errors.New("frop")
	errLater = errors.New("later")
)

func init() {
	for name, err := range map[string]error{
		"test.boom": errBoom, "test.bang": errBang, "test.done": errDone,
		"test.frop": errFrop, "test.later": errLater,
	} {
		if e := cluster.RegisterError(name, err); e != nil {
			panic(e)
		}
	}
	cluster.MustRegister[seq]("test.seq")
	cluster.MustRegister[hello]("test.hello")
}

type seq struct {
	Tag string
	N   int
}

type hello struct{ From pid.Pid }

// ghostNode is a node id no node has.
var ghostNode = pid.NewNodeID()

// trapper starts a process on n that traps exits before trapper returns and
// ends with the first error it is sent as a message.
func trapper(t *testing.T, n *process.Node, opts ...process.SpawnOption) pid.Pid {
	t.Helper()
	trapping := make(chan struct{})
	p, err := n.Spawn(func(p *process.Process) error {
		p.TrapExit(true)
		close(trapping)
		m, err := p.ReceiveMatch(p.Context(), func(m any) bool { _, ok := m.(error); return ok })
		if err != nil {
			return err
		}
		return m.(error)
	}, opts...)
	require.NoError(t, err)
	spawntest.Recv(t, trapping)
	return p
}

func TestDIST01_SendNeverFailsAtTheSender(t *testing.T) {
	a, _, b, _ := pair(t)
	pr := spawntest.NewProbe(t, a)
	echo, err := b.Spawn(func(p *process.Process) error {
		for {
			m, err := p.Receive(p.Context())
			if err != nil {
				return err
			}
			if h, ok := m.(hello); ok {
				_ = p.Send(h.From, fmt.Sprint("echo from ", p.Self()))
			}
		}
	}, process.WithName("echo"))
	require.NoError(t, err)
	ghostPid := pid.New(ghostNode, 7)
	pr.Do(func(p *process.Process) error {
		for _, err := range []error{
			p.Send(echo, hello{From: p.Self()}),
			registry.SendFromOn(p, b.ID(), "echo", hello{From: p.Self()}),
			registry.SendFromOn(p, b.ID(), "nope", hello{From: p.Self()}),
			registry.SendFromOn(p, ghostNode, "nope", "x"),
			p.Send(ghostPid, "x"),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	want := fmt.Sprint("echo from ", echo)
	require.Equal(t, want, pr.Receive())
	require.Equal(t, want, pr.Receive())
	pr.ExpectEmpty()

	// Only what fails on the sender's side is an error: a type with no
	// codec, a message too large.
	type unregistered struct{ X int }
	err = a.Send(echo, unregistered{X: 1})
	require.ErrorIs(t, err, cluster.ErrNotRegistered)
	require.Contains(t, err.Error(), "unregistered")
	err = a.Send(echo, make([]byte, 2<<20))
	require.ErrorIs(t, err, cluster.ErrTooLarge)
	// The same errors for a node that cannot be reached: they are local.
	require.ErrorIs(t, a.Send(ghostPid, unregistered{}), cluster.ErrNotRegistered)
}

// collector starts a process on n that hands every message it receives to
// the returned channel, in order (a probe's selective receive would scan a
// long backlog for every command). It traps exits, if trap, before
// collector returns.
func collector(t *testing.T, n *process.Node, trap bool) (pid.Pid, <-chan any) {
	t.Helper()
	out := make(chan any, 1<<15)
	trapping := make(chan struct{})
	p, err := n.Spawn(func(p *process.Process) error {
		p.TrapExit(trap)
		close(trapping)
		for {
			m, err := p.Receive(p.Context())
			if err != nil {
				return nil
			}
			out <- m
		}
	})
	require.NoError(t, err)
	spawntest.Recv(t, trapping)
	return p, out
}

func TestDIST02_OrderIsKeptAcrossNodesExitSignalsIncluded(t *testing.T) {
	a, _, b, _ := pair(t)
	const n = 10000
	// The monitoring process on A, which collects what it receives.
	refs := make(chan pid.Ref, 1)
	got := make(chan any, 2*n)
	s, err := b.Spawn(func(p *process.Process) error {
		if _, err := p.Receive(p.Context()); err != nil { // wait until monitored
			return err
		}
		to, err := p.Receive(p.Context())
		if err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			if err := p.SendWait(p.Context(), to.(pid.Pid), seq{Tag: "seq", N: i}); err != nil {
				return err
			}
		}
		return errDone
	})
	require.NoError(t, err)
	recv, err := a.Spawn(func(p *process.Process) error {
		p.TrapExit(true)
		ref, err := link.Monitor(p, s)
		if err != nil {
			return err
		}
		refs <- ref
		for {
			m, err := p.Receive(p.Context())
			if err != nil {
				return nil
			}
			got <- m
		}
	})
	require.NoError(t, err)
	ref := spawntest.Recv(t, refs)
	testkit.Monitored(t, b, s, 1)
	require.NoError(t, b.Send(s, "go"))
	require.NoError(t, b.Send(s, recv))
	for i := 1; i <= n; i++ {
		require.Equal(t, seq{Tag: "seq", N: i}, spawntest.Recv(t, got))
	}
	require.Equal(t, link.Down{Ref: ref, Pid: s, Reason: errDone}, spawntest.Recv(t, got))

	// Messages, then an exit signal: the exit comes last.
	s2, err := b.Spawn(func(p *process.Process) error {
		for i := 1; i <= 1000; i++ {
			if err := p.SendWait(p.Context(), recv, seq{Tag: "m", N: i}); err != nil {
				return err
			}
		}
		return p.Exit(recv, errBoom)
	})
	require.NoError(t, err)
	for i := 1; i <= 1000; i++ {
		require.Equal(t, seq{Tag: "m", N: i}, spawntest.Recv(t, got))
	}
	require.Equal(t, link.Exit{From: s2, Reason: errBoom}, spawntest.Recv(t, got))
}

func TestDIST03_AbnormalExitCrossesALinkWithTheSameReason(t *testing.T) {
	a, _, b, _ := pair(t)
	r := testkit.SpawnTarget(t, b)
	l := spawntest.NewProbe(t, a)
	exited := spawntest.WatchExit(t, a, l.Pid())
	testkit.Linked(t, l, b, r)
	require.NoError(t, b.Send(r, errBoom))
	require.Equal(t, errBoom, exited.Wait())

	// The other way, with a shutdown carrying a cause.
	r2 := testkit.SpawnTarget(t, b)
	watch := spawntest.WatchExit(t, b, r2)
	l2 := spawntest.NewProbe(t, a)
	testkit.Linked(t, l2, b, r2)
	l2.Exit(process.ShutdownWith(errFrop))
	got := watch.Wait()
	require.ErrorIs(t, got, process.Shutdown)
	var se *process.ShutdownError
	require.ErrorAs(t, got, &se)
	require.Equal(t, errFrop, se.Cause)

	// A panic crosses with its value's text and its stack.
	pr := spawntest.NewProbe(t, a)
	pr.Do(func(p *process.Process) error { p.TrapExit(true); return nil })
	r3, err := b.Spawn(func(p *process.Process) error {
		if _, err := p.Receive(p.Context()); err != nil {
			return err
		}
		var m map[string]int
		m["badarg"]++ // a nil map: a runtime panic
		return nil
	})
	require.NoError(t, err)
	testkit.Linked(t, pr, b, r3)
	require.NoError(t, b.Send(r3, "go"))
	ex := pr.Receive().(link.Exit)
	require.Equal(t, r3, ex.From)
	var pe *process.PanicError
	require.ErrorAs(t, ex.Reason, &pe)
	require.Contains(t, fmt.Sprint(pe.Value), "nil map")
	require.NotEmpty(t, pe.Stack)
}

func TestDIST04_NormalExitAcrossALinkDoesNotKillAndTheLinkGoes(t *testing.T) {
	a, _, b, _ := pair(t)
	r := testkit.SpawnTarget(t, b)
	l := spawntest.NewProbe(t, a)
	testkit.Linked(t, l, b, r)
	watch := spawntest.WatchExit(t, b, r)
	require.NoError(t, b.Send(r, process.Normal))
	watch.Wait()
	spawntest.Eventually(t, "the link gone", func() bool {
		info, err := a.Info(l.Pid())
		return err == nil && len(info.Links) == 0
	})
	require.True(t, a.Alive(l.Pid()))
}

func TestDIST05_TrapExitAcrossNodes(t *testing.T) {
	a, _, b, _ := pair(t)
	pr := spawntest.NewProbe(t, a)
	pr.Do(func(p *process.Process) error { p.TrapExit(true); return nil })
	for _, reason := range []error{errBoom, process.Normal, process.Kill} {
		r := testkit.SpawnTarget(t, b)
		testkit.Linked(t, pr, b, r)
		require.NoError(t, b.Send(r, reason)) // r exits with reason itself
		require.Equal(t, link.Exit{From: r, Reason: reason}, pr.Receive(), "reason %v", reason)
	}
	r4 := testkit.SpawnTarget(t, b)
	testkit.Linked(t, pr, b, r4)
	pr.Do(func(p *process.Process) error { return link.Unlink(p, r4) })
	spawntest.Eventually(t, "the unlink recorded", func() bool {
		info, err := b.Info(r4)
		return err == nil && len(info.Links) == 0
	})
	require.NoError(t, b.Send(r4, errBoom))
	spawntest.WaitExit(t, b, r4)
	pr.ExpectEmpty()
}

func TestDIST06_RemoteKillIsUntrappableAndBecomesKilled(t *testing.T) {
	a, _, b, _ := pair(t)
	tr := trapper(t, b)
	_, err := b.Spawn(func(p *process.Process) error { return nil }) // warm
	require.NoError(t, err)
	pr := spawntest.NewProbe(t, a)
	var ref pid.Ref
	pr.Do(func(p *process.Process) (err error) {
		p.TrapExit(true)
		if err = link.Link(p, tr); err != nil {
			return err
		}
		ref, err = link.Monitor(p, tr)
		return err
	})
	testkit.Monitored(t, b, tr, 1)
	pr.Do(func(p *process.Process) error { return p.Exit(tr, process.Kill) })
	require.ElementsMatch(t, []any{
		link.Exit{From: tr, Reason: process.Killed},
		link.Down{Ref: ref, Pid: tr, Reason: process.Killed},
	}, []any{pr.Receive(), pr.Receive()})
}

func TestDIST07_ExitSignalsWithOtherReasonsAcrossNodes(t *testing.T) {
	a, _, b, _ := pair(t)
	r := testkit.SpawnTarget(t, b)
	watch := spawntest.WatchExit(t, b, r)
	require.NoError(t, a.Exit(r, process.Normal)) // ignored by a process that does not trap
	require.NoError(t, a.Exit(r, errBoom))
	require.Equal(t, errBoom, watch.Wait())

	// A trapping process gets the signal as a message, from the sender.
	// The probe traps exits before the first signal is sent.
	tr := spawntest.NewProbe(t, b)
	tr.Do(func(p *process.Process) error { p.TrapExit(true); return nil })
	pr := spawntest.NewProbe(t, a)
	pr.Do(func(p *process.Process) error {
		if err := p.Exit(tr.Pid(), errBoom); err != nil {
			return err
		}
		return p.Exit(tr.Pid(), process.Normal)
	})
	require.Equal(t, link.Exit{From: pr.Pid(), Reason: errBoom}, tr.Receive())
	require.Equal(t, link.Exit{From: pr.Pid(), Reason: process.Normal}, tr.Receive())

	// Exit to a dead remote pid or to a pid of no node does nothing.
	require.NoError(t, a.Exit(r, errBoom))
	require.NoError(t, a.Exit(pid.New(ghostNode, 3), errBoom))
}

func TestDIST08_MonitorsAcrossNodes(t *testing.T) {
	a, _, b, _ := pair(t)
	pr := spawntest.NewProbe(t, a)
	for _, reason := range []error{errBoom, process.Normal} {
		r := testkit.SpawnTarget(t, b)
		var ref pid.Ref
		pr.Do(func(p *process.Process) (err error) { ref, err = link.Monitor(p, r); return err })
		testkit.Monitored(t, b, r, 1)
		require.NoError(t, b.Send(r, reason))
		require.Equal(t, link.Down{Ref: ref, Pid: r, Reason: reason}, pr.Receive())
	}
	rn := testkit.SpawnTarget(t, b, process.WithName("rn"))
	var byName pid.Ref
	pr.Do(func(p *process.Process) (err error) { byName, err = link.MonitorNameOn(p, b.ID(), "rn"); return err })
	testkit.Monitored(t, b, rn, 1)
	require.NoError(t, b.Send(rn, errFrop))
	require.Equal(t, link.Down{Ref: byName, Pid: rn, Reason: errFrop, Name: "rn", Node: b.ID()}, pr.Receive())

	// One way only: the monitoring process dying leaves r alive.
	r := testkit.SpawnTarget(t, b)
	m := spawntest.NewProbe(t, a)
	m.Do(func(p *process.Process) error { _, err := link.Monitor(p, r); return err })
	testkit.Monitored(t, b, r, 1)
	m.Exit(errBoom)
	testkit.Monitored(t, b, r, 0)
	require.True(t, b.Alive(r))
}

func TestDIST09_MonitoringADeadRemotePidGivesNoProcLater(t *testing.T) {
	a, _, b, _ := pair(t)
	d := testkit.SpawnTarget(t, b)
	require.NoError(t, b.Send(d, process.Normal))
	spawntest.WaitExit(t, b, d)
	pr := spawntest.NewProbe(t, a)
	var m1, m2 pid.Ref
	pr.Do(func(p *process.Process) (err error) {
		if m1, err = link.Monitor(p, d); err != nil {
			return err
		}
		m2, err = link.MonitorNameOn(p, b.ID(), "nope")
		return err
	})
	require.Equal(t, link.Down{Ref: m1, Pid: d, Reason: process.NoProc}, pr.Receive())
	require.Equal(t, link.Down{Ref: m2, Reason: process.NoProc, Name: "nope", Node: b.ID()}, pr.Receive())
}

func TestDIST10_AnUnreachableNodeGivesNoConnection(t *testing.T) {
	a, ca, _, _ := pair(t)
	ghostPid := pid.New(ghostNode, 9)
	pr := spawntest.NewProbe(t, a)
	var m1, m2, mn pid.Ref
	pr.Do(func(p *process.Process) (err error) {
		p.TrapExit(true)
		if m1, err = link.Monitor(p, ghostPid); err != nil {
			return err
		}
		if m2, err = link.MonitorNameOn(p, ghostNode, "reg"); err != nil {
			return err
		}
		if mn, err = ca.MonitorNode(p, ghostNode); err != nil {
			return err
		}
		return link.Link(p, ghostPid)
	})
	require.Equal(t, link.Down{Ref: m1, Pid: ghostPid, Reason: process.NoConnection}, pr.Receive())
	require.Equal(t, link.Down{Ref: m2, Reason: process.NoConnection, Name: "reg", Node: ghostNode}, pr.Receive())
	nd := pr.Receive().(cluster.NodeDown)
	require.Equal(t, ghostNode, nd.Node)
	require.ErrorIs(t, nd.Reason, process.NoConnection)
	require.Equal(t, link.Exit{From: ghostPid, Reason: process.NoConnection}, pr.Receive())
	require.False(t, ca.DemonitorNode(mn))

	// Not trapping: linking returns nil, then the caller dies of it.
	victim := spawntest.NewProbe(t, a)
	exited := spawntest.WatchExit(t, a, victim.Pid())
	victim.Do(func(p *process.Process) error { return link.Link(p, ghostPid) })
	require.ErrorIs(t, exited.Wait(), process.NoConnection)
	_, ok := ca.Node(ghostNode)
	require.False(t, ok)
}

func TestDIST11_DemonitorAcrossNodes(t *testing.T) {
	a, _, b, _ := pair(t)
	pr := spawntest.NewProbe(t, a)

	// Demonitor before the death: no Down, ever.
	r := testkit.SpawnTarget(t, b)
	pr.Do(func(p *process.Process) error {
		ref, err := link.Monitor(p, r)
		if err != nil {
			return err
		}
		testkit.Monitored(t, b, r, 1)
		if !link.Demonitor(p, ref) {
			return errors.New("demonitor of a live monitor reported false")
		}
		return nil
	})
	testkit.Monitored(t, b, r, 0)
	require.NoError(t, b.Send(r, errBoom))
	spawntest.WaitExit(t, b, r)
	pr.ExpectEmpty()

	// The Down queued already: DemonitorFlush removes it; Demonitor leaves
	// it. Both report false: the monitor had fired.
	for _, flush := range []bool{true, false} {
		r := testkit.SpawnTarget(t, b)
		var ref pid.Ref
		pr.Do(func(p *process.Process) (err error) { ref, err = link.Monitor(p, r); return err })
		testkit.Monitored(t, b, r, 1)
		require.NoError(t, b.Send(r, errBoom))
		spawntest.WaitExit(t, b, r)
		spawntest.Eventually(t, "the Down queued", func() bool {
			info, err := a.Info(pr.Pid())
			return err == nil && info.MessageQueueLen > 0
		})
		pr.Do(func(p *process.Process) error {
			if flush {
				if link.DemonitorFlush(p, ref) {
					return errors.New("DemonitorFlush of a fired monitor reported true")
				}
				return nil
			}
			if link.Demonitor(p, ref) {
				return errors.New("Demonitor of a fired monitor reported true")
			}
			return nil
		})
		if !flush {
			require.Equal(t, link.Down{Ref: ref, Pid: r, Reason: errBoom}, pr.Receive())
		}
		pr.ExpectEmpty()
	}

	// An exit signal then Demonitor at once: the Down has a round trip
	// through the other node to make, so it is almost never queued yet,
	// and then none comes, ever. On a busy machine the probe may be held up
	// between the two for longer than that round trip: then the monitor
	// had fired, Demonitor says so, and the Down is there (BEAM, whose
	// process handles its signals only when it runs, drops it even then).
	r = testkit.SpawnTarget(t, b)
	var ref pid.Ref
	var active bool
	pr.Do(func(p *process.Process) (err error) {
		if ref, err = link.Monitor(p, r); err != nil {
			return err
		}
		testkit.Monitored(t, b, r, 1)
		if err := p.Exit(r, errBang); err != nil {
			return err
		}
		active = link.Demonitor(p, ref)
		return nil
	})
	spawntest.WaitExit(t, b, r)
	if !active {
		require.Equal(t, link.Down{Ref: ref, Pid: r, Reason: errBang}, pr.Receive())
	}
	pr.ExpectEmpty()
	pr.Do(func(p *process.Process) error {
		if link.Demonitor(p, pid.NewRef(b.ID(), 12345)) {
			return errors.New("demonitor of an unknown ref reported true")
		}
		return nil
	})
}

func TestDIST13_DisconnectActsOnBothSidesAndThePidsStayValid(t *testing.T) {
	a, ca, b, cb := pair(t)
	// A's side.
	r1, r2, r3 := testkit.SpawnTarget(t, b), testkit.SpawnTarget(t, b), testkit.SpawnTarget(t, b, process.WithName("nb"))
	r1exit := spawntest.WatchExit(t, b, r1)
	l1 := spawntest.NewProbe(t, a)
	l1exit := spawntest.WatchExit(t, a, l1.Pid())
	testkit.Linked(t, l1, b, r1)
	pr := spawntest.NewProbe(t, a)
	var m3, mName, mNode, mSub pid.Ref
	pr.Do(func(p *process.Process) (err error) {
		p.TrapExit(true)
		if err = link.Link(p, r2); err != nil {
			return err
		}
		if m3, err = link.Monitor(p, r3); err != nil {
			return err
		}
		if mName, err = link.MonitorNameOn(p, b.ID(), "nb"); err != nil {
			return err
		}
		if mNode, err = ca.MonitorNode(p, b.ID()); err != nil {
			return err
		}
		mSub, err = ca.MonitorNodes(p)
		return err
	})
	testkit.Linked(t, pr, b, r2)
	testkit.Monitored(t, b, r3, 2)
	// B's side: BL (not trapping) linked to A's CA1, BT (trapping) linked
	// to CA2, a monitor on CA1 and a node monitor on A.
	ca1, ca2 := testkit.SpawnTarget(t, a), testkit.SpawnTarget(t, a)
	ca1exit, ca2exit := spawntest.WatchExit(t, a, ca1), spawntest.WatchExit(t, a, ca2)
	bl := spawntest.NewProbe(t, b)
	blexit := spawntest.WatchExit(t, b, bl.Pid())
	testkit.Linked(t, bl, a, ca1)
	bt := spawntest.NewProbe(t, b)
	bt.Do(func(p *process.Process) error { p.TrapExit(true); return nil })
	testkit.Linked(t, bt, a, ca2)
	var bm pid.Ref
	bt.Do(func(p *process.Process) (err error) {
		if bm, err = link.Monitor(p, ca1); err != nil {
			return err
		}
		_, err = cb.MonitorNode(p, a.ID())
		return err
	})
	testkit.Monitored(t, a, ca1, 2) // bt's monitor and the test's watch

	require.True(t, ca.Disconnect(b.ID()))

	// On A.
	require.ErrorIs(t, l1exit.Wait(), process.NoConnection)
	got := []any{pr.Receive(), pr.Receive(), pr.Receive(), pr.Receive(), pr.Receive()}
	var downs []cluster.NodeDown
	var rest []any
	for _, m := range got {
		if nd, ok := m.(cluster.NodeDown); ok {
			require.Equal(t, b.ID(), nd.Node)
			require.ErrorIs(t, nd.Reason, cluster.ErrDisconnected)
			downs = append(downs, nd)
			continue
		}
		rest = append(rest, m)
	}
	require.Len(t, downs, 2) // the node monitor and the subscription
	require.ElementsMatch(t, []any{
		link.Exit{From: r2, Reason: process.NoConnection},
		link.Down{Ref: m3, Pid: r3, Reason: process.NoConnection},
		link.Down{Ref: mName, Reason: process.NoConnection, Name: "nb", Node: b.ID()},
	}, rest)
	require.False(t, ca.DemonitorNode(mNode))
	require.ErrorIs(t, ca1exit.Wait(), process.NoConnection)
	require.ErrorIs(t, ca2exit.Wait(), process.NoConnection)

	// On B.
	require.ErrorIs(t, blexit.Wait(), process.NoConnection)
	require.ErrorIs(t, r1exit.Wait(), process.NoConnection)
	gotB := []any{bt.Receive(), bt.Receive(), bt.Receive()}
	var bNodeDown bool
	var restB []any
	for _, m := range gotB {
		if nd, ok := m.(cluster.NodeDown); ok {
			require.Equal(t, a.ID(), nd.Node)
			require.ErrorIs(t, nd.Reason, process.NoConnection)
			bNodeDown = true
			continue
		}
		restB = append(restB, m)
	}
	require.True(t, bNodeDown)
	require.ElementsMatch(t, []any{
		link.Exit{From: ca2, Reason: process.NoConnection},
		link.Down{Ref: bm, Pid: ca1, Reason: process.NoConnection},
	}, restB)

	// The nodes meet again in a new session: R3, only monitored, is alive
	// and can be monitored and killed as usual.
	up := pr.Receive().(cluster.NodeUp)
	require.Equal(t, b.ID(), up.Node)
	require.Equal(t, "b", up.Name)
	require.True(t, b.Alive(r3))
	pr.Do(func(p *process.Process) (err error) { m3, err = link.Monitor(p, r3); return err })
	testkit.Monitored(t, b, r3, 1)
	require.NoError(t, b.Send(r3, errLater))
	require.Equal(t, link.Down{Ref: m3, Pid: r3, Reason: errLater}, pr.Receive())
	require.True(t, ca.DemonitorNode(mSub))
	require.False(t, b.Alive(r1))
}

func TestDIST16_GenServerCallToAServerOnAnotherNode(t *testing.T) {
	a, _, b, _ := pair(t)
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

	// A handler's error is an answer, and crosses.
	_, err = byPid.Call(ctx, "fail")
	require.ErrorIs(t, err, errBoom)

	// A timeout leaves the server running; the late reply is dropped.
	pr := spawntest.NewProbe(t, a)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = byPid.Call(short, 300*time.Millisecond)
	require.ErrorIs(t, err, genserver.ErrTimeout)
	rep, err = byPid.Call(ctx, "after")
	require.NoError(t, err)
	require.Equal(t, "after", rep)
	pr.ExpectEmpty()

	// A server crashing mid-call fails the call with its reason.
	_, err = byPid.Call(ctx, "crash")
	var pe *process.PanicError
	require.ErrorAs(t, err, &pe)
	require.Contains(t, fmt.Sprint(pe.Value), "asked to crash")

	// A cast to a name of a node that does not exist is dropped.
	require.NoError(t, genserver.NamedOn[any, any, any](a, ghostNode, "gsd").Cast("x"))
}

func TestDIST17_ACallFailsWithNoConnectionWhenTheNodeIsLostMidCall(t *testing.T) {
	for _, how := range []string{"crash", "disconnect"} {
		t.Run(how, func(t *testing.T) {
			a, ca, b, cb := pair(t)
			ctx := spawntest.Context(t)
			srv, err := genserver.Start(ctx, b, echo{}, genserver.WithName("gsd"))
			require.NoError(t, err)
			failed := make(chan error, 2)
			for _, ref := range []genserver.Ref[any, any, any]{
				genserver.At[any, any, any](a, srv.Pid()),
				genserver.NamedOn[any, any, any](a, b.ID(), "gsd"),
			} {
				go func() {
					long, cancel := context.WithTimeout(context.Background(), time.Hour)
					defer cancel()
					_, err := ref.Call(long, 10*time.Second)
					failed <- err
				}()
			}
			spawntest.Eventually(t, "the calls at the server", func() bool {
				info, err := b.Info(srv.Pid())
				return err == nil && info.Status == process.Running && info.MessageQueueLen == 1
			})
			if how == "crash" {
				cb.Crash()
			} else {
				ca.Disconnect(b.ID())
			}
			for range 2 {
				err := spawntest.Recv(t, failed)
				require.ErrorIs(t, err, process.NoConnection)
				require.Contains(t, err.Error(), b.ID().String())
			}
		})
	}
}

func TestDIST18_ACallToANodeThatIsDownOrDoesNotExistFailsAtOnce(t *testing.T) {
	a, _, b, cb := pair(t)
	ctx := spawntest.Context(t)
	srv, err := genserver.Start(ctx, b, echo{}, genserver.WithName("gsd"))
	require.NoError(t, err)
	for _, ref := range []genserver.Ref[any, any, any]{
		genserver.NamedOn[any, any, any](a, ghostNode, "gsd"),
		genserver.At[any, any, any](a, pid.New(ghostNode, 4)),
	} {
		_, err := ref.Call(ctx, "ping")
		require.ErrorIs(t, err, process.NoConnection)
		require.Contains(t, err.Error(), ghostNode.String())
	}
	down := spawntest.WatchExit(t, a, srv.Pid())
	testkit.Monitored(t, b, srv.Pid(), 1)
	cb.Crash()
	down.Wait()
	for _, ref := range []genserver.Ref[any, any, any]{
		genserver.At[any, any, any](a, srv.Pid()),
		genserver.NamedOn[any, any, any](a, b.ID(), "gsd"),
	} {
		_, err := ref.Call(ctx, "ping")
		require.ErrorIs(t, err, process.NoConnection)
	}
}

func TestDIST19_AnUnregisteredNameOrADeadPidOnALiveNodeGivesNoProc(t *testing.T) {
	a, _, b, _ := pair(t)
	ctx := spawntest.Context(t)
	_, err := genserver.NamedOn[any, any, any](a, b.ID(), "nope").Call(ctx, "ping")
	require.ErrorIs(t, err, process.NoProc)
	require.NotErrorIs(t, err, process.NoConnection)
	srv, err := genserver.Start(ctx, b, echo{})
	require.NoError(t, err)
	require.NoError(t, srv.Stop(ctx, nil))
	_, err = genserver.At[any, any, any](a, srv.Pid()).Call(ctx, "ping")
	require.ErrorIs(t, err, process.NoProc)
	// A process that is not a server refuses the call.
	r := testkit.SpawnTarget(t, b)
	_, err = genserver.At[any, any, any](a, r).Call(ctx, "ping")
	require.ErrorIs(t, err, genserver.ErrWrongServer)
}

func TestDIST25_LinkingToADeadRemotePidGivesNoProcAsASignal(t *testing.T) {
	a, _, b, _ := pair(t)
	d := testkit.SpawnTarget(t, b)
	require.NoError(t, b.Send(d, process.Normal))
	spawntest.WaitExit(t, b, d)
	pr := spawntest.NewProbe(t, a)
	pr.Do(func(p *process.Process) error { p.TrapExit(true); return link.Link(p, d) })
	require.Equal(t, link.Exit{From: d, Reason: process.NoProc}, pr.Receive())
	victim := spawntest.NewProbe(t, a)
	exited := spawntest.WatchExit(t, a, victim.Pid())
	victim.Do(func(p *process.Process) error { return link.Link(p, d) })
	require.ErrorIs(t, exited.Wait(), process.NoProc)
}

func TestDIST26_AnExitSignalThenACallFromTheSameSenderStayInOrder(t *testing.T) {
	a, _, b, _ := pair(t)
	ctx := spawntest.Context(t)
	for i := range 20 {
		srv, err := genserver.Start(ctx, b, echo{})
		require.NoError(t, err, "round %d", i)
		require.NoError(t, a.Exit(srv.Pid(), errBoom))
		_, err = genserver.At[any, any, any](a, srv.Pid()).Call(ctx, "ping")
		require.ErrorIs(t, err, process.NoProc, "round %d", i)
	}
}

func TestDIST27_ALostPairAffectsOnlyThatPair(t *testing.T) {
	cfg := testConfig(clusterName(t))
	a, ca := joinNode(t, cfg, "a")
	b, cb := joinNode(t, cfg, "b")
	c, _ := joinNode(t, cfg, "c")
	for _, x := range []*cluster.Cluster{ca, cb} {
		spawntest.Eventually(t, "three nodes", func() bool { return len(x.Nodes()) == 2 })
	}
	// A holds links to B and C; B cuts C.
	rb, rc := testkit.SpawnTarget(t, b), testkit.SpawnTarget(t, c)
	pr := spawntest.NewProbe(t, a)
	pr.Do(func(p *process.Process) error { p.TrapExit(true); return nil })
	testkit.Linked(t, pr, b, rb)
	testkit.Linked(t, pr, c, rc)
	require.True(t, cb.Disconnect(c.ID()))
	spawntest.Eventually(t, "B and C meet again", func() bool { return len(cb.Nodes()) == 2 })
	pr.ExpectEmpty()
	require.Len(t, ca.Nodes(), 2)
	info, err := a.Info(pr.Pid())
	require.NoError(t, err)
	require.ElementsMatch(t, []pid.Pid{rb, rc}, info.Links)
}

func TestDIST28_NodeMonitorsStackAndNodeUpIsReported(t *testing.T) {
	cfg := testConfig(clusterName(t))
	a, ca := joinNode(t, cfg, "a")
	b := spawntest.NewNode(t)
	bcfg := cfg
	bcfg.Name = "b"
	cb, err := cluster.Join(spawntest.Context(t), b, bcfg)
	require.NoError(t, err)
	waitUp(t, ca, b.ID())
	pr := spawntest.NewProbe(t, a)
	var m1, sub pid.Ref
	pr.Do(func(p *process.Process) (err error) {
		if m1, err = ca.MonitorNode(p, b.ID()); err != nil {
			return err
		}
		if _, err = ca.MonitorNode(p, b.ID()); err != nil {
			return err
		}
		sub, err = ca.MonitorNodes(p)
		return err
	})
	require.True(t, ca.DemonitorNode(m1))
	cb.Crash()
	got := []any{pr.Receive(), pr.Receive()}
	for _, m := range got {
		nd := m.(cluster.NodeDown)
		require.Equal(t, b.ID(), nd.Node)
		require.ErrorIs(t, nd.Reason, cluster.ErrConnectionClosed)
	}
	pr.ExpectEmpty()

	// "Restarting" B: a new node under the same name.
	b2, _ := joinNode(t, cfg, "b")
	up := pr.Receive().(cluster.NodeUp)
	require.Equal(t, cluster.NodeUp{Node: b2.ID(), Name: "b"}, up)
	require.True(t, ca.DemonitorNode(sub))
	require.False(t, ca.DemonitorNode(sub))
	_ = strings.TrimSpace
}

// echo is a server answering calls with their request; "crash" panics,
// "fail" returns an error, a duration sleeps that long.
type echo struct{}

func (echo) HandleCall(ctx *genserver.CallCtx[any], req any) (any, error) {
	switch r := req.(type) {
	case string:
		switch r {
		case "crash":
			panic("asked to crash")
		case "fail":
			return nil, fmt.Errorf("failing as asked: %w", errBoom)
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
