package registry_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// BenchmarkW8Lookup is workload W8: 10,000 registered names, looked up at
// random from parallel goroutines. One op is one WhereIs.
func BenchmarkW8Lookup(b *testing.B) {
	const names = 10_000
	n := spawntest.NewNode(b)
	r := registry.Of(n)
	keys := make([]string, names)
	for i := range keys {
		keys[i] = fmt.Sprintf("w8-%d", i)
		if _, err := n.SpawnHandler(regIdleHandler{}, process.WithName(keys[i])); err != nil {
			b.Fatal(err)
		}
	}
	testkit.LookupParallel(b, keys, func(key string) bool {
		_, ok := r.WhereIs(key)
		return ok
	})
}

// BenchmarkRegisterUnregister registers a name for a live process and
// removes it again. One op is one Register plus one Unregister.
func BenchmarkRegisterUnregister(b *testing.B) {
	n := spawntest.NewNode(b)
	r := registry.Of(n)
	p, err := n.SpawnHandler(regIdleHandler{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Register("bench", p); err != nil {
			b.Fatal(err)
		}
		if err := r.Unregister("bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeysLookup looks keys up at random from parallel goroutines, as
// W8 does for names. unique: 10,000 keys of one process each, one op is one
// Find (Lookup copies the entry into a new slice). duplicate: 1,000 topics
// of 10 entries each, one op is one Dispatch (the registry's own snapshot)
// or one Lookup (a copy).
func BenchmarkKeysLookup(b *testing.B) {
	for _, bc := range []struct {
		name        string
		kind        registry.Kind
		keys, procs int
		look        func(r *registry.Keys[string, int], key string) int
	}{
		{"unique/Find", registry.Unique, 10_000, 10_000, func(r *registry.Keys[string, int], key string) int {
			_, ok := r.Find(key)
			return boolInt(ok)
		}},
		{"unique/Lookup", registry.Unique, 10_000, 10_000, func(r *registry.Keys[string, int], key string) int {
			return len(r.Lookup(key))
		}},
		{"duplicate/Dispatch", registry.Duplicate, 1_000, 10, func(r *registry.Keys[string, int], key string) int {
			n := 0
			_ = r.Dispatch(key, func(es []registry.Entry[int]) { n = len(es) })
			return n
		}},
		{"duplicate/Lookup", registry.Duplicate, 1_000, 10, func(r *registry.Keys[string, int], key string) int {
			return len(r.Lookup(key))
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := spawntest.NewNode(b)
			r, err := registry.NewKeys[string, int](n, registry.KeysOptions{Kind: bc.kind})
			if err != nil {
				b.Fatal(err)
			}
			procs := make([]pid.Pid, bc.procs)
			for i := range procs {
				if procs[i], err = n.SpawnHandler(regIdleHandler{}); err != nil {
					b.Fatal(err)
				}
			}
			keys := make([]string, bc.keys)
			want := 0
			for i := range keys {
				keys[i] = fmt.Sprintf("w8-%d", i)
				if bc.kind == registry.Unique {
					err, want = r.Register(keys[i], procs[i], i), 1
				} else {
					for _, p := range procs {
						if err = r.Register(keys[i], p, i); err != nil {
							break
						}
					}
					want = len(procs)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			testkit.LookupParallel(b, keys, func(key string) bool { return bc.look(r, key) == want })
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// BenchmarkKeysRegister registers a key for a live process and removes it
// again; one op is one Register plus one Unregister. serial is the
// counterpart of BenchmarkRegisterUnregister. parallel: every goroutine has
// its own process and keys. duplicate/shared: every goroutine registers
// under the same 8 topics, which contend for their partitions.
func BenchmarkKeysRegister(b *testing.B) {
	for _, bc := range []struct {
		name     string
		kind     registry.Kind
		parallel bool
		shared   bool
	}{
		{"unique/serial", registry.Unique, false, false},
		{"unique/parallel", registry.Unique, true, false},
		{"duplicate/parallel", registry.Duplicate, true, false},
		{"duplicate/shared", registry.Duplicate, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := spawntest.NewNode(b)
			r, err := registry.NewKeys[string, int](n, registry.KeysOptions{Kind: bc.kind})
			if err != nil {
				b.Fatal(err)
			}
			var worker atomic.Int64
			run := func(next func() bool) {
				p, err := n.SpawnHandler(regIdleHandler{})
				if err != nil {
					b.Error(err)
					return
				}
				w := worker.Add(1)
				keys := make([]string, 8)
				for i := range keys {
					if bc.shared {
						keys[i] = fmt.Sprint("topic-", i)
					} else {
						keys[i] = fmt.Sprint("key-", w, "-", i)
					}
				}
				for i := 0; next(); i++ {
					key := keys[i&7]
					if err := r.Register(key, p, i); err != nil {
						b.Error(err)
						return
					}
					if err := r.Unregister(key, p); err != nil {
						b.Error(err)
						return
					}
				}
			}
			b.ReportAllocs()
			if !bc.parallel {
				run(b.Loop)
				return
			}
			b.RunParallel(func(pb *testing.PB) { run(pb.Next) })
		})
	}
}
