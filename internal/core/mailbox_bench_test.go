package core

import (
	"sync"
	"testing"
)

// BenchmarkMailboxSPSC is the mailbox alone under W3's shape: one
// goroutine pushes, another pops as fast as it can. It is the ceiling of
// what the runtime around it can reach; a buffered channel of 1024 (W3's
// plain-Go reference) runs the same loop for comparison.
func BenchmarkMailboxSPSC(b *testing.B) {
	b.Run("mailbox", func(b *testing.B) {
		var m mailbox
		var wg sync.WaitGroup
		wg.Go(func() {
			for got := 0; got < b.N; {
				if _, ok := m.pop(); ok {
					got++
				}
			}
		})
		for range b.N {
			m.push(struct{}{}, true)
		}
		wg.Wait()
	})
	b.Run("chan-1024", func(b *testing.B) {
		ch := make(chan any, 1024)
		var wg sync.WaitGroup
		wg.Go(func() {
			for range b.N {
				<-ch
			}
		})
		for range b.N {
			ch <- struct{}{}
		}
		wg.Wait()
	})
}
