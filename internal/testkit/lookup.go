package testkit

import (
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
)

// LookupParallel runs W8's pattern: keys looked up at random from parallel
// goroutines, each walking a shuffled sequence of them (drawn before the
// clock starts) from its own random start, so that picking a key costs
// next to nothing. One op is one call of look, which reports whether it
// found what it should; a miss fails the benchmark.
func LookupParallel(b *testing.B, keys []string, look func(key string) bool) {
	const seqLen = 1 << 16
	seq := make([]string, seqLen)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range seq {
		seq[i] = keys[rng.IntN(len(keys))]
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
