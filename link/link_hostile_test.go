package link_test

import (
	"errors"
	"testing"
	"time"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// TestHostile_ForeignRefs: a Ref is only its holder's to remove. Demonitor
// and DemonitorFlush by another process, and Unwatch, given the Ref of a
// process's monitor, report false and leave it: its holder still gets its
// Down. Unwatch used to remove the monitor, whose holder then never heard
// of the exit.
func TestHostile_ForeignRefs(t *testing.T) {
	cases := []struct {
		name   string
		remove func(t *testing.T, n *process.Node, target pid.Pid, ref pid.Ref) bool
	}{
		{"Demonitor by another process", func(t *testing.T, n *process.Node, _ pid.Pid, ref pid.Ref) bool {
			var removed bool
			spawntest.NewProbe(t, n).Do(func(p *process.Process) error { removed = link.Demonitor(p, ref); return nil })
			return removed
		}},
		{"DemonitorFlush by another process", func(t *testing.T, n *process.Node, _ pid.Pid, ref pid.Ref) bool {
			var removed bool
			spawntest.NewProbe(t, n).Do(func(p *process.Process) error { removed = link.DemonitorFlush(p, ref); return nil })
			return removed
		}},
		{"Unwatch of a monitor's Ref", func(t *testing.T, n *process.Node, target pid.Pid, ref pid.Ref) bool {
			return link.Unwatch(n, target, ref)
		}},
		{"Unwatch of a monitor's Ref, twice", func(t *testing.T, n *process.Node, target pid.Pid, ref pid.Ref) bool {
			return link.Unwatch(n, target, ref) || link.Unwatch(n, target, ref)
		}},
	}
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				target := spawntest.SpawnIdle(t, n, process.WithBackend(b))
				holder := spawntest.NewProbe(t, n, process.WithBackend(b))
				ref := holder.Monitor(target)
				if c.remove(t, n, target, ref) {
					t.Fatal("a Ref that was not the caller's was reported removed")
				}
				if err := n.Exit(target, process.Kill); err != nil {
					t.Fatal(err)
				}
				if d := holder.ExpectDown(ref); !errors.Is(d.Reason, process.Killed) || d.Pid != target {
					t.Fatalf("Down = %+v, want Killed from %v", d, target)
				}
			})
		}
	})
}

// TestHostile_WatchMisuse: watches removed twice, for the wrong target, or
// from inside their own notify; notifies that call back into the runtime
// on the goroutine that ends the target. No panic, no deadlock, each
// answer is the documented one.
func TestHostile_WatchMisuse(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, n *process.Node)
	}{
		{"Unwatch twice", func(t *testing.T, n *process.Node) {
			target := spawntest.SpawnIdle(t, n)
			ref, err := link.Watch(n, target, func(link.Down) { t.Error("notify after Unwatch") })
			if err != nil {
				t.Fatal(err)
			}
			if !link.Unwatch(n, target, ref) || link.Unwatch(n, target, ref) {
				t.Fatal("Unwatch twice: want true, then false")
			}
			spawntest.ExitAndWait(t, n, target, process.Kill)
		}},
		{"Unwatch naming another target leaves the watch", func(t *testing.T, n *process.Node) {
			target, other := spawntest.SpawnIdle(t, n), spawntest.SpawnIdle(t, n)
			got := make(chan link.Down, 1)
			ref, err := link.Watch(n, target, func(d link.Down) { got <- d })
			if err != nil {
				t.Fatal(err)
			}
			if link.Unwatch(n, other, ref) || link.Unwatch(n, pid.Pid{}, ref) {
				t.Fatal("Unwatch removed a watch of another target")
			}
			spawntest.ExitAndWait(t, n, target, process.Kill)
			hostileDown(t, got, ref)
		}},
		{"a notify that unwatches itself, watches again and monitors", func(t *testing.T, n *process.Node) {
			target := spawntest.SpawnIdle(t, n)
			again := make(chan link.Down, 1)
			inner := make(chan error, 1)
			_, err := link.Watch(n, target, func(d link.Down) {
				if link.Unwatch(n, target, d.Ref) {
					inner <- errors.New("Unwatch in its own notify reported it active")
					return
				}
				_, err := link.Watch(n, target, func(d link.Down) { again <- d })
				inner <- err
			})
			if err != nil {
				t.Fatal(err)
			}
			spawntest.ExitAndWait(t, n, target, process.Kill)
			if err := spawntest.Recv(t, inner); err != nil { // bounded: a notify that hangs fails
				t.Fatal(err)
			}
			if d := <-again; !errors.Is(d.Reason, process.NoProc) {
				t.Fatalf("a watch of the dead target: %v, want NoProc", d.Reason)
			}
		}},
		{"a notify that registers the dead target's name for another process", func(t *testing.T, n *process.Node) {
			target := spawntest.SpawnIdle(t, n, process.WithName("hostile-name"))
			heir := spawntest.SpawnIdle(t, n)
			inner := make(chan error, 1)
			if _, err := link.Watch(n, target, func(link.Down) { inner <- registry.Of(n).Register("hostile-name", heir) }); err != nil {
				t.Fatal(err)
			}
			spawntest.ExitAndWait(t, n, target, process.Kill)
			if err := <-inner; err != nil {
				t.Fatalf("register in the notify: %v (the name is released before watches are told)", err)
			}
			if p, ok := registry.Of(n).WhereIs("hostile-name"); !ok || p != heir {
				t.Fatalf("name held by %v, %v; want the heir", p, ok)
			}
		}},
		{"MonitorName of the empty name", func(t *testing.T, n *process.Node) {
			spawntest.NewProbe(t, n).Do(func(p *process.Process) error {
				if _, err := link.MonitorName(p, ""); !errors.Is(err, registry.ErrEmptyName) {
					t.Errorf("MonitorName(\"\") = %v, want ErrEmptyName", err)
				}
				if _, err := link.MonitorNameOn(p, pid.NodeID{}, ""); !errors.Is(err, registry.ErrEmptyName) {
					t.Errorf("MonitorNameOn(zero, \"\") = %v, want ErrEmptyName", err)
				}
				return nil
			})
		}},
		{"Demonitor twice, and of a monitor on itself", func(t *testing.T, n *process.Node) {
			target := spawntest.SpawnIdle(t, n)
			pr := spawntest.NewProbe(t, n)
			pr.Do(func(p *process.Process) error {
				ref, err := link.Monitor(p, target)
				if err != nil {
					return err
				}
				if !link.Demonitor(p, ref) || link.Demonitor(p, ref) || link.DemonitorFlush(p, ref) {
					t.Error("Demonitor twice: want true, then false")
				}
				self, err := link.Monitor(p, p.Self())
				if err != nil {
					return err
				}
				if !link.Demonitor(p, self) || link.Demonitor(p, self) {
					t.Error("Demonitor of a monitor on itself twice: want true, then false")
				}
				return nil
			})
			spawntest.ExitAndWait(t, n, target, process.Kill)
			pr.ExpectNothing(50 * time.Millisecond) // the behaviour under test: no Down after Demonitor
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("panicked: %v", v)
				}
			}()
			c.run(t, spawntest.NewNode(t))
		})
	}
}

func hostileDown(t *testing.T, ch <-chan link.Down, ref pid.Ref) {
	t.Helper()
	if d := spawntest.Recv(t, ch); d.Ref != ref {
		t.Fatalf("Down of %v, want %v", d.Ref, ref)
	}
}
