package core

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/spawned-go/spawned/pid"
)

// testNode returns a bare node with an empty name table: enough for the
// name table and WhereIs, which read nothing else of the node.
func testNode() *Node {
	n := &Node{id: pid.NewNodeID()}
	n.names.init()
	return n
}

// testProcs returns k bare processes of node n with distinct Pids, enough
// for the name table, which reads nothing of a process but its Pid.
func testProcs(n *Node, k int) []*Proc {
	procs := make([]*Proc, k)
	for i := range procs {
		procs[i] = &Proc{node: n, serial: uint64(i+1)<<32 | uint64(i+7)}
	}
	return procs
}

// namesInShard returns k distinct names, starting with prefix, that t puts
// in shard s.
func namesInShard(t *nameTable, s uint64, k int, prefix string) []string {
	var out []string
	for i := 0; len(out) < k; i++ {
		name := prefix + strconv.Itoa(i)
		if t.hash(name)&(nameShards-1) == s {
			out = append(out, name)
		}
	}
	return out
}

// checkNames checks load and WhereIs for every name of want (nil: a miss)
// and that each lists exactly the names that want maps to a process.
func checkNames(t *testing.T, n *Node, want map[string]*Proc) {
	t.Helper()
	var listed []string
	for name, p := range want {
		got, ok := n.names.load(name)
		if ok != (p != nil) || got != p {
			t.Errorf("load(%q) = %p, %v; want %p", name, got, ok, p)
		}
		var wantPid pid.Pid
		if p != nil {
			wantPid = p.Pid()
			listed = append(listed, name)
		}
		if got, ok := WhereIs(n, name); ok != (p != nil) || got != wantPid {
			t.Errorf("WhereIs(%q) = %v, %v; want %v", name, got, ok, wantPid)
		}
	}
	var seen []string
	n.names.each(func(name string, p *Proc) {
		seen = append(seen, name)
		if want[name] != p {
			t.Errorf("each: %q owned by %p, want %p", name, p, want[name])
		}
	})
	slices.Sort(listed)
	slices.Sort(seen)
	if !slices.Equal(seen, listed) {
		t.Errorf("each lists %q, want %q", seen, listed)
	}
}

// TestNameTable drives the table through sequences of stores and deletes
// and then checks lookups, hits and misses, and the listing.
func TestNameTable(t *testing.T) {
	const none = -1 // no process
	type op struct {
		del    bool   // compareAndDelete instead of loadOrStore
		name   string // the name written
		p      int    // the process storing or deleting it
		owner  int    // store: the owner reported when taken
		wantOK bool   // store: stored; delete: deleted
	}
	long := strings.Repeat("a long name, longer than sixteen bytes ", 3)
	cases := []struct {
		name string
		ops  []op
		want map[string]int // every name looked up afterwards, and its owner
	}{
		{name: "empty", want: map[string]int{"a": none, "": none}},
		{
			name: "insert",
			ops:  []op{{name: "a", p: 0, wantOK: true}, {name: "b", p: 1, wantOK: true}},
			want: map[string]int{"a": 0, "b": 1, "c": none, "": none, "aa": none},
		},
		{
			name: "taken",
			ops: []op{
				{name: "a", p: 0, wantOK: true},
				{name: "a", p: 1, owner: 0},
				{name: "a", p: 0, owner: 0},
			},
			want: map[string]int{"a": 0},
		},
		{
			name: "delete",
			ops: []op{
				{name: "a", p: 0, wantOK: true},
				{name: "b", p: 1, wantOK: true},
				{del: true, name: "a", p: 0, wantOK: true},
				{del: true, name: "a", p: 0},
			},
			want: map[string]int{"a": none, "b": 1},
		},
		{
			name: "delete by another process fails",
			ops: []op{
				{name: "a", p: 0, wantOK: true},
				{del: true, name: "a", p: 1},
				{del: true, name: "zz", p: 1},
			},
			want: map[string]int{"a": 0, "zz": none},
		},
		{
			name: "reuse after delete",
			ops: []op{
				{name: "a", p: 0, wantOK: true},
				{del: true, name: "a", p: 0, wantOK: true},
				{name: "a", p: 2, wantOK: true},
			},
			want: map[string]int{"a": 2},
		},
		{
			name: "every length of the hash",
			ops: []op{
				{name: "x", p: 0, wantOK: true},
				{name: "xyz", p: 1, wantOK: true},
				{name: "wxyz", p: 2, wantOK: true},
				{name: "sixteen-bytes-16", p: 3, wantOK: true},
				{name: "seventeen-bytes17", p: 4, wantOK: true},
				{name: long, p: 5, wantOK: true},
			},
			want: map[string]int{
				"x": 0, "xyz": 1, "wxyz": 2, "sixteen-bytes-16": 3, "seventeen-bytes17": 4, long: 5,
				"y": none, "xy": none, "xyzw": none, "sixteen-bytes-17": none, "seventeen-bytes18": none,
				long + "!": none, long[1:]: none, strings.Clone(long[:16]): none,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := testNode()
			procs := testProcs(n, 6)
			for i, o := range tc.ops {
				if o.del {
					if got := n.names.compareAndDelete(o.name, procs[o.p]); got != o.wantOK {
						t.Fatalf("op %d: delete %q = %v, want %v", i, o.name, got, o.wantOK)
					}
					continue
				}
				owner, taken := n.names.loadOrStore(o.name, procs[o.p])
				if o.wantOK && (taken || owner != nil) || !o.wantOK && (!taken || owner != procs[o.owner]) {
					t.Fatalf("op %d: store %q = %p, %v; want stored %v", i, o.name, owner, taken, o.wantOK)
				}
			}
			want := map[string]*Proc{}
			for name, p := range tc.want {
				var owner *Proc
				if p != none {
					owner = procs[p]
				}
				// Look up a copy: the bytes must match, not the pointers.
				want[strings.Clone(name)] = owner
			}
			checkNames(t, n, want)
		})
	}
}

