package main

import (
	"slices"
	"strings"
	"testing"
)

func TestParseResults(t *testing.T) {
	tests := []struct {
		name             string
		system, workload string
		stdout           string
		figures          []figure
		problems         []string
	}{
		{
			name: "one figure", system: "spawned", workload: "W2",
			stdout:  "RESULT spawned W2 613.4 ns/call\n",
			figures: []figure{{"W2", "ns/call", 613.4}},
		},
		{
			name: "two units of one workload", system: "beam", workload: "W1",
			stdout:  "RESULT beam W1 3105.0 ns/proc\n\nRESULT beam W1 2673 bytes/proc\n",
			figures: []figure{{"W1", "ns/proc", 3105}, {"W1", "bytes/proc", 2673}},
		},
		{
			name: "distribution figures", system: "nats", workload: "W9",
			stdout: "RESULT nats W9p50 89.0 us/call\nRESULT nats W9p99 203.1 us/call\n" +
				"RESULT nats W9p50pinned 20.5 us/call\nRESULT nats W9p99pinned 41.0 us/call\n",
			figures: []figure{
				{"W9p50", "us/call", 89}, {"W9p99", "us/call", 203.1},
				{"W9p50pinned", "us/call", 20.5}, {"W9p99pinned", "us/call", 41},
			},
		},
		{
			name: "a figure of another workload is left out", system: "beam", workload: "W1",
			stdout:   "RESULT beam W10s16 600000 msgs/s\nRESULT beam W1 3105 ns/proc\n",
			figures:  []figure{{"W1", "ns/proc", 3105}},
			problems: []string{`figure W10s16 is not one of W1's: "RESULT beam W10s16 600000 msgs/s"`},
		},
		{
			name: "another system's name is kept with a problem", system: "protoactor", workload: "W11",
			stdout:   "RESULT proto W11 5.61 ms\n",
			figures:  []figure{{"W11", "ms", 5.61}},
			problems: []string{`line names system proto: "RESULT proto W11 5.61 ms"`},
		},
		{
			name: "stray lines and bad values", system: "nats", workload: "W10",
			stdout: "hello\nRESULT nats W10s16 fast msgs/s\nRESULT nats W10s16 1 2 msgs/s\n" +
				"RESULT nats W10s256 1250000 msgs/s\n",
			figures: []figure{{"W10s256", "msgs/s", 1250000}},
			problems: []string{
				`unexpected stdout line "hello"`,
				`bad value in "RESULT nats W10s16 fast msgs/s"`,
				`unexpected stdout line "RESULT nats W10s16 1 2 msgs/s"`,
			},
		},
		{name: "nothing", system: "beam", workload: "W13", stdout: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			figures, problems := parseResults(tt.system, tt.workload, tt.stdout)
			if !slices.Equal(figures, tt.figures) {
				t.Errorf("figures %v, want %v", figures, tt.figures)
			}
			if !slices.Equal(problems, tt.problems) {
				t.Errorf("problems %q, want %q", problems, tt.problems)
			}
		})
	}
}

func TestBelongs(t *testing.T) {
	tests := []struct {
		workload, figure string
		want             bool
	}{
		{"W2", "W2", true},
		{"W9", "W9p50", true},
		{"W9", "W9p99pinned", true},
		{"W10", "W10s4096pinned", true},
		{"W1", "W10s16", false},
		{"W1", "W12", false},
		{"W9", "W1", false},
		{"W9", "W10s16", false},
		{"W11", "W1", false},
		{"W2", "w2", false},
	}
	for _, tt := range tests {
		if got := belongs(tt.workload, tt.figure); got != tt.want {
			t.Errorf("belongs(%q, %q) = %v, want %v", tt.workload, tt.figure, got, tt.want)
		}
	}
}

