package link_test

// Section 1 of CONFORMANCE.md: links and exit-signal propagation
// (LNK-01..14), plus the helpers shared by trap_test.go and exit_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// lnkKind says how a driven process is written: a Func probe or a Handler.
type lnkKind int

const (
	lnkFunc lnkKind = iota
	lnkHandler
)

var lnkKinds = []lnkKind{lnkFunc, lnkHandler}

func (k lnkKind) String() string {
	if k == lnkHandler {
		return "handler"
	}
	return "func"
}

// lnkCmd is a command run inside a lnkHandlerProc.
type lnkCmd struct {
	fn   func(p *process.Process) error
	done chan struct{}
}

// lnkHandlerProc is a message-driven process the test drives: lnkCmd
// messages run code inside it, every other message goes to got.
type lnkHandlerProc struct{ got chan any }

func (h *lnkHandlerProc) HandleMessage(p *process.Process, msg any) error {
	if c, ok := msg.(lnkCmd); ok {
		defer close(c.done)
		return c.fn(p)
	}
	h.got <- msg
	return nil
}

// lnkActor is a process driven by the test: a spawntest.Probe (Func) or a
// lnkHandlerProc (Handler).
type lnkActor struct {
	t     testing.TB
	n     *process.Node
	Pid   pid.Pid
	kind  lnkKind
	probe *spawntest.Probe
	got   chan any
}

func lnkNewHandler() *lnkHandlerProc { return &lnkHandlerProc{got: make(chan any, 1024)} }

// lnkSpawn starts a driven process of the given kind on backend b.
func lnkSpawn(t testing.TB, n *process.Node, b process.Backend, kind lnkKind) *lnkActor {
	t.Helper()
	if kind == lnkFunc {
		pr := spawntest.NewProbe(t, n, process.WithBackend(b))
		return &lnkActor{t: t, n: n, Pid: pr.Pid(), kind: kind, probe: pr}
	}
	h := lnkNewHandler()
	p, err := n.SpawnHandler(h, process.WithBackend(b))
	if err != nil {
		t.Fatalf("spawn handler: %v", err)
	}
	return &lnkActor{t: t, n: n, Pid: p, kind: kind, got: h.got}
}

// lnkSpawnTrapping is lnkSpawn for a process that traps exits before the
// test can link it to anything.
func lnkSpawnTrapping(t testing.TB, n *process.Node, b process.Backend, kind lnkKind) *lnkActor {
	t.Helper()
	a := lnkSpawn(t, n, b, kind)
	a.do(func(p *process.Process) error { p.TrapExit(true); return nil })
	return a
}

// spawnLinked starts a driven process of the given kind linked to a in the
// same step (Erlang's spawn_link), from inside a.
func (a *lnkActor) spawnLinked(b process.Backend, kind lnkKind) *lnkActor {
	a.t.Helper()
	var child *lnkActor
	var err error
	a.do(func(p *process.Process) error {
		opts := []process.SpawnOption{process.WithLink(p), process.WithBackend(b)}
		if kind == lnkFunc {
			var c pid.Pid
			c, err = p.Node().Spawn(spawntest.ProbeLoop, opts...)
			child = &lnkActor{t: a.t, n: a.n, Pid: c, kind: kind, probe: spawntest.Adopt(a.t, a.n, c)}
			return nil
		}
		h := lnkNewHandler()
		var c pid.Pid
		c, err = p.Node().SpawnHandler(h, opts...)
		child = &lnkActor{t: a.t, n: a.n, Pid: c, kind: kind, got: h.got}
		return nil
	})
	if err != nil {
		a.t.Fatalf("spawn linked %v: %v", kind, err)
	}
	return child
}

// do runs fn inside the process and waits for it. A non-nil error from fn
// ends the process with that reason.
func (a *lnkActor) do(fn func(p *process.Process) error) {
	a.t.Helper()
	if a.probe != nil {
		a.probe.Do(fn)
		return
	}
	c := lnkCmd{fn: fn, done: make(chan struct{})}
	if err := a.n.Send(a.Pid, c); err != nil {
		a.t.Fatalf("handler %v: send command: %v", a.Pid, err)
	}
	select {
	case <-c.done:
	case <-time.After(spawntest.Timeout):
		a.t.Fatalf("handler %v: command did not run within %v (is it dead?)", a.Pid, spawntest.Timeout)
	}
}

