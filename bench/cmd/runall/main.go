// Command runall runs every benchmark program of the suite (BENCHMARKS.md
// workloads W1–W8, and the distribution workloads W9–W13) on every system,
// each run in a fresh process, takes the median of the runs, and writes
// docs/BENCHMARKS.md (and docs/benchmarks.svg, a chart of W1–W8):
//
//	go run ./bench/cmd/runall            # full size, 3 runs each (W2, W3 and W6: 15; W7: 45)
//	QUICK=1 go run ./bench/cmd/runall    # every N divided by 10: a smoke run
//
// Run it from anywhere inside the repository. The systems of W1–W8 are
// spawned (bench/cmd/spawned), plaingo, protoactor and suture
// (bench/peers/cmd/..., a separate module) and beam (bench/beam/run.sh);
// those of W9–W13 are spawned (bench/dist/cmd/spawned, a module of its own),
// beam, protoactor and nats (bench/peers/cmd/nats, the bare transport). A
// system whose program is missing, fails to build, or prints SKIP for a
// workload is left out of that cell. Every program prints
// `RESULT <system> <figure> <value> <unit>` lines on stdout, where the
// figure is the workload (W2) or, for W9–W13, a name that starts with it
// (W9p50, W10s16pinned).
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

const modulePath = "github.com/spawned-go/spawned"

// system is one benchmarked system and how to run its program.
type system struct {
	name  string // as in RESULT lines
	title string // for the table
	// only, if set, lists the only workloads the system takes part in.
	only []string
	// cmd is the program and its leading arguments; the workload id is
	// appended. Empty when the program is missing or did not build.
	cmd []string
	dir string
	// why tells why cmd is empty.
	why string
}

// row is one line of the table: a workload and one of its units.
type row struct {
	workload, name, unit string
	higherBetter         bool
	target               float64
	targetText           string
	// ratioWords name the better and the worse side of a ratio.
	better, worse string
	// spawnedFigure, when set, is the figure spawned's cells show instead
	// of the workload's: a variant of the workload that only spawned has
	// (W2 with direct calls), set against the other systems' workload.
	spawnedFigure string
}

var rows = []row{
	{"W1", "spawn", "ns/proc", false, 1000, "≤ 1,000 ns/proc", "faster", "slower", ""},
	{"W1", "memory", "bytes/proc", false, 600, "≤ 600 B/proc", "smaller", "larger", ""},
	{"W2", "call", "ns/call", false, 400, "≤ 400 ns/call", "faster", "slower", ""},
	{"W2", "call, genserver.WithDirectCalls", "ns/call", false, 400, "≤ 400 ns/call", "faster", "slower", "W2direct"},
	{"W3", "cast", "msgs/s", true, 25e6, "≥ 25 M msgs/s", "faster", "slower", ""},
	{"W4", "fanin", "msgs/s", true, 18e6, "≥ 18 M msgs/s", "faster", "slower", ""},
	{"W5", "ring", "ns/hop", false, 250, "≤ 250 ns/hop", "faster", "slower", ""},
	{"W6", "cascade", "ns/proc", false, 600, "≤ 600 ns/proc", "faster", "slower", ""},
	{"W7", "restart", "us/restart", false, 5, "≤ 5 µs/restart", "faster", "slower", ""},
	{"W8", "lookup", "ns/lookup", false, 20, "≤ 20 ns/lookup", "faster", "slower", ""},
}

// rowKey names a row apart from its target: a workload and one of its units.
type rowKey struct{ workload, unit string }

// referenceRuns says how the reference figures were measured.
const referenceRuns = "median of 3 runs at full N; Go 1.26, OTP 25, 2 cores"

// reference holds the specification's figures from the reference machine,
// the ones its targets were set against (measured as referenceRuns says),
// by row and system. A system missing from a row
// has no figure there: protoactor has no links (W6), suture runs W7 only.
var reference = map[rowKey]map[string]float64{
	{"W1", "ns/proc"}:    {"plaingo": 1810, "protoactor": 1601, "beam": 3105},
	{"W1", "bytes/proc"}: {"plaingo": 2874, "protoactor": 756, "beam": 2673},
	{"W2", "ns/call"}:    {"plaingo": 276, "protoactor": 3553, "beam": 779},
	{"W3", "msgs/s"}:     {"plaingo": 23.7e6, "protoactor": 12.8e6, "beam": 7.0e6},
	{"W4", "msgs/s"}:     {"plaingo": 23.2e6, "protoactor": 7.7e6, "beam": 2.6e6},
	{"W5", "ns/hop"}:     {"plaingo": 509, "protoactor": 1602, "beam": 381},
	{"W6", "ns/proc"}:    {"plaingo": 1156, "beam": 1326},
	{"W7", "us/restart"}: {"plaingo": 2.5, "protoactor": 12.5, "suture": 23.7, "beam": 34.6},
	{"W8", "ns/lookup"}:  {"plaingo": 47, "protoactor": 35, "beam": 49},
}

