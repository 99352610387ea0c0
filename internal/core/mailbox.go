package core

import (
	"sync"
	"sync/atomic"
)

// mailbox is a multi-producer single-consumer queue. Producers append to in
// under mu; the consumer swaps in out wholesale under mu once per batch and
// pops from its own slice under lmu, a lock only close contends for, so
// producers and the consumer meet once per batch, not once per message.
// Neither side writes a word the other reads per message: producers count
// under mu, the consumer publishes only what is left of its batch.
// Lock order: lmu before mu.
type mailbox struct {
	// The producers' side, guarded by mu.
	mu     sync.Mutex
	in     []any
	pushes atomic.Uint64 // messages ever queued; written under mu, read by a lingering consumer without it
	room   chan struct{} // closed when room appears or the mailbox closes

	limit   int64        // most messages a bounded push may find queued; 0 means no bound
	waiters atomic.Int32 // senders waiting for room
	closed  bool         // guarded by mu

	// The consumer's side, guarded by lmu.
	lmu   sync.Mutex
	local []any
	head  int
	left  atomic.Int64 // len(local) - head, for bounded pushes and Info
}

// pushResult says what became of a push.
type pushResult uint8

const (
	pushed  pushResult = iota
	refused            // the mailbox is closed: its process is dead
	full               // a bounded push found the mailbox at its limit
)

// push appends msg. A bounded push respects the mailbox's limit; the
// runtime's own signals (exit and down messages, timers) are never bounded.
func (m *mailbox) push(msg any, bounded bool) pushResult {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return refused
	}
	if bounded && m.limit > 0 && m.queuedLocked() >= m.limit {
		m.mu.Unlock()
		return full
	}
	m.in = append(m.in, msg)
	m.pushes.Store(m.pushes.Load() + 1)
	m.mu.Unlock()
	return pushed
}

// roomChan returns a channel closed once the mailbox has room or closes;
// the caller checks again after it fires.
func (m *mailbox) roomChan() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.room == nil {
		m.room = make(chan struct{})
	}
	if m.closed || m.queuedLocked() < m.limit {
		close(m.room)
		m.room = nil
		return closedChan
	}
	return m.room
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// queuedLocked returns the number of messages queued. Caller holds mu.
func (m *mailbox) queuedLocked() int64 { return int64(len(m.in)) + m.left.Load() }

// stats returns the number of messages queued and ever queued.
func (m *mailbox) stats() (queued int, pushes uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int(m.queuedLocked()), m.pushes.Load()
}

// taken publishes what is left of the consumer's batch and tells waiting
// senders that a message left the mailbox. Caller holds lmu.
func (m *mailbox) taken() {
	m.left.Store(int64(len(m.local) - m.head))
	if m.waiters.Load() == 0 {
		return
	}
	m.mu.Lock()
	if m.room != nil {
		close(m.room)
		m.room = nil
	}
	m.mu.Unlock()
}

// refill moves what producers queued into the consumer's slice and reports
// whether the consumer now has something to pop. Caller holds lmu.
func (m *mailbox) refill() bool {
	if m.head < len(m.local) {
		return true
	}
	m.mu.Lock()
	if len(m.in) == 0 {
		m.mu.Unlock()
		return false
	}
	clear(m.local)
	m.local, m.in = m.in, m.local[:0]
	m.head = 0
	m.left.Store(int64(len(m.local)))
	m.mu.Unlock()
	return true
}

// pop takes the oldest message. Consumer only.
func (m *mailbox) pop() (any, bool) {
	m.lmu.Lock()
	defer m.lmu.Unlock()
	if !m.refill() {
		return nil, false
	}
	msg := m.local[m.head]
	m.local[m.head] = nil
	m.head++
	m.taken()
	return msg, true
}

// take removes and returns the oldest message for which match is true,
// scanning everything queued so far. Consumer only.
func (m *mailbox) take(match func(any) bool) (any, bool) {
	m.lmu.Lock()
	defer m.lmu.Unlock()
	m.gather()
	for i := m.head; i < len(m.local); i++ {
		if msg := m.local[i]; match(msg) {
			copy(m.local[i:], m.local[i+1:])
			m.local[len(m.local)-1] = nil
			m.local = m.local[:len(m.local)-1]
			m.taken()
			return msg, true
		}
	}
	return nil, false
}

// removeAll drops every queued message for which match is true. Consumer only.
func (m *mailbox) removeAll(match func(any) bool) {
	m.lmu.Lock()
	defer m.lmu.Unlock()
	m.gather()
	kept := m.local[:m.head]
	for _, msg := range m.local[m.head:] {
		if !match(msg) {
			kept = append(kept, msg)
		}
	}
	removed := len(m.local) - len(kept)
	clear(m.local[len(kept):])
	m.local = kept
	if removed > 0 {
		m.taken()
	}
}

// gather appends everything producers queued to the consumer's slice.
// Caller holds lmu.
func (m *mailbox) gather() {
	m.mu.Lock()
	if m.head > 0 && m.head == len(m.local) {
		m.local, m.head = m.local[:0], 0
	}
	m.local = append(m.local, m.in...)
	clear(m.in)
	m.in = m.in[:0]
	m.left.Store(int64(len(m.local) - m.head))
	m.mu.Unlock()
}

// hasPending reports whether producers queued something the consumer has not
// gathered yet.
func (m *mailbox) hasPending() bool {
	m.mu.Lock()
	n := len(m.in)
	m.mu.Unlock()
	return n > 0
}

// close refuses later pushes and returns the messages still queued, oldest
// first.
func (m *mailbox) close() []any {
	m.mu.Lock()
	m.closed = true
	in := m.in
	m.in = nil
	if m.room != nil {
		close(m.room)
		m.room = nil
	}
	m.mu.Unlock()
	m.lmu.Lock()
	dropped := append(m.local[m.head:len(m.local):len(m.local)], in...)
	m.local, m.head = nil, 0
	m.left.Store(0)
	m.lmu.Unlock()
	return dropped
}