func TestCompareFigures(t *testing.T) {
	got := []string{"W10s256", "W9p99", "W13", "W2", "W10s16pinned", "W1", "W9p50pinned", "W10s16", "W9p50", "W12", "W11", "W8"}
	slices.SortFunc(got, compareFigures)
	want := []string{"W1", "W2", "W8", "W9p50", "W9p50pinned", "W9p99", "W10s16", "W10s16pinned", "W10s256", "W11", "W12", "W13"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted %v, want %v", got, want)
	}
}

func TestDisplayUnit(t *testing.T) {
	for in, want := range map[string]string{
		"us/call": "µs/call", "us/restart": "µs/restart", "ns/call": "ns/call", "ms": "ms", "msgs/s": "msgs/s",
	} {
		if got := displayUnit(in); got != want {
			t.Errorf("displayUnit(%q) = %q, want %q", in, got, want)
		}
	}
}

// distRowOf returns the distribution row of a figure.
func distRowOf(t *testing.T, figure string) distRow {
	t.Helper()
	for _, d := range distRows {
		if d.figure == figure {
			return d
		}
	}
	t.Fatalf("no distribution row %s", figure)
	return distRow{}
}

func TestDistTargets(t *testing.T) {
	tests := []struct {
		name       string
		figure     string
		medians    map[key]float64
		targetText string
		met        string
	}{
		{
			name: "W9 p50 within 10% of BEAM: met", figure: "W9p50",
			medians: map[key]float64{
				{"spawned", "W9p50", "us/call"}: 90,
				{"beam", "W9p50", "us/call"}:    86,
			},
			targetText: "≤ 94.6 µs/call", met: "met",
		},
		{
			name: "W9 p50 pinned against BEAM's pinned figure", figure: "W9p50pinned",
			medians: map[key]float64{
				{"spawned", "W9p50pinned", "us/call"}: 25,
				{"beam", "W9p50pinned", "us/call"}:    20,
				{"beam", "W9p50", "us/call"}:          86,
			},
			targetText: "≤ 22.0 µs/call", met: "missed",
		},
		{
			name: "W9 p99 1.5 × BEAM", figure: "W9p99",
			medians: map[key]float64{
				{"spawned", "W9p99", "us/call"}: 203,
				{"beam", "W9p99", "us/call"}:    140,
			},
			targetText: "≤ 210 µs/call", met: "met",
		},
		{
			name: "W10 at least twice BEAM", figure: "W10s16",
			medians: map[key]float64{
				{"spawned", "W10s16", "msgs/s"}: 1.1e6,
				{"beam", "W10s16", "msgs/s"}:    0.6e6,
			},
			targetText: "≥ 1.20 M msgs/s", met: "missed",
		},
		{
			name: "W10 4096 B has no target", figure: "W10s4096",
			medians: map[key]float64{
				{"spawned", "W10s4096", "msgs/s"}: 0.2e6,
				{"beam", "W10s4096", "msgs/s"}:    0.17e6,
			},
			targetText: "–", met: "–",
		},
		{
			name: "no BEAM: no target", figure: "W9p99",
			medians: map[key]float64{
				{"spawned", "W9p99", "us/call"}: 203,
			},
			targetText: "–", met: "–",
		},
		{
			name: "W11 absolute", figure: "W11",
			medians: map[key]float64{
				{"spawned", "W11", "ms"}: 10.5,
			},
			targetText: "≤ 10.0 ms", met: "missed",
		},
		{
			name: "W12 twice spawned's W8", figure: "W12",
			medians: map[key]float64{
				{"spawned", "W12", "ns/lookup"}: 30,
				{"spawned", "W8", "ns/lookup"}:  16,
				{"beam", "W8", "ns/lookup"}:     49,
			},
			targetText: "≤ 32.0 ns/lookup", met: "met",
		},
		{
			name: "W12 without W8", figure: "W12",
			medians: map[key]float64{
				{"spawned", "W12", "ns/lookup"}: 30,
			},
			targetText: "–", met: "–",
		},
		{
			name: "W13 absolute without spawned", figure: "W13",
			medians: map[key]float64{
				{"beam", "W13", "ms"}: 7.5,
			},
			targetText: "≤ 200 ms", met: "–",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := distRowOf(t, tt.figure)
			s := sessionOf(tt.medians)
			if got := s.distTargetText(d); got != tt.targetText {
				t.Errorf("target %q, want %q", got, tt.targetText)
			}
			if got := s.distVerdict(d); got != tt.met {
				t.Errorf("verdict %q, want %q", got, tt.met)
			}
		})
	}
}

