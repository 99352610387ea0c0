package core

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Segment sizes: a mailbox's first segment holds firstSegment messages and
// each one it adds after that holds twice as many as the last, up to
// maxSegment. At rest a mailbox keeps a segment of at most keepSegment
// messages and gives a larger one back to segmentPools.
const (
	firstSegment = 4
	maxSegment   = 256
	keepSegment  = 8
)

// mailbox is a multi-producer single-consumer queue of messages, kept in a
// chain of segments. Every message has an index: the tail counts the
// messages ever queued, the head those taken out.
//
// Producers append under the senders' lock, which shares a word with the
// tail, and let go of it and publish the new tail with one atomic store.
// The consumer takes no lock to pop: it reads the tail and claims each
// message by moving the head on with a compare-and-swap, so the two sides
// meet on one word per batch of messages, and a backlog grows by
// adding segments, never by copying. Closing a mailbox (its process died)
// takes every message not yet claimed by swapping the head to the tail: a
// process killed while its code runs fails the calls still queued for it at
// once. The consumer's rarer operations (selective receive, going idle) and
// close hold the senders' lock, so they never meet each other.
//
// The two sides live on separate cache lines (when the mailbox starts on
// one, as it does in Proc): a sender and the consumer each write their own
// line for every message, and share only what a message must carry.
type mailbox struct {
	mailboxSenders
	_ [cacheLine - unsafe.Sizeof(mailboxSenders{})%cacheLine]byte
	mailboxConsumer
}

// cacheLine is the size of a CPU cache line on the machines Go runs on most.
const cacheLine = 64

// mailboxSenders is the producers' side of a mailbox, guarded by the
// senders' lock (the low bit of state).
type mailboxSenders struct {
	// state is the tail (the number of messages ever queued) shifted left
	// by tailShift, with the senders' lock in the low bit and, beside it,
	// a bit saying that someone waits for the lock, parked: a push takes
	// the lock and publishes the new tail with one swap when it lets go.
	state  atomic.Uint64
	last   *segment      // the segment the next message goes to, or nil
	room   chan struct{} // closed when room appears or the mailbox closes
	limit  int64         // most messages a bounded push may find queued; 0 means no bound
	closed bool
}

// The bits of mailboxSenders.state below the tail.
const (
	lockedBit  = 1 // the senders' lock is held
	waitersBit = 2 // someone parked waiting for the lock
	tailShift  = 2
)

// mailboxConsumer is the consumer's side of a mailbox.
type mailboxConsumer struct {
	// waiters counts senders waiting for room. Only a bounded mailbox has
	// them; the consumer of one reads it after every pop, so it lives on
	// the consumer's side: waiting senders are rare, pops are not.
	waiters  atomic.Int32
	bounded  bool // limit > 0, kept here for the consumer to read
	matching bool // a ReceiveMatch predicate is running; consumer only
	// seg is the segment holding the head, or one before it. The consumer
	// moves it on; a producer sets it when it makes the first segment of
	// an empty chain; close and an idle consumer clear it, holding the
	// senders' lock.
	seg     atomic.Pointer[segment]
	seen    uint64                  // the tail as the consumer last read it; consumer only
	head    atomic.Uint64           // messages taken out, removed ones included
	removed atomic.Int64            // removed messages still between head and tail
	spare   atomic.Pointer[segment] // the used-up segments for the producers to fill again: see recycle
}

// How long lock waits for a holder before it parks: it spins
// spinsBeforeYield times, then yields its processor between tries
// yieldsBeforePark times.
const (
	spinsBeforeYield = 32
	yieldsBeforePark = 16
)

// lock takes the senders' lock and returns the tail. Its holders run a few
// instructions (a push, or the consumer's rarer work on the queue), so a
// sender that finds it taken spins, and then yields its processor between
// tries: parking a goroutine and waking it again costs far more than such
// a wait. A holder that does not let go by then has lost its thread to the
// operating system (or to the Go scheduler, on a busy processor) in the
// middle of its few instructions; spinning on would only keep a processor
// from it, so the waiter parks until the holder lets go.
func (m *mailbox) lock() (tail uint64) {
	if s := m.state.Load(); s&lockedBit == 0 && m.state.CompareAndSwap(s, s|lockedBit) {
		return s >> tailShift
	}
	return m.lockSlow()
}

