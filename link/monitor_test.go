package link_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Section 4 of CONFORMANCE.md: monitors (MON-10 and MON-11, monitors by
// name, are [opt] and not implemented).

var (
	monBoom  = errors.New("boom")
	monBang  = errors.New("bang")
	monEarly = errors.New("early")
)

// monTryReceive takes the oldest queued message without waiting. It must
// run in a probe's Do, where no probe command is queued.
func monTryReceive(p *process.Process) (any, bool) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m, err := p.Receive(ctx)
	return m, err == nil
}

// monDrain takes every queued message without waiting.
func monDrain(p *process.Process) []any { return lnkPoll(p, func(any) bool { return true }) }

// monAwaitQueued waits until a message for which pred holds is in p's
// mailbox, leaving it there. It reports whether one was seen in time.
func monAwaitQueued(p *process.Process, pred func(any) bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	defer cancel()
	seen := false
	_, _ = p.ReceiveMatch(ctx, func(m any) bool {
		if pred(m) {
			seen = true
			cancel()
		}
		return false
	})
	return seen
}

func monIsDown(ref pid.Ref) func(any) bool {
	return func(m any) bool { d, ok := m.(link.Down); return ok && d.Ref == ref }
}

// monCheckDown describes how msg differs from Down{ref, target, want}; ""
// when it matches.
func monCheckDown(msg any, ref pid.Ref, target pid.Pid, want error) string {
	d, ok := msg.(link.Down)
	switch {
	case !ok:
		return fmt.Sprintf("got %#v, want a link.Down", msg)
	case d.Ref != ref:
		return fmt.Sprintf("Down.Ref = %v, want %v", d.Ref, ref)
	case d.Pid != target:
		return fmt.Sprintf("Down.Pid = %v, want %v", d.Pid, target)
	case !errors.Is(d.Reason, want):
		return fmt.Sprintf("Down.Reason = %v, want %v", d.Reason, want)
	}
	return ""
}

func monWantDown(t testing.TB, msg any, ref pid.Ref, target pid.Pid, want error) {
	t.Helper()
	if s := monCheckDown(msg, ref, target, want); s != "" {
		t.Fatal(s)
	}
}

// monMonitor makes probe pr monitor target.
func monMonitor(t testing.TB, pr *spawntest.Probe, target pid.Pid) pid.Ref {
	t.Helper()
	ref := pr.Monitor(target)
	if ref.IsZero() {
		t.Fatalf("monitor %v: zero ref", target)
	}
	return ref
}

// monKill makes target exit with reason and waits for it.
func monKill(t testing.TB, n *process.Node, target pid.Pid, reason error) {
	t.Helper()
	if r := spawntest.ExitAndWait(t, n, target, reason); !errors.Is(r, reason) {
		t.Fatalf("target exited with %v, want %v", r, reason)
	}
}

// monNotAlive returns Pids of no live process, each with the reason that a
// monitor or a watch of it gives at once.
func monNotAlive(t testing.TB, n *process.Node, b process.Backend) []struct {
	name   string
	target pid.Pid
	want   error
} {
	t.Helper()
	dead := spawntest.SpawnIdle(t, n, process.WithBackend(b))
	monKill(t, n, dead, monBoom)
	return []struct {
		name   string
		target pid.Pid
		want   error
	}{
		{"dead", dead, process.NoProc},
		{"never-existed", pid.New(n.ID(), 1<<60), process.NoProc},
		{"unknown-node", pid.New(pid.NewNodeID(), 1), process.NoConnection},
	}
}

func TestMON01_MonitorsAreUnidirectional(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		a := spawntest.NewProbe(t, n, process.WithBackend(b))
		target := spawntest.NewProbe(t, n, process.WithBackend(b))
		monMonitor(t, a, target.Pid())

		exited := spawntest.WatchExit(t, n, a.Pid())
		a.Exit(monBoom)
		if r := exited.Wait(); !errors.Is(r, monBoom) {
			t.Fatalf("A exited with %v, want boom", r)
		}
		if !n.Alive(target.Pid()) {
			t.Fatal("B died with its monitoring process")
		}
		target.ExpectEmpty()
		target.Do(func(*process.Process) error { return nil }) // B still runs code
	})
}