var allWorkloads = []string{"W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "W10", "W11", "W12", "W13"}

// key names one figure of one system: workload is the figure's name
// (W2, W9p50pinned), or the workload alone in failed.
type key struct{ system, workload, unit string }

// session holds everything measured in one invocation.
type session struct {
	quick bool
	runs  int
	// handOffRuns is the number of runs of the hand-off workloads (see
	// handOffWorkloads), at least runs; restartRuns that of W7, at least
	// handOffRuns.
	handOffRuns int
	restartRuns int
	systems     []*system // W1–W8
	dist        []*system // W9–W13
	values      map[key][]float64
	skips       map[string]bool // distinct SKIP lines
	notes       []string        // NOTE lines and problems, in order
	failed      map[key]bool    // a run of that system and workload failed
	start       time.Time
	load        string // /proc/loadavg when the run began
	loadEnd     string // and when it ended
	elapsed     time.Duration
	// The machine's probes before the first run and after the last, and
	// its CPU times then (see probe.go).
	probeStart, probeEnd machineProbe
	cpuStart, cpuEnd     cpuTimes
	cpuOK                bool
}

func main() {
	runs := flag.Int("runs", 3, "runs per system and workload (the median is reported)")
	handOffRuns := flag.Int("handoff-runs", 15, "runs per system of the hand-off workloads "+andList(handOffWorkloads)+", whose figures move by tens of percent from run to run (at least -runs)")
	restartRuns := flag.Int("restart-runs", 45, "runs per system of W7, whose runs last about 10 ms each and move the most (at least -handoff-runs)")
	only := flag.String("workloads", "", "comma-separated workloads to run (default: W1..W13)")
	sysFlag := flag.String("systems", "", "comma-separated systems to run (default: spawned,plaingo,protoactor,suture,beam,nats)")
	out := flag.String("out", "docs/BENCHMARKS.md", "report to write (a relative path is from the repository root)")
	svg := flag.String("svg", "docs/benchmarks.svg", "bar chart to write (a relative path is from the repository root); empty for none")
	timeout := flag.Duration("timeout", 0, "limit per run (default 20m, 5m with QUICK=1)")
	probeOnly := flag.Bool("probe", false, "only measure the machine (core-to-core round trip, locked instruction) and print it")
	flag.Parse()
	if *probeOnly {
		fmt.Printf("CPU: %s; %d logical CPUs; load average %s\n", cpuModel(), runtime.NumCPU(), loadText(readTrim("/proc/loadavg")))
		fmt.Print(probeMachine().text())
		return
	}
	if *runs < 1 {
		fatalf("-runs must be at least 1")
	}

	root, err := repoRoot()
	if err != nil {
		fatalf("%v", err)
	}
	s := &session{
		quick:       os.Getenv("QUICK") == "1",
		runs:        *runs,
		handOffRuns: max(*runs, *handOffRuns),
		restartRuns: max(*runs, *handOffRuns, *restartRuns),
		values:      map[key][]float64{},
		skips:       map[string]bool{},
		failed:      map[key]bool{},
		start:       time.Now(),
		load:        readTrim("/proc/loadavg"),
	}
	if *timeout == 0 {
		*timeout = 20 * time.Minute
		if s.quick {
			*timeout = 5 * time.Minute
		}
	}
	workloads := allWorkloads
	if *only != "" {
		workloads = splitList(*only)
		for _, w := range workloads {
			if !slices.Contains(allWorkloads, w) {
				fatalf("unknown workload %q", w)
			}
		}
	}

	bin, err := os.MkdirTemp("", "spawned-bench-")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(bin)
	s.systems, s.dist = prepare(root, bin, workloads)
	if *sysFlag != "" {
		want := splitList(*sysFlag)
		keep := func(systems []*system) []*system {
			var kept []*system
			for _, sys := range systems {
				if slices.Contains(want, sys.name) {
					kept = append(kept, sys)
				}
			}
			return kept
		}
		s.systems, s.dist = keep(s.systems), keep(s.dist)
	}
	for _, sys := range s.systems {
		if sys.cmd == nil {
			logf("%s: not run: %s", sys.name, sys.why)
		}
	}
	for _, sys := range s.dist {
		if sys.cmd == nil {
			logf("%s (W9–W13): not run: %s", sys.name, sys.why)
		}
	}

	s.probeStart = probeMachine()
	var startOK, endOK bool
	s.cpuStart, startOK = readCPUTimes()
	// Runs are interleaved (workload, run, system) so that drift in the
	// machine's load spreads over every system alike.
	for _, w := range workloads {
		systems := s.systems
		if isDist(w) {
			systems = s.dist
		}
		for r := 1; r <= s.runsOf(w); r++ {
			for _, sys := range systems {
				if sys.cmd == nil || (sys.only != nil && !slices.Contains(sys.only, w)) {
					continue
				}
				s.runOne(sys, w, r, *timeout)
			}
		}
	}
	s.elapsed = time.Since(s.start)
	s.loadEnd = readTrim("/proc/loadavg")
	s.cpuEnd, endOK = readCPUTimes()
	s.cpuOK = startOK && endOK
	s.probeEnd = probeMachine()

	var cmdline strings.Builder
	if s.quick {
		cmdline.WriteString("QUICK=1 ")
	}
	cmdline.WriteString("go run ./bench/cmd/runall")
	for _, a := range os.Args[1:] {
		cmdline.WriteString(" " + shellQuote(a))
	}

	outPath := fromRoot(root, *out)
	if !anyLocal(workloads) {
		*svg = "" // the chart shows W1–W8 only
	}
	svgLink := ""
	if *svg != "" {
		svgLink = rel(filepath.Dir(outPath), fromRoot(root, *svg))
	}
	report := s.markdown(cmdline.String(), workloads, svgLink)
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		fatalf("%v", err)
	}
	if err := os.WriteFile(outPath, []byte(report), 0o644); err != nil {
		fatalf("%v", err)
	}
	logf("wrote %s", outPath)
	if *svg != "" {
		svgPath := fromRoot(root, *svg)
		if err := os.MkdirAll(filepath.Dir(svgPath), 0o755); err != nil {
			fatalf("%v", err)
		}
		if err := os.WriteFile(svgPath, []byte(s.chart(workloads)), 0o644); err != nil {
			fatalf("%v", err)
		}
		logf("wrote %s", svgPath)
	}
	if anyLocal(workloads) {
		fmt.Print(s.table(workloads))
	}
	if anyDist(workloads) {
		fmt.Print(s.distTable(workloads))
	}
}

