package event

import (
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultBuffer is how many events a subscription holds for its reader
// unless Buffer says otherwise.
const DefaultBuffer = 1024

// Option configures a subscription.
type Option func(*options)

type options struct {
	mask   Mask
	buffer int
}

// Kinds limits a subscription to the kinds ks (Gap events still come).
// Without it a subscription receives every kind. A node builds no event
// of a kind nobody subscribed to.
func Kinds(ks ...Kind) Option {
	return func(o *options) { o.mask = MaskOf(ks...) }
}

// Buffer sets how many events the subscription holds for its reader
// (DefaultBuffer if n < 1). Events that find it full are counted and
// reported by a Gap.
func Buffer(n int) Option {
	return func(o *options) { o.buffer = n }
}

// Hub delivers published events to its subscriptions. Each node has one;
// programs subscribe through process.Node.Subscribe, and a Hub of their own
// serves tests and code that publishes events itself. The zero Hub is ready
// to use. Its methods are safe for concurrent use. A nil *Hub has no
// subscriptions: it publishes nothing, and its subscriptions are closed.
// Close ends a hub for good, as a node's ends when the node has stopped.
type Hub struct {
	mu     sync.Mutex // serializes Subscribe, Close and the subscriptions' Close
	subs   atomic.Pointer[subscribers]
	closed bool // guarded by mu
}

// subscribers is an immutable snapshot of a hub's subscriptions.
type subscribers struct {
	list []*Subscription
	mask Mask // the union of their masks
}

// Active reports whether the hub has a subscription: one atomic load.
func (h *Hub) Active() bool { return h != nil && h.subs.Load() != nil }

// Wants reports whether some subscription takes events of kind k, so that
// a publisher can skip building an event nobody reads.
func (h *Hub) Wants(k Kind) bool {
	if h == nil {
		return false
	}
	s := h.subs.Load()
	return s != nil && s.mask.Has(k)
}

// Publish hands e to every subscription that takes its kind. It never
// blocks: a subscription whose buffer is full counts e as lost. A nil e is
// no event and is not published.
func (h *Hub) Publish(e Event) {
	if h == nil || e == nil {
		return
	}
	s := h.subs.Load()
	if s == nil {
		return
	}
	k := e.Kind()
	if !s.mask.Has(k) {
		return
	}
	for _, sub := range s.list {
		if sub.mask.Has(k) {
			sub.deliver(e)
		}
	}
}

// Subscribe returns a new subscription to the hub's events. Close it when
// done: until then the hub keeps delivering to it, and counts what its
// reader does not take. A subscription to a closed (or nil) hub is closed
// already: its channel delivers nothing and a loop over it ends at once.
func (h *Hub) Subscribe(opts ...Option) *Subscription {
	o := options{mask: All, buffer: DefaultBuffer}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.buffer < 1 {
		o.buffer = DefaultBuffer
	}
	if h == nil {
		return closedSubscription(o.mask)
	}
	s := &Subscription{hub: h, mask: o.mask, ch: make(chan Event, o.buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return closedSubscription(o.mask)
	}
	var list []*Subscription
	if old := h.subs.Load(); old != nil {
		list = slices.Clone(old.list)
	}
	h.store(append(list, s))
	return s
}

// closedSubscription returns a subscription that has ended before it began.
func closedSubscription(m Mask) *Subscription {
	return &Subscription{mask: m, ch: closedEvents, closed: true}
}

// Close ends the hub: it closes every subscription's channel (after the
// events already buffered in it and, if its reader lost some since the
// last Gap and there is room, a final Gap), publishes nothing more, and
// gives any later Subscribe a closed subscription. Publish after Close
// does nothing; closing a subscription of a closed hub does nothing. A
// node closes its hub when it has stopped. Close is idempotent, and does
// nothing for a nil Hub.
func (h *Hub) Close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	old := h.subs.Load()
	h.subs.Store(nil)
	h.mu.Unlock()
	if old == nil {
		return
	}
	for _, s := range old.list {
		s.end()
	}
}

// store publishes list as the hub's subscriptions. Caller holds h.mu.
func (h *Hub) store(list []*Subscription) {
	if len(list) == 0 {
		h.subs.Store(nil)
		return
	}
	var m Mask
	for _, s := range list {
		m |= s.mask
	}
	h.subs.Store(&subscribers{list: list, mask: m})
}

func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.subs.Load()
	if old == nil {
		return
	}
	i := slices.Index(old.list, s)
	if i < 0 {
		return
	}
	h.store(slices.Delete(slices.Clone(old.list), i, i+1))
}

// Subscription receives a hub's events through the channel C.
type Subscription struct {
	hub     *Hub
	mask    Mask
	ch      chan Event
	dropped atomic.Uint64

	mu     sync.Mutex // guards lost and closed, and orders delivery
	lost   uint64     // dropped since the last Gap
	closed bool
}

// C returns the channel the events arrive on. It is closed by Close, or
// when the hub is closed (a node's, once the node has stopped), after the
// events already buffered. A nil or zero Subscription's channel is
// closed already, so that a loop over it ends instead of waiting for ever.
func (s *Subscription) C() <-chan Event {
	if s == nil || s.ch == nil {
		return closedEvents
	}
	return s.ch
}

// closedEvents is the channel of a Subscription that was never made.
var closedEvents = func() chan Event {
	ch := make(chan Event)
	close(ch)
	return ch
}()

// Dropped returns how many events this subscription has lost because its
// buffer was full.
func (s *Subscription) Dropped() uint64 {
	if s == nil {
		return 0
	}
	return s.dropped.Load()
}

// Close ends the subscription: no more events are delivered, and C is
// closed once drained (a Gap of the events lost since the last one comes
// last, if there is room for it). Close is idempotent, and does nothing for a nil or
// zero Subscription.
func (s *Subscription) Close() {
	if s == nil {
		return
	}
	if s.hub != nil {
		s.hub.remove(s)
	}
	s.end()
}

// end closes the channel, once: no event is delivered after it. A pending
// gap goes last if there is room for it, so that the reader learns of the
// events it lost at the end too.
func (s *Subscription) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ch == nil {
		return
	}
	s.sendGap()
	s.closed = true
	close(s.ch)
}

// sendGap queues the pending gap, if there is one and room for it, and
// reports whether no gap is left pending. Caller holds s.mu.
func (s *Subscription) sendGap() bool {
	if s.lost == 0 {
		return true
	}
	select {
	case s.ch <- Gap{Lost: s.lost}:
		s.lost = 0
		return true
	default:
		return false
	}
}

// deliver queues e without waiting; a pending gap goes first.
func (s *Subscription) deliver(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.sendGap() {
		select {
		case s.ch <- e:
			return
		default:
		}
	}
	s.lost++
	s.dropped.Add(1)
}
