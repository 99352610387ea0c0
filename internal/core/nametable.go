package core

import (
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/spawned-go/spawned/pid"
)

// nameShardBits is log2 of the number of shards. 1024 shards keep a shard
// at a handful of names for any registry of ordinary size (names are for
// services, not for every process), so a write copies little.
const nameShardBits = 10

// nameShards spreads names over this many copy-on-write tables.
const nameShards = 1 << nameShardBits

// nameTable maps registered names to their processes. Lookups take no lock.
//
// A name is hashed once: the low bits of the hash pick the shard, the rest
// the first slot to probe in the shard's table, an open-addressing array
// that keeps the full hash beside each name, so a probe compares one word
// before it compares strings. A writer holds the shard's lock. To add a
// name it builds a new table and publishes it; to remove one it only
// clears the owner of the name's slot in place, leaving the name behind as
// a tombstone, and a name registered again while its tombstone is there
// (a supervised server restarted under its name) takes its slot back in
// place: a restart builds no table. A slot's name and hash never change
// once the table is published, only its owner, which readers load
// atomically; the next table built for the shard leaves the tombstones out.
//
// A slot keeps the owner's serial rather than its Pid (24 bytes, 16 of them
// the node's id): every registered process belongs to the table's node, so
// the Pid is pid.New(node, serial), and a slot stays at 40 bytes, of which
// WhereIs reads the first 32: one cache line for five slots in eight.
type nameTable struct {
	seed    [2]uint64              // keys the hash, drawn per table
	shards  [nameShards]nameShard  // what lookups read
	writers [nameShards]sync.Mutex // serialise the writers of a shard
}

// nameShard is one shard as lookups see it: 16 bytes in a 16 KiB array, so
// that a lookup by name loads this entry and then nearly always one slot.
//
// The slots are indexed with mask, read beside the pointer, so that the
// slot's address does not wait for the table's header. That is safe
// because a shard's tables never shrink: a new table has at least mask+1
// slots, and a writer stores slots before it raises mask, so any mask a
// reader loads before the pointer fits the table it then loads. The mask
// may be older than the table; a probe that misses under it checks the
// table's own mask (in its header) before it reports a miss. Like a Go
// map, a shard thus keeps the size of its busiest moment; a shard that
// empties drops its table, unless the table is of the smallest size: that
// one stays, holding the tombstone of its last name, so that a server
// restarted under the name registers it again without a new table.
type nameShard struct {
	slots atomic.Pointer[nameSlot] // header of the current table; nil: none
	mask  atomic.Uint64            // size-1 of the shard's largest table so far
}

// nameSlot is one name of a shard's table, or the table's header. A table
// is an array of 1+size slots, size a power of two. The header, slot 0,
// keeps the mask (size-1) in hash and the number of names with an owner in
// serial. A slot with no name is empty and ends a probe; a slot with a name
// and serial 0 (no process has serial 0) is a tombstone: the name is not
// registered. Once the table is published, only serial and proc change,
// under the shard's lock, and readers load them atomically.
type nameSlot struct {
	hash   uint64               // nameTable.hash(name)
	name   string               // "" in an empty slot
	serial atomic.Uint64        // the owner's Pid serial, kept beside the name for WhereIs; 0: none
	proc   atomic.Pointer[Proc] // the owner; nil: none
}

// init draws the hash seed.
func (t *nameTable) init() { t.seed = [2]uint64{rand.Uint64(), rand.Uint64()} }

// Odd constants that spread the bits of a hash input.
const (
	nameMulA = 0x9e3779b97f4a7c15
	nameMulB = 0xc2b2ae3d27d4eb4f
)

// nameMix multiplies a and b into 128 bits and folds the halves together.
func nameMix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// le64 reads the 8 bytes of s at i as a little-endian word (the compiler
// makes this one load where the machine allows it).
func le64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// le32 reads the 4 bytes of s at i as a little-endian word.
func le32(s string, i int) uint64 {
	s = s[i : i+4]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}

// hash returns the keyed hash of name. It reads the name in words (two
// overlapping reads cover the tail) and mixes them with the seed by
// 64×64→128-bit multiplication; without the seed, which stays in the
// process, an outsider cannot aim names at one shard. WhereIs repeats the
// cases of 4 to 16 bytes, so that the compiler inlines them there.
func (t *nameTable) hash(name string) uint64 {
	n := len(name)
	h := t.start(n)
	var a, b uint64
	switch {
	case n > 16:
		i := 0
		for ; n-i > 16; i += 16 {
			h = nameMix(le64(name, i)^t.seed[1], le64(name, i+8)^h)
		}
		a, b = le64(name, n-16), le64(name, n-8)
	case n >= 8:
		a, b = le64(name, 0), le64(name, n-8)
	case n >= 4:
		a, b = le32(name, 0), le32(name, n-4)
	case n > 0:
		a = uint64(name[0])<<16 | uint64(name[n>>1])<<8 | uint64(name[n-1])
	}
	return t.finish(a, b, h)
}