func TestMON02_DownCarriesReasonIncludingNormal(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, tc := range []struct {
			name       string
			exit, want error
		}{
			{"normal", nil, process.Normal},
			{"boom", monBoom, monBoom},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n := spawntest.NewNode(t)
				m := spawntest.NewProbe(t, n, process.WithBackend(b))
				target := spawntest.NewProbe(t, n, process.WithBackend(b))
				ref := monMonitor(t, m, target.Pid())
				target.Exit(tc.exit)
				monWantDown(t, m.Receive(), ref, target.Pid(), tc.want)
				m.ExpectEmpty()
			})
		}
	})
}

func TestMON03_MonitorOfDeadPidGivesImmediateNoProc(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		for _, tc := range monNotAlive(t, n, b) {
			t.Run(tc.name, func(t *testing.T) {
				m := spawntest.NewProbe(t, n, process.WithBackend(b))
				var ref pid.Ref
				var err error
				var msg any
				var queued bool
				m.Do(func(p *process.Process) error {
					ref, err = link.Monitor(p, tc.target)
					msg, queued = monTryReceive(p) // no waiting
					return nil
				})
				if err != nil {
					t.Fatalf("monitor: %v", err)
				}
				if !queued {
					t.Fatal("no Down queued when Monitor returned")
				}
				monWantDown(t, msg, ref, tc.target, tc.want)
				m.ExpectEmpty()
			})
		}
	})
}

func TestMON04_SeveralMonitorsAreIndependent(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		m := spawntest.NewProbe(t, n, process.WithBackend(b))
		target := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		r1 := monMonitor(t, m, target)
		r2 := monMonitor(t, m, target)
		if r1 == r2 {
			t.Fatalf("two monitors share ref %v", r1)
		}
		info := spawntest.Info(t, n, m.Pid())
		if len(info.Monitors) != 2 {
			t.Fatalf("Info.Monitors = %v, want 2 monitors", info.Monitors)
		}

		monKill(t, n, target, monBang)
		want := map[pid.Ref]bool{r1: true, r2: true}
		for range 2 {
			msg := m.Receive()
			d, ok := msg.(link.Down)
			if !ok || !want[d.Ref] {
				t.Fatalf("got %#v, want a Down for %v or %v", msg, r1, r2)
			}
			monWantDown(t, d, d.Ref, target, monBang)
			delete(want, d.Ref)
		}
		m.ExpectEmpty()
	})
}

func TestMON05_DemonitorBeforeExitMeansNoDown(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		m := spawntest.NewProbe(t, n, process.WithBackend(b))
		target := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		r1 := monMonitor(t, m, target)
		anchor := monMonitor(t, m, target) // fires, so r1's absence is observable
		var active bool
		m.Do(func(p *process.Process) error { active = link.Demonitor(p, r1); return nil })
		if !active {
			t.Fatal("Demonitor of an active monitor returned false")
		}
		info := spawntest.Info(t, n, target)
		if len(info.MonitoredBy) != 1 {
			t.Fatalf("target MonitoredBy = %v after demonitor, want only the anchor", info.MonitoredBy)
		}

		monKill(t, n, target, monBang)
		monWantDown(t, m.Receive(), anchor, target, monBang)
		m.ExpectEmpty()
	})
}

func TestMON06_DemonitorFlushRemovesQueuedDown(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("queued", func(t *testing.T) {
			n := spawntest.NewNode(t)
			m := spawntest.NewProbe(t, n, process.WithBackend(b))
			target := spawntest.SpawnIdle(t, n, process.WithBackend(b))
			ref := monMonitor(t, m, target)
			if err := n.Send(m.Pid(), "before"); err != nil {
				t.Fatal(err)
			}
			monKill(t, n, target, monBang)

			var queued, active bool
			var qlen int
			var rest []any
			m.Do(func(p *process.Process) error {
				queued = monAwaitQueued(p, monIsDown(ref))
				if info, err := n.Info(p.Self()); err == nil {
					qlen = info.MessageQueueLen
				}
				active = link.DemonitorFlush(p, ref)
				rest = monDrain(p)
				return nil
			})
			if !queued || qlen != 2 {
				t.Fatalf("Down queued = %v with queue length %d, want the Down and one message", queued, qlen)
			}
			// Erlang's [flush, info]: false, because a flush was needed.
			if active {
				t.Error("DemonitorFlush after the Down was queued returned true")
			}
			if len(rest) != 1 || rest[0] != "before" {
				t.Fatalf("mailbox after flush = %#v, want only \"before\"", rest)
			}
			m.ExpectEmpty()
		})
		t.Run("active", func(t *testing.T) {
			n := spawntest.NewNode(t)
			m := spawntest.NewProbe(t, n, process.WithBackend(b))
			target := spawntest.SpawnIdle(t, n, process.WithBackend(b))
			ref := monMonitor(t, m, target)
			anchor := monMonitor(t, m, target)
			var active bool
			m.Do(func(p *process.Process) error { active = link.DemonitorFlush(p, ref); return nil })
			if !active {
				t.Error("DemonitorFlush of an active monitor returned false")
			}
			monKill(t, n, target, monBang)
			monWantDown(t, m.Receive(), anchor, target, monBang)
			m.ExpectEmpty()
		})
	})
}