// TestNameTableLayout pins the sizes the lookup's speed rests on: a shard
// entry of 16 bytes (the array of them stays small) and a slot of 40 (of
// which WhereIs reads 32 bytes, mostly from one cache line).
func TestNameTableLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes for 64-bit machines")
	}
	if got := unsafe.Sizeof(nameShard{}); got != 16 {
		t.Errorf("nameShard is %d bytes, want 16", got)
	}
	if got := unsafe.Sizeof(nameSlot{}); got != 40 {
		t.Errorf("nameSlot is %d bytes, want 40", got)
	}
}

// TestWhereIsNilNode: a nil node (the zero Registry's) has no names.
func TestWhereIsNilNode(t *testing.T) {
	if p, ok := WhereIs(nil, "a"); ok || !p.IsZero() {
		t.Fatalf("WhereIs(nil, a) = %v, %v", p, ok)
	}
}

// TestNameTableManyNamesInOneShard fills one shard well past its first
// table size, then empties it in a scrambled order: the shard's tables
// grow but never shrink, and an emptied shard drops its table.
func TestNameTableManyNamesInOneShard(t *testing.T) {
	n := testNode()
	nt := &n.names
	names := namesInShard(nt, 5, 200, "same-shard-")
	procs := testProcs(n, len(names))
	sh := &nt.shards[5]
	want := map[string]*Proc{"not-there": nil}
	for i, name := range names {
		if _, taken := nt.loadOrStore(name, procs[i]); taken {
			t.Fatalf("store %q: taken", name)
		}
		want[name] = procs[i]
		if hdr := sh.slots.Load(); hdr.len() != i+1 || len(hdr.slots())-1 < 2*(i+1) || sh.mask.Load() != hdr.hash {
			t.Fatalf("after %d stores: %d names, %d slots, mask %d", i+1, hdr.len(), len(hdr.slots())-1, sh.mask.Load())
		}
	}
	checkNames(t, n, want)
	peak := sh.mask.Load()
	rng := rand.New(rand.NewPCG(1, 2))
	for k, i := range rng.Perm(len(names)) {
		if !nt.compareAndDelete(names[i], procs[i]) {
			t.Fatalf("delete %q failed", names[i])
		}
		want[names[i]] = nil
		if hdr := sh.slots.Load(); hdr != nil && hdr.hash != peak {
			t.Fatalf("after %d deletes: mask %d, want %d", k+1, hdr.hash, peak)
		}
		if k%37 == 0 {
			checkNames(t, n, want)
		}
	}
	checkNames(t, n, want)
	if sh.slots.Load() != nil || sh.mask.Load() != peak {
		t.Fatalf("emptied shard: table %p, mask %d (want nil, %d)", sh.slots.Load(), sh.mask.Load(), peak)
	}
	if _, taken := nt.loadOrStore(names[0], procs[0]); taken || sh.slots.Load().hash != peak {
		t.Fatalf("a new table after the peak has mask %d, want %d", sh.slots.Load().hash, peak)
	}
}