// ---------------------------------------------------------------------------
// Preparing and running the programs.

// newSystems lists every system, none of them prepared to run.
func newSystems() []*system {
	return []*system{
		{name: "spawned", title: "spawned"},
		{name: "plaingo", title: "plain Go"},
		{name: "protoactor", title: "protoactor-go"},
		{name: "suture", title: "suture v4", only: []string{"W7"}},
		{name: "beam", title: "BEAM"},
	}
}

// prepare builds the Go programs into bin and finds the BEAM script, for
// the systems of W1–W8 and those of W9–W13; it builds only the programs
// that the workloads need.
func prepare(root, bin string, workloads []string) (local, dist []*system) {
	peers := filepath.Join(root, "bench", "peers")
	systems := newSystems()
	// build builds the program pkg of the module in dir into bin/out, once.
	type built struct {
		cmd []string
		why string
	}
	done := map[string]built{}
	build := func(sys *system, dir, pkg, out string) {
		if b, ok := done[out]; ok {
			sys.cmd, sys.why = b.cmd, b.why
			return
		}
		defer func() { done[out] = built{sys.cmd, sys.why} }()
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(pkg))); err != nil {
			sys.why = "no program at " + rel(root, filepath.Join(dir, pkg))
			return
		}
		exe := filepath.Join(bin, out)
		logf("building %s (%s)", sys.name, rel(root, filepath.Join(dir, pkg)))
		cmd := exec.Command("go", "build", "-o", exe, "./"+pkg)
		cmd.Dir = dir
		if dir == peers {
			// bench/peers is a module of its own, outside the root's
			// go.work: build it alone.
			cmd.Env = append(os.Environ(), "GOWORK=off")
		}
		if msg, err := cmd.CombinedOutput(); err != nil {
			sys.why = fmt.Sprintf("build failed: %v: %s", err, lastLines(string(msg), 5))
			return
		}
		sys.cmd = []string{exe}
	}
	var beam *system
	if anyLocal(workloads) {
		local = systems
	}
	for _, sys := range systems {
		if sys.name != "beam" && local == nil {
			continue
		}
		switch sys.name {
		case "spawned":
			build(sys, root, "bench/cmd/spawned", "spawned")
		case "plaingo":
			build(sys, peers, "cmd/plain", "plaingo")
		case "protoactor", "suture":
			build(sys, peers, "cmd/"+sys.name, sys.name)
		case "beam":
			beam = sys
			script := filepath.Join(root, "bench", "beam", "run.sh")
			if _, err := os.Stat(script); err != nil {
				sys.why = "no program at bench/beam/run.sh"
				continue
			}
			sys.cmd = []string{"bash", script}
			sys.dir = filepath.Dir(script)
		}
	}
	if anyDist(workloads) {
		dist = prepareDist(root, build, beam)
	}
	return local, dist
}

// handOffWorkloads are the workloads that hand work from one goroutine to
// another and back in short runs, and move the most from run to run: they
// run handOffRuns times. W6 hands an exit signal down a chain of 10,000
// processes in a few milliseconds: plain Go's figure went from 246 to 602
// ns/proc between reports of 3 runs on one VM, one binary of spawned's from
// 134 to 316 between runs.
var handOffWorkloads = []string{"W2", "W3", "W6", "W7"}

// andList joins items as a sentence does: "W2, W3 and W7".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// runsOf returns how many runs of workload each system gets.
func (s *session) runsOf(workload string) int {
	switch {
	case workload == "W7":
		return max(s.restartRuns, s.handOffRuns)
	case slices.Contains(handOffWorkloads, workload):
		return s.handOffRuns
	}
	return s.runs
}

// runsText says how many runs each figure is the median of.
func (s *session) runsText() string {
	restart := max(s.restartRuns, s.handOffRuns)
	switch {
	case s.handOffRuns == s.runs && restart == s.runs:
		return strconv.Itoa(s.runs)
	case restart == s.handOffRuns:
		return fmt.Sprintf("%d (%s: %d)", s.runs, andList(handOffWorkloads), s.handOffRuns)
	case s.handOffRuns == s.runs:
		return fmt.Sprintf("%d (W7: %d)", s.runs, restart)
	}
	others := slices.DeleteFunc(slices.Clone(handOffWorkloads), func(w string) bool { return w == "W7" })
	return fmt.Sprintf("%d (%s: %d; W7: %d)", s.runs, andList(others), s.handOffRuns, restart)
}