func (m *mailbox) lockSlow() (tail uint64) {
	for tries := 0; ; tries++ {
		s := m.state.Load()
		if s&lockedBit == 0 {
			if m.state.CompareAndSwap(s, s|lockedBit) {
				return s >> tailShift
			}
			continue
		}
		switch {
		case tries < spinsBeforeYield:
		case tries < spinsBeforeYield+yieldsBeforePark:
			runtime.Gosched()
		default:
			m.park(s)
		}
	}
}

// tryLock takes the senders' lock if it is free, without waiting.
func (m *mailbox) tryLock() (tail uint64, ok bool) {
	s := m.state.Load()
	if s&lockedBit == 0 && m.state.CompareAndSwap(s, s|lockedBit) {
		return s >> tailShift, true
	}
	return 0, false
}

// unlock lets go of the senders' lock, publishing tail, and wakes the
// waiters parked for it.
func (m *mailbox) unlock(tail uint64) {
	if m.state.Swap(tail<<tailShift)&waitersBit != 0 {
		lockWaits.of(m).wake()
	}
}

// tail returns the number of messages ever queued.
func (m *mailbox) tail() uint64 { return m.state.Load() >> tailShift }

// park waits, parked, until the holder of the lock seen held in state s
// lets go (or until it is found let go already). The waiters of every
// mailbox share a few wait queues: parking is rare, so a queue is not
// worth a mailbox's memory.
func (m *mailbox) park(s uint64) {
	q := lockWaits.of(m)
	q.mu.Lock()
	// Marked under the queue's lock, so the holder's unlock, which sees
	// the mark and takes the queue's lock to wake, comes after the wait.
	if m.state.CompareAndSwap(s, s|waitersBit) {
		q.cond.Wait()
	}
	q.mu.Unlock()
}

// lockWaitQueue is where waiters for the senders' locks of some mailboxes
// park.
type lockWaitQueue struct {
	mu   sync.Mutex
	cond sync.Cond
}

func (q *lockWaitQueue) wake() {
	q.mu.Lock()
	q.cond.Broadcast()
	q.mu.Unlock()
}

// lockWaitQueues spreads the parked waiters of all mailboxes over a few
// queues by mailbox address.
type lockWaitQueues [16]lockWaitQueue

var lockWaits = func() *lockWaitQueues {
	qs := new(lockWaitQueues)
	for i := range qs {
		qs[i].cond.L = &qs[i].mu
	}
	return qs
}()

func (qs *lockWaitQueues) of(m *mailbox) *lockWaitQueue {
	a := uintptr(unsafe.Pointer(m))
	return &qs[(a>>6^a>>12)%uintptr(len(qs))]
}

// segment holds the messages with indexes base to base+len(msgs)-1.
// Producers write a slot and link next under the senders' lock, before
// they publish a tail past them, so the consumer reads both only once the
// tail says so.
type segment struct {
	msgs []any
	next *segment
	base uint64
	free *segment // the next spare, while a spare: see recycle
	// depth counts the spares from this one down, while a spare. Atomic:
	// recycle reads it from the top spare it loaded, which the producer
	// may have taken meanwhile and, through segmentPools, handed to
	// another mailbox; the swap that follows then fails and recycle reads
	// the new top.
	depth atomic.Int32
}

// removedMsg marks the slot of a message taken out of the middle of the
// queue by a selective receive.
type removedMsg struct{}

// pushResult says what became of a push.
type pushResult uint8

const (
	pushed  pushResult = iota
	refused            // the mailbox is closed: its process is dead
	full               // a bounded push found the mailbox at its limit
	// behind: a bounded push queued the message and found the consumer
	// at least behindBy messages behind, so the sender should let it
	// run (see behindBy).
	behind
)