func TestMON07_DemonitorLeavesQueuedDownAndReportsIt(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		m := spawntest.NewProbe(t, n, process.WithBackend(b))

		live := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		lref := monMonitor(t, m, live)
		var active bool
		m.Do(func(p *process.Process) error { active = link.Demonitor(p, lref); return nil })
		if !active {
			t.Error("Demonitor of an active monitor returned false")
		}

		target := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		ref := monMonitor(t, m, target)
		monKill(t, n, target, monBang)
		var queued bool
		m.Do(func(p *process.Process) error {
			queued = monAwaitQueued(p, monIsDown(ref))
			active = link.Demonitor(p, ref)
			return nil
		})
		if !queued {
			t.Fatal("the Down was never queued")
		}
		if active {
			t.Error("Demonitor after the Down was queued returned true")
		}
		monWantDown(t, m.Receive(), ref, target, monBang)
		m.ExpectEmpty()
	})
}

func TestMON08_DemonitorOfUnknownOrRemovedRefIsHarmless(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		m := spawntest.NewProbe(t, n, process.WithBackend(b))
		other := spawntest.NewProbe(t, n, process.WithBackend(b))
		target := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		ref := monMonitor(t, m, target)
		oref := monMonitor(t, other, target)

		var results []bool
		m.Do(func(p *process.Process) error {
			results = append(results,
				link.Demonitor(p, n.MakeRef()),      // unknown
				link.DemonitorFlush(p, n.MakeRef()), // unknown, with flush
				link.Demonitor(p, pid.Ref{}),        // zero
				link.Demonitor(p, oref),             // held by another process
				link.Demonitor(p, ref),              // active
				link.Demonitor(p, ref),              // already removed
				link.DemonitorFlush(p, ref),         // already removed, with flush
			)
			return nil
		})
		want := []bool{false, false, false, false, true, false, false}
		if fmt.Sprint(results) != fmt.Sprint(want) {
			t.Fatalf("Demonitor results = %v, want %v", results, want)
		}
		if !n.Alive(m.Pid()) {
			t.Fatal("the probe died")
		}
		m.ExpectEmpty()

		// The other process's monitor was left alone.
		monKill(t, n, target, monBang)
		monWantDown(t, other.Receive(), oref, target, monBang)
		other.ExpectEmpty()
		m.ExpectEmpty()
	})
}

func TestMON09_MonitorSelfIsAllowedAndNeverFires(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		m := spawntest.NewProbe(t, n, process.WithBackend(b))
		r1 := monMonitor(t, m, m.Pid())
		r2 := monMonitor(t, m, m.Pid())
		if r1 == r2 {
			t.Fatalf("two monitors share ref %v", r1)
		}
		m.ExpectEmpty()
		var active bool
		m.Do(func(p *process.Process) error { active = link.Demonitor(p, r1); return nil })
		if !active {
			t.Error("Demonitor of a self monitor returned false")
		}
		m.ExpectEmpty()

		// Dying with a self monitor (r2) still held is an ordinary exit.
		exited := spawntest.WatchExit(t, n, m.Pid())
		m.Exit(monBoom)
		if r := exited.Wait(); !errors.Is(r, monBoom) {
			t.Fatalf("exited with %v, want boom", r)
		}
	})
}

