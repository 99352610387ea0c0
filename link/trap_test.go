package link_test

// Section 2 of CONFORMANCE.md: trap_exit (TRP-01..07).

import (
	"errors"
	"testing"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

func TestTRP01_TrapperGetsExitMessageForNormalExit(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		parent := lnkSpawnTrapping(t, n, b, lnkFunc)
		child := parent.spawnLinked(b, lnkFunc)

		child.exit(nil)

		lnkWantExit(t, parent.receive(), child.Pid, process.Normal)
		parent.expectEmpty()
	})
}

func TestTRP02_TrapperTurnsAbnormalExitIntoMessage(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	lnkForKindPairs(t, "trapping", "exiting", func(t *testing.T, n *process.Node, b process.Backend, kp, kc lnkKind) {
		parent := lnkSpawnTrapping(t, n, b, kp)
		child := parent.spawnLinked(b, kc)
		wc := spawntest.WatchExit(t, n, child.Pid)

		child.exit(boom)

		lnkWantReason(t, "C", wc.Wait(), boom)
		lnkWantExit(t, parent.receive(), child.Pid, boom)
		parent.expectEmpty()
		if !n.Alive(parent.Pid) {
			t.Fatal("the trapping process died")
		}
		if links := lnkLinks(t, n, parent.Pid); len(links) != 0 {
			t.Fatalf("P still lists links %v after C exited", links)
		}
	})
}

func TestTRP03_ExitKillKillsTrappingProcess(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		pp := lnkSpawnTrapping(t, n, b, lnkFunc)
		q := lnkSpawnTrapping(t, n, b, lnkFunc)
		q.do(func(p *process.Process) error { return link.Link(p, pp.Pid) })
		m := spawntest.NewProbe(t, n, process.WithBackend(b))
		var ref pid.Ref
		m.Do(func(p *process.Process) (err error) {
			ref, err = link.Monitor(p, pp.Pid)
			return err
		})
		third := spawntest.NewProbe(t, n, process.WithBackend(b))

		third.Do(func(p *process.Process) error { return p.Exit(pp.Pid, process.Kill) })

		d := lnkWantDown(t, m.Receive(), pp.Pid, process.Killed)
		if d.Ref != ref {
			t.Fatalf("DOWN ref %v, want %v", d.Ref, ref)
		}
		e := lnkWantExit(t, q.receive(), pp.Pid, process.Killed)
		if errors.Is(d.Reason, process.Kill) || errors.Is(e.Reason, process.Kill) {
			t.Fatalf("saw kill (DOWN %v, EXIT %v), want killed", d.Reason, e.Reason)
		}
		q.expectEmpty()
		third.ExpectEmpty()
		m.ExpectEmpty()
	})
}

func TestTRP04_TrapExitReturnsPreviousValue(t *testing.T) {
	t.Parallel()
	lnkForKinds(t, func(t *testing.T, n *process.Node, b process.Backend, k lnkKind) {
		a := lnkSpawn(t, n, b, k)
		var first, second, third, traps bool
		a.do(func(p *process.Process) error {
			first = p.TrapExit(true)
			traps = p.TrapsExits()
			second = p.TrapExit(true)
			return nil
		})
		in := spawntest.Info(t, n, a.Pid)
		a.do(func(p *process.Process) error { third = p.TrapExit(false); return nil })
		if first || !second || !third || !traps || !in.TrapExit {
			t.Fatalf("TrapExit returned %v, %v, %v (TrapsExits %v, Info %v), want false, true, true (true, true)",
				first, second, third, traps, in.TrapExit)
		}
		a.do(func(p *process.Process) error { traps = p.TrapsExits(); return nil })
		if traps {
			t.Fatal("TrapsExits true after TrapExit(false)")
		}
	})
}

func TestTRP05_QueuedExitStaysMessageAfterTrapOff(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		pp := lnkSpawnTrapping(t, n, b, lnkFunc)
		c := pp.spawnLinked(b, lnkFunc)
		wc := spawntest.WatchExit(t, n, c.Pid)
		c.exit(boom)
		// The link signal is handled before watchers are told: the Exit
		// message is queued in P now.
		lnkWantReason(t, "C", wc.Wait(), boom)

		var prev bool
		pp.do(func(p *process.Process) error { prev = p.TrapExit(false); return nil })
		if !prev {
			t.Fatal("P was not trapping")
		}

		lnkWantExit(t, pp.receive(), c.Pid, boom)
		pp.expectEmpty()
		if !n.Alive(pp.Pid) {
			t.Fatal("P died of a queued Exit message")
		}
	})
}

func TestTRP06_TrapperExitSelfGetsMessage(t *testing.T) {
	t.Parallel()
	reason := errors.New("r")
	lnkForKinds(t, func(t *testing.T, n *process.Node, b process.Backend, k lnkKind) {
		pp := lnkSpawnTrapping(t, n, b, k)
		var err error
		var alive bool
		pp.do(func(p *process.Process) error {
			err = p.Exit(p.Self(), reason)
			alive = p.Alive()
			return nil
		})
		if err != nil {
			t.Fatalf("exit(self(), r): %v", err)
		}
		if !alive {
			t.Fatal("a trapping process died of exit(self(), r)")
		}
		lnkWantExit(t, pp.receive(), pp.Pid, reason)
		pp.expectEmpty()
	})
}

// Exit(self) is a signal, not a return value: the process is dead as soon as
// Exit returns, even though its Go code runs on, and what that code then
// returns changes nothing.
func TestTRP07_ExitSelfNormalKillsNonTrappingProcess(t *testing.T) {
	t.Parallel()
	die := errors.New("die")
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, tc := range []struct {
			name   string
			reason error
		}{
			{"normal", process.Normal},
			{"die", die},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n := spawntest.NewNode(t)
				m := spawntest.NewProbe(t, n, process.WithBackend(b))
				aliveAfter := make(chan bool, 1)
				var target pid.Pid
				m.Do(func(p *process.Process) (err error) {
					target, _, err = p.SpawnMonitor(func(q *process.Process) error {
						_ = q.Exit(q.Self(), tc.reason) // Go's "catch exit(self(), R)"
						aliveAfter <- q.Alive()
						return nil // would be a normal exit, had it not died already
					}, process.WithBackend(b))
					return err
				})
				lnkWantDown(t, m.Receive(), target, tc.reason)
				if <-aliveAfter {
					t.Fatal("the process was alive right after exit(self(), R)")
				}
				m.ExpectEmpty()
			})
		}
		t.Run("handler", func(t *testing.T) {
			n := spawntest.NewNode(t)
			a := lnkSpawn(t, n, b, lnkHandler)
			w := spawntest.WatchExit(t, n, a.Pid)
			var alive bool
			a.do(func(p *process.Process) error {
				_ = p.Exit(p.Self(), process.Normal)
				alive = p.Alive()
				return nil
			})
			lnkWantReason(t, "handler", w.Wait(), process.Normal)
			if alive {
				t.Fatal("the handler process was alive right after exit(self(), normal)")
			}
		})
		t.Run("watcher", func(t *testing.T) {
			n := spawntest.NewNode(t)
			pp := spawntest.NewProbe(t, n, process.WithBackend(b))
			w := spawntest.WatchExit(t, n, pp.Pid())
			var alive bool
			pp.Do(func(p *process.Process) error {
				_ = p.Exit(p.Self(), die)
				alive = p.Alive()
				return nil
			})
			if alive {
				t.Fatal("the process was alive right after exit(self(), die)")
			}
			lnkWantReason(t, "watcher", w.Wait(), die)
		})
	})
}
