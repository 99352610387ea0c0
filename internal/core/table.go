package core

import (
	"sync"
	"sync/atomic"
)

// A serial names a slot of the process table and the slot's generation:
//
//	serial = generation<<32 | (slot + 1)
//
// The first process in each slot has generation 0, so a fresh node hands out
// serials 1, 2, 3…; a slot freed by an exited process is reused with the next
// generation, so no two processes ever share a Pid.
const (
	chunkBits = 12
	chunkSize = 1 << chunkBits
	slotMask  = 1<<32 - 1
)

// table maps serials to live processes. A lookup is two array loads and a
// compare of the serial, with no lock and no hashing; adding and removing
// take the table's lock, which spawns and exits share.
type table struct {
	chunks atomic.Pointer[[]*slotChunk] // grows by appending; chunks never move

	mu    sync.Mutex // guards free, next, every chunk's gens and growth
	free  []uint32   // freed slots, most recent last
	next  uint32     // the first slot never used
	count atomic.Int64
}

// slotChunk holds chunkSize slots.
type slotChunk struct {
	procs [chunkSize]atomic.Pointer[Proc]
	gens  [chunkSize]uint32 // the generation the slot's next process gets
}

func (t *table) init() {
	t.chunks.Store(new([]*slotChunk))
}

// get returns the live process with serial, or nil.
func (t *table) get(serial uint64) *Proc {
	slot := uint32(serial&slotMask) - 1
	chunks := *t.chunks.Load()
	c := slot >> chunkBits
	if c >= uint32(len(chunks)) {
		return nil
	}
	p := chunks[c].procs[slot&(chunkSize-1)].Load()
	if p == nil || p.serial != serial {
		return nil
	}
	return p
}

// add gives p a slot and its serial, and makes it visible to get.
// It fails only when every one of the 2³²−1 slots is in use.
func (t *table) add(p *Proc) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	var slot uint32
	if k := len(t.free); k > 0 {
		slot = t.free[k-1]
		t.free = t.free[:k-1]
	} else {
		if t.next == slotMask {
			return false
		}
		slot = t.next
		t.next++
		t.grow(slot)
	}
	c := (*t.chunks.Load())[slot>>chunkBits]
	i := slot & (chunkSize - 1)
	p.serial = uint64(c.gens[i])<<32 | uint64(slot+1)
	c.procs[i].Store(p)
	t.count.Add(1)
	return true
}

// grow makes sure the chunk holding slot exists. Caller holds mu.
func (t *table) grow(slot uint32) {
	chunks := *t.chunks.Load()
	if int(slot>>chunkBits) < len(chunks) {
		return
	}
	grown := append(chunks[:len(chunks):len(chunks)], new(slotChunk))
	t.chunks.Store(&grown)
}

// remove frees p's slot, if p still holds it. The slot's next process gets
// the next generation; a slot whose generations are used up is retired.
func (t *table) remove(p *Proc) {
	serial := p.serial
	slot := uint32(serial&slotMask) - 1
	t.mu.Lock()
	defer t.mu.Unlock()
	chunks := *t.chunks.Load()
	if int(slot>>chunkBits) >= len(chunks) {
		return
	}
	c := chunks[slot>>chunkBits]
	i := slot & (chunkSize - 1)
	if !c.procs[i].CompareAndSwap(p, nil) {
		return
	}
	t.count.Add(-1)
	if c.gens[i] == slotMask {
		return
	}
	c.gens[i]++
	t.free = append(t.free, slot)
}

// len returns the number of processes in the table.
func (t *table) len() int { return int(t.count.Load()) }

// all returns every process in the table.
func (t *table) all() []*Proc {
	out := make([]*Proc, 0, t.len())
	for _, c := range *t.chunks.Load() {
		for i := range c.procs {
			if p := c.procs[i].Load(); p != nil {
				out = append(out, p)
			}
		}
	}
	return out
}