// queued reports whether the push queued the message.
func (r pushResult) queued() bool { return r == pushed || r == behind }

// A bounded push looks at how far behind the consumer is once every
// behindBy messages, and reports behind when it is that far behind or
// more. A sender that gets behind yields its processor once: when the
// consumer waits to run on the sender's processor (a sender that never
// blocks, with a consumer it woke there), it then handles the backlog in
// one go, from a cache that still holds it, instead of waiting to run
// until the sender is preempted, with a backlog that has grown for
// milliseconds; it is what a full buffered channel does to its sender,
// without blocking it. A consumer that runs on another processor costs
// the sender one yield per behindBy messages, and only while it lags.
const behindBy = 256

// setLimit bounds the mailbox; 0 means no bound. Only before first use.
func (m *mailbox) setLimit(limit int) {
	m.limit = int64(limit)
	m.bounded = limit > 0
}

// push appends msg. A bounded push respects the mailbox's limit; the
// runtime's own signals (exit and down messages, timers) are never bounded.
//
// The senders' lock is taken and let go here, not through lock and
// unlock, so that a push costs no call beyond its own on the common path;
// what is rare (a wait for the lock, a closed or bounded mailbox, a new
// segment) is out of line.
func (m *mailbox) push(msg any, bounded bool) pushResult {
	var t uint64
	if st := m.state.Load(); st&lockedBit == 0 && m.state.CompareAndSwap(st, st|lockedBit) {
		t = st >> tailShift
	} else {
		t = m.lockSlow()
	}
	if m.closed || bounded && m.limit > 0 {
		if r := m.refuse(t, bounded); r != pushed {
			return r
		}
	}
	s := m.last
	if s == nil || t-s.base == uint64(len(s.msgs)) {
		s = m.grow(t)
	}
	s.msgs[t-s.base] = msg
	if m.state.Swap((t+1)<<tailShift)&waitersBit != 0 {
		lockWaits.of(m).wake()
	}
	if bounded && t%behindBy == 0 && t-m.head.Load() >= behindBy {
		return behind
	}
	return pushed
}

// refuse reports whether a push that holds the senders' lock, with the
// tail at t, must be refused, and lets go of the lock if so.
func (m *mailbox) refuse(t uint64, bounded bool) pushResult {
	switch {
	case m.closed:
		m.unlock(t)
		return refused
	case bounded && m.limit > 0 && m.queuedAt(t) >= m.limit:
		m.unlock(t)
		return full
	}
	return pushed
}

// grow returns the segment for message t when the last one is full or
// there is none yet. Caller holds the senders' lock.
func (m *mailbox) grow(t uint64) *segment {
	s := m.last
	if s == nil {
		s = newSegment(firstSegment, t)
		m.last = s
		m.seg.Store(s)
		return s
	}
	s.next = m.newSegment(min(2*len(s.msgs), maxSegment), t)
	m.last = s.next
	return s.next
}

// newSegment returns a segment of size messages starting at base: one a
// mailbox let go of earlier, or a new one.
func newSegment(size int, base uint64) *segment {
	if c, ok := segmentClass(size); ok {
		if v := segmentPools[c].Get(); v != nil {
			s := v.(*segment)
			s.base = base
			return s
		}
	}
	if size == firstSegment {
		b := &firstSegmentBlock{}
		b.msgs, b.base = b.slots[:], base
		return &b.segment
	}
	return &segment{msgs: make([]any, size), base: base}
}

// firstSegmentBlock holds a first segment and its slots in one object:
// every mailbox that gets a message needs one, so a new process's first
// message costs one allocation instead of two, for the same memory.
type firstSegmentBlock struct {
	segment
	slots [firstSegment]any
}

