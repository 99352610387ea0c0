package event_test

import (
	"errors"
	"testing"
	"time"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/pid"
)

// exited returns a distinct Exited event for serial i.
func exited(i uint64) event.Event {
	return event.Exited{Time: time.Unix(int64(i), 0), Pid: pid.New(pid.NodeID{}, i), Reason: errors.New("x")}
}

func serialOf(t *testing.T, e event.Event) uint64 {
	t.Helper()
	x, ok := e.(event.Exited)
	if !ok {
		t.Fatalf("got %T %v, want an Exited", e, e)
	}
	return x.Pid.Serial()
}

// TestHub_SlowSubscriberGetsACountedGap: a subscriber that does not read
// loses what does not fit, and learns how much with the next event.
func TestHub_SlowSubscriberGetsACountedGap(t *testing.T) {
	var h event.Hub
	sub := h.Subscribe(event.Buffer(2))
	defer sub.Close()
	for i := uint64(1); i <= 5; i++ {
		h.Publish(exited(i)) // never blocks
	}
	if got := sub.Dropped(); got != 3 {
		t.Fatalf("Dropped = %d, want 3", got)
	}
	if a, b := serialOf(t, <-sub.C()), serialOf(t, <-sub.C()); a != 1 || b != 2 {
		t.Fatalf("buffered %d, %d; want 1, 2", a, b)
	}
	h.Publish(exited(6))
	if g, ok := (<-sub.C()).(event.Gap); !ok || g.Lost != 3 {
		t.Fatalf("want Gap{3} first, got %v", g)
	}
	if s := serialOf(t, <-sub.C()); s != 6 {
		t.Fatalf("after the gap got %d, want 6", s)
	}
	if g := (event.Gap{}); g.Kind() != event.KindGap || !g.When().IsZero() {
		t.Fatalf("Gap kind %v when %v", g.Kind(), g.When())
	}
}

// TestHub_GapNeedsRoomToo: a gap that finds no room either is counted with
// the event that brought it.
func TestHub_GapNeedsRoomToo(t *testing.T) {
	var h event.Hub
	sub := h.Subscribe(event.Buffer(1))
	defer sub.Close()
	h.Publish(exited(1))
	h.Publish(exited(2)) // lost
	h.Publish(exited(3)) // lost: no room for the gap
	<-sub.C()
	h.Publish(exited(4)) // the gap takes the slot; 4 is lost
	if g, ok := (<-sub.C()).(event.Gap); !ok || g.Lost != 2 {
		t.Fatalf("want Gap{2}, got %v", g)
	}
	h.Publish(exited(5)) // the gap of 4 takes the slot; 5 is lost
	if g, ok := (<-sub.C()).(event.Gap); !ok || g.Lost != 1 {
		t.Fatalf("want Gap{1}, got %v", g)
	}
	if sub.Dropped() != 4 {
		t.Fatalf("Dropped = %d, want 4", sub.Dropped())
	}
}

func TestHub_KindsAndWants(t *testing.T) {
	var h event.Hub
	if h.Active() || h.Wants(event.KindExited) {
		t.Fatal("an empty hub wants events")
	}
	sub := h.Subscribe(event.Kinds(event.KindSpawned))
	if !h.Active() || !h.Wants(event.KindSpawned) || h.Wants(event.KindExited) {
		t.Fatalf("Wants after subscribing to spawns: spawned %v exited %v", h.Wants(event.KindSpawned), h.Wants(event.KindExited))
	}
	h.Publish(exited(1))
	h.Publish(event.Spawned{Pid: pid.New(pid.NodeID{}, 7)})
	if e := <-sub.C(); e.Kind() != event.KindSpawned {
		t.Fatalf("got %v, want the Spawned only", e)
	}
	sub.Close()
	sub.Close() // idempotent
	if _, open := <-sub.C(); open {
		t.Fatal("C is open after Close")
	}
	if h.Active() {
		t.Fatal("hub active after its only subscription closed")
	}
	h.Publish(exited(2)) // nobody: nothing happens
}

func TestHub_CloseKeepsTheOthers(t *testing.T) {
	var h event.Hub
	a, b := h.Subscribe(), h.Subscribe(event.Buffer(0)) // 0: the default
	defer b.Close()
	a.Close()
	h.Publish(exited(1))
	if serialOf(t, <-b.C()) != 1 || cap(b.C()) != event.DefaultBuffer {
		t.Fatal("the remaining subscription lost its event")
	}
}