// exit makes the process's own code end with reason (nil: Normal), as
// Erlang's exit(Reason) in that process.
func (a *lnkActor) exit(reason error) {
	a.t.Helper()
	if a.probe != nil {
		a.probe.Exit(reason)
		return
	}
	if reason == nil {
		reason = process.Normal
	}
	a.do(func(*process.Process) error { return reason })
}

// receive returns the next ordinary message of the process.
func (a *lnkActor) receive() any {
	a.t.Helper()
	if a.probe != nil {
		return a.probe.Receive()
	}
	select {
	case m := <-a.got:
		return m
	case <-time.After(spawntest.Timeout):
		a.t.Fatalf("handler %v: no message within %v", a.Pid, spawntest.Timeout)
		return nil
	}
}

// lnkMarker is a message that proves nothing else is queued before it.
type lnkMarker struct{ ID uint64 }

// expectEmpty proves that nothing is queued for the process: a marker sent
// now is the next message it handles. It also proves the process is alive.
func (a *lnkActor) expectEmpty() {
	a.t.Helper()
	if a.probe != nil {
		a.probe.ExpectEmpty()
		return
	}
	m := lnkMarker{ID: a.n.MakeRef().ID()}
	if err := a.n.Send(a.Pid, m); err != nil {
		a.t.Fatalf("handler %v: send marker: %v", a.Pid, err)
	}
	if got := a.receive(); got != m {
		a.t.Fatalf("handler %v: expected an empty mailbox, got %#v", a.Pid, got)
	}
}

// lnkWantReason fails unless errors.Is(got, want).
func lnkWantReason(t testing.TB, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: reason %v, want %v", what, got, want)
	}
}

// lnkWantExit fails unless msg is link.Exit{From: from} with a reason
// matching want, and returns it.
func lnkWantExit(t testing.TB, msg any, from pid.Pid, want error) link.Exit {
	t.Helper()
	e, ok := msg.(link.Exit)
	if !ok {
		t.Fatalf("got %#v, want link.Exit{From: %v, Reason: %v}", msg, from, want)
	}
	if e.From != from {
		t.Fatalf("link.Exit from %v, want %v", e.From, from)
	}
	lnkWantReason(t, "link.Exit", e.Reason, want)
	return e
}

// lnkWantDown fails unless msg is link.Down for target with a reason
// matching want, and returns it.
func lnkWantDown(t testing.TB, msg any, target pid.Pid, want error) link.Down {
	t.Helper()
	d, ok := msg.(link.Down)
	if !ok {
		t.Fatalf("got %#v, want link.Down{Pid: %v, Reason: %v}", msg, target, want)
	}
	if d.Pid != target {
		t.Fatalf("link.Down for %v, want %v", d.Pid, target)
	}
	lnkWantReason(t, "link.Down", d.Reason, want)
	return d
}

// lnkLinks returns the link set of a live process.
func lnkLinks(t testing.TB, n *process.Node, p pid.Pid) []pid.Pid {
	t.Helper()
	return spawntest.Info(t, n, p).Links
}

// lnkPoll takes, without waiting, every queued message that match accepts.
// Only the process's own code may call it.
func lnkPoll(p *process.Process, match func(any) bool) []any {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out []any
	for {
		m, err := p.ReceiveMatch(ctx, match)
		if err != nil {
			return out
		}
		out = append(out, m)
	}
}

func lnkIsExit(m any) bool { _, ok := m.(link.Exit); return ok }

// lnkDead returns the Pid of a process that has exited.
func lnkDead(t testing.TB, n *process.Node, b process.Backend) pid.Pid {
	t.Helper()
	d := spawntest.NewProbe(t, n, process.WithBackend(b))
	w := spawntest.WatchExit(t, n, d.Pid())
	d.Exit(nil)
	lnkWantReason(t, "dead process", w.Wait(), process.Normal)
	return d.Pid()
}

