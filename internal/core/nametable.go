package core

import (
	"hash/maphash"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/spawned-go/spawned/pid"
)

// nameShards spreads names over this many copy-on-write maps.
const nameShards = 1024

// nameTable maps registered names to their processes. Lookups take no lock:
// each shard is an immutable map behind an atomic pointer, replaced by a
// writer holding the shard's lock. A write copies one shard, a few entries
// for any registry of ordinary size (names are for services, not for every
// process), so lookups, far more frequent, cost one atomic load and one map
// access.
type nameTable struct {
	seed   maphash.Seed
	shards [nameShards]nameShard
}

type nameShard struct {
	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[string]nameEntry]
}

// nameEntry keeps the owner's Pid beside it, so that a lookup by name does
// not touch the process.
type nameEntry struct {
	proc *Proc
	pid  pid.Pid
}

func (t *nameTable) init() { t.seed = maphash.MakeSeed() }

func (t *nameTable) shard(name string) *nameShard {
	return &t.shards[maphash.String(t.seed, name)%nameShards]
}

// load returns the process registered as name.
func (t *nameTable) load(name string) (*Proc, bool) {
	e, ok := t.entry(name)
	return e.proc, ok
}

// whereIs returns the Pid registered as name.
func (t *nameTable) whereIs(name string) (pid.Pid, bool) {
	e, ok := t.entry(name)
	return e.pid, ok
}

func (t *nameTable) entry(name string) (nameEntry, bool) {
	m := t.shard(name).m.Load()
	if m == nil {
		return nameEntry{}, false
	}
	e, ok := (*m)[name]
	return e, ok
}

// loadOrStore registers p as name unless the name is taken, and returns the
// owner when it is.
func (t *nameTable) loadOrStore(name string, p *Proc) (owner *Proc, taken bool) {
	s := t.shard(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m.Load()
	if old != nil {
		if e, ok := (*old)[name]; ok {
			return e.proc, true
		}
	}
	m := make(map[string]nameEntry, mapLen(old)+1)
	if old != nil {
		maps.Copy(m, *old)
	}
	m[name] = nameEntry{proc: p, pid: p.pid}
	s.m.Store(&m)
	return nil, false
}

// compareAndDelete removes name if p owns it.
func (t *nameTable) compareAndDelete(name string, p *Proc) bool {
	s := t.shard(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m.Load()
	if old == nil || (*old)[name].proc != p {
		return false
	}
	m := maps.Clone(*old)
	delete(m, name)
	s.m.Store(&m)
	return true
}

// each calls f for every registered name.
func (t *nameTable) each(f func(name string, p *Proc)) {
	for i := range t.shards {
		if m := t.shards[i].m.Load(); m != nil {
			for name, e := range *m {
				f(name, e.proc)
			}
		}
	}
}

func mapLen(m *map[string]nameEntry) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
