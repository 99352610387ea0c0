package main

import (
	"math"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rowOf returns the row of a workload and unit.
func rowOf(t *testing.T, workload, unit string) row {
	t.Helper()
	for _, r := range rows {
		if r.workload == workload && r.unit == unit {
			return r
		}
	}
	t.Fatalf("no row %s %s", workload, unit)
	return row{}
}

// sessionOf is a session of one run per figure holding the given medians.
func sessionOf(medians map[key]float64) *session {
	s := &session{runs: 1, handOffRuns: 1, restartRuns: 1, values: map[key][]float64{}}
	for k, v := range medians {
		s.values[k] = []float64{v}
	}
	return s
}

func TestRunsOf(t *testing.T) {
	tests := []struct {
		runs, handOff, restart int
		workload               string
		want                   int
		text                   string
	}{
		{3, 15, 45, "W2", 15, "3 (W2, W3 and W6: 15; W7: 45)"},
		{3, 15, 45, "W3", 15, "3 (W2, W3 and W6: 15; W7: 45)"},
		{3, 15, 45, "W7", 45, "3 (W2, W3 and W6: 15; W7: 45)"},
		{3, 15, 45, "W6", 15, "3 (W2, W3 and W6: 15; W7: 45)"},
		{3, 15, 45, "W1", 3, "3 (W2, W3 and W6: 15; W7: 45)"},
		{3, 15, 45, "W9", 3, "3 (W2, W3 and W6: 15; W7: 45)"},
		{3, 15, 15, "W7", 15, "3 (W2, W3, W6 and W7: 15)"},
		{3, 15, 5, "W7", 15, "3 (W2, W3, W6 and W7: 15)"}, // W7 never runs less than the other hand-offs
		{3, 3, 9, "W7", 9, "3 (W7: 9)"},
		{3, 3, 9, "W2", 3, "3 (W7: 9)"},
		{5, 5, 5, "W2", 5, "5"},
	}
	for _, tt := range tests {
		s := &session{runs: tt.runs, handOffRuns: tt.handOff, restartRuns: tt.restart}
		if got := s.runsOf(tt.workload); got != tt.want {
			t.Errorf("runs %d/%d/%d: runsOf(%s) = %d, want %d", tt.runs, tt.handOff, tt.restart, tt.workload, got, tt.want)
		}
		if got := s.runsText(); got != tt.text {
			t.Errorf("runs %d/%d/%d: runsText() = %q, want %q", tt.runs, tt.handOff, tt.restart, got, tt.text)
		}
	}
}

func TestAndList(t *testing.T) {
	tests := []struct {
		items []string
		want  string
	}{
		{nil, ""},
		{[]string{"W2"}, "W2"},
		{[]string{"W2", "W3"}, "W2 and W3"},
		{[]string{"W2", "W3", "W7"}, "W2, W3 and W7"},
	}
	for _, tt := range tests {
		if got := andList(tt.items); got != tt.want {
			t.Errorf("andList(%q) = %q, want %q", tt.items, got, tt.want)
		}
	}
}

func TestReferenceCoversEveryRow(t *testing.T) {
	for _, r := range rows {
		if _, ok := reference[r.key()]["plaingo"]; !ok {
			t.Errorf("%s %s: no plain Go reference figure", r.workload, r.unit)
		}
	}
	keys := map[rowKey]bool{}
	for _, r := range rows {
		keys[r.key()] = true
	}
	if len(reference) != len(keys) {
		t.Errorf("reference has %d rows, rows have %d keys", len(reference), len(keys))
	}
}

func TestScaling(t *testing.T) {
	tests := []struct {
		name              string
		workload, unit    string
		medians           map[key]float64
		factor            float64 // plain Go's; 0: none
		target            float64 // scaled; 0: none
		targetText, met   string
		absoluteMet       bool
		protoactorFactor  float64 // 0: none
		protoactorFactorT string
	}{
		{
			name: "time row: target multiplied", workload: "W2", unit: "ns/call",
			medians: map[key]float64{
				{"plaingo", "W2", "ns/call"}:    552,
				{"spawned", "W2", "ns/call"}:    700,
				{"protoactor", "W2", "ns/call"}: 7106,
			},
			factor: 2, target: 800, targetText: "≤ 800 ns/call", met: "met",
			protoactorFactor: 2, protoactorFactorT: "×2.00",
		},
		{
			name: "time row: missed at this machine's speed", workload: "W5", unit: "ns/hop",
			medians: map[key]float64{
				{"plaingo", "W5", "ns/hop"}: 763.5,
				{"spawned", "W5", "ns/hop"}: 376,
			},
			factor: 1.5, target: 375, targetText: "≤ 375 ns/hop", met: "missed",
			protoactorFactorT: "–",
		},
		{
			name: "throughput row: target divided", workload: "W3", unit: "msgs/s",
			medians: map[key]float64{
				{"plaingo", "W3", "msgs/s"}:    11.85e6,
				{"spawned", "W3", "msgs/s"}:    13e6,
				{"protoactor", "W3", "msgs/s"}: 3.2e6,
			},
			factor: 2, target: 12.5e6, targetText: "≥ 12.50 M msgs/s", met: "met",
			protoactorFactor: 4, protoactorFactorT: "×4.00",
		},
		{
			name: "throughput row: missed", workload: "W4", unit: "msgs/s",
			medians: map[key]float64{
				{"plaingo", "W4", "msgs/s"}: 11.6e6,
				{"spawned", "W4", "msgs/s"}: 8.9e6,
			},
			factor: 2, target: 9e6, targetText: "≥ 9.00 M msgs/s", met: "missed",
			protoactorFactorT: "–",
		},
		{
			name: "memory row: not scaled", workload: "W1", unit: "bytes/proc",
			medians: map[key]float64{
				{"plaingo", "W1", "bytes/proc"}:    5748,
				{"spawned", "W1", "bytes/proc"}:    498,
				{"protoactor", "W1", "bytes/proc"}: 1512,
			},
			target: 600, targetText: "≤ 600 B/proc", met: "met", absoluteMet: true,
			protoactorFactorT: "–",
		},
		{
			name: "memory row without plain Go: the absolute verdict", workload: "W1", unit: "bytes/proc",
			medians: map[key]float64{
				{"spawned", "W1", "bytes/proc"}: 601,
			},
			target: 600, targetText: "≤ 600 B/proc", met: "missed",
			protoactorFactorT: "–",
		},
		{
			name: "missing plain Go", workload: "W2", unit: "ns/call",
			medians: map[key]float64{
				{"spawned", "W2", "ns/call"}:    300,
				{"protoactor", "W2", "ns/call"}: 3553,
			},
			targetText: "–", met: "–", absoluteMet: true,
			protoactorFactor: 1, protoactorFactorT: "×1.00",
		},
		{
			name: "missing spawned", workload: "W2", unit: "ns/call",
			medians: map[key]float64{
				{"plaingo", "W2", "ns/call"}: 552,
			},
			factor: 2, target: 800, targetText: "≤ 800 ns/call", met: "–",
			protoactorFactorT: "–",
		},
		{
			name: "no reference figure", workload: "W6", unit: "ns/proc",
			medians: map[key]float64{
				{"plaingo", "W6", "ns/proc"}:    1156,
				{"spawned", "W6", "ns/proc"}:    166,
				{"protoactor", "W6", "ns/proc"}: 1000,
			},
			factor: 1, target: 600, targetText: "≤ 600 ns/proc", met: "met", absoluteMet: true,
			protoactorFactorT: "–",
		},
		{
			name: "no throughput: no factor", workload: "W3", unit: "msgs/s",
			medians: map[key]float64{
				{"plaingo", "W3", "msgs/s"}: 0,
				{"spawned", "W3", "msgs/s"}: 13e6,
			},
			targetText: "–", met: "–",
			protoactorFactorT: "–",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rowOf(t, tt.workload, tt.unit)
			s := sessionOf(tt.medians)

			f, ok := s.speedFactor("plaingo", r)
			checkFigure(t, "plain Go's factor", f, ok, tt.factor)
			target, ok := s.scaledTarget(r)
			checkFigure(t, "scaled target", target, ok, tt.target)
			if got := s.scaledTargetText(r); got != tt.targetText {
				t.Errorf("scaled target text %q, want %q", got, tt.targetText)
			}
			if got := s.scaledVerdict(r); got != tt.met {
				t.Errorf("verdict at this machine's speed %q, want %q", got, tt.met)
			}
			if v, ok := s.median("spawned", r.workload, r.unit); ok && r.met(v) != tt.absoluteMet {
				t.Errorf("absolute verdict %v, want %v", r.met(v), tt.absoluteMet)
			}
			pf, ok := s.speedFactor("protoactor", r)
			checkFigure(t, "protoactor's factor", pf, ok, tt.protoactorFactor)
			if got := factorText(pf, ok); got != tt.protoactorFactorT {
				t.Errorf("protoactor's factor text %q, want %q", got, tt.protoactorFactorT)
			}
		})
	}
}