// runOne runs one program once and records what it printed.
func (s *session) runOne(sys *system, workload string, run int, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append(slices.Clone(sys.cmd[1:]), workload)
	cmd := exec.CommandContext(ctx, sys.cmd[0], args...)
	cmd.Dir = sys.dir
	cmd.Env = childEnv(s.quick)
	setProcessGroup(cmd)
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	began := time.Now()
	err := cmd.Run()
	took := time.Since(began).Round(time.Millisecond)

	figures, problems := parseResults(sys.name, workload, stdout.String())
	for _, p := range problems {
		s.note(fmt.Sprintf("%s %s run %d: %s", sys.name, workload, run, p))
	}
	for _, f := range figures {
		k := key{sys.name, f.name, f.unit}
		s.values[k] = append(s.values[k], f.value)
	}
	got := len(figures)
	skipped := false
	for _, line := range strings.Split(stderr.String(), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "SKIP"):
			skipped = true
			s.skips[line] = true
		case strings.HasPrefix(line, "NOTE"):
			s.notes = append(s.notes, fmt.Sprintf("run %d: %s", run, strings.TrimSpace(strings.TrimPrefix(line, "NOTE"))))
		}
	}
	status := fmt.Sprintf("%d figure(s)", got)
	switch {
	case ctx.Err() != nil:
		status = fmt.Sprintf("TIMED OUT after %v", timeout)
		s.failed[key{sys.name, workload, ""}] = true
		s.note(fmt.Sprintf("%s %s run %d timed out after %v", sys.name, workload, run, timeout))
	case err != nil:
		status = "FAILED: " + err.Error()
		s.failed[key{sys.name, workload, ""}] = true
		s.note(fmt.Sprintf("%s %s run %d failed (%v): %s", sys.name, workload, run, err, lastLines(stderr.String(), 3)))
	case skipped:
		status = "skipped"
	case got == 0:
		s.note(fmt.Sprintf("%s %s run %d printed no RESULT line", sys.name, workload, run))
	}
	logf("%-10s %s run %d/%d: %s in %v", sys.name, workload, run, s.runsOf(workload), status, took)
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if line != "" {
			logf("    %s", line)
		}
	}
}

// figure is one RESULT line's figure.
type figure struct {
	name, unit string
	value      float64
}

// parseResults reads a program's standard output, run for system and
// workload: its RESULT lines' figures, and a problem for every other
// line, a line naming another system (its figure is kept) or a figure of
// another workload (left out), and a value that is not a number.
func parseResults(system, workload, stdout string) (figures []figure, problems []string) {
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 5 || f[0] != "RESULT" {
			problems = append(problems, fmt.Sprintf("unexpected stdout line %q", line))
			continue
		}
		if !belongs(workload, f[2]) {
			problems = append(problems, fmt.Sprintf("figure %s is not one of %s's: %q", f[2], workload, line))
			continue
		}
		if f[1] != system {
			problems = append(problems, fmt.Sprintf("line names system %s: %q", f[1], line))
		}
		v, err := strconv.ParseFloat(f[3], 64)
		if err != nil {
			problems = append(problems, fmt.Sprintf("bad value in %q", line))
			continue
		}
		figures = append(figures, figure{f[2], f[4], v})
	}
	return figures, problems
}

func (s *session) note(msg string) {
	s.notes = append(s.notes, msg)
	logf("note: %s", msg)
}

// childEnv is this process's environment with QUICK set for quick runs and
// removed otherwise.
func childEnv(quick bool) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "QUICK=") {
			env = append(env, e)
		}
	}
	if quick {
		env = append(env, "QUICK=1")
	}
	return env
}

// ---------------------------------------------------------------------------
// Figures.

// median returns the median of vs and whether there were any.
func median(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m], true
	}
	return (s[m-1] + s[m]) / 2, true
}

func (s *session) median(sys, workload, unit string) (float64, bool) {
	return median(s.values[key{sys, workload, unit}])
}

