package spawntest

import (
	"sync"
	"time"
)

// Clock is a fake clock that moves only when told, for supervisor.Spec.Clock
// and supervisor.DynamicSpec.Clock: a test crosses a restart-intensity window
// by advancing the clock instead of waiting for seconds to pass. It is safe
// for concurrent use (the supervisor reads it from its own process).
//
//	clock := spawntest.NewClock(time.Time{})
//	spec := supervisor.Spec{Intensity: 1, Period: 5 * time.Second, Clock: clock.Now}
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock showing start. A zero start means
// time.Unix(1_700_000_000, 0): a whole second, so that a supervisor's
// intensity window (counted in whole seconds) starts where the test expects.
func NewClock(start time.Time) *Clock {
	if start.IsZero() {
		start = time.Unix(1_700_000_000, 0)
	}
	return &Clock{now: start}
}

// Now returns the clock's time. Pass the method value clock.Now as a Spec's
// Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward if d is negative) and
// returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
