package link_test

// Section 3 of CONFORMANCE.md: exit/2 sent by another process (EXT-01..07).
// Process.Exit is exit/2 from a process; Node.Exit is exit/2 from a goroutine
// that is not a process, whose sender is the zero Pid.

import (
	"errors"
	"testing"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

func TestEXT01_ExitNormalToNonTrappingIsIgnored(t *testing.T) {
	t.Parallel()
	lnkForKinds(t, func(t *testing.T, n *process.Node, b process.Backend, k lnkKind) {
		target := lnkSpawn(t, n, b, k)
		sender := spawntest.NewProbe(t, n, process.WithBackend(b))
		var err error
		sender.Do(func(p *process.Process) error { err = p.Exit(target.Pid, process.Normal); return nil })
		if err != nil {
			t.Fatalf("exit(P, normal) from a process: %v", err)
		}
		if err := n.Exit(target.Pid, process.Normal); err != nil {
			t.Fatalf("exit(P, normal) from the test: %v", err)
		}
		if err := n.Exit(target.Pid, nil); err != nil { // nil means Normal
			t.Fatalf("exit(P, nil) from the test: %v", err)
		}
		target.expectEmpty() // alive, and no message
		sender.ExpectEmpty()
		if !n.Alive(target.Pid) {
			t.Fatal("P died of exit(P, normal)")
		}
	})
}

func TestEXT02_ExitNormalToTrappingGivesMessage(t *testing.T) {
	t.Parallel()
	lnkForKinds(t, func(t *testing.T, n *process.Node, b process.Backend, k lnkKind) {
		target := lnkSpawnTrapping(t, n, b, k)
		sender := spawntest.NewProbe(t, n, process.WithBackend(b))

		sender.Do(func(p *process.Process) error { return p.Exit(target.Pid, process.Normal) })
		lnkWantExit(t, target.receive(), sender.Pid(), process.Normal)

		if err := n.Exit(target.Pid, process.Normal); err != nil {
			t.Fatal(err)
		}
		lnkWantExit(t, target.receive(), pid.Pid{}, process.Normal)

		target.expectEmpty()
		if links := lnkLinks(t, n, target.Pid); len(links) != 0 {
			t.Fatalf("P has links %v; the sender must not need one", links)
		}
	})
}

func TestEXT03_AbnormalExitKillsNonTrappingWithoutLink(t *testing.T) {
	t.Parallel()
	reason := errors.New("r")
	lnkForKinds(t, func(t *testing.T, n *process.Node, b process.Backend, k lnkKind) {
		target := lnkSpawn(t, n, b, k)
		sender := spawntest.NewProbe(t, n, process.WithBackend(b))
		w := spawntest.WatchExit(t, n, target.Pid)
		var err error
		sender.Do(func(p *process.Process) error { err = p.Exit(target.Pid, reason); return nil })
		if err != nil {
			t.Fatalf("exit(P, r): %v", err)
		}
		lnkWantReason(t, "P", w.Wait(), reason)
		sender.ExpectEmpty() // the sender is unaffected

		// The same from a goroutine that is not a process.
		other := lnkSpawn(t, n, b, k)
		wo := spawntest.WatchExit(t, n, other.Pid)
		if err := n.Exit(other.Pid, reason); err != nil {
			t.Fatalf("node exit(P, r): %v", err)
		}
		lnkWantReason(t, "P via the node", wo.Wait(), reason)
	})
}

func TestEXT04_AbnormalExitToTrappingGivesMessage(t *testing.T) {
	t.Parallel()
	reason := errors.New("r")
	lnkForKinds(t, func(t *testing.T, n *process.Node, b process.Backend, k lnkKind) {
		target := lnkSpawnTrapping(t, n, b, k)
		sender := spawntest.NewProbe(t, n, process.WithBackend(b))

		sender.Do(func(p *process.Process) error { return p.Exit(target.Pid, reason) })

		lnkWantExit(t, target.receive(), sender.Pid(), reason)
		target.expectEmpty()
		if !n.Alive(target.Pid) {
			t.Fatal("a trapping process died of exit(P, r)")
		}
		if links := lnkLinks(t, n, target.Pid); len(links) != 0 {
			t.Fatalf("P has links %v; the sender must not need one", links)
		}
		sender.ExpectEmpty()
	})
}

func TestEXT05_ExitKillBecomesKilled(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, tc := range []struct {
			name     string
			trapping bool
			fromNode bool
		}{
			{"plain", false, false},
			{"trapping", true, false},
			{"plain/from-node", false, true},
			{"trapping/from-node", true, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n := spawntest.NewNode(t)
				var target *lnkActor
				if tc.trapping {
					target = lnkSpawnTrapping(t, n, b, lnkFunc)
				} else {
					target = lnkSpawn(t, n, b, lnkFunc)
				}
				linked := lnkSpawnTrapping(t, n, b, lnkFunc)
				linked.do(func(p *process.Process) error { return link.Link(p, target.Pid) })
				m := spawntest.NewProbe(t, n, process.WithBackend(b))
				m.Do(func(p *process.Process) error { _, err := link.Monitor(p, target.Pid); return err })

				if tc.fromNode {
					if err := n.Exit(target.Pid, process.Kill); err != nil {
						t.Fatal(err)
					}
				} else {
					s := spawntest.NewProbe(t, n, process.WithBackend(b))
					s.Do(func(p *process.Process) error { return p.Exit(target.Pid, process.Kill) })
				}

				d := lnkWantDown(t, m.Receive(), target.Pid, process.Killed)
				e := lnkWantExit(t, linked.receive(), target.Pid, process.Killed)
				if errors.Is(d.Reason, process.Kill) || errors.Is(e.Reason, process.Kill) {
					t.Fatalf("saw kill (DOWN %v, EXIT %v), want killed", d.Reason, e.Reason)
				}
				m.ExpectEmpty()
				linked.expectEmpty()
			})
		}
	})
}

