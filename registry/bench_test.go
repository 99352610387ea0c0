package registry_test

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
)

// BenchmarkW8Lookup is workload W8: 10,000 registered names, looked up at
// random from parallel goroutines. One op is one WhereIs.
func BenchmarkW8Lookup(b *testing.B) {
	const names = 10_000
	n := testkit.Node(b)
	r := registry.Of(n)
	keys := make([]string, names)
	for i := range keys {
		keys[i] = fmt.Sprintf("w8-%d", i)
		if _, err := n.SpawnHandler(regIdleHandler{}, process.WithName(keys[i])); err != nil {
			b.Fatal(err)
		}
	}
	// A shuffled sequence of names that each goroutine walks from its own
	// random start, so picking a name costs next to nothing.
	const seqLen = 1 << 16
	seq := make([]string, seqLen)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range seq {
		seq[i] = keys[rng.IntN(names)]
	}
	var seed atomic.Uint64
	var misses atomic.Int64

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.New(rand.NewPCG(seed.Add(1), 7)).IntN(seqLen)
		miss := 0
		for pb.Next() {
			if _, ok := r.WhereIs(seq[i&(seqLen-1)]); !ok {
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

// BenchmarkRegisterUnregister registers a name for a live process and
// removes it again. One op is one Register plus one Unregister.
func BenchmarkRegisterUnregister(b *testing.B) {
	n := testkit.Node(b)
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