// segmentPools keep the segments that mailboxes let go of, by size, for
// any mailbox to take again: a process whose backlog comes and goes then
// allocates nothing per burst, and an idle process still holds no more
// than keepSegment messages' worth. The garbage collector empties them.
//
// Only a segment nothing else can still be reading goes there: one given
// up by settle, passed over by newSegment or left over by segFor, all
// holding the senders' lock, so never one close may be reading.
var segmentPools [segmentClasses]sync.Pool

// segmentClasses is the number of segment sizes: firstSegment doubled up
// to maxSegment.
const segmentClasses = 7

// segmentClass returns the pool of segments of size messages.
func segmentClass(size int) (int, bool) {
	for c := range segmentClasses {
		if firstSegment<<c == size {
			return c, true
		}
	}
	return 0, false
}

// release gives s, which nothing else can still read, to the pool of its
// size. Its slots are cleared on the way: the consumer clears every slot it
// takes, but close leaves what it took in place.
func release(s *segment) {
	if c, ok := segmentClass(len(s.msgs)); ok {
		clear(s.msgs)
		s.next, s.free = nil, nil
		segmentPools[c].Put(s)
	}
}

// newSegment returns a spare segment of at least size messages when
// there is one (smaller spares go to segmentPools on the way), and one from
// the pools or a new one otherwise. Caller holds the senders' lock, so it is the only one that
// takes spares: the consumer only adds them, and a spare it adds
// meanwhile only makes the swap below fail and try again.
func (m *mailbox) newSegment(size int, base uint64) *segment {
	for {
		s := m.spare.Load()
		if s == nil {
			return newSegment(size, base)
		}
		if !m.spare.CompareAndSwap(s, s.free) {
			continue
		}
		if len(s.msgs) < size {
			release(s)
			continue
		}
		s.next, s.free, s.base = nil, nil, base
		return s
	}
}

// maxSpares bounds the used-up segments a mailbox keeps for its producers:
// enough for a backlog of a few thousand messages to come and go without
// taking the senders' lock to give segments back, while an idle mailbox
// keeps none (see settle). The others go to segmentPools.
const maxSpares = 8

// recycle adds s, used up, to the spares, and reports false when
// maxSpares are kept already. It links the spares through free, never
// next, which close may be reading. Consumer only.
func (m *mailbox) recycle(s *segment) bool {
	for {
		top := m.spare.Load()
		depth := int32(1)
		if top != nil {
			depth = top.depth.Load() + 1
			if depth > maxSpares {
				return false
			}
		}
		s.free = top
		s.depth.Store(depth)
		if m.spare.CompareAndSwap(top, s) {
			return true
		}
	}
}

// queuedAt returns the number of messages queued when the tail is t.
func (m *mailbox) queuedAt(t uint64) int64 {
	return int64(t-m.head.Load()) - m.removed.Load()
}

// empty reports whether nothing is queued; removed messages still in the
// chain count as queued until the consumer steps over them.
func (m *mailbox) empty() bool { return m.tail() == m.head.Load() }

