package main

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestSpread(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	each := make([]time.Duration, 0, 100)
	for i := range 97 {
		each = append(each, us(5+i%3))
	}
	each = append(each, us(230), 4*time.Millisecond, 2*time.Millisecond)
	tests := []struct {
		name string
		each []time.Duration
		want string
	}{
		{"none", nil, "no restart"},
		{"one", []time.Duration{us(5)}, "restarts: median 5µs, 99th percentile 5µs, slowest 5µs; 0 of 1 over 1 ms"},
		{"two stalls in a hundred", each, "restarts: median 6µs, 99th percentile 4ms, slowest 4ms; 2 of 100 over 1 ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := spread(tt.each); got != tt.want {
				t.Errorf("spread = %q; want %q", got, tt.want)
			}
		})
	}
}