// TestNameTableTombstones: a removed name leaves a tombstone in its
// shard's table, which lookups and the listing skip; the name registered
// again takes its slot back in place, with no new table and no allocation
// (a restart under the same name); another name added to the shard builds
// a table without the tombstone.
func TestNameTableTombstones(t *testing.T) {
	n := testNode()
	nt := &n.names
	names := namesInShard(nt, 9, 3, "tomb-")
	a, b, c := names[0], names[1], names[2]
	procs := testProcs(n, 4)
	sh := &nt.shards[9]
	tombstoneOf := func(hdr *nameSlot, name string) bool {
		slots := hdr.slots()
		for j := 1; j < len(slots); j++ {
			if s := &slots[j]; s.name == name {
				return s.serial.Load() == 0 && s.proc.Load() == nil
			}
		}
		return false
	}

	nt.loadOrStore(a, procs[0])
	hdr := sh.slots.Load()
	if !nt.compareAndDelete(a, procs[0]) {
		t.Fatalf("delete %q failed", a)
	}
	if sh.slots.Load() != hdr || hdr.len() != 0 || !tombstoneOf(hdr, a) {
		t.Fatalf("after the delete: table %p (was %p), %d names, tombstone %v", sh.slots.Load(), hdr, hdr.len(), tombstoneOf(hdr, a))
	}
	checkNames(t, n, map[string]*Proc{a: nil, b: nil})
	if nt.compareAndDelete(a, procs[0]) {
		t.Fatalf("a tombstone deleted again")
	}

	if _, taken := nt.loadOrStore(a, procs[1]); taken || sh.slots.Load() != hdr || hdr.len() != 1 {
		t.Fatalf("registered again: taken %v, table %p (was %p), %d names", taken, sh.slots.Load(), hdr, hdr.len())
	}
	checkNames(t, n, map[string]*Proc{a: procs[1], b: nil})
	if owner, taken := nt.loadOrStore(a, procs[2]); !taken || owner != procs[1] {
		t.Fatalf("store of a revived name: %p, %v; want %p, taken", owner, taken, procs[1])
	}
	allocs := testing.AllocsPerRun(100, func() {
		nt.compareAndDelete(a, procs[1])
		nt.loadOrStore(a, procs[1])
	})
	if allocs != 0 {
		t.Errorf("a delete and a store of the same name allocate %v times, want 0", allocs)
	}

	nt.loadOrStore(b, procs[2])
	nt.compareAndDelete(a, procs[1])
	hdr = sh.slots.Load()
	if !tombstoneOf(hdr, a) {
		t.Fatalf("no tombstone for %q beside %q", a, b)
	}
	nt.loadOrStore(c, procs[3])
	if sh.slots.Load() == hdr || tombstoneOf(sh.slots.Load(), a) {
		t.Fatalf("a new name did not build a table without the tombstone")
	}
	checkNames(t, n, map[string]*Proc{a: nil, b: procs[2], c: procs[3]})
}

// TestNameTabCollisions puts names with one and the same full hash, and
// names whose probes wrap around the end of the table, into one table: a
// lookup must tell them apart by the string, with the table's mask or with
// an older, smaller one (a lookup that raced a growing writer).
func TestNameTableCollisions(t *testing.T) {
	n := testNode()
	procs := testProcs(n, 8)
	last := uint64(7) << nameShardBits // the last slot of an 8-slot table
	slots := []struct {
		hash uint64
		name string
	}{
		{hash: 42 << nameShardBits, name: "one"},
		{hash: 42 << nameShardBits, name: "two"},
		{hash: 42 << nameShardBits, name: "three"},
		{hash: last, name: "wrap-a"},
		{hash: last, name: "wrap-b"},
		{hash: last | 1, name: "wrap-c"}, // same slot, another shard's bits
	}
	hdr := newNameTab(8)
	for i, s := range slots {
		hdr.put(s.hash, s.name, procs[i])
	}
	cases := []struct {
		hash uint64
		name string
		want int // index into procs; -1: a miss
	}{
		{42 << nameShardBits, "one", 0},
		{42 << nameShardBits, "two", 1},
		{42 << nameShardBits, "three", 2},
		{42 << nameShardBits, "four", -1},
		{43 << nameShardBits, "one", -1}, // the name, another hash
		{last, "wrap-a", 3},
		{last, "wrap-b", 4},
		{last | 1, "wrap-c", 5},
		{last, "wrap-c", -1},
		{last, "wrap-d", -1},
	}
	for _, tc := range cases {
		for _, m := range []uint64{7, 3, 1, 0} { // the table's mask, then stale ones
			j := hdr.index(tc.hash, tc.name, m)
			if tc.want < 0 {
				if j != 0 {
					t.Errorf("index(%#x, %q, mask %d) = %d, want a miss", tc.hash, tc.name, m, j)
				}
				continue
			}
			if j == 0 || hdr.at(j).serial.Load() != procs[tc.want].serial || hdr.at(j).proc.Load() != procs[tc.want] {
				t.Errorf("index(%#x, %q, mask %d) = %d, want the slot of process %d", tc.hash, tc.name, m, j, tc.want)
			}
		}
	}
	if j := (*nameSlot)(nil).find(1, "one"); j != 0 {
		t.Errorf("find in a nil table = %d", j)
	}
}

