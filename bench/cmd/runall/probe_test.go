package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestParseCPUTimes(t *testing.T) {
	tests := []struct {
		name string
		line string
		want cpuTimes
		ok   bool
	}{
		{"guest time not counted twice", "cpu  100 5 50 800 10 1 2 30 7 0", cpuTimes{total: 998, steal: 30}, true},
		{"older kernel with eight fields", "cpu  1 2 3 4 5 6 7 8", cpuTimes{total: 36, steal: 8}, true},
		{"too few fields", "cpu  1 2 3 4", cpuTimes{}, false},
		{"one CPU's line", "cpu0 1 2 3 4 5 6 7 8 9 10", cpuTimes{}, false},
		{"not a number", "cpu  1 2 x 4 5 6 7 8", cpuTimes{}, false},
		{"empty", "", cpuTimes{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseCPUTimes(tt.line)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("parseCPUTimes(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestStealShare(t *testing.T) {
	tests := []struct {
		name string
		a, b cpuTimes
		want float64
		ok   bool
	}{
		{"a tenth stolen", cpuTimes{1000, 10}, cpuTimes{2000, 110}, 0.1, true},
		{"none stolen", cpuTimes{1000, 10}, cpuTimes{1500, 10}, 0, true},
		{"no time passed", cpuTimes{1000, 10}, cpuTimes{1000, 10}, 0, false},
		{"counters went back", cpuTimes{1000, 10}, cpuTimes{2000, 5}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := stealShare(tt.a, tt.b)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("stealShare = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestMedianOfKeepsOnlyTakenSamples(t *testing.T) {
	vs := []float64{5, 0, 1, 0, 3}
	i := 0
	got := medianOf(len(vs), func() (float64, bool) {
		v := vs[i]
		i++
		return v, v != 0 // 0 stands for a sample that gave up
	})
	if got != 3 {
		t.Fatalf("medianOf = %v; want 3, the median of 5, 1 and 3", got)
	}
	if got := medianOf(3, func() (float64, bool) { return 7, false }); got != 0 {
		t.Fatalf("medianOf with no sample taken = %v; want 0", got)
	}
}

func TestCoreRoundTrip(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 || runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	// Without a bound worth the name the sample gives up at once, and
	// its partner thread ends (goleak checks).
	if _, ok := coreRoundTrip(1_000_000, 0); ok {
		t.Fatal("a sample with no time to run reported a figure")
	}
	// Two threads that run at once pass the ball; a loaded machine may
	// deschedule one of them, so the bound is generous.
	ns, ok := coreRoundTrip(100, probeGiveUp)
	if ok && ns <= 0 {
		t.Fatalf("round trip of %v ns", ns)
	}
}

func TestProbeText(t *testing.T) {
	start := machineProbe{coreRoundTrip: 812.4, lockedOp: 9.4}
	end := machineProbe{lockedOp: 9.1}
	got := probeText(start, end, 0.034, true)
	for _, want := range []string{
		"core-to-core round trip (two threads spinning on one cache line, median of 7): 812 ns at the start, not measured at the end",
		"one locked atomic add (median of 7): 9.40 ns at the start, 9.10 ns at the end",
		"stolen by the hypervisor during the run: 3.4%",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("probeText lacks %q:\n%s", want, got)
		}
	}
	if got := probeText(start, end, 0, false); strings.Contains(got, "stolen") {
		t.Errorf("probeText with no CPU times speaks of steal:\n%s", got)
	}
}

func TestHandOffTextQuotesThisRun(t *testing.T) {
	s := sessionOf(map[key]float64{{"plaingo", "W2", "ns/call"}: 676})
	s.probeStart = machineProbe{coreRoundTrip: 790}
	got := s.handOffText()
	if !strings.Contains(got, "took 790 ns, against 676 ns for a whole W2 call of plain Go.") {
		t.Errorf("handOffText:\n%s", got)
	}
	s.probeStart = machineProbe{}
	if got := s.handOffText(); got != "" {
		t.Errorf("handOffText without a probe = %q; want nothing", got)
	}
}