// lnkForKinds runs f as a parallel subtest per backend and kind, each with
// a node of its own.
func lnkForKinds(t *testing.T, f func(t *testing.T, n *process.Node, b process.Backend, k lnkKind)) {
	t.Helper()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, k := range lnkKinds {
			t.Run(k.String(), func(t *testing.T) {
				t.Parallel()
				f(t, spawntest.NewNode(t), b, k)
			})
		}
	})
}

// lnkForKindPairs runs f as a parallel subtest per backend and pair of
// kinds, each with a node of its own.
func lnkForKindPairs(t *testing.T, first, second string, f func(t *testing.T, n *process.Node, b process.Backend, k1, k2 lnkKind)) {
	t.Helper()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, k1 := range lnkKinds {
			for _, k2 := range lnkKinds {
				t.Run(fmt.Sprintf("%s=%v/%s=%v", first, k1, second, k2), func(t *testing.T) {
					t.Parallel()
					f(t, spawntest.NewNode(t), b, k1, k2)
				})
			}
		}
	})
}

func TestLNK01_NormalExitDoesNotKillLinkedPartner(t *testing.T) {
	t.Parallel()
	lnkForKindPairs(t, "partner", "exiting", func(t *testing.T, n *process.Node, b process.Backend, kb, ka lnkKind) {
		bProc := lnkSpawn(t, n, b, kb)
		a := bProc.spawnLinked(b, ka)
		w := spawntest.WatchExit(t, n, a.Pid)

		a.exit(nil)

		lnkWantReason(t, "A", w.Wait(), process.Normal)
		// The link signal is handled before watchers are told, so it has
		// reached B by now: B is alive and its mailbox is empty.
		bProc.expectEmpty()
		if !n.Alive(bProc.Pid) {
			t.Fatal("B died of a normal exit of its link partner")
		}
		if links := lnkLinks(t, n, bProc.Pid); len(links) != 0 {
			t.Fatalf("B still lists links %v after A exited", links)
		}
	})
}

func TestLNK02_AbnormalExitKillsPartnerWithSameReason(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	lnkForKindPairs(t, "exiting", "partner", func(t *testing.T, n *process.Node, b process.Backend, ka, kb lnkKind) {
		a := lnkSpawn(t, n, b, ka)
		bProc := lnkSpawn(t, n, b, kb)
		bProc.do(func(p *process.Process) error { return link.Link(p, a.Pid) })
		m := spawntest.NewProbe(t, n, process.WithBackend(b))
		var ref pid.Ref
		m.Do(func(p *process.Process) (err error) {
			ref, err = link.Monitor(p, bProc.Pid)
			return err
		})
		wa := spawntest.WatchExit(t, n, a.Pid)

		a.exit(boom)

		lnkWantReason(t, "A", wa.Wait(), boom)
		d := lnkWantDown(t, m.Receive(), bProc.Pid, boom)
		if d.Ref != ref {
			t.Fatalf("DOWN ref %v, want %v", d.Ref, ref)
		}
		if errors.Is(d.Reason, process.Killed) || errors.Is(d.Reason, process.Kill) {
			t.Fatalf("B died with %v, want the partner's own reason", d.Reason)
		}
		m.ExpectEmpty()
	})
}

func TestLNK03_PanicReasonCarriesValueAndStack(t *testing.T) {
	t.Parallel()
	badarg := errors.New("badarg")
	lnkForKinds(t, func(t *testing.T, n *process.Node, b process.Backend, k lnkKind) {
		parent := lnkSpawnTrapping(t, n, b, lnkFunc)
		var child pid.Pid
		parent.do(func(p *process.Process) (err error) {
			if k == lnkFunc {
				child, err = p.SpawnLink(func(*process.Process) error { panic(badarg) }, process.WithBackend(b))
				return err
			}
			child, err = p.Node().SpawnHandler(lnkPanicky{badarg}, process.WithLink(p), process.WithBackend(b))
			if err == nil {
				err = p.Send(child, "go")
			}
			return err
		})

		msg := parent.receive()
		e, ok := msg.(link.Exit)
		if !ok || e.From != child {
			t.Fatalf("got %#v, want link.Exit from %v", msg, child)
		}
		var pe *process.PanicError
		if !errors.As(e.Reason, &pe) {
			t.Fatalf("reason %#v is not a *process.PanicError", e.Reason)
		}
		if pe.Value != badarg {
			t.Fatalf("panic value %#v, want %v", pe.Value, badarg)
		}
		if len(pe.Stack) == 0 {
			t.Fatal("panic reason has an empty stack")
		}
		if !bytes.Contains(pe.Stack, []byte("link_test.")) {
			t.Fatalf("stack does not show the panicking code:\n%s", pe.Stack)
		}
		if process.IsNormal(e.Reason) {
			t.Fatal("a panic counts as a normal exit")
		}
		parent.expectEmpty()
	})
}

