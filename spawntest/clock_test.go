package spawntest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/spawntest"
)

func TestClock(t *testing.T) {
	t.Parallel()
	c := spawntest.NewClock(time.Time{})
	start := c.Now()
	if start.IsZero() || start.Nanosecond() != 0 {
		t.Fatalf("zero start gives %v, want a whole second", start)
	}
	if got := c.Advance(1500 * time.Millisecond); !got.Equal(start.Add(1500 * time.Millisecond)) {
		t.Fatalf("Advance returned %v", got)
	}
	if got := c.Now(); !got.Equal(start.Add(1500 * time.Millisecond)) {
		t.Fatalf("Now after Advance = %v", got)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c.Set(at)
	if !c.Now().Equal(at) {
		t.Fatalf("Now after Set = %v, want %v", c.Now(), at)
	}
	if got := spawntest.NewClock(at).Now(); !got.Equal(at) {
		t.Fatalf("NewClock(at).Now() = %v", got)
	}
}

// The race detector checks that a clock read by a supervisor while the test
// moves it needs no lock of the test's own.
func TestClock_ConcurrentUse(t *testing.T) {
	t.Parallel()
	c := spawntest.NewClock(time.Time{})
	start := c.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got := c.Now().Sub(start); got != 400*time.Second {
		t.Fatalf("the clock moved %v, want 400s", got)
	}
}