func TestEXT06_ExitToDeadPidIsNoOp(t *testing.T) {
	t.Parallel()
	reason := errors.New("r")
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		dead := lnkDead(t, n, b)
		sender := spawntest.NewProbe(t, n, process.WithBackend(b))
		var errs []error
		sender.Do(func(p *process.Process) error {
			for _, r := range []error{reason, process.Normal, process.Kill} {
				errs = append(errs, p.Exit(dead, r))
			}
			return nil
		})
		for _, r := range []error{reason, process.Normal, process.Kill} {
			errs = append(errs, n.Exit(dead, r))
		}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("exit %d to a dead pid: %v", i, err)
			}
		}
		sender.ExpectEmpty()
	})
}

func TestEXT07_FirstOfTwoExitSignalsDecides(t *testing.T) {
	t.Parallel()
	first, second := errors.New("first"), errors.New("second")
	lnkForKinds(t, func(t *testing.T, n *process.Node, b process.Backend, k lnkKind) {
		target := lnkSpawn(t, n, b, k)
		w := spawntest.WatchExit(t, n, target.Pid)
		sender := spawntest.NewProbe(t, n, process.WithBackend(b))
		sender.Do(func(p *process.Process) error {
			if err := p.Exit(target.Pid, first); err != nil {
				return err
			}
			return p.Exit(target.Pid, second)
		})
		r := w.Wait()
		lnkWantReason(t, "P", r, first)
		if errors.Is(r, second) {
			t.Fatalf("P died with %v, want first", r)
		}
		sender.ExpectEmpty()

		// The same from a goroutine that is not a process.
		other := lnkSpawn(t, n, b, k)
		wo := spawntest.WatchExit(t, n, other.Pid)
		if err := n.Exit(other.Pid, first); err != nil {
			t.Fatal(err)
		}
		if err := n.Exit(other.Pid, second); err != nil {
			t.Fatal(err)
		}
		lnkWantReason(t, "P via the node", wo.Wait(), first)
	})
}