// distSample is a session of the distribution workloads: spawned, BEAM,
// protoactor (W12 skipped, W10 failed) and the NATS floor.
func distSample(quick bool) *session {
	s := sessionOf(map[key]float64{
		{"spawned", "W9p50", "us/call"}:       92,
		{"beam", "W9p50", "us/call"}:          86,
		{"protoactor", "W9p50", "us/call"}:    182,
		{"nats", "W9p50", "us/call"}:          89,
		{"spawned", "W9p50pinned", "us/call"}: 21,
		{"beam", "W9p50pinned", "us/call"}:    20,
		{"nats", "W9p50pinned", "us/call"}:    19,
		{"spawned", "W10s16", "msgs/s"}:       1.5e6,
		{"beam", "W10s16", "msgs/s"}:          0.6e6,
		{"nats", "W10s16", "msgs/s"}:          2.0e6,
		{"spawned", "W12", "ns/lookup"}:       30,
		{"beam", "W12", "ns/lookup"}:          120,
		{"spawned", "W8", "ns/lookup"}:        16,
		{"beam", "W8", "ns/lookup"}:           49,
	})
	s.quick = quick
	s.failed = map[key]bool{}
	s.skips = map[string]bool{}
	s.dist = newDistSystems()
	for _, sys := range s.dist {
		sys.cmd = []string{sys.name}
	}
	s.failed[key{"protoactor", "W10", ""}] = true
	s.skips["SKIP protoactor W12: no cluster-wide names"] = true
	s.skips["SKIP nats W12: a bare transport has no names"] = true
	return s
}

