package core

import (
	"sync"
	"sync/atomic"
)

// mailbox is a multi-producer single-consumer queue. Producers append to in
// under mu; the consumer swaps in out wholesale under mu once per batch and
// pops from its own slice under lmu, a lock only close contends for, so
// producers and the consumer meet once per batch, not once per message.
// Lock order: lmu before mu.
type mailbox struct {
	mu     sync.Mutex
	in     []any
	closed bool

	lmu   sync.Mutex // the consumer's side: local and head
	local []any
	head  int

	length   atomic.Int64 // messages queued and not yet taken
	received atomic.Uint64
}

// push appends msg. It reports false when the mailbox is closed.
func (m *mailbox) push(msg any) bool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	m.in = append(m.in, msg)
	m.mu.Unlock()
	m.length.Add(1)
	m.received.Add(1)
	return true
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
	m.length.Add(-1)
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
			m.length.Add(-1)
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
		if match(msg) {
			m.length.Add(-1)
			continue
		}
		kept = append(kept, msg)
	}
	clear(m.local[len(kept):])
	m.local = kept
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
	m.mu.Unlock()
	m.lmu.Lock()
	dropped := append(m.local[m.head:len(m.local):len(m.local)], in...)
	m.local, m.head = nil, 0
	m.lmu.Unlock()
	m.length.Store(0)
	return dropped
}
