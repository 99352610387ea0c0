package registry

import (
	"sync"
	"sync/atomic"

	"github.com/spawned-go/spawned/pid"
)

// partition is one independently locked part of a keyed registry: a hash
// table that lookups read without a lock while writers, one at a time,
// change it.
//
// The table is a power-of-two array of buckets, each the head of a chain of
// nodes, one node per key. A node's hash, key and next never change once a
// lookup may see it, and its entries are an immutable slice behind an
// atomic pointer: a writer publishes a new slice, and the only writes into
// an existing array are appends into capacity no published slice covers.
// Adding a key pushes a node on its chain; removing one publishes copies
// of the nodes before it; growing or shrinking publishes a new table of
// copies. A lookup therefore sees either the old or the new state of each
// key, and may read a node a writer has just replaced, whose entries are
// those of the moment it was replaced.
//
// The lookup side (table) and the writer side (mu and the counts) sit on
// different cache lines, so that lookups of a busy partition do not miss on
// every write.
type partition[K comparable, V any] struct {
	table atomic.Pointer[table[K, V]] // nil: no keys
	_     [cacheLine - 8]byte

	mu      sync.Mutex   // serialises writers
	keys    int          // keys in the table; under mu
	entries atomic.Int64 // entries of all keys, for Len
	_       [cacheLine - 24]byte
}

// cacheLine is the size the partition's two sides are padded to.
const cacheLine = 64

// minBuckets is the size of a partition's first table.
const minBuckets = 8

type table[K comparable, V any] struct {
	mask    uint64 // len(buckets)-1
	buckets []atomic.Pointer[node[K, V]]
}

type node[K comparable, V any] struct {
	hash uint64
	key  K
	next *node[K, V]
	set  atomic.Pointer[[]Entry[V]] // never empty while the node is in a table
}

// load returns the entries of key, whose hash is h, or nil. It takes no lock.
func (p *partition[K, V]) load(h uint64, key K) *[]Entry[V] {
	t := p.table.Load()
	if t == nil {
		return nil
	}
	for n := t.buckets[h&t.mask].Load(); n != nil; n = n.next {
		if n.hash == h && n.key == key {
			return n.set.Load()
		}
	}
	return nil
}

// find returns the node of key in the current table. Caller holds mu.
func (p *partition[K, V]) find(h uint64, key K) *node[K, V] {
	t := p.table.Load()
	if t == nil {
		return nil
	}
	for n := t.buckets[h&t.mask].Load(); n != nil; n = n.next {
		if n.hash == h && n.key == key {
			return n
		}
	}
	return nil
}

// add adds e under key. With exclusive set, a key that has an entry is
// refused: add then reports its first entry's Pid and true. Caller holds mu.
func (p *partition[K, V]) add(h uint64, key K, e Entry[V], exclusive bool) (owner pid.Pid, taken bool) {
	if n := p.find(h, key); n != nil {
		old := *n.set.Load()
		if exclusive {
			return old[0].Pid, true
		}
		// The published slices of this array are all prefixes of old, so
		// an append into its spare capacity overwrites nothing visible.
		set := append(old, e)
		n.set.Store(&set)
		p.entries.Add(1)
		return pid.Pid{}, false
	}
	t := p.table.Load()
	if t == nil || p.keys >= len(t.buckets) {
		t = p.resize(t, max(minBuckets, 2*(p.keys+1)))
	}
	n := &node[K, V]{hash: h, key: key}
	set := []Entry[V]{e}
	n.set.Store(&set)
	b := &t.buckets[h&t.mask]
	n.next = b.Load()
	b.Store(n)
	p.keys++
	p.entries.Add(1)
	return pid.Pid{}, false
}

// drop removes the entries of p under key; with gone non-nil, only those
// whose index in the current entries it marks. Caller holds mu.
func (p *partition[K, V]) drop(h uint64, key K, owner pid.Pid, gone []bool) {
	n := p.find(h, key)
	if n == nil {
		return
	}
	old := *n.set.Load()
	keep := make([]Entry[V], 0, len(old))
	for i, e := range old {
		if e.Pid != owner || gone != nil && !gone[i] {
			keep = append(keep, e)
		}
	}
	if len(keep) == len(old) {
		return
	}
	p.entries.Add(int64(len(keep) - len(old)))
	if len(keep) > 0 {
		n.set.Store(&keep) // a new array: older slices stay as they were
		return
	}
	p.unlink(n)
}

// unlink removes the node n, whose entries are all gone, from the table.
// Caller holds mu.
func (p *partition[K, V]) unlink(n *node[K, V]) {
	p.keys--
	t := p.table.Load()
	if p.keys == 0 {
		p.table.Store(nil)
		return
	}
	if len(t.buckets) > minBuckets && p.keys < len(t.buckets)/8 {
		p.resize(t, max(minBuckets, 2*p.keys), n)
		return
	}
	// The nodes before n are shared with lookups: copy them, ending in
	// n's successor, and publish the copies.
	b := &t.buckets[n.hash&t.mask]
	var before [8]*node[K, V]
	prefix := before[:0]
	for m := b.Load(); m != n; m = m.next {
		prefix = append(prefix, m)
	}
	head := n.next
	for i := len(prefix) - 1; i >= 0; i-- {
		head = prefix[i].copyTo(head)
	}
	b.Store(head)
}

// copyTo returns a copy of n whose next is next.
func (n *node[K, V]) copyTo(next *node[K, V]) *node[K, V] {
	c := &node[K, V]{hash: n.hash, key: n.key, next: next}
	c.set.Store(n.set.Load())
	return c
}

// resize publishes a table of at least size buckets with copies of the
// nodes of t (which may be nil) except skip, and returns it. Caller holds
// mu.
func (p *partition[K, V]) resize(t *table[K, V], size int, skip ...*node[K, V]) *table[K, V] {
	buckets := minBuckets
	for buckets < size {
		buckets *= 2
	}
	nt := &table[K, V]{mask: uint64(buckets - 1), buckets: make([]atomic.Pointer[node[K, V]], buckets)}
	if t != nil {
		for i := range t.buckets {
			for n := t.buckets[i].Load(); n != nil; n = n.next {
				if len(skip) > 0 && n == skip[0] {
					continue
				}
				b := &nt.buckets[n.hash&nt.mask]
				b.Store(n.copyTo(b.Load()))
			}
		}
	}
	p.table.Store(nt)
	return nt
}