func TestDistTable(t *testing.T) {
	want := `| workload | unit | spawned | BEAM | spawned vs BEAM | protoactor-go | protoactor-go vs BEAM | NATS floor | NATS floor vs BEAM | target | target in this run | met |
|---|---|---:|---:|---|---:|---|---:|---|---|---|---|
| W9 call p50 | µs/call | **92.0** | 86.0 | ×1.07 (slower) | 182 | ×2.12 (slower) | 89.0 | ×1.03 (slower) | ≤ 1.1 × BEAM | ≤ 94.6 µs/call | met |
| W9 call p50, pinned | µs/call | **21.0** | 20.0 | ×1.05 (slower) | – | – | 19.0 | ×0.95 (faster) | ≤ 1.1 × BEAM | ≤ 22.0 µs/call | met |
| W9 call p99 | µs/call | **–** | – | – | – | – | – | – | ≤ 1.5 × BEAM | – | – |
| W9 call p99, pinned | µs/call | **–** | – | – | – | – | – | – | ≤ 1.5 × BEAM | – | – |
| W10 cast 16 B | msgs/s | **1.50 M** | 0.60 M | ×2.50 (faster) | failed | – | 2.00 M | ×3.33 (faster) | ≥ 2 × BEAM | ≥ 1.20 M msgs/s | met |
| W10 cast 16 B, pinned | msgs/s | **–** | – | – | failed | – | – | – | ≥ 2 × BEAM | – | – |
| W10 cast 256 B | msgs/s | **–** | – | – | failed | – | – | – | ≥ 2 × BEAM | – | – |
| W10 cast 256 B, pinned | msgs/s | **–** | – | – | failed | – | – | – | ≥ 2 × BEAM | – | – |
| W10 cast 4096 B | msgs/s | **–** | – | – | failed | – | – | – | – | – | – |
| W10 cast 4096 B, pinned | msgs/s | **–** | – | – | failed | – | – | – | – | – | – |
| W12 global lookup | ns/lookup | **30.0** | 120 | ×0.25 (faster) | n/a | – | n/a | – | ≤ 2 × spawned's W8 | ≤ 32.0 ns/lookup | met |
`
	got := distSample(false).distTable([]string{"W9", "W10", "W12"})
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestDistTableWithoutSpawned(t *testing.T) {
	s := distSample(true)
	s.dist[0].cmd = nil
	delete(s.values, key{"spawned", "W9p50", "us/call"})
	got := s.distTable([]string{"W9"})
	if want := "| W9 call p50 | µs/call | **not run** | 86.0 | – | 182 | ×2.12 (slower) |"; !strings.Contains(got, want) {
		t.Errorf("table:\n%s\nwant a row starting %q", got, want)
	}
	if want := "| ≤ 1.1 × BEAM | ≤ 94.6 µs/call | – |\n"; !strings.Contains(got, want) {
		t.Errorf("table:\n%s\nwant the p50 row to end %q", got, want)
	}
}

func TestDistTableWithoutBEAM(t *testing.T) {
	s := distSample(false)
	s.dist = slices.DeleteFunc(s.dist, func(sys *system) bool { return sys.name == "beam" })
	got := s.distTable([]string{"W11"})
	want := `| workload | unit | spawned | protoactor-go | NATS floor | target | target in this run | met |
|---|---|---:|---:|---:|---|---|---|
| W11 node loss | ms | **–** | – | – | ≤ 10 ms | ≤ 10.0 ms | – |
`
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestLookupTable(t *testing.T) {
	s := distSample(false)
	s.values[key{"beam", "W12", "ns/lookup"}] = []float64{120}
	want := `| system | W12 global lookup (ns/lookup) | W8 local lookup (ns/lookup) | W12 ÷ W8 |
|---|---:|---:|---:|
| spawned | 30.0 | 16.0 | ×1.88 |
| BEAM | 120 | 49.0 | ×2.45 |
`
	if got := s.lookupTable(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
	delete(s.values, key{"beam", "W8", "ns/lookup"})
	if got, want := s.lookupTable(), "| BEAM | 120 | – | – |\n"; !strings.HasSuffix(got, want) {
		t.Errorf("table without BEAM's W8:\n%s\nwant it to end %q", got, want)
	}
}

func TestDistSection(t *testing.T) {
	for _, quick := range []bool{false, true} {
		s := distSample(quick)
		s.dist[0].cmd, s.dist[0].why = nil, "no program at bench/dist/cmd/spawned"
		got := s.distSection([]string{"W9", "W12"})
		if !strings.HasPrefix(got, "## Distribution (W9–W13)\n\n") {
			t.Errorf("quick %v: section starts %q", quick, got[:min(len(got), 40)])
		}
		if want := "- spawned: not run: no program at bench/dist/cmd/spawned\n"; !strings.Contains(got, want) {
			t.Errorf("quick %v: no line %q in\n%s", quick, want, got)
		}
		if strings.Contains(got, "Quick run") != quick {
			t.Errorf("quick %v: quick-run warning present: %v", quick, !quick)
		}
		if !strings.Contains(got, "W12 beside W8") {
			t.Errorf("quick %v: no W12 beside W8 table", quick)
		}
		if got := s.distSection([]string{"W9"}); strings.Contains(got, "W12 beside W8") {
			t.Errorf("quick %v: W12 beside W8 table without W12", quick)
		}
	}
}

func TestDistRowsCoverEveryDistWorkload(t *testing.T) {
	for _, w := range distWorkloads {
		if !slices.ContainsFunc(distRows, func(d distRow) bool { return d.workload == w }) {
			t.Errorf("no row for %s", w)
		}
		if !slices.Contains(allWorkloads, w) {
			t.Errorf("%s is not in allWorkloads", w)
		}
	}
	for _, d := range distRows {
		if !belongs(d.workload, d.figure) {
			t.Errorf("row %s: figure does not belong to %s", d.figure, d.workload)
		}
	}
}
