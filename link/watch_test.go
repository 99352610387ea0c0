package link_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Watch and Unwatch: monitors held by code that is not a process.

// watchRecorder collects the Downs a watch is notified of.
type watchRecorder struct {
	ch    chan link.Down
	count atomic.Int64
}

func newWatchRecorder() *watchRecorder { return &watchRecorder{ch: make(chan link.Down, 8)} }

func (w *watchRecorder) notify(d link.Down) {
	w.count.Add(1)
	select {
	case w.ch <- d:
	default:
	}
}

// watchStop stops n, which waits for every goroutine it started: no
// notify can run after it.
func watchStop(t testing.TB, n *process.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWatch_FiresOnceWithReason(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, tc := range []struct {
			name string
			exit func(n *process.Node, pr *spawntest.Probe)
			want error
		}{
			{"normal", func(_ *process.Node, pr *spawntest.Probe) { pr.Exit(nil) }, process.Normal},
			{"boom", func(_ *process.Node, pr *spawntest.Probe) { pr.Exit(monBoom) }, monBoom},
			{"exit-signal", func(n *process.Node, pr *spawntest.Probe) { _ = n.Exit(pr.Pid(), monBang) }, monBang},
			{"kill", func(n *process.Node, pr *spawntest.Probe) { _ = n.Exit(pr.Pid(), process.Kill) }, process.Killed},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n := spawntest.NewNode(t)
				target := spawntest.NewProbe(t, n, process.WithBackend(b))
				w := newWatchRecorder()
				ref, err := link.Watch(n, target.Pid(), w.notify)
				if err != nil {
					t.Fatalf("watch: %v", err)
				}
				if ref.IsZero() {
					t.Fatal("watch returned a zero ref")
				}
				info := spawntest.Info(t, n, target.Pid())
				if len(info.MonitoredBy) != 1 || !info.MonitoredBy[0].IsZero() {
					t.Fatalf("MonitoredBy = %v, want one watcher shown as the zero Pid", info.MonitoredBy)
				}
				select {
				case d := <-w.ch:
					t.Fatalf("watch fired before the exit: %#v", d)
				default:
				}

				tc.exit(n, target)
				monWantDown(t, spawntest.Recv(t, w.ch), ref, target.Pid(), tc.want)
				if link.Unwatch(n, target.Pid(), ref) {
					t.Error("Unwatch after the watch fired returned true")
				}
				watchStop(t, n)
				if c := w.count.Load(); c != 1 {
					t.Fatalf("notify called %d times, want once", c)
				}
			})
		}
	})
}

func TestWatch_DeadPidFiresAtOnceWithNoProc(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		for _, tc := range monNotAlive(t, n, b) {
			t.Run(tc.name, func(t *testing.T) {
				w := newWatchRecorder()
				ref, err := link.Watch(n, tc.target, w.notify)
				if err != nil {
					t.Fatalf("watch: %v", err)
				}
				var d link.Down
				select {
				case d = <-w.ch:
				default:
					t.Fatal("notify was not called before Watch returned")
				}
				monWantDown(t, d, ref, tc.target, tc.want)
				if link.Unwatch(n, tc.target, ref) {
					t.Error("Unwatch of a fired watch returned true")
				}
				if c := w.count.Load(); c != 1 {
					t.Fatalf("notify called %d times, want once", c)
				}
			})
		}
	})
}

func TestWatch_UnwatchBeforeExitMeansNoNotify(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		target := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		w := newWatchRecorder()
		ref, err := link.Watch(n, target, w.notify)
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		if !link.Unwatch(n, target, ref) {
			t.Fatal("Unwatch of an active watch returned false")
		}
		if link.Unwatch(n, target, ref) {
			t.Error("second Unwatch returned true")
		}
		if link.Unwatch(n, target, n.MakeRef()) {
			t.Error("Unwatch of an unknown ref returned true")
		}
		info := spawntest.Info(t, n, target)
		if len(info.MonitoredBy) != 0 {
			t.Fatalf("MonitoredBy = %v after Unwatch, want none", info.MonitoredBy)
		}

		monKill(t, n, target, monBang)
		watchStop(t, n)
		if c := w.count.Load(); c != 0 {
			t.Fatalf("notify called %d times after Unwatch", c)
		}
	})
}

// An Unwatch racing with the exit either wins (true, and notify never runs)
// or loses (false, and notify runs exactly once).
func TestWatch_UnwatchRacingExit(t *testing.T) {
	t.Parallel()
	const rounds = 200
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		var recs []*watchRecorder
		var won []bool
		for i := range rounds {
			target := spawntest.SpawnIdle(t, n, process.WithBackend(b))
			exited := spawntest.WatchExit(t, n, target)
			w := newWatchRecorder()
			ref, err := link.Watch(n, target, w.notify)
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			start, killed := make(chan struct{}), make(chan error, 1)
			go func() {
				<-start
				killed <- n.Exit(target, monBang)
			}()
			close(start)
			for range i % 3 { // vary who wins the race
				runtime.Gosched()
			}
			active := link.Unwatch(n, target, ref)
			if err := <-killed; err != nil {
				t.Fatalf("round %d: exit: %v", i, err)
			}
			if r := exited.Wait(); !errors.Is(r, monBang) {
				t.Fatalf("round %d: target exited with %v, want bang", i, r)
			}
			if !active {
				monWantDown(t, spawntest.Recv(t, w.ch), ref, target, monBang)
			}
			recs = append(recs, w)
			won = append(won, active)
		}
		watchStop(t, n)
		wins := 0
		for i, w := range recs {
			want := int64(1)
			if won[i] {
				want = 0
				wins++
			}
			if c := w.count.Load(); c != want {
				t.Errorf("round %d: Unwatch returned %v but notify ran %d times", i, won[i], c)
			}
		}
		t.Logf("Unwatch won %d of %d rounds", wins, rounds)
	})
}

func TestWatch_BadInput(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	target := spawntest.SpawnIdle(t, n)
	notify := func(link.Down) {}
	if _, err := link.Watch(nil, target, notify); !errors.Is(err, process.ErrNilNode) {
		t.Errorf("Watch on a nil node: %v, want ErrNilNode", err)
	}
	if _, err := link.Watch(n, target, nil); !errors.Is(err, process.ErrNilFunc) {
		t.Errorf("Watch with a nil notify: %v, want ErrNilFunc", err)
	}
	if _, err := link.Watch(n, pid.Pid{}, notify); !errors.Is(err, process.ErrZeroPid) {
		t.Errorf("Watch of the zero Pid: %v, want ErrZeroPid", err)
	}
	if link.Unwatch(nil, target, n.MakeRef()) {
		t.Error("Unwatch on a nil node returned true")
	}
}