// lnkPanicky is a Handler that panics with v on its first message.
type lnkPanicky struct{ v error }

func (h lnkPanicky) HandleMessage(*process.Process, any) error { panic(h.v) }

func TestLNK04_PropagationIsTransitiveAlongChain(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	lnkForKinds(t, func(t *testing.T, n *process.Node, b process.Backend, k lnkKind) {
		a := lnkSpawn(t, n, b, k)
		bProc := lnkSpawn(t, n, b, k)
		c := lnkSpawn(t, n, b, k)
		bProc.do(func(p *process.Process) error { return link.Link(p, a.Pid) })
		c.do(func(p *process.Process) error { return link.Link(p, bProc.Pid) })
		// A trapping observer at the end of the chain sees what C re-emits.
		obs := lnkSpawnTrapping(t, n, b, k)
		obs.do(func(p *process.Process) error { return link.Link(p, c.Pid) })
		wb := spawntest.WatchExit(t, n, bProc.Pid)
		wc := spawntest.WatchExit(t, n, c.Pid)

		a.exit(boom)

		lnkWantReason(t, "B", wb.Wait(), boom)
		lnkWantReason(t, "C", wc.Wait(), boom)
		lnkWantExit(t, obs.receive(), c.Pid, boom)
		obs.expectEmpty()
	})
}

// A cascade over a long chain is followed with a work list: the goroutine
// that tells the last process's watcher is only a few frames deep.
func TestLNK04_LongChainCascadeDoesNotRecurse(t *testing.T) {
	t.Parallel()
	const length = 1000
	boom := errors.New("boom")
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		chain := make([]*lnkActor, length)
		for i := range chain {
			chain[i] = lnkSpawn(t, n, b, lnkHandler)
			if i > 0 {
				prev := chain[i-1].Pid
				chain[i].do(func(p *process.Process) error { return link.Link(p, prev) })
			}
		}
		type death struct {
			i      int
			reason error
			depth  int
		}
		deaths := make(chan death, length)
		for i, a := range chain[1:] {
			if _, err := link.Watch(n, a.Pid, func(d link.Down) {
				pcs := make([]uintptr, 4*length)
				deaths <- death{i: i + 1, reason: d.Reason, depth: runtime.Callers(0, pcs)}
			}); err != nil {
				t.Fatalf("watch: %v", err)
			}
		}

		chain[0].exit(boom)

		maxDepth := 0
		for range length - 1 {
			select {
			case d := <-deaths:
				lnkWantReason(t, fmt.Sprintf("process %d of the chain", d.i), d.reason, boom)
				maxDepth = max(maxDepth, d.depth)
			case <-time.After(spawntest.Timeout):
				t.Fatalf("the cascade stopped: %d of %d processes still alive", len(n.Processes()), length)
			}
		}
		if maxDepth > 64 {
			t.Fatalf("a %d-process cascade ran %d frames deep: propagation recurses", length, maxDepth)
		}
		if got := len(n.Processes()); got != 0 {
			t.Fatalf("%d processes left after the cascade", got)
		}
	})
}

func TestLNK05_LinksAreBidirectional(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		a := spawntest.NewProbe(t, n, process.WithBackend(b))
		bp := spawntest.NewProbe(t, n, process.WithBackend(b))
		bp.Do(func(p *process.Process) error { return link.Link(p, a.Pid()) })
		if links := lnkLinks(t, n, a.Pid()); !slices.Equal(links, []pid.Pid{bp.Pid()}) {
			t.Fatalf("A's links %v, want [B %v]", links, bp.Pid())
		}
		wa := spawntest.WatchExit(t, n, a.Pid())

		bp.Exit(boom)

		lnkWantReason(t, "A", wa.Wait(), boom)
	})
}