// start returns the state of the hash of a name of n bytes before it has
// read any of them.
func (t *nameTable) start(n int) uint64 { return t.seed[0] ^ uint64(n)*nameMulA }

// finish returns the hash of a name from its state h and its last two
// words a and b.
func (t *nameTable) finish(a, b, h uint64) uint64 {
	return nameMix(nameMix(a^t.seed[1], b^h)^nameMulB, h^nameMulA)
}

// sameName reports whether a == b, without a call when both are the very
// same string (a name registered and looked up from one constant or
// variable).
func sameName(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

// at returns slot i of the table whose header is hdr. i must be at most
// the table's mask + 1.
func (hdr *nameSlot) at(i uint64) *nameSlot {
	return (*nameSlot)(unsafe.Add(unsafe.Pointer(hdr), uintptr(i)*unsafe.Sizeof(nameSlot{})))
}

// probe looks for name, whose hash is h, in the table whose header is hdr,
// as if the table's mask were m, which must not exceed the real one, and
// returns the slot's index, or 0. The slot may be the name's tombstone. Under
// a stale mask, smaller than the table's, a name may sit beyond the slots
// probed: the probe stops after m+1 of them, and only a probe under the
// table's own mask (see index) tells a miss.
func (hdr *nameSlot) probe(h uint64, name string, m uint64) uint64 {
	i := h >> nameShardBits
	for end := i + m; ; i++ {
		j := 1 + i&m
		s := hdr.at(j)
		if s.hash == h && sameName(s.name, name) {
			return j
		}
		if len(s.name) == 0 || i == end {
			return 0
		}
	}
}

// index returns the index of the slot of name, whose hash is h, in the
// table whose header is hdr, or 0 if the table lacks it; the slot may be
// the name's tombstone. The probe starts
// with mask m, which must not exceed the table's; if it is smaller (the
// caller loaded it before a writer grew the shard), a miss under m is
// checked again under the table's own mask.
func (hdr *nameSlot) index(h uint64, name string, m uint64) uint64 {
	if j := hdr.probe(h, name, m); j != 0 || m == hdr.hash {
		return j
	}
	return hdr.probe(h, name, hdr.hash)
}

// WhereIs returns the Pid registered as name on n; a nil node has none.
// It is the whole lookup in one function, the hash of names of 4 to 16
// bytes included, so that a lookup through [Node.WhereIs] or the registry
// (both inlined) costs one call. Every registered process belongs to n, so
// its Pid is n's NodeID with the slot's serial.
func WhereIs(n *Node, name string) (pid.Pid, bool) {
	if n == nil {
		return pid.Pid{}, false
	}
	t := &n.names
	var h uint64
	switch k := len(name); {
	case k >= 8 && k <= 16: // t.hash(name), inlined
		h = t.finish(le64(name, 0), le64(name, k-8), t.start(k))
	case k >= 4 && k < 8: // t.hash(name), inlined
		h = t.finish(le32(name, 0), le32(name, k-4), t.start(k))
	default:
		h = t.hash(name)
	}
	sh := &t.shards[h&(nameShards-1)]
	m := sh.mask.Load() // before slots: see nameShard
	hdr := sh.slots.Load()
	if hdr == nil {
		return pid.Pid{}, false
	}
	j := hdr.probe(h, name, m) // inlined: the usual case, a hit
	if j == 0 && m != hdr.hash {
		j = hdr.find(h, name) // m was stale
	}
	if j == 0 {
		return pid.Pid{}, false
	}
	serial := hdr.at(j).serial.Load()
	if serial == 0 { // a tombstone
		return pid.Pid{}, false
	}
	return pid.New(n.id, serial), true
}

// load returns the process registered as name.
func (t *nameTable) load(name string) (*Proc, bool) {
	h := t.hash(name)
	sh := &t.shards[h&(nameShards-1)]
	m := sh.mask.Load() // before slots: see nameShard
	if hdr := sh.slots.Load(); hdr != nil {
		if j := hdr.index(h, name, m); j != 0 {
			if p := hdr.at(j).proc.Load(); p != nil { // nil: a tombstone
				return p, true
			}
		}
	}
	return nil, false
}

// nameTabSize returns the number of slots of a table for n names: a power
// of two at least twice n, so a probe, hit or miss, is short.
func nameTabSize(n int) int {
	size := 4
	for size < 2*n {
		size *= 2
	}
	return size
}

// newNameTab returns the header of an empty table of size slots (a power of
// two).
func newNameTab(size int) *nameSlot {
	slots := make([]nameSlot, 1+size)
	slots[0].hash = uint64(size - 1)
	return &slots[0]
}

// slots returns the slots of the table whose header is hdr, header included;
// nil for a nil header (no table).
func (hdr *nameSlot) slots() []nameSlot {
	if hdr == nil {
		return nil
	}
	return unsafe.Slice(hdr, 2+hdr.hash)
}

// put adds name, whose hash is h, owned by p to the table whose header is
// hdr, which is not published yet, has room for it and does not hold the
// name.
func (hdr *nameSlot) put(h uint64, name string, p *Proc) {
	slots := hdr.slots()
	i := h >> nameShardBits
	for len(slots[1+i&hdr.hash].name) != 0 {
		i++
	}
	s := &slots[1+i&hdr.hash]
	s.hash, s.name = h, name
	s.serial.Store(p.serial)
	s.proc.Store(p)
	hdr.serial.Add(1)
}

// rebuild returns a table for shard k, of at least size slots and no fewer
// than the shard has had, holding the names of old (a header, or nil) that
// have an owner. Caller holds the shard's lock.
func (t *nameTable) rebuild(k uint64, old *nameSlot, size int) *nameSlot {
	hdr := newNameTab(max(size, int(t.shards[k].mask.Load())+1))
	olds := old.slots()
	for j := 1; j < len(olds); j++ {
		if p := olds[j].proc.Load(); p != nil {
			hdr.put(olds[j].hash, olds[j].name, p)
		}
	}
	return hdr
}

// publish makes hdr the table of shard k (nil: the shard is empty). The
// mask is raised after the slots are stored; see nameShard. Caller holds
// the shard's lock.
func (t *nameTable) publish(k uint64, hdr *nameSlot) {
	sh := &t.shards[k]
	sh.slots.Store(hdr)
	if hdr != nil && hdr.hash > sh.mask.Load() {
		sh.mask.Store(hdr.hash)
	}
}

// loadOrStore registers p as name unless the name is taken, and returns the
// owner when it is. A name whose tombstone is in the shard's table takes
// its slot back in place; any other builds a new table.
func (t *nameTable) loadOrStore(name string, p *Proc) (owner *Proc, taken bool) {
	h := t.hash(name)
	k := h & (nameShards - 1)
	t.writers[k].Lock()
	defer t.writers[k].Unlock()
	old := t.shards[k].slots.Load()
	if j := old.find(h, name); j != 0 {
		s := old.at(j)
		if q := s.proc.Load(); q != nil {
			return q, true
		}
		// The owner first: a reader that sees the serial finds it.
		s.proc.Store(p)
		s.serial.Store(p.serial)
		old.serial.Add(1)
		return nil, false
	}
	hdr := t.rebuild(k, old, nameTabSize(old.len()+1))
	hdr.put(h, name, p)
	t.publish(k, hdr)
	return nil, false
}

// compareAndDelete removes name if p owns it: its slot becomes a tombstone,
// in place. A shard left with no names keeps a table of the smallest size,
// ready for the name to come back, and drops a larger one.
func (t *nameTable) compareAndDelete(name string, p *Proc) bool {
	h := t.hash(name)
	k := h & (nameShards - 1)
	t.writers[k].Lock()
	defer t.writers[k].Unlock()
	old := t.shards[k].slots.Load()
	j := old.find(h, name)
	if j == 0 || old.at(j).proc.Load() != p {
		return false
	}
	if old.len() == 1 && old.hash+1 > uint64(nameTabSize(1)) {
		t.publish(k, nil)
		return true
	}
	s := old.at(j)
	s.serial.Store(0) // the serial first: WhereIs misses from now on
	s.proc.Store(nil)
	old.serial.Add(^uint64(0))
	return true
}

// find returns the index of the slot of name, whose hash is h, in the table
// whose header is hdr (nil: no table), or 0.
func (hdr *nameSlot) find(h uint64, name string) uint64 {
	if hdr == nil {
		return 0
	}
	return hdr.index(h, name, hdr.hash)
}

// len returns the number of names in the table whose header is hdr; a nil
// header (no table) holds none.
func (hdr *nameSlot) len() int {
	if hdr == nil {
		return 0
	}
	return int(hdr.serial.Load())
}

// each calls f for every registered name.
func (t *nameTable) each(f func(name string, p *Proc)) {
	for k := range t.shards {
		slots := t.shards[k].slots.Load().slots()
		for j := 1; j < len(slots); j++ {
			if p := slots[j].proc.Load(); p != nil {
				f(slots[j].name, p)
			}
		}
	}
}
