package core

import (
	"sync"
	"testing"
)

func TestTableSerialsNameSlotAndGeneration(t *testing.T) {
	var tb table
	tb.init()
	procs := make([]*Proc, 3*chunkSize+5) // spans several chunks
	for i := range procs {
		procs[i] = &Proc{}
		if !tb.add(procs[i]) {
			t.Fatalf("add %d failed", i)
		}
		if got, want := procs[i].serial, uint64(i+1); got != want {
			t.Fatalf("fresh slot %d: serial %d, want %d", i, got, want)
		}
	}
	if tb.len() != len(procs) || len(tb.all()) != len(procs) {
		t.Fatalf("len %d, all %d, want %d", tb.len(), len(tb.all()), len(procs))
	}

	old := procs[7]
	tb.remove(old)
	tb.remove(old) // a second remove is a no-op
	if tb.get(old.serial) != nil {
		t.Fatal("a removed process is still found")
	}
	reused := &Proc{}
	tb.add(reused)
	cases := []struct {
		name   string
		serial uint64
		want   *Proc
	}{
		{"reused slot, next generation", 1<<32 | 8, reused},
		{"old serial of the reused slot", old.serial, nil},
		{"first slot", 1, procs[0]},
		{"last slot", uint64(len(procs)), procs[len(procs)-1]},
		{"slot never used", uint64(len(procs) + 1), nil},
		{"slot far beyond the table", 1 << 31, nil},
		{"zero serial", 0, nil},
		{"slot bits zero", 1 << 32, nil},
		{"future generation", 5<<32 | 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := tb.get(c.serial); got != c.want {
				t.Fatalf("get(%#x) = %p, want %p", c.serial, got, c.want)
			}
		})
	}
	if reused.serial != 1<<32|8 {
		t.Fatalf("reused serial %#x", reused.serial)
	}
}

func TestTableRetiresAnExhaustedSlot(t *testing.T) {
	var tb table
	tb.init()
	p := &Proc{}
	tb.add(p)
	(*tb.chunks.Load())[0].gens[0] = slotMask // as if used 2³²−1 times
	tb.remove(p)
	q := &Proc{}
	tb.add(q)
	if q.serial == p.serial || q.serial != 2 {
		t.Fatalf("exhausted slot reused: serial %#x", q.serial)
	}
}

func TestTableConcurrentLookups(t *testing.T) {
	var tb table
	tb.init()
	stable := &Proc{}
	tb.add(stable)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if tb.get(stable.serial) != stable {
					t.Error("a live process went missing")
					return
				}
				for s := uint64(2); s < 40; s++ {
					if p := tb.get(s); p != nil && p.serial != s {
						t.Errorf("get(%d) returned serial %d", s, p.serial)
						return
					}
				}
			}
		})
	}
	for range 20000 {
		p := &Proc{}
		tb.add(p)
		tb.remove(p)
	}
	close(stop)
	wg.Wait()
	if tb.len() != 1 {
		t.Fatalf("len %d, want 1", tb.len())
	}
}
