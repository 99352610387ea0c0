package benchutil

import (
	"os"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain also serves as the peer of TestPeer: the test binary started
// again by StartPeer.
func TestMain(m *testing.M) {
	if role, ok := PeerRole(); ok {
		PeerReady(role, "ready")
		PeerWait()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestPercentile(t *testing.T) {
	us := func(vs ...int) []time.Duration {
		d := make([]time.Duration, len(vs))
		for i, v := range vs {
			d[i] = time.Duration(v) * time.Microsecond
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", us(7), 99, 7 * time.Microsecond},
		{"p50 of 1..100", us(hundred...), 50, 50 * time.Microsecond},
		{"p99 of 1..100", us(hundred...), 99, 99 * time.Microsecond},
		{"p100 of 1..100", us(hundred...), 100, 100 * time.Microsecond},
		{"p50 of four", us(1, 2, 3, 4), 50, 2 * time.Microsecond},
		{"p99 of four", us(1, 2, 3, 4), 99, 4 * time.Microsecond},
	}
	for _, tt := range tests {
		if got := Percentile(tt.sorted, tt.q); got != tt.want {
			t.Errorf("%s: Percentile(q=%v) = %v, want %v", tt.name, tt.q, got, tt.want)
		}
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		vs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.vs)
		if got := Median(tt.vs); got != tt.want {
			t.Errorf("Median(%v) = %v, want %v", in, got, tt.want)
		}
		if !slices.Equal(in, tt.vs) {
			t.Errorf("Median changed its input: %v", tt.vs)
		}
	}
}

func TestFigureAndIsDist(t *testing.T) {
	if got := Unpinned.Figure("W9p50"); got != "W9p50" {
		t.Errorf("unpinned figure %q", got)
	}
	if got := Pinned.Figure("W10s16"); got != "W10s16pinned" {
		t.Errorf("pinned figure %q", got)
	}
	for w, want := range map[string]bool{"W9": true, "w13": true, "W8": false, "W14": false, "": false} {
		if got := IsDist(w); got != want {
			t.Errorf("IsDist(%q) = %v, want %v", w, got, want)
		}
	}
}

func TestPeer(t *testing.T) {
	tests := []struct {
		name string
		kill bool
	}{
		{"stopped", false},
		{"killed", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := StartPeer("echo")
			if err != nil {
				t.Fatal(err)
			}
			f, err := p.ReadyFields(30 * time.Second)
			if err != nil || !slices.Equal(f, []string{"echo", "ready"}) {
				t.Fatalf("ready fields %q, %v", f, err)
			}
			if tt.kill {
				if _, err := p.Kill(); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Stop(); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
	}
}
