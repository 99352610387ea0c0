package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
)

// The distribution workloads W9..W13: nodes in separate OS processes on one
// machine over 127.0.0.1. A program given one of them prints figures named
// after it (W9p50, W10s16pinned, …); see distRows.

var distWorkloads = []string{"W9", "W10", "W11", "W12", "W13"}

// isDist reports whether w is a distribution workload.
func isDist(w string) bool { return slices.Contains(distWorkloads, w) }

// anyDist reports whether workloads has a distribution workload.
func anyDist(workloads []string) bool { return slices.ContainsFunc(workloads, isDist) }

// anyLocal reports whether workloads has one of W1–W8.
func anyLocal(workloads []string) bool {
	return slices.ContainsFunc(workloads, func(w string) bool { return !isDist(w) })
}

// newDistSystems lists every system measured on the distribution
// workloads, none of them prepared to run. BEAM is the reference of the
// ratios; the NATS floor is bare NATS, the transport under spawned's
// cluster package.
func newDistSystems() []*system {
	return []*system{
		{name: "spawned", title: "spawned"},
		{name: "beam", title: "BEAM"},
		{name: "protoactor", title: "protoactor-go"},
		{name: "nats", title: "NATS floor"},
	}
}

// prepareDist makes the distribution systems ready to run: spawned's
// program is bench/dist/cmd/spawned in its own module (left out, with a
// note, when it does not exist), protoactor and nats are built from
// bench/peers by build, and BEAM is bench/beam/run.sh.
func prepareDist(root string, build func(sys *system, dir, pkg, out string), beam *system) []*system {
	systems := newDistSystems()
	peers := filepath.Join(root, "bench", "peers")
	for _, sys := range systems {
		switch sys.name {
		case "spawned":
			build(sys, filepath.Join(root, "bench", "dist"), "cmd/spawned", "spawned-dist")
			if sys.cmd == nil && strings.HasPrefix(sys.why, "no program") {
				sys.why += " (not found: the cluster benchmarks are not there yet)"
			}
		case "protoactor":
			build(sys, peers, "cmd/protoactor", "protoactor")
		case "nats":
			build(sys, peers, "cmd/nats", "nats")
		case "beam":
			sys.cmd, sys.dir, sys.why = beam.cmd, beam.dir, beam.why
		}
	}
	return systems
}

// belongs reports whether a figure printed by a program run for workload
// is one of that workload's: the workload itself (W2), or its id followed
// by a name that does not start with a digit (W9p50, but not W10 for W1).
func belongs(workload, figure string) bool {
	if figure == workload {
		return true
	}
	rest, ok := strings.CutPrefix(figure, workload)
	return ok && rest != "" && !unicode.IsDigit(rune(rest[0]))
}

// targetKind says what a distribution target is measured against.
type targetKind int

const (
	noTarget targetKind = iota
	absolute            // a fixed figure
	vsBEAM              // a multiple of BEAM's figure in the same run
	vsOwnW8             // a multiple of spawned's W8 in the same run
)

// distRow is one line of the distribution table: one figure.
type distRow struct {
	workload, figure, name, unit string
	higherBetter                 bool
	kind                         targetKind
	target                       float64 // the figure, or the multiple
	targetText                   string
}

var distRows = []distRow{
	{"W9", "W9p50", "call p50", "us/call", false, vsBEAM, 1.1, "≤ 1.1 × BEAM"},
	{"W9", "W9p50pinned", "call p50, pinned", "us/call", false, vsBEAM, 1.1, "≤ 1.1 × BEAM"},
	{"W9", "W9p99", "call p99", "us/call", false, vsBEAM, 1.5, "≤ 1.5 × BEAM"},
	{"W9", "W9p99pinned", "call p99, pinned", "us/call", false, vsBEAM, 1.5, "≤ 1.5 × BEAM"},
	{"W10", "W10s16", "cast 16 B", "msgs/s", true, vsBEAM, 2, "≥ 2 × BEAM"},
	{"W10", "W10s16pinned", "cast 16 B, pinned", "msgs/s", true, vsBEAM, 2, "≥ 2 × BEAM"},
	{"W10", "W10s256", "cast 256 B", "msgs/s", true, vsBEAM, 2, "≥ 2 × BEAM"},
	{"W10", "W10s256pinned", "cast 256 B, pinned", "msgs/s", true, vsBEAM, 2, "≥ 2 × BEAM"},
	{"W10", "W10s4096", "cast 4096 B", "msgs/s", true, noTarget, 0, "–"},
	{"W10", "W10s4096pinned", "cast 4096 B, pinned", "msgs/s", true, noTarget, 0, "–"},
	{"W11", "W11", "node loss", "ms", false, absolute, 10, "≤ 10 ms"},
	{"W12", "W12", "global lookup", "ns/lookup", false, vsOwnW8, 2, "≤ 2 × spawned's W8"},
	{"W13", "W13", "name takeover", "ms", false, absolute, 200, "≤ 200 ms"},
}