// TestNameTableHash checks the hash: the word readers against
// encoding/binary, determinism, that every byte and the length count, and
// that a seed spreads names evenly over the shards.
func TestNameTableHash(t *testing.T) {
	s := "0123456789abcdefghijklmnopqrstuvwxyz"
	for i := 0; i+8 <= len(s); i++ {
		if got, want := le64(s, i), binary.LittleEndian.Uint64([]byte(s[i:])); got != want {
			t.Fatalf("le64(s, %d) = %#x, want %#x", i, got, want)
		}
		if got, want := le32(s, i), uint64(binary.LittleEndian.Uint32([]byte(s[i:]))); got != want {
			t.Fatalf("le32(s, %d) = %#x, want %#x", i, got, want)
		}
	}

	nt, other := &testNode().names, &testNode().names
	seen := map[uint64]string{}
	sameSeed := 0
	for n := 0; n <= 70; n++ {
		name := s[:min(n, len(s))] + strings.Repeat("+", max(0, n-len(s)))
		h := nt.hash(name)
		if h != nt.hash(strings.Clone(name)) {
			t.Fatalf("hash(%q) differs between calls", name)
		}
		if prev, dup := seen[h]; dup {
			t.Fatalf("hash(%q) = hash(%q)", name, prev)
		}
		seen[h] = name
		if h == other.hash(name) {
			sameSeed++
		}
		for i := range n { // flip each byte in turn
			flipped := []byte(name)
			flipped[i] ^= 0x20
			if nt.hash(string(flipped)) == h {
				t.Fatalf("hash(%q) ignores byte %d", name, i)
			}
		}
	}
	if sameSeed > 1 {
		t.Errorf("%d names hash alike under two seeds", sameSeed)
	}

	// 64 names a shard on average. Under a good hash the counts are about
	// Poisson: no shard below a quarter or above twice the mean, and a
	// chi-square (1023 degrees of freedom, mean 1023, sd 45) below mean + 6
	// sd; each fails by bad luck with odds under one in a million.
	const perShard = 64
	counts := make([]int, nameShards)
	for i := range perShard * nameShards {
		counts[nt.hash("svc-"+strconv.Itoa(i))&(nameShards-1)]++
	}
	chi2 := 0.0
	for k, c := range counts {
		if c < perShard/4 || c > perShard*2 {
			t.Fatalf("shard %d holds %d names, want about %d", k, c, perShard)
		}
		chi2 += float64((c-perShard)*(c-perShard)) / perShard
	}
	if chi2 > nameShards+6*45 {
		t.Errorf("chi-square of the shard counts %.0f, want about %d", chi2, nameShards-1)
	}
}