func TestKindNames(t *testing.T) {
	for _, tc := range []struct {
		e    event.Event
		kind string
	}{
		{event.Spawned{}, "spawned"}, {event.Exited{}, "exited"},
		{event.ChildStarted{}, "child_started"}, {event.ChildRestarted{}, "child_restarted"},
		{event.ChildTerminated{}, "child_terminated"}, {event.ChildStartFailed{}, "child_start_failed"},
		{event.IntensityReached{}, "intensity_reached"}, {event.GaveUp{}, "gave_up"},
		{event.Traced{}, "traced"}, {event.Gap{}, "gap"},
	} {
		if got := tc.e.Kind().String(); got != tc.kind {
			t.Errorf("%T kind %q, want %q", tc.e, got, tc.kind)
		}
		if !event.All.Has(tc.e.Kind()) || event.MaskOf(tc.e.Kind()) != 1<<tc.e.Kind() {
			t.Errorf("%T: masks do not hold its kind", tc.e)
		}
	}
	if event.Kind(99).String() != "kind(99)" || event.TraceOp(99).String() != "traceop(99)" {
		t.Error("unknown kinds and ops are not named by number")
	}
	e := event.Traced{Time: time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC), Op: event.TraceIn, Peer: pid.New(pid.NodeID{}, 3), Text: "hello"}
	if s := e.String(); s != "03:04:05.000006 in "+e.Peer.String()+" hello" {
		t.Errorf("Traced.String = %q", s)
	}
}

// TestHub_Close: closing a hub ends every subscription after what it holds,
// and leaves nothing to deliver to.
func TestHub_Close(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, h *event.Hub)
	}{
		{"buffered events stay readable, then the channel ends", func(t *testing.T, h *event.Hub) {
			a, b := h.Subscribe(event.Buffer(4)), h.Subscribe(event.Kinds(event.KindExited))
			h.Publish(exited(1))
			h.Publish(exited(2))
			h.Close()
			for name, sub := range map[string]*event.Subscription{"a": a, "b": b} {
				if x, y := serialOf(t, <-sub.C()), serialOf(t, <-sub.C()); x != 1 || y != 2 {
					t.Fatalf("%s: read %d, %d; want 1, 2", name, x, y)
				}
				hostileClosed(t, sub.C())
			}
			if h.Active() || h.Wants(event.KindExited) {
				t.Fatal("a closed hub has subscriptions")
			}
		}},
		{"a pending Gap comes last when there is room", func(t *testing.T, h *event.Hub) {
			sub := h.Subscribe(event.Buffer(2))
			for i := uint64(1); i <= 4; i++ {
				h.Publish(exited(i)) // 3 and 4 are lost
			}
			if s := serialOf(t, <-sub.C()); s != 1 {
				t.Fatalf("read %d, want 1", s)
			}
			h.Close()
			if s := serialOf(t, <-sub.C()); s != 2 {
				t.Fatalf("read %d, want 2", s)
			}
			if g, ok := (<-sub.C()).(event.Gap); !ok || g.Lost != 2 {
				t.Fatalf("got %v, want Gap{2} last", g)
			}
			hostileClosed(t, sub.C())
		}},
		{"a Gap with no room is not forced in", func(t *testing.T, h *event.Hub) {
			sub := h.Subscribe(event.Buffer(1))
			h.Publish(exited(1))
			h.Publish(exited(2)) // lost
			h.Close()
			if s := serialOf(t, <-sub.C()); s != 1 {
				t.Fatalf("read %d, want 1", s)
			}
			hostileClosed(t, sub.C())
			if sub.Dropped() != 1 {
				t.Fatalf("Dropped = %d, want 1", sub.Dropped())
			}
		}},
		{"Subscribe after Close is closed already", func(t *testing.T, h *event.Hub) {
			h.Close()
			sub := h.Subscribe(event.Buffer(8), event.Kinds(event.KindExited))
			if h.Active() {
				t.Fatal("a closed hub took a subscription")
			}
			h.Publish(exited(1))
			hostileClosed(t, sub.C())
			sub.Close()
			sub.Close()
		}},
		{"Publish, Close and the subscriptions' Close after Close do nothing", func(t *testing.T, h *event.Hub) {
			sub := h.Subscribe()
			h.Close()
			h.Close()
			h.Publish(exited(1))
			sub.Close()
			sub.Close()
			hostileClosed(t, sub.C())
		}},
		{"a subscription closed before the hub stays closed", func(t *testing.T, h *event.Hub) {
			a, b := h.Subscribe(), h.Subscribe()
			a.Close()
			h.Publish(exited(1))
			h.Close()
			hostileClosed(t, a.C())
			if s := serialOf(t, <-b.C()); s != 1 {
				t.Fatalf("read %d, want 1", s)
			}
			hostileClosed(t, b.C())
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h event.Hub
			hostileCall(t, func() { c.run(t, &h) })
		})
	}
}
