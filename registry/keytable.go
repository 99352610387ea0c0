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
// nodes, one node per key, and nothing a lookup may see is ever changed,
// except the bucket heads and the table pointer, which are atomic. A writer
// publishes a new node for a key whose entries change, copies of the nodes
// before it on its chain, and a new table of copies to grow or shrink; the
// only writes into an existing entries array are appends into capacity no
// published slice covers. A lookup therefore sees either the old or the new
// state of each key, and one that reads a node a writer has just replaced
// sees the entries of the moment it was replaced.
//
// The lookup side (table) and the writer side (mu and the counts) sit on
// different cache lines, so that lookups of a busy partition do not miss on
// every write.
type partition[K comparable, V any] struct {
	table atomic.Pointer[table[K, V]] // nil until the first key
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

// table is a partition's buckets; a new table replaces it to grow or shrink.
type table[K comparable, V any] struct {
	mask    uint64 // len(buckets)-1
	buckets []atomic.Pointer[node[K, V]]
}

// node is a key and its entries. It never changes once published: a
// writer replaces it. The entries of a key with one entry are inline, so
// that a lookup of a unique key reads the bucket and the node, nothing
// else.
type node[K comparable, V any] struct {
	hash uint64
	key  K
	next *node[K, V]
	list []Entry[V] // never empty
	one  [1]Entry[V]
}

// newNode returns a node of key with the entries list and successor next.
// A list of one entry is made inline, full (cap 1), so that an append to it
// makes a new array.
func newNode[K comparable, V any](h uint64, key K, list []Entry[V], next *node[K, V]) *node[K, V] {
	if len(list) == 1 {
		return newSingle(h, key, list[0], next)
	}
	return &node[K, V]{hash: h, key: key, next: next, list: list}
}

// newSingle returns a node of key with the one entry e, inline.
func newSingle[K comparable, V any](h uint64, key K, e Entry[V], next *node[K, V]) *node[K, V] {
	n := &node[K, V]{hash: h, key: key, next: next, one: [1]Entry[V]{e}}
	n.list = n.one[:]
	return n
}

// load returns the node of key, whose hash is h, or nil. It takes no lock.
func (p *partition[K, V]) load(h uint64, key K) *node[K, V] {
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
	if n := p.load(h, key); n != nil {
		if exclusive {
			return n.list[0].Pid, true
		}
		// The published slices of this array are all prefixes of n.list,
		// so an append into its spare capacity overwrites nothing visible.
		p.replace(n, append(n.list, e))
		p.entries.Add(1)
		return pid.Pid{}, false
	}
	t := p.table.Load()
	if t == nil || p.keys >= len(t.buckets) {
		t = p.resize(t, max(minBuckets, 2*(p.keys+1)), nil)
	}
	b := &t.buckets[h&t.mask]
	b.Store(newSingle(h, key, e, b.Load()))
	p.keys++
	p.entries.Add(1)
	return pid.Pid{}, false
}

// drop removes the entries of owner under key; with gone non-nil, only
// those whose index in the current entries it marks. Caller holds mu.
func (p *partition[K, V]) drop(h uint64, key K, owner pid.Pid, gone []bool) {
	n := p.load(h, key)
	if n == nil {
		return
	}
	drops := func(i int, e Entry[V]) bool { return e.Pid == owner && (gone == nil || gone[i]) }
	kept := 0
	for i, e := range n.list {
		if !drops(i, e) {
			kept++
		}
	}
	if kept == len(n.list) {
		return
	}
	p.entries.Add(int64(kept - len(n.list)))
	if kept == 0 {
		p.unlink(n)
		return
	}
	keep := make([]Entry[V], 0, kept) // a new array: older slices stay as they were
	for i, e := range n.list {
		if !drops(i, e) {
			keep = append(keep, e)
		}
	}
	p.replace(n, keep)
}

// replace publishes list as the entries of n's key. Caller holds mu.
func (p *partition[K, V]) replace(n *node[K, V], list []Entry[V]) {
	p.splice(p.table.Load(), n, newNode(n.hash, n.key, list, n.next))
}

// replaceSingle publishes e as the one entry of n's key. Caller holds mu.
func (p *partition[K, V]) replaceSingle(n *node[K, V], e Entry[V]) {
	p.splice(p.table.Load(), n, newSingle(n.hash, n.key, e, n.next))
}

// unlink removes the node n, whose entries are all gone. Caller holds mu.
func (p *partition[K, V]) unlink(n *node[K, V]) {
	p.keys--
	t := p.table.Load()
	switch {
	case len(t.buckets) > minBuckets && p.keys < len(t.buckets)/8:
		p.resize(t, max(minBuckets, 2*p.keys), n)
	default:
		p.splice(t, n, n.next)
	}
}

// splice publishes the chain of n's bucket in t with n replaced by repl
// (for a removal, n's successor). The nodes before n are shared with
// lookups, so they are copied, the last of them ending in repl. Caller
// holds mu.
func (p *partition[K, V]) splice(t *table[K, V], n, repl *node[K, V]) {
	b := &t.buckets[n.hash&t.mask]
	var before [8]*node[K, V]
	prefix := before[:0]
	for m := b.Load(); m != n; m = m.next {
		prefix = append(prefix, m)
	}
	head := repl
	for i := len(prefix) - 1; i >= 0; i-- {
		m := prefix[i]
		head = newNode(m.hash, m.key, m.list, head)
	}
	b.Store(head)
}

// resize publishes a table of at least size buckets holding copies of the
// nodes of t (which may be nil) except skip, and returns it. Caller holds
// mu.
func (p *partition[K, V]) resize(t *table[K, V], size int, skip *node[K, V]) *table[K, V] {
	buckets := minBuckets
	for buckets < size {
		buckets *= 2
	}
	nt := &table[K, V]{mask: uint64(buckets - 1), buckets: make([]atomic.Pointer[node[K, V]], buckets)}
	if t != nil {
		for i := range t.buckets {
			for n := t.buckets[i].Load(); n != nil; n = n.next {
				if n != skip {
					b := &nt.buckets[n.hash&nt.mask]
					b.Store(newNode(n.hash, n.key, n.list, b.Load()))
				}
			}
		}
	}
	p.table.Store(nt)
	return nt
}