// checkFigure fails unless got is want (0: none) within rounding.
func checkFigure(t *testing.T, what string, got float64, ok bool, want float64) {
	t.Helper()
	switch {
	case want == 0 && ok:
		t.Errorf("%s %v, want none", what, got)
	case want != 0 && !ok:
		t.Errorf("%s: none, want %v", what, want)
	case want != 0 && math.Abs(got-want) > 1e-9*want:
		t.Errorf("%s %v, want %v", what, got, want)
	}
}

// sample is a session over W1, W2, W3, W6 and W7: W3 without plain Go,
// W6 without protoactor (n/a) and W7 with suture.
func sample(quick bool) *session {
	s := sessionOf(map[key]float64{
		{"spawned", "W1", "ns/proc"}:       717,
		{"plaingo", "W1", "ns/proc"}:       3049,
		{"protoactor", "W1", "ns/proc"}:    2763,
		{"beam", "W1", "ns/proc"}:          5393,
		{"spawned", "W1", "bytes/proc"}:    498,
		{"plaingo", "W1", "bytes/proc"}:    2875,
		{"protoactor", "W1", "bytes/proc"}: 784,
		{"beam", "W1", "bytes/proc"}:       2648,
		{"spawned", "W2", "ns/call"}:       613,
		{"spawned", "W2direct", "ns/call"}: 241,
		{"plaingo", "W2", "ns/call"}:       434,
		{"protoactor", "W2", "ns/call"}:    7702,
		{"beam", "W2", "ns/call"}:          2176,
		{"spawned", "W3", "msgs/s"}:        21.1e6,
		{"protoactor", "W3", "msgs/s"}:     8.24e6,
		{"spawned", "W6", "ns/proc"}:       166,
		{"plaingo", "W6", "ns/proc"}:       724,
		{"beam", "W6", "ns/proc"}:          1688,
		{"spawned", "W7", "us/restart"}:    6.4,
		{"plaingo", "W7", "us/restart"}:    4.9,
		{"protoactor", "W7", "us/restart"}: 20.3,
		{"suture", "W7", "us/restart"}:     8.2,
		{"beam", "W7", "us/restart"}:       122,
	})
	s.quick = quick
	return s
}