// roomChan returns a channel closed once the mailbox has room or closes;
// the caller checks again after it fires.
func (m *mailbox) roomChan() <-chan struct{} {
	t := m.lock()
	defer m.unlock(t)
	if m.room == nil {
		m.room = make(chan struct{})
	}
	if m.closed || m.queuedAt(t) < m.limit {
		close(m.room)
		m.room = nil
		return closedChan
	}
	return m.room
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// stats returns the number of messages queued and ever queued.
func (m *mailbox) stats() (queued int, pushes uint64) {
	t := m.lock()
	defer m.unlock(t)
	return int(m.queuedAt(t)), t
}

// taken tells waiting senders that a message left the mailbox.
func (m *mailbox) taken() {
	if m.waiters.Load() == 0 {
		return
	}
	t := m.lock()
	if m.room != nil {
		close(m.room)
		m.room = nil
	}
	m.unlock(t)
}

// pop takes the oldest message. Consumer only.
func (m *mailbox) pop() (any, bool) {
	for {
		h := m.head.Load()
		if h >= m.seen {
			if m.seen = m.tail(); h >= m.seen {
				return nil, false
			}
		}
		s := m.seg.Load()
		if s == nil || h-s.base >= uint64(len(s.msgs)) {
			if s = m.segFor(h, false); s == nil {
				continue // closed since the consumer read the head
			}
		}
		i := h - s.base
		msg := s.msgs[i]
		if !m.head.CompareAndSwap(h, h+1) {
			continue // closed meanwhile: the head jumped to the tail
		}
		s.msgs[i] = nil
		if _, gone := msg.(removedMsg); gone {
			m.removed.Add(-1)
			continue
		}
		if m.bounded {
			m.taken()
		}
		return msg, true
	}
}

// segFor returns the segment holding index i, which the consumer has seen
// queued, and makes it the consumer's segment. The segments before it are
// used up: they become spares once seg has moved past them, so that close
// never starts from a segment a producer is filling again. Consumer only.
//
// The used-up segments that the spares have no room for, after a backlog
// of more than maxSpares segments, go to segmentPools. That waits for
// close, which may be reading them (it loaded the consumer's segment
// before it moved on): unless the caller holds the senders' lock already
// (locked), segFor takes it to let them go.
func (m *mailbox) segFor(i uint64, locked bool) *segment {
	s := m.seg.Load()
	if s == nil || i-s.base < uint64(len(s.msgs)) {
		return s // nil: closed since the consumer read the head
	}
	first := s
	for i-s.base >= uint64(len(s.msgs)) {
		s = s.next
	}
	m.seg.Store(s)
	var over *segment // the used-up segments the spares had no room for, linked through free
	for done := first; done != s; {
		next := done.next
		if !m.recycle(done) {
			done.free, over = over, done
		}
		done = next
	}
	if over != nil {
		var t uint64
		if !locked {
			t = m.lock()
		}
		for over != nil {
			next := over.free
			release(over)
			over = next
		}
		if !locked {
			m.unlock(t)
		}
	}
	return s
}

// each calls f with the segment and slot of every message queued up to the
// current tail, oldest first, until f returns false. Caller holds the senders' lock, and
// is the consumer or close.
func (m *mailbox) each(f func(s *segment, i uint64) bool) {
	m.seen = m.tail()
	h := m.head.Load()
	if h >= m.seen {
		return
	}
	s := m.seg.Load()
	for ; h < m.seen; h++ {
		for h-s.base >= uint64(len(s.msgs)) {
			s = s.next
		}
		if _, gone := s.msgs[h-s.base].(removedMsg); gone {
			continue
		}
		if !f(s, h-s.base) {
			return
		}
	}
}

// take removes and returns the oldest message for which match is true,
// scanning everything queued so far. Consumer only.
//
// match is the process's own code, so it runs without the senders' lock:
// it may panic (the panic unwinds holding nothing) or call back into the
// runtime (Info, Send to itself) without deadlocking it. The scan needs no
// lock because only the consumer and close touch the slots between the
// head and the tail the consumer read, and close only reads them. The lock
// is taken only to claim the matched slot, once the mailbox is found still
// open. While match runs the mailbox is marked as matching: a nested
// receive is refused and a nested removeAll leaves the head where it is,
// so the scan's segments and index stay valid.
func (m *mailbox) take(match func(any) bool) (msg any, ok bool) {
	m.matching = true
	defer func() { m.matching = false }()
	m.seen = m.tail()
	h := m.head.Load()
	s := m.seg.Load()
	if s == nil || h >= m.seen {
		return nil, false // nil: closed since the consumer read the tail
	}
	for end := m.seen; h < end; h++ {
		for h-s.base >= uint64(len(s.msgs)) {
			s = s.next
		}
		msg = s.msgs[h-s.base]
		if _, gone := msg.(removedMsg); gone || !match(msg) {
			continue
		}
		t := m.lock()
		if m.closed {
			m.unlock(t)
			return nil, false // close has the message now
		}
		if _, gone := s.msgs[h-s.base].(removedMsg); gone {
			m.unlock(t) // removed by match itself (DemonitorFlush)
			continue
		}
		s.msgs[h-s.base] = removedMsg{}
		m.removed.Add(1)
		m.trim()
		m.unlock(t)
		if m.bounded {
			m.taken()
		}
		return msg, true
	}
	return nil, false
}

// removeAll drops every queued message for which match is true. match is
// the runtime's own and runs under the senders' lock. Called from inside a
// ReceiveMatch predicate, it leaves the head where it is for take's scan.
// Consumer only.
func (m *mailbox) removeAll(match func(any) bool) {
	t := m.lock()
	n := 0
	m.each(func(s *segment, i uint64) bool {
		if match(s.msgs[i]) {
			s.msgs[i] = removedMsg{}
			n++
		}
		return true
	})
	m.removed.Add(int64(n))
	if !m.matching {
		m.trim()
	}
	m.unlock(t)
	if n > 0 && m.bounded {
		m.taken()
	}
}

// trim steps the head over removed messages, so that a mailbox holding
// nothing else is empty. Caller holds the senders' lock and is the consumer.
func (m *mailbox) trim() {
	if m.removed.Load() == 0 {
		return
	}
	m.seen = m.tail()
	for h := m.head.Load(); h < m.seen; h++ {
		s := m.segFor(h, true)
		if _, gone := s.msgs[h-s.base].(removedMsg); !gone {
			return
		}
		s.msgs[h-s.base] = nil
		m.head.Store(h + 1)
		m.removed.Add(-1)
	}
}

// settle is called by the consumer as it goes idle, while it still owns
// the mailbox; it reports whether something is queued after all. An empty
// mailbox starts its segment over from the first slot, or lets it go when
// it grew large under a backlog, so an idle process holds little memory.
//
// It never waits for the senders' lock: waiting for a holder that lost its
// thread would hold up the consumer for nothing. When the lock is taken it
// leaves the segment as it is and reports what is queued now; a sender
// that holds it to queue a message wakes the process once it lets go, as
// for any message sent to an idle process.
func (m *mailbox) settle() (pending bool) {
	t, ok := m.tryLock()
	if !ok {
		return !m.empty()
	}
	m.trim()
	if pending = t != m.head.Load(); !pending && m.last != nil && m.seg.Load() == m.last {
		if len(m.last.msgs) > keepSegment {
			m.seg.Store(nil)
			release(m.last)
			m.last = nil
		} else {
			m.last.base = t
		}
		for s := m.spare.Swap(nil); s != nil; {
			free := s.free
			release(s)
			s = free
		}
	}
	m.unlock(t)
	return pending
}

// close refuses later pushes and returns the messages still queued, oldest
// first. Any goroutine may close, while the consumer runs.
//
// idle says the consumer is known not to be running, nor to start taking
// messages again (a handler process with no activation, already marked
// dead): nothing else can be reading the segments then, and they go to
// segmentPools, for the next processes to take.
func (m *mailbox) close(idle bool) []any {
	t := m.lock()
	defer m.unlock(t)
	m.closed = true
	if m.room != nil {
		close(m.room)
		m.room = nil
	}
	h := m.head.Swap(t) // what the consumer has not claimed is close's now
	var dropped []any
	if s := m.seg.Load(); h < t {
		for ; h < t; h++ {
			for h-s.base >= uint64(len(s.msgs)) {
				s = s.next
			}
			if _, gone := s.msgs[h-s.base].(removedMsg); !gone {
				dropped = append(dropped, s.msgs[h-s.base])
			}
		}
	}
	if idle {
		for s := m.seg.Load(); s != nil; {
			next := s.next
			release(s)
			s = next
		}
		for s := m.spare.Load(); s != nil; {
			free := s.free
			release(s)
			s = free
		}
	}
	m.removed.Store(0)
	m.seg.Store(nil)
	m.last = nil
	m.spare.Store(nil)
	return dropped
}