// asRow is the row as the W1–W8 code takes it, for cells and ratios.
func (d distRow) asRow() row {
	return row{workload: d.workload, name: d.name, unit: d.unit, higherBetter: d.higherBetter,
		better: "faster", worse: "slower"}
}

// target is the row's target in this run, if it has one and the figures
// it depends on were measured.
func (s *session) distTarget(d distRow) (float64, bool) {
	switch d.kind {
	case absolute:
		return d.target, true
	case vsBEAM:
		if v, ok := s.median("beam", d.figure, d.unit); ok {
			return d.target * v, true
		}
	case vsOwnW8:
		if v, ok := s.median("spawned", "W8", "ns/lookup"); ok {
			return d.target * v, true
		}
	}
	return 0, false
}

// distTargetText is the row's target in this run as the report prints it,
// or "–".
func (s *session) distTargetText(d distRow) string {
	t, ok := s.distTarget(d)
	if !ok {
		return "–"
	}
	op := "≤"
	if d.higherBetter {
		op = "≥"
	}
	return op + " " + format(t, d.unit) + " " + displayUnit(d.unit)
}

// distVerdict is the met column of a row: spawned's figure against the
// target in this run, or "–".
func (s *session) distVerdict(d distRow) string {
	v, ok := s.median("spawned", d.figure, d.unit)
	if !ok {
		return "–"
	}
	t, ok := s.distTarget(d)
	if !ok {
		return "–"
	}
	r := d.asRow()
	return s.verdict(r.meets(v, t))
}

// distCell is one system's median for a row, or why there is none.
func (s *session) distCell(sys *system, d distRow) (string, float64, bool) {
	return s.figureCell(sys, d.workload, d.figure, d.unit)
}

// distTable is the markdown table of the distribution figures: every
// system's median, its ratio to BEAM's, and spawned against the targets.
func (s *session) distTable(workloads []string) string {
	var beam *system
	for _, sys := range s.dist {
		if sys.name == "beam" {
			beam = sys
		}
	}
	// The columns: each system's figure, BEAM's right after spawned's, and
	// after each other system its ratio to BEAM.
	type column struct {
		sys   *system
		ratio bool
	}
	var cols []column
	for _, sys := range s.dist {
		switch {
		case sys == beam:
		case sys.name == "spawned":
			cols = append(cols, column{sys, false})
			if beam != nil {
				cols = append(cols, column{beam, false}, column{sys, true})
			}
		default:
			cols = append(cols, column{sys, false})
			if beam != nil {
				cols = append(cols, column{sys, true})
			}
		}
	}
	if beam != nil && !slices.ContainsFunc(cols, func(c column) bool { return c.sys == beam }) {
		cols = append([]column{{beam, false}}, cols...)
	}
	var b strings.Builder
	b.WriteString("| workload | unit |")
	for _, c := range cols {
		if c.ratio {
			fmt.Fprintf(&b, " %s vs BEAM |", c.sys.title)
		} else {
			fmt.Fprintf(&b, " %s |", c.sys.title)
		}
	}
	b.WriteString(" target | target in this run | met |\n|---|---|")
	for _, c := range cols {
		if c.ratio {
			b.WriteString("---|")
		} else {
			b.WriteString("---:|")
		}
	}
	b.WriteString("---|---|---|\n")
	for _, d := range distRows {
		if !slices.Contains(workloads, d.workload) {
			continue
		}
		fmt.Fprintf(&b, "| %s %s | %s |", d.workload, d.name, displayUnit(d.unit))
		var bv float64
		var bok bool
		if beam != nil {
			_, bv, bok = s.distCell(beam, d)
		}
		for _, c := range cols {
			txt, v, ok := s.distCell(c.sys, d)
			switch {
			case c.ratio && ok && bok:
				txt = ratio(d.asRow(), v, bv)
			case c.ratio:
				txt = "–"
			case c.sys.name == "spawned":
				txt = "**" + txt + "**"
			}
			fmt.Fprintf(&b, " %s |", txt)
		}
		fmt.Fprintf(&b, " %s | %s | %s |\n", d.targetText, s.distTargetText(d), s.distVerdict(d))
	}
	return b.String()
}

