package event_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/event"
)

// hostileCall runs fn and turns a panic into a test failure.
func hostileCall(t *testing.T, fn func()) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("panicked: %v", v)
		}
	}()
	fn()
}

// hostileClosed fails unless ch is closed and empty, within a deadline:
// a loop over it must end, not wait for ever.
func hostileClosed(t *testing.T, ch <-chan event.Event) {
	t.Helper()
	select {
	case e, ok := <-ch:
		if ok {
			t.Fatalf("got event %v, want a closed channel", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed: a range over it would never end")
	}
}

// TestHostile_EventBadInput: nil and zero hubs and subscriptions, nil
// events, kinds and buffers out of range. None panics; a subscription that
// can deliver nothing has a closed channel.
func TestHostile_EventBadInput(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Publish(nil) with no subscription", func(t *testing.T) {
			var h event.Hub
			h.Publish(nil)
		}},
		{"Publish(nil) with a subscription is no event", func(t *testing.T) {
			var h event.Hub
			sub := h.Subscribe()
			defer sub.Close()
			h.Publish(nil)
			h.Publish(event.Gap{Lost: 7})
			if e := <-sub.C(); e != (event.Gap{Lost: 7}) {
				t.Fatalf("first event %v, want the Gap published after the nil", e)
			}
		}},
		{"nil Hub Active and Wants", func(t *testing.T) {
			var h *event.Hub
			if h.Active() || h.Wants(event.KindExited) {
				t.Fatal("a nil Hub reports subscriptions")
			}
		}},
		{"nil Hub Publish", func(t *testing.T) {
			var h *event.Hub
			h.Publish(event.Gap{})
		}},
		{"nil Hub Subscribe gives a closed subscription", func(t *testing.T) {
			var h *event.Hub
			sub := h.Subscribe(event.Buffer(3))
			hostileClosed(t, sub.C())
			sub.Close()
			sub.Close()
		}},
		{"nil Hub Close", func(t *testing.T) {
			var h *event.Hub
			h.Close()
			h.Close()
		}},
		{"nil Subscription", func(t *testing.T) {
			var sub *event.Subscription
			if sub.Dropped() != 0 {
				t.Fatal("Dropped of a nil Subscription")
			}
			hostileClosed(t, sub.C())
			sub.Close()
		}},
		{"zero Subscription", func(t *testing.T) {
			var sub event.Subscription
			hostileClosed(t, sub.C())
			sub.Close()
			sub.Close()
		}},
		{"Kinds of unknown kinds and a negative Buffer", func(t *testing.T) {
			var h event.Hub
			sub := h.Subscribe(event.Kinds(200, 255), event.Buffer(-5), nil)
			if h.Wants(200) {
				t.Fatal("Wants an unknown kind")
			}
			h.Publish(event.Gap{})
			sub.Close()
			for range sub.C() { // Gap events always come; the loop must end
			}
		}},
		{"Close twice, then Publish", func(t *testing.T) {
			var h event.Hub
			sub := h.Subscribe()
			sub.Close()
			sub.Close()
			h.Publish(event.Gap{})
			if h.Active() {
				t.Fatal("hub still active after its only subscription closed")
			}
			hostileClosed(t, sub.C())
		}},
		{"unknown Kind and TraceOp print", func(t *testing.T) {
			if s := fmt.Sprint(event.Kind(255), event.TraceOp(255)); s == "" {
				t.Fatal("empty text")
			}
			if event.MaskOf(255).Has(255) {
				t.Fatal("a mask holds an unknown kind")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { hostileCall(t, func() { c.run(t) }) })
	}
}

// TestHostile_EventCloseRacesPublish: subscriptions closed while events
// are published from several goroutines: no send on a closed channel, and
// every channel ends closed.
func TestHostile_EventCloseRacesPublish(t *testing.T) {
	var h event.Hub
	subs := make([]*event.Subscription, 50)
	for i := range subs {
		subs[i] = h.Subscribe(event.Buffer(1))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("Publish panicked: %v", v)
				}
			}()
			for {
				select {
				case <-stop:
					return
				default:
					h.Publish(exited(1))
				}
			}
		})
	}
	for _, s := range subs {
		hostileCall(t, s.Close)
	}
	close(stop)
	wg.Wait()
	for _, s := range subs {
		for range s.C() {
		}
	}
	if h.Active() {
		t.Fatal("hub active after every subscription closed")
	}
}

// TestHostile_EventHubCloseRacesPublish: a hub closed while events are
// published and subscriptions made and closed from several goroutines: no
// send on a closed channel, no panic, and every channel ends closed.
func TestHostile_EventHubCloseRacesPublish(t *testing.T) {
	var h event.Hub
	var mu sync.Mutex
	var subs []*event.Subscription
	for range 50 {
		subs = append(subs, h.Subscribe(event.Buffer(1)))
	}
	var wg, ready sync.WaitGroup
	stop := make(chan struct{})
	// busy calls f until stop, once ready after its first call.
	busy := func(what string, f func()) {
		ready.Add(1)
		wg.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("%s panicked: %v", what, v)
				}
			}()
			f()
			ready.Done()
			for {
				select {
				case <-stop:
					return
				default:
					f()
				}
			}
		})
	}
	for range 3 {
		busy("Publish", func() { h.Publish(exited(1)) })
	}
	busy("Subscribe", func() {
		s := h.Subscribe(event.Buffer(1))
		mu.Lock()
		subs = append(subs, s)
		mu.Unlock()
	})
	busy("Subscription.Close", func() { h.Subscribe().Close() })
	ready.Wait()
	hostileCall(t, h.Close)
	close(stop)
	wg.Wait()
	for _, s := range subs {
		for range s.C() {
		}
		hostileCall(t, s.Close)
	}
	if h.Active() {
		t.Fatal("hub active after Close")
	}
}