func TestLNK06_LinkIsIdempotent(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		pp := spawntest.NewProbe(t, n, process.WithBackend(b))
		q := spawntest.NewProbe(t, n, process.WithBackend(b))
		pp.Do(func(p *process.Process) error {
			if err := link.Link(p, q.Pid()); err != nil {
				return err
			}
			return link.Link(p, q.Pid())
		})
		if links := lnkLinks(t, n, pp.Pid()); !slices.Equal(links, []pid.Pid{q.Pid()}) {
			t.Fatalf("P's links after two links %v, want Q exactly once", links)
		}
		if links := lnkLinks(t, n, q.Pid()); !slices.Equal(links, []pid.Pid{pp.Pid()}) {
			t.Fatalf("Q's links after two links %v, want P exactly once", links)
		}

		var err error
		pp.Do(func(p *process.Process) error { err = link.Unlink(p, q.Pid()); return nil })
		if err != nil {
			t.Fatalf("unlink: %v", err)
		}
		if links := lnkLinks(t, n, pp.Pid()); len(links) != 0 {
			t.Fatalf("P's links after one unlink %v, want none", links)
		}
		if links := lnkLinks(t, n, q.Pid()); len(links) != 0 {
			t.Fatalf("Q's links after one unlink %v, want none", links)
		}
	})
}

func TestLNK07_LinkToSelfIsNoOp(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		pp := spawntest.NewProbe(t, n, process.WithBackend(b))
		var err error
		pp.Do(func(p *process.Process) error { err = link.Link(p, p.Self()); return nil })
		if err != nil {
			t.Fatalf("link(self): %v", err)
		}
		if links := lnkLinks(t, n, pp.Pid()); len(links) != 0 {
			t.Fatalf("links after link(self) %v, want none", links)
		}
		pp.ExpectEmpty()
	})
}

func TestLNK08_LinkToDeadWhileTrappingGivesNoProcExit(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		dead := lnkDead(t, n, b)
		pp := spawntest.NewProbe(t, n, process.WithBackend(b))
		var err error
		var queued []any
		pp.Do(func(p *process.Process) error {
			p.TrapExit(true)
			err = link.Link(p, dead)
			queued = lnkPoll(p, lnkIsExit) // "at once": already queued when Link returns
			return nil
		})
		if err != nil {
			t.Fatalf("link to a dead process while trapping: %v, want nil", err)
		}
		if len(queued) != 1 {
			t.Fatalf("queued when Link returned: %#v, want one link.Exit", queued)
		}
		lnkWantExit(t, queued[0], dead, process.NoProc)
		if links := lnkLinks(t, n, pp.Pid()); len(links) != 0 {
			t.Fatalf("links %v after linking to a dead process", links)
		}
		pp.ExpectEmpty()
	})
}

// Erlang raises noproc from link/1, which kills the caller unless caught.
// In Go, Link returns the error instead: the caller is not killed and decides
// itself; returning the error from its Func makes it exit with it.
func TestLNK09_LinkToDeadWhileNotTrappingReturnsNoProc(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		dead := lnkDead(t, n, b)
		pp := spawntest.NewProbe(t, n, process.WithBackend(b))
		var err error
		var alive bool
		pp.Do(func(p *process.Process) error {
			err = link.Link(p, dead)
			alive = p.Alive()
			return nil
		})
		if !errors.Is(err, process.NoProc) {
			t.Fatalf("link to a dead process: %v, want an error wrapping NoProc", err)
		}
		var le *link.Error
		if !errors.As(err, &le) || le.Pid != dead {
			t.Fatalf("link error %#v, want a *link.Error for %v", err, dead)
		}
		if !alive {
			t.Fatal("the caller was killed by a failed link")
		}
		pp.ExpectEmpty() // alive, and no Exit message queued

		// "Uncaught": the process returns the error and exits with noproc.
		w := spawntest.WatchExit(t, n, pp.Pid())
		pp.Do(func(p *process.Process) error { return link.Link(p, dead) })
		lnkWantReason(t, "caller returning the link error", w.Wait(), process.NoProc)
	})
}