// format prints a figure in its unit's usual scale.
func format(v float64, unit string) string {
	if unit == "msgs/s" {
		return fmt.Sprintf("%.2f M", v/1e6)
	}
	switch a := abs(v); {
	case a >= 100:
		return commas(int64(v + 0.5*sign(v)))
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ratio tells how spawned compares with a peer: spawned's figure divided
// by the peer's, and which side is better.
func ratio(r row, spawned, peer float64) string {
	if peer == 0 {
		return "–"
	}
	q := spawned / peer
	word := r.worse
	if (q < 1) != r.higherBetter {
		word = r.better
	}
	if q > 0.98 && q < 1.02 {
		word = "same"
	}
	return fmt.Sprintf("×%.2f (%s)", q, word)
}

// met tells whether a figure meets the row's target.
func (r row) met(v float64) bool {
	return r.meets(v, r.target)
}

// meets tells whether a figure meets the given target of the row.
func (r row) meets(v, target float64) bool {
	if r.higherBetter {
		return v >= target
	}
	return v <= target
}

// figureOf is the figure of sys that the row shows.
func (r row) figureOf(sys string) string {
	if sys == "spawned" && r.spawnedFigure != "" {
		return r.spawnedFigure
	}
	return r.workload
}

// key is the row's key in the reference table.
func (r row) key() rowKey {
	return rowKey{r.workload, r.unit}
}

// memory tells whether the row measures memory, which does not depend on
// the machine's speed.
func (r row) memory() bool {
	return r.unit == "bytes/proc"
}

// verdict is the text of the met column: met or missed, marked for quick
// runs.
func (s *session) verdict(met bool) string {
	v := "missed"
	if met {
		v = "met"
	}
	if s.quick {
		v += " (quick run)"
	}
	return v
}

// speedFactor tells how many times slower a system ran a row here than on
// the reference machine: here ÷ there for times, there ÷ here for msgs/s.
// There is none for memory, or when either figure is missing.
func (s *session) speedFactor(sys string, r row) (float64, bool) {
	if r.memory() {
		return 0, false
	}
	there, ok := reference[r.key()][sys]
	if !ok || there == 0 {
		return 0, false
	}
	here, ok := s.median(sys, r.figureOf(sys), r.unit)
	if !ok || here == 0 {
		return 0, false
	}
	if r.higherBetter {
		return there / here, true
	}
	return here / there, true
}

// scaledTarget is the row's target at this machine's speed: the target
// scaled by plain Go's speed factor (times multiplied, msgs/s divided). A
// memory target stands as it is; there is none without plain Go's factor.
func (s *session) scaledTarget(r row) (float64, bool) {
	if r.memory() {
		return r.target, true
	}
	f, ok := s.speedFactor("plaingo", r)
	if !ok {
		return 0, false
	}
	if r.higherBetter {
		return r.target / f, true
	}
	return r.target * f, true
}

// scaledTargetText is the row's target at this machine's speed as the
// report prints it, or "–".
func (s *session) scaledTargetText(r row) string {
	if r.memory() {
		return r.targetText
	}
	t, ok := s.scaledTarget(r)
	if !ok {
		return "–"
	}
	op := "≤"
	if r.higherBetter {
		op = "≥"
	}
	return op + " " + format(t, r.unit) + " " + displayUnit(r.unit)
}

// scaledVerdict is the met column at this machine's speed, or "–" when
// spawned's figure or the scaled target is missing.
func (s *session) scaledVerdict(r row) string {
	v, ok := s.median("spawned", r.figureOf("spawned"), r.unit)
	if !ok {
		return "–"
	}
	t, ok := s.scaledTarget(r)
	if !ok {
		return "–"
	}
	return s.verdict(r.meets(v, t))
}

// cell is one system's median for a row, or why there is none.
func (s *session) cell(sys *system, r row) (string, float64, bool) {
	return s.figureCell(sys, r.workload, r.figureOf(sys.name), r.unit)
}

// figureCell is one system's median for a figure of a workload, or why
// there is none.
func (s *session) figureCell(sys *system, workload, figure, unit string) (string, float64, bool) {
	if v, ok := s.median(sys.name, figure, unit); ok {
		txt := format(v, unit)
		if n, want := len(s.values[key{sys.name, figure, unit}]), s.runsOf(workload); n < want {
			txt += fmt.Sprintf(" (%d of %d runs)", n, want)
		}
		return txt, v, true
	}
	switch {
	case sys.cmd == nil:
		return "not run", 0, false
	case sys.only != nil && !slices.Contains(sys.only, workload):
		return "–", 0, false
	case s.failed[key{sys.name, workload, ""}]:
		return "failed", 0, false
	case s.skipped(sys.name, workload):
		return "n/a", 0, false
	}
	return "–", 0, false
}

func (s *session) skipped(sys, workload string) bool {
	for line := range s.skips {
		f := strings.Fields(strings.TrimSuffix(line, ":"))
		if len(f) >= 3 && f[1] == sys && strings.TrimSuffix(f[2], ":") == workload {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// The report.

// table is the markdown table of medians, ratios and targets.
func (s *session) table(workloads []string) string {
	var spawned *system
	var peers []*system
	for _, sys := range s.systems {
		switch {
		case sys.name == "spawned":
			spawned = sys
		case sys.cmd == nil: // listed under Notes
		case sys.only != nil && !slices.ContainsFunc(sys.only, func(w string) bool { return slices.Contains(workloads, w) }):
		default:
			peers = append(peers, sys)
		}
	}
	var b strings.Builder
	b.WriteString("| workload | unit |")
	if spawned != nil {
		b.WriteString(" spawned |")
	}
	for _, p := range peers {
		fmt.Fprintf(&b, " %s |", p.title)
		if spawned != nil {
			fmt.Fprintf(&b, " spawned vs %s |", p.title)
		}
	}
	b.WriteString(" target | met |\n|---|---|")
	if spawned != nil {
		b.WriteString("---:|")
	}
	for range peers {
		b.WriteString("---:|")
		if spawned != nil {
			b.WriteString("---|")
		}
	}
	b.WriteString("---|---|\n")
	for _, r := range rows {
		if !slices.Contains(workloads, r.workload) {
			continue
		}
		fmt.Fprintf(&b, "| %s %s | %s |", r.workload, r.name, displayUnit(r.unit))
		var sv float64
		var sok bool
		if spawned != nil {
			var txt string
			txt, sv, sok = s.cell(spawned, r)
			fmt.Fprintf(&b, " **%s** |", txt)
		}
		for _, p := range peers {
			txt, pv, pok := s.cell(p, r)
			fmt.Fprintf(&b, " %s |", txt)
			if spawned != nil {
				if sok && pok {
					fmt.Fprintf(&b, " %s |", ratio(r, sv, pv))
				} else {
					b.WriteString(" – |")
				}
			}
		}
		met := "–"
		if sok {
			met = s.verdict(r.met(sv))
		}
		fmt.Fprintf(&b, " %s | %s |\n", r.targetText, met)
	}
	return b.String()
}

// speedSection compares this machine with the reference machine the targets
// were set against, and judges spawned against the targets scaled to this
// machine's speed. It is written for quick runs too, marked as meaningless
// there, so that a smoke run shows the section works.
func (s *session) speedSection(workloads []string) string {
	var b strings.Builder
	b.WriteString("## This machine against the reference machine\n\n")
	b.WriteString("The targets were set against figures measured on the specification's reference machine\n")
	b.WriteString("(" + referenceRuns + "). The *speed factor* of a system on a\n")
	b.WriteString("workload is how many times slower it ran here than there: here ÷ there for times, there ÷ here\n")
	b.WriteString("for msgs/s, so above 1 means this machine is slower. The *target at this machine's speed* is the\n")
	b.WriteString("target scaled by plain Go's factor (times multiplied, msgs/s divided), so a factor below 1\n")
	b.WriteString("tightens it. It assumes spawned slows down here as bare goroutines do; the other systems'\n")
	b.WriteString("factors show how much the slowdown varies from one system to another.\n")
	b.WriteString("Memory (bytes/proc) does not depend on speed: it has no factor, its target is not scaled and its\n")
	b.WriteString("verdict is the absolute one. The met column of the results above stays the verdict against the\n")
	b.WriteString("absolute target. –: no figure (the system was not run, has no such feature, failed, or has no\n")
	b.WriteString("reference figure).\n\n")
	if s.quick {
		b.WriteString("> **Quick run (`QUICK=1`): every N was divided by 10, so these factors mean nothing.** The\n")
		b.WriteString("> reference figures are full-size runs; this section only shows that it is computed.\n\n")
	}
	b.WriteString(s.speedTable(workloads))
	return b.String()
}

// speedTable is the table of speedSection: plain Go's figures there and
// here, every peer's speed factor, and spawned against the scaled target.
func (s *session) speedTable(workloads []string) string {
	var peers []*system
	for _, sys := range newSystems() {
		if sys.name != "spawned" {
			peers = append(peers, sys)
		}
	}
	var b strings.Builder
	b.WriteString("| workload | unit | plain Go there | plain Go here |")
	for _, p := range peers {
		fmt.Fprintf(&b, " factor %s |", p.title)
	}
	b.WriteString(" target | target at this machine's speed | spawned | met at this machine's speed |\n|---|---|---:|---:|")
	for range peers {
		b.WriteString("---:|")
	}
	b.WriteString("---|---|---:|---|\n")
	for _, r := range rows {
		if !slices.Contains(workloads, r.workload) {
			continue
		}
		fmt.Fprintf(&b, "| %s %s | %s |", r.workload, r.name, displayUnit(r.unit))
		there, ok := reference[r.key()]["plaingo"]
		fmt.Fprintf(&b, " %s | %s |", figureText(there, ok, r.unit), s.medianText("plaingo", r))
		for _, p := range peers {
			f, ok := s.speedFactor(p.name, r)
			fmt.Fprintf(&b, " %s |", factorText(f, ok))
		}
		spawned := s.medianText("spawned", r)
		if spawned != "–" {
			spawned = "**" + spawned + "**"
		}
		fmt.Fprintf(&b, " %s | %s | %s | %s |\n", r.targetText, s.scaledTargetText(r), spawned, s.scaledVerdict(r))
	}
	return b.String()
}

// medianText is a system's median for a row, or "–".
func (s *session) medianText(sys string, r row) string {
	v, ok := s.median(sys, r.figureOf(sys), r.unit)
	return figureText(v, ok, r.unit)
}

// figureText is a figure in its unit's usual scale, or "–" if there is none.
func figureText(v float64, ok bool, unit string) string {
	if !ok {
		return "–"
	}
	return format(v, unit)
}

// factorText is a speed factor as ×1.57, or "–" if there is none.
func factorText(f float64, ok bool) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf("×%.2f", f)
}

// markdown is the whole of docs/BENCHMARKS.md.
func (s *session) markdown(cmdline string, workloads []string, svg string) string {
	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Generated by `bench/cmd/runall`; do not edit by hand. The workloads W1–W8 and the distribution\n")
	b.WriteString("workloads W9–W13, their units, the peers and the targets are those of the project's BENCHMARKS.md\n")
	b.WriteString("specification; each program runs one workload in a fresh process and prints\n")
	b.WriteString("`RESULT <system> <figure> <value> <unit>`.\n\n")
	if s.quick {
		b.WriteString("> **Quick run (`QUICK=1`): every N was divided by 10.** These figures only show that the\n")
		b.WriteString("> suite works; they are not comparable with the targets or with full runs.\n\n")
	}
	b.WriteString("## Reproduce\n\nFrom the repository root:\n\n```sh\n" + cmdline + "\n```\n\n")
	b.WriteString("It builds `bench/cmd/spawned`, `bench/dist/cmd/spawned` (W9–W13, a module of its own) and the peer\n")
	b.WriteString("programs in `bench/peers` (a separate module), runs `bench/beam/run.sh` for BEAM, runs every system ×\n")
	b.WriteString("workload " + s.runsText() + " times, interleaved, each in a fresh process, and reports the median. One program\n")
	b.WriteString("alone: `go run ./bench/cmd/spawned W2`.\n")
	if s.handOffRuns > s.runs || s.restartRuns > s.handOffRuns {
		b.WriteString("The hand-off workloads " + andList(handOffWorkloads) + " are short, and their figures, plain Go's as much as spawned's,\n")
		b.WriteString("move by tens of percent from one run to the next on a shared virtual machine (a restart that waits\n")
		b.WriteString("for the other vCPU to wake adds tens of microseconds to it), so they run more often: the median of 3\n")
		b.WriteString("such runs can fall on either side of a ratio of 1 by chance (`-handoff-runs`). A run of W7 lasts about\n")
		b.WriteString("10 ms and its mean is set by the few restarts of the run that stall, so it runs most often\n")
		b.WriteString("(`-restart-runs`): on the 2-vCPU VM of 2026-12-06, 3 of 21 reports of 15 runs put spawned's W7\n")
		b.WriteString("above plain Go's when batches of 100 interleaved runs put it at ×0.86 to ×0.92.\n")
	}
	b.WriteString("\n")

	b.WriteString("## Machine\n\n")
	fmt.Fprintf(&b, "- date: %s (the whole run took %v)\n", s.start.UTC().Format("2006-01-02 15:04 MST"), s.elapsed.Round(time.Second))
	fmt.Fprintf(&b, "- CPU: %s; %d logical CPUs (nproc)\n", cpuModel(), runtime.NumCPU())
	fmt.Fprintf(&b, "- memory: %s\n", memTotal())
	if k := readTrim("/proc/sys/kernel/osrelease"); k != "" {
		fmt.Fprintf(&b, "- kernel: %s %s\n", runtime.GOOS, k)
	}
	fmt.Fprintf(&b, "- Go: %s\n", goVersion())
	if otp := otpVersion(); otp != "" {
		fmt.Fprintf(&b, "- Erlang/OTP: %s\n", otp)
	}
	if s.load != "" {
		fmt.Fprintf(&b, "- load average (1, 5, 15 min) when the run began: %s; when it ended: %s\n", loadText(s.load), loadText(s.loadEnd))
	}
	steal, stealOK := stealShare(s.cpuStart, s.cpuEnd)
	b.WriteString(probeText(s.probeStart, s.probeEnd, steal, stealOK && s.cpuOK))
	// Only the load before the first run tells of other work: the load at
	// the end includes the benchmarks' own.
	if busy := load1(s.load); busy > float64(runtime.NumCPU())/2 {
		fmt.Fprintf(&b, "\n> **The machine was busy** (1-minute load average %.1f on %d CPUs when the run began): other work\n", busy, runtime.NumCPU())
		b.WriteString("> competed with the benchmarks, so the figures are slower and noisier than on an idle machine.\n")
	}
	b.WriteString(s.handOffText())
	if anyLocal(workloads) {
		b.WriteString("\n## Results\n\n")
		fmt.Fprintf(&b, "Median of %s runs. Ratios are spawned's figure divided by the peer's: for times and bytes\n", s.runsText())
		b.WriteString("below 1 is better, for msgs/s above 1 is better; the word says which. n/a: the system has no\n")
		b.WriteString("such feature (the program printed SKIP); not run: its program is missing or did not build.\n")
		if slices.Contains(workloads, "W2") {
			b.WriteString("The row *W2 call, genserver.WithDirectCalls* is spawned's W2 against a server started with that\n")
			b.WriteString("option, whose HandleCall runs on the caller's goroutine while the server is idle (for servers whose\n")
			b.WriteString("callbacks never block); the other systems' cells there repeat their W2.\n")
		}
		b.WriteString("\n" + s.table(workloads))
		if svg != "" {
			fmt.Fprintf(&b, "\n![bar chart of the medians](%s)\n", svg)
		}
		b.WriteString("\n" + s.speedSection(workloads))
	}
	if anyDist(workloads) {
		b.WriteString("\n" + s.distSection(workloads))
	}

	var notRun []string
	for _, sys := range s.systems {
		if sys.cmd == nil {
			notRun = append(notRun, fmt.Sprintf("- %s: %s", sys.name, sys.why))
		}
	}
	for _, sys := range s.dist {
		if sys.cmd == nil {
			notRun = append(notRun, fmt.Sprintf("- %s (W9–W13): %s", sys.name, sys.why))
		}
	}
	skips := make([]string, 0, len(s.skips))
	for line := range s.skips {
		skips = append(skips, "- "+line)
	}
	slices.Sort(skips)
	if len(notRun)+len(skips)+len(s.notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, l := range notRun {
			b.WriteString(l + "\n")
		}
		for _, l := range skips {
			b.WriteString(l + "\n")
		}
		for _, l := range s.notes {
			b.WriteString("- " + l + "\n")
		}
	}

	b.WriteString("\n## Every run\n\n| system | workload | unit | runs |\n|---|---|---|---|\n")
	keys := make([]key, 0, len(s.values))
	for k := range s.values {
		keys = append(keys, k)
	}
	order := map[string]int{}
	for _, sys := range slices.Concat(s.systems, s.dist) {
		if _, ok := order[sys.name]; !ok {
			order[sys.name] = len(order)
		}
	}
	slices.SortFunc(keys, func(a, c key) int {
		if d := compareFigures(a.workload, c.workload); d != 0 {
			return d
		}
		if order[a.system] != order[c.system] {
			return order[a.system] - order[c.system]
		}
		return strings.Compare(a.unit, c.unit)
	})
	for _, k := range keys {
		var vs []string
		for _, v := range s.values[k] {
			vs = append(vs, strconv.FormatFloat(v, 'f', -1, 64))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", k.system, k.workload, k.unit, strings.Join(vs, ", "))
	}
	return b.String()
}

// compareFigures orders figures by workload number, then by name: W2
// before W9p50 before W9p50pinned before W10s16.
func compareFigures(a, b string) int {
	na, ra := splitFigure(a)
	nb, rb := splitFigure(b)
	if na != nb {
		return na - nb
	}
	return strings.Compare(ra, rb)
}

// splitFigure splits a figure name into its workload's number and the rest.
func splitFigure(f string) (int, string) {
	digits := strings.TrimPrefix(f, "W")
	i := 0
	for i < len(digits) && digits[i] >= '0' && digits[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(digits[:i])
	if err != nil || !strings.HasPrefix(f, "W") {
		return 1 << 30, f
	}
	return n, digits[i:]
}

// ---------------------------------------------------------------------------
// The chart: one panel per row, a bar per system scaled to the row's
// largest figure, and the target as a dashed line.

var colours = map[string]string{
	"spawned":    "#2b6cb0",
	"plaingo":    "#718096",
	"protoactor": "#d69e2e",
	"suture":     "#805ad5",
	"beam":       "#c53030",
}

func (s *session) chart(workloads []string) string {
	const (
		width   = 820
		labelW  = 110
		valueW  = 170
		barH    = 16
		gap     = 4
		headH   = 22
		panelSp = 14
	)
	barMax := float64(width - labelW - valueW - 20)
	var body strings.Builder
	y := 54
	for _, r := range rows {
		if !slices.Contains(workloads, r.workload) {
			continue
		}
		type bar struct {
			sys *system
			v   float64
		}
		var bars []bar
		top := r.target
		for _, sys := range s.systems {
			if v, ok := s.median(sys.name, r.figureOf(sys.name), r.unit); ok {
				bars = append(bars, bar{sys, v})
				top = max(top, v)
			}
		}
		dir := "lower is better"
		if r.higherBetter {
			dir = "higher is better"
		}
		fmt.Fprintf(&body, `<text x="10" y="%d" font-weight="bold">%s %s</text><text x="%d" y="%d" fill="#555">%s, %s; target %s</text>`+"\n",
			y+14, r.workload, r.name, 10+labelW, y+14, esc(displayUnit(r.unit)), dir, esc(r.targetText))
		y += headH
		if len(bars) == 0 {
			fmt.Fprintf(&body, `<text x="%d" y="%d" fill="#999">no figures</text>`+"\n", 10+labelW, y+12)
			y += barH + gap
		}
		panelTop := y
		for _, bb := range bars {
			w := bb.v / top * barMax
			col := colours[bb.sys.name]
			if col == "" {
				col = "#4a5568"
			}
			fmt.Fprintf(&body, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW, y+12, esc(bb.sys.title))
			fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelW+8, y, w, barH, col)
			fmt.Fprintf(&body, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(labelW+12)+w, y+12, esc(format(bb.v, r.unit)))
			y += barH + gap
		}
		if len(bars) > 0 {
			tx := float64(labelW+8) + r.target/top*barMax
			fmt.Fprintf(&body, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#2f855a" stroke-width="1.5" stroke-dasharray="4 3"/>`+"\n",
				tx, panelTop-3, tx, y-gap+3)
		}
		y += panelSp
	}
	title := "spawned-go benchmarks: median of " + s.runsText() + " runs, " + s.start.UTC().Format("2006-01-02")
	subs := []string{"bar length relative to the largest figure of its workload; dashed line: the target"}
	if s.quick {
		subs = append(subs, "QUICK=1 smoke run (every N divided by 10): not comparable with the targets")
	}
	var b strings.Builder
	height := y + 10 + 16*(len(subs)-1)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", esc(title))
	for i, sub := range subs {
		fmt.Fprintf(&b, `<text x="10" y="%d" fill="#555">%s</text>`+"\n", 40+16*i, esc(sub))
	}
	fmt.Fprintf(&b, `<g transform="translate(0 %d)">`+"\n", 16*(len(subs)-1))
	b.WriteString(body.String())
	b.WriteString("</g>\n</svg>\n")
	return b.String()
}

// displayUnit is a RESULT unit as a reader writes it.
func displayUnit(u string) string {
	return strings.Replace(u, "us/", "µs/", 1)
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// ---------------------------------------------------------------------------
// The machine.

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 && fs[0] == "MemTotal:" {
			if kb, err := strconv.ParseFloat(fs[1], 64); err == nil {
				return fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return "unknown"
}

func goVersion() string {
	out, err := exec.Command("go", "version").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "go version ")
}

// otpVersion asks erl for its release, if erl is installed.
func otpVersion() string {
	if _, err := exec.LookPath("erl"); err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "erl", "-noshell", "-eval",
		`io:format("~s (erts ~s)", [erlang:system_info(otp_release), erlang:system_info(version)]), halt().`).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// ---------------------------------------------------------------------------
// Helpers.

// repoRoot finds the main module's root from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			if strings.TrimSpace(first) == "module "+modulePath {
				return dir, nil
			}
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("run this inside the " + modulePath + " repository")
		}
		dir = up
	}
}

// fromRoot returns p as a path from the repository root when it is
// relative, and p itself when it is absolute.
func fromRoot(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

// rel returns p relative to root, with slashes, or p when it has no such
// form.
func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return filepath.ToSlash(r)
	}
	return p
}

// shellQuote quotes an argument for a POSIX shell when it needs it.
func shellQuote(a string) string {
	if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=,./:+") == "" {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// loadText is the three load averages of a /proc/loadavg line.
func loadText(line string) string {
	f := strings.Fields(line)
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// load1 is the 1-minute load average of a /proc/loadavg line.
func load1(line string) float64 {
	f := strings.Fields(line)
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "runall: "+format+"\n", args...)
}

func fatalf(format string, args ...any) {
	logf(format, args...)
	os.Exit(1)
}