func TestSpeedTable(t *testing.T) {
	want := `| workload | unit | plain Go there | plain Go here | factor plain Go | factor protoactor-go | factor suture v4 | factor BEAM | target | target at this machine's speed | spawned | met at this machine's speed |
|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|---|
| W1 spawn | ns/proc | 1,810 | 3,049 | ×1.68 | ×1.73 | – | ×1.74 | ≤ 1,000 ns/proc | ≤ 1,685 ns/proc | **717** | met |
| W1 memory | bytes/proc | 2,874 | 2,875 | – | – | – | – | ≤ 600 B/proc | ≤ 600 B/proc | **498** | met |
| W2 call | ns/call | 276 | 434 | ×1.57 | ×2.17 | – | ×2.79 | ≤ 400 ns/call | ≤ 629 ns/call | **613** | met |
| W2 call, genserver.WithDirectCalls | ns/call | 276 | 434 | ×1.57 | ×2.17 | – | ×2.79 | ≤ 400 ns/call | ≤ 629 ns/call | **241** | met |
| W3 cast | msgs/s | 23.70 M | – | – | ×1.55 | – | – | ≥ 25 M msgs/s | – | **21.10 M** | – |
| W6 cascade | ns/proc | 1,156 | 724 | ×0.63 | – | – | ×1.27 | ≤ 600 ns/proc | ≤ 376 ns/proc | **166** | met |
| W7 restart | µs/restart | 2.50 | 4.90 | ×1.96 | ×1.62 | ×0.35 | ×3.53 | ≤ 5 µs/restart | ≤ 9.80 µs/restart | **6.40** | met |
`
	got := sample(false).speedTable([]string{"W1", "W2", "W3", "W6", "W7"})
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestSpeedTableLeavesOutOtherWorkloads(t *testing.T) {
	got := sample(false).speedTable([]string{"W2"})
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[2], "| W2 call |") || !strings.HasPrefix(lines[3], "| W2 call, genserver.WithDirectCalls |") {
		t.Errorf("table for W2 alone:\n%s", got)
	}
}