func TestLNK10_UnlinkRemovesLinkOnBothSides(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		caller := spawntest.NewProbe(t, n, process.WithBackend(b))
		pp := spawntest.NewProbe(t, n, process.WithBackend(b))
		caller.Do(func(p *process.Process) error {
			if err := link.Link(p, pp.Pid()); err != nil {
				return err
			}
			return link.Unlink(p, pp.Pid())
		})
		if links := lnkLinks(t, n, pp.Pid()); len(links) != 0 {
			t.Fatalf("P's links after unlink %v, want none", links)
		}
		if links := lnkLinks(t, n, caller.Pid()); len(links) != 0 {
			t.Fatalf("caller's links after unlink %v, want none", links)
		}
		w := spawntest.WatchExit(t, n, pp.Pid())

		pp.Exit(boom)

		lnkWantReason(t, "P", w.Wait(), boom)
		caller.ExpectEmpty()
		if !n.Alive(caller.Pid()) {
			t.Fatal("the caller died of an unlinked process's exit")
		}
	})
}

func TestLNK11_NoExitArrivesAfterUnlinkReturns(t *testing.T) {
	t.Parallel()
	bang := errors.New("bang")
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		caller := lnkSpawnTrapping(t, n, b, lnkFunc)

		// exit(P, bang) then unlink(P) at once.
		pp := caller.spawnLinked(b, lnkFunc)
		wp := spawntest.WatchExit(t, n, pp.Pid)
		var before []any
		caller.do(func(p *process.Process) error {
			if err := p.Exit(pp.Pid, bang); err != nil {
				return err
			}
			if err := link.Unlink(p, pp.Pid); err != nil {
				return err
			}
			before = lnkPoll(p, lnkIsExit)
			return nil
		})
		lnkWantReason(t, "P", wp.Wait(), bang)
		if len(before) > 1 {
			t.Fatalf("%d Exit messages queued at unlink, want at most one", len(before))
		}
		for _, m := range before {
			lnkWantExit(t, m, pp.Pid, bang)
		}
		caller.expectEmpty()

		// P exits by itself while the caller unlinks: whatever was queued
		// when Unlink returned is all there ever is.
		for i := range 200 {
			var before, after []any
			caller.do(func(p *process.Process) error {
				target, err := p.Node().Spawn(func(q *process.Process) error {
					m, err := q.Receive(context.Background())
					if err != nil {
						return err
					}
					return m.(error)
				}, process.WithLink(p), process.WithBackend(b))
				if err != nil {
					return err
				}
				ref, err := link.Monitor(p, target)
				if err != nil {
					return err
				}
				if err := p.Send(target, bang); err != nil {
					return err
				}
				if err := link.Unlink(p, target); err != nil {
					return err
				}
				before = lnkPoll(p, lnkIsExit)
				// A link's exit signal is handled before the monitors are
				// told, so after the DOWN a late Exit would be queued.
				ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
				defer cancel()
				if _, err := p.ReceiveMatch(ctx, func(m any) bool {
					d, ok := m.(link.Down)
					return ok && d.Ref == ref
				}); err != nil {
					return fmt.Errorf("waiting for DOWN: %w", err)
				}
				after = lnkPoll(p, lnkIsExit)
				return nil
			})
			if len(before) > 1 {
				t.Fatalf("round %d: %d Exit messages queued at unlink, want at most one", i, len(before))
			}
			if len(after) != 0 {
				t.Fatalf("round %d: Exit arrived after Unlink returned: %#v", i, after)
			}
		}
		caller.expectEmpty()

		// Unlink while P's exit signal is under way: Z dies and takes P with
		// it; Z's watcher runs in the goroutine that is propagating the
		// cascade, where P may already be dead but its links not yet told.
		// The caller unlinks from there.
		pp = caller.spawnLinked(b, lnkFunc)
		z := spawntest.NewProbe(t, n, process.WithBackend(b))
		z.Do(func(p *process.Process) error { return link.Link(p, pp.Pid) })
		wp = spawntest.WatchExit(t, n, pp.Pid)
		before = nil
		hooked := false
		if _, err := link.Watch(n, z.Pid(), func(link.Down) {
			hooked = true
			caller.do(func(p *process.Process) error {
				if err := link.Unlink(p, pp.Pid); err != nil {
					return err
				}
				before = lnkPoll(p, lnkIsExit)
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		if err := n.Exit(z.Pid(), bang); err != nil { // runs the cascade here
			t.Fatal(err)
		}
		if !hooked {
			t.Fatal("Z's watcher did not run during the exit")
		}
		lnkWantReason(t, "P", wp.Wait(), bang)
		if len(before) > 1 {
			t.Fatalf("%d Exit messages queued at unlink, want at most one", len(before))
		}
		for _, m := range before {
			lnkWantExit(t, m, pp.Pid, bang)
		}
		caller.expectEmpty()
	})
}

func TestLNK12_UnlinkOfDeadOrUnlinkedIsHarmless(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		dead := lnkDead(t, n, b)
		other := spawntest.NewProbe(t, n, process.WithBackend(b))
		pp := spawntest.NewProbe(t, n, process.WithBackend(b))
		var errDead, errLive error
		pp.Do(func(p *process.Process) error {
			errDead = link.Unlink(p, dead)
			errLive = link.Unlink(p, other.Pid())
			return nil
		})
		if errDead != nil {
			t.Fatalf("unlink of a dead pid: %v", errDead)
		}
		if errLive != nil {
			t.Fatalf("unlink of an unlinked live pid: %v", errLive)
		}
		pp.ExpectEmpty()
		other.ExpectEmpty()
	})
}