func TestMON12_SpawnMonitorIsAtomic(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		m := spawntest.NewProbe(t, n)
		const rounds = 100
		var problems []string
		m.Do(func(p *process.Process) error {
			ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
			defer cancel()
			for i := range rounds {
				child, ref, err := p.SpawnMonitor(func(*process.Process) error { return monEarly }, process.WithBackend(b))
				if err != nil {
					problems = append(problems, fmt.Sprintf("round %d: spawn: %v", i, err))
					return nil
				}
				msg, err := p.Receive(ctx)
				if err != nil {
					problems = append(problems, fmt.Sprintf("round %d: receive: %v", i, err))
					return nil
				}
				if s := monCheckDown(msg, ref, child, monEarly); s != "" {
					problems = append(problems, fmt.Sprintf("round %d: %s", i, s))
				}
			}
			return nil
		})
		for _, s := range problems {
			t.Error(s)
		}
		m.ExpectEmpty()
	})
}

func TestMON13_NoDownAfterDemonitorReturns(t *testing.T) {
	t.Parallel()
	const rounds = 200
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		// The monitoring process itself sends exit(P, bang), then demonitors.
		t.Run("exit-then-demonitor", func(t *testing.T) {
			n := spawntest.NewNode(t)
			m := spawntest.NewProbe(t, n, process.WithBackend(b))
			for i := range rounds {
				target := spawntest.SpawnIdle(t, n, process.WithBackend(b))
				exited := spawntest.WatchExit(t, n, target)
				var ref pid.Ref
				var err error
				var active bool
				var before []any
				m.Do(func(p *process.Process) error {
					if ref, err = link.Monitor(p, target); err != nil {
						return nil
					}
					if err = p.Exit(target, monBang); err != nil {
						return nil
					}
					active = link.Demonitor(p, ref)
					before = monDrain(p)
					return nil
				})
				if err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
				monCheckDemonitorRace(t, i, before, ref, target, active)
				if r := exited.Wait(); !errors.Is(r, monBang) {
					t.Fatalf("round %d: target exited with %v, want bang", i, r)
				}
				m.ExpectEmpty() // nothing after Demonitor returned
			}
		})
		// Another goroutine kills P while the monitoring process demonitors.
		t.Run("concurrent-exit", func(t *testing.T) {
			n := spawntest.NewNode(t)
			m := spawntest.NewProbe(t, n, process.WithBackend(b))
			fired := 0
			for i := range rounds {
				target := spawntest.SpawnIdle(t, n, process.WithBackend(b))
				exited := spawntest.WatchExit(t, n, target)
				start, killed := make(chan struct{}), make(chan error, 1)
				go func() {
					<-start
					killed <- n.Exit(target, monBang)
				}()
				var ref pid.Ref
				var err error
				var active bool
				var before []any
				m.Do(func(p *process.Process) error {
					ref, err = link.Monitor(p, target)
					close(start)
					for range i % 3 { // vary who wins the race
						runtime.Gosched()
					}
					if err == nil {
						active = link.Demonitor(p, ref)
						before = monDrain(p)
					}
					return nil
				})
				if err != nil {
					t.Fatalf("round %d: monitor: %v", i, err)
				}
				monCheckDemonitorRace(t, i, before, ref, target, active)
				if err := <-killed; err != nil {
					t.Fatalf("round %d: exit: %v", i, err)
				}
				if r := exited.Wait(); !errors.Is(r, monBang) {
					t.Fatalf("round %d: target exited with %v, want bang", i, r)
				}
				m.ExpectEmpty() // nothing after Demonitor returned
				if !active {
					fired++
				}
			}
			t.Logf("Down already queued at Demonitor in %d of %d rounds", fired, rounds)
		})
	})
}

// monCheckDemonitorRace checks what was queued when Demonitor returned: at
// most one Down, and exactly one when Demonitor reported the monitor as no
// longer active.
func monCheckDemonitorRace(t *testing.T, round int, before []any, ref pid.Ref, target pid.Pid, active bool) {
	t.Helper()
	switch {
	case len(before) > 1:
		t.Fatalf("round %d: %d messages queued at Demonitor, want at most one Down: %#v", round, len(before), before)
	case active && len(before) != 0:
		t.Fatalf("round %d: Demonitor returned true but %#v was queued", round, before[0])
	case !active && len(before) != 1:
		t.Fatalf("round %d: Demonitor returned false but no Down was queued", round)
	case len(before) == 1:
		if s := monCheckDown(before[0], ref, target, monBang); s != "" {
			t.Fatalf("round %d: %s", round, s)
		}
	}
}