func TestSpeedSection(t *testing.T) {
	const warning = "> **Quick run (`QUICK=1`): every N was divided by 10, so these factors mean nothing.**"
	for _, quick := range []bool{false, true} {
		got := sample(quick).speedSection([]string{"W2"})
		if !strings.HasPrefix(got, "## This machine against the reference machine\n\n") {
			t.Errorf("quick %v: section starts %q", quick, got[:min(len(got), 60)])
		}
		if strings.Contains(got, warning) != quick {
			t.Errorf("quick %v: warning present: %v", quick, !quick)
		}
		row := "| ≤ 400 ns/call | ≤ 629 ns/call | **613** | met |\n"
		if quick {
			row = "| ≤ 400 ns/call | ≤ 629 ns/call | **613** | met (quick run) |\n"
		}
		if !strings.Contains(got, row) {
			t.Errorf("quick %v: section ends %q, want %q", quick, got[max(0, len(got)-80):], row)
		}
	}
}

func TestAbsoluteVerdictUnchanged(t *testing.T) {
	s := sample(false)
	s.systems = newSystems()
	for _, sys := range s.systems {
		sys.cmd = []string{sys.name}
	}
	got := s.table([]string{"W2"})
	for _, want := range []string{
		"| W2 call | ns/call | **613** | 434 | ×1.41 (slower) | 7,702 | ×0.08 (faster) | 2,176 | ×0.28 (faster) | ≤ 400 ns/call | missed |\n",
		"| W2 call, genserver.WithDirectCalls | ns/call | **241** | 434 | ×0.56 (faster) | 7,702 | ×0.03 (faster) | 2,176 | ×0.11 (faster) | ≤ 400 ns/call | met |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("results table:\n%s\nwant a row %q", got, want)
		}
	}
}

// TestFromRoot: -out and -svg take a relative path from the repository
// root, and an absolute one as it is.
func TestFromRoot(t *testing.T) {
	for _, tc := range []struct{ p, want string }{
		{"docs/BENCHMARKS.md", "/repo/docs/BENCHMARKS.md"},
		{"../elsewhere.md", "/elsewhere.md"},
		{"/tmp/report.md", "/tmp/report.md"},
	} {
		if got := fromRoot("/repo", tc.p); got != tc.want {
			t.Errorf("fromRoot(/repo, %q) = %q; want %q", tc.p, got, tc.want)
		}
	}
}