func TestLNK13_SpawnLinkIsAtomic(t *testing.T) {
	t.Parallel()
	early := errors.New("early")
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		parent := lnkSpawnTrapping(t, n, b, lnkFunc)
		for range 100 {
			var child pid.Pid
			parent.do(func(p *process.Process) (err error) {
				child, err = p.SpawnLink(func(*process.Process) error { return early }, process.WithBackend(b))
				return err
			})
			lnkWantExit(t, parent.receive(), child, early)
		}
		parent.expectEmpty()
	})
}

func TestLNK14_KillOverLinkIsTrappable(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("OwnExitKill", func(t *testing.T) {
			n := spawntest.NewNode(t)
			a := spawntest.NewProbe(t, n, process.WithBackend(b))
			trapper := lnkSpawnTrapping(t, n, b, lnkFunc)
			plain := spawntest.NewProbe(t, n, process.WithBackend(b))
			trapper.do(func(p *process.Process) error { return link.Link(p, a.Pid()) })
			plain.Do(func(p *process.Process) error { return link.Link(p, a.Pid()) })
			wa := spawntest.WatchExit(t, n, a.Pid())
			wn := spawntest.WatchExit(t, n, plain.Pid())

			a.Exit(process.Kill) // exit(kill) in A itself

			lnkWantReason(t, "A", wa.Wait(), process.Kill)
			e := lnkWantExit(t, trapper.receive(), a.Pid(), process.Kill)
			if errors.Is(e.Reason, process.Killed) {
				t.Fatalf("T got %v over the link, want kill", e.Reason)
			}
			trapper.expectEmpty() // T survives
			r := wn.Wait()
			lnkWantReason(t, "N", r, process.Kill)
			if errors.Is(r, process.Killed) {
				t.Fatalf("N died with %v, want kill", r)
			}
		})
		t.Run("ExitSignalKill", func(t *testing.T) {
			n := spawntest.NewNode(t)
			a := spawntest.NewProbe(t, n, process.WithBackend(b))
			trapper := lnkSpawnTrapping(t, n, b, lnkFunc)
			plain := spawntest.NewProbe(t, n, process.WithBackend(b))
			killer := spawntest.NewProbe(t, n, process.WithBackend(b))
			trapper.do(func(p *process.Process) error { return link.Link(p, a.Pid()) })
			plain.Do(func(p *process.Process) error { return link.Link(p, a.Pid()) })
			wa := spawntest.WatchExit(t, n, a.Pid())
			wn := spawntest.WatchExit(t, n, plain.Pid())

			killer.Do(func(p *process.Process) error { return p.Exit(a.Pid(), process.Kill) })

			lnkWantReason(t, "A", wa.Wait(), process.Killed)
			lnkWantExit(t, trapper.receive(), a.Pid(), process.Killed)
			trapper.expectEmpty()
			lnkWantReason(t, "N", wn.Wait(), process.Killed)
			killer.ExpectEmpty()
		})
	})
}