// TestNameTableConcurrentReaders runs lock-free readers against a writer
// that registers and removes names in the readers' shard (run it with
// -race). Each round starts from a fresh table, so the writer grows the
// shard's table several times under the readers' feet. A stable name must
// always be found with its owner; a churned name is either missing or
// found with its current owner; a name never registered is never found.
func TestNameTableConcurrentReaders(t *testing.T) {
	for round := range 30 {
		n := testNode()
		nt := &n.names
		names := namesInShard(nt, uint64(round), 64, "concurrent-")
		stable, churn := names[:4], names[4:]
		procs := testProcs(n, len(stable)+2*len(churn))
		owners := procs[len(stable):] // churn[i] belongs to owners[2i] or owners[2i+1]
		for i, name := range stable {
			nt.loadOrStore(name, procs[i])
		}

		var done atomic.Bool
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for r := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fail := func(format string, args ...any) { errs <- fmt.Errorf(format, args...) }
				for i := r; !done.Load(); i++ {
					k := i % len(stable)
					if p, ok := WhereIs(n, stable[k]); !ok || p != procs[k].Pid() {
						fail("WhereIs(%q) = %v, %v; want %v", stable[k], p, ok, procs[k].Pid())
						return
					}
					if q, ok := nt.load(stable[k]); !ok || q != procs[k] {
						fail("load(%q) = %p, %v; want %p", stable[k], q, ok, procs[k])
						return
					}
					k = i % len(churn)
					if p, ok := WhereIs(n, churn[k]); ok && p != owners[2*k].Pid() && p != owners[2*k+1].Pid() {
						fail("WhereIs(%q) = %v, not one of its owners", churn[k], p)
						return
					}
					if q, ok := nt.load(churn[k]); ok && q != owners[2*k] && q != owners[2*k+1] {
						fail("load(%q) = %p, not one of its owners", churn[k], q)
						return
					}
					if _, ok := WhereIs(n, "never-registered"); ok {
						fail("found a name never registered")
						return
					}
				}
			}()
		}
		for pass := range 4 {
			for k, name := range churn {
				if _, taken := nt.loadOrStore(name, owners[2*k+pass%2]); taken {
					t.Fatalf("store %q: taken", name)
				}
			}
			for k, name := range churn {
				if !nt.compareAndDelete(name, owners[2*k+pass%2]) {
					t.Fatalf("delete %q failed", name)
				}
			}
		}
		done.Store(true)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		want := map[string]*Proc{}
		for i, name := range stable {
			want[name] = procs[i]
		}
		for _, name := range churn {
			want[name] = nil
		}
		checkNames(t, n, want)
	}
}

// lookupBench runs W8's pattern on look: names looked up in a shuffled
// order from parallel goroutines, each from its own start. One op is one
// lookup.
func lookupBench(b *testing.B, names []string, look func(string) bool) {
	const seqLen = 1 << 16
	seq := make([]string, seqLen)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range seq {
		seq[i] = names[rng.IntN(len(names))]
	}
	var seed atomic.Uint64
	var misses atomic.Int64
	runtime.GC() // not during the run: the setup left garbage
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.New(rand.NewPCG(seed.Add(1), 7)).IntN(seqLen)
		miss := 0
		for pb.Next() {
			if !look(seq[i&(seqLen-1)]) {
				miss++
			}
			i++
		}
		misses.Add(int64(miss))
	})
	b.StopTimer()
	if m := misses.Load(); m != 0 {
		b.Fatalf("%d lookups missed", m)
	}
}

// BenchmarkNameTableLookup measures WhereIs on a table of 10,000 names, as
// in W8. The gomap case is the floor: a plain Go map from the same names
// to Pids, read in the same pattern, with no synchronisation at all.
func BenchmarkNameTableLookup(b *testing.B) {
	const k = 10_000
	n := testNode()
	names := make([]string, k)
	procs := testProcs(n, k)
	plain := make(map[string]pid.Pid, k)
	for i := range names {
		names[i] = "w8-" + strconv.Itoa(i)
		n.names.loadOrStore(names[i], procs[i])
		plain[names[i]] = procs[i].Pid()
	}
	b.Run("nametable", func(b *testing.B) {
		lookupBench(b, names, func(name string) bool {
			p, ok := WhereIs(n, name)
			return ok && !p.IsZero()
		})
	})
	b.Run("gomap", func(b *testing.B) {
		lookupBench(b, names, func(name string) bool {
			p, ok := plain[name]
			return ok && !p.IsZero()
		})
	})
}

// BenchmarkNameTableRegister registers and removes one name in a table of
// 10,000: one op is one loadOrStore plus one compareAndDelete.
func BenchmarkNameTableRegister(b *testing.B) {
	const k = 10_000
	n := testNode()
	procs := testProcs(n, k+1)
	for i := range k {
		n.names.loadOrStore("w8-"+strconv.Itoa(i), procs[i])
	}
	p := procs[k]
	b.ReportAllocs()
	for b.Loop() {
		if _, taken := n.names.loadOrStore("bench", p); taken {
			b.Fatal("taken")
		}
		if !n.names.compareAndDelete("bench", p) {
			b.Fatal("not deleted")
		}
	}
}