// lookupTable sets each system's W12 (global names, looked up on one
// node) beside its W8 (local names) from the same session.
func (s *session) lookupTable() string {
	var b strings.Builder
	b.WriteString("| system | W12 global lookup (ns/lookup) | W8 local lookup (ns/lookup) | W12 ÷ W8 |\n|---|---:|---:|---:|\n")
	for _, sys := range s.dist {
		w12, ok12 := s.median(sys.name, "W12", "ns/lookup")
		if !ok12 {
			continue
		}
		w8, ok8 := s.median(sys.name, "W8", "ns/lookup")
		q := "–"
		if ok8 && w8 > 0 {
			q = fmt.Sprintf("×%.2f", w12/w8)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", sys.title, format(w12, "ns/lookup"), figureText(w8, ok8, "ns/lookup"), q)
	}
	return b.String()
}

// distSection is the report's section on the distribution workloads.
func (s *session) distSection(workloads []string) string {
	var b strings.Builder
	b.WriteString("## Distribution (W9–W13)\n\n")
	b.WriteString("Two nodes (three for W12), each its own OS process, on this machine over 127.0.0.1. spawned: the\n")
	b.WriteString("`cluster` package on NATS (`bench/dist/cmd/spawned`). BEAM: Erlang distribution between `erl -sname`\n")
	b.WriteString("nodes on a private epmd (`bench/beam/run.sh`). protoactor-go: its remote package, gRPC streams\n")
	b.WriteString("(`bench/peers/cmd/protoactor`). NATS floor: bare NATS through a nats-server embedded in the measuring\n")
	b.WriteString("process, no runtime on top (`bench/peers/cmd/nats`): the transport's own cost, under which spawned\n")
	b.WriteString("cannot go.\n\n")
	b.WriteString("W9 is one call at a time, each timed (p50 and p99 of 100,000 after 1,000 warm-up); W10 one sender's\n")
	b.WriteString("casts until a final call confirms the count; W11 the time from kill -9 of the peer's OS process until\n")
	b.WriteString("the Down (noconnection, AddressTerminated, or for NATS the server's disconnect advisory) reaches the\n")
	b.WriteString("monitor, median of 20 kills; W12 global-name lookups on one node after 10,000 names were registered\n")
	b.WriteString("from three; W13 the time from kill -9 of the node owning a global name until another node has\n")
	b.WriteString("registered it, median of 20. W9 and W10 are measured twice: *pinned* runs every process of the\n")
	b.WriteString("workload on CPU 0 (`taskset -c 0`), the other placement leaves them to the scheduler (a round trip\n")
	b.WriteString("then usually wakes the other core). Ratios are the system's figure divided by BEAM's (for µs and ms\n")
	b.WriteString("below 1 is better, for msgs/s above 1); the *target in this run* is the target computed from this\n")
	b.WriteString("run's medians: BEAM's figure of the same row (so of the same placement), or spawned's W8. n/a: the\n")
	fmt.Fprintf(&b, "system has no such feature. Median of %d runs.\n\n", s.runs)
	if s.quick {
		b.WriteString("> **Quick run (`QUICK=1`): every N was divided by 10 and W11/W13 kill 5 nodes, not 20.**\n\n")
	}
	for _, sys := range s.dist {
		if sys.cmd == nil {
			fmt.Fprintf(&b, "- %s: not run: %s\n", sys.title, sys.why)
		}
	}
	if slices.ContainsFunc(s.dist, func(sys *system) bool { return sys.cmd == nil }) {
		b.WriteString("\n")
	}
	b.WriteString(s.distTable(workloads))
	if slices.Contains(workloads, "W12") {
		b.WriteString("\nW12 beside W8 (W8 from the W1–W8 runs of this session; – if W8 was not run):\n\n")
		b.WriteString(s.lookupTable())
	}
	return b.String()
}
