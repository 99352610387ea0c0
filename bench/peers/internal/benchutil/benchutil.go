// Package benchutil holds what the peer benchmark programs share: the
// workload sizes from BENCHMARKS.md (divided by 10 under QUICK=1), the
// RESULT line format, SKIP notes and memory probes.
package benchutil

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Quick reports whether QUICK=1 is set (smoke runs: every N divided by 10).
func Quick() bool { return os.Getenv("QUICK") == "1" }

// N returns n, or n/10 under QUICK=1.
func N(n int) int {
	if Quick() {
		return n / 10
	}
	return n
}

// Result prints one RESULT line to stdout.
func Result(system, workload string, value float64, unit string) {
	prec := 1
	switch unit {
	case "msgs/s", "bytes/proc":
		prec = 0
	case "ms":
		prec = 2
	}
	fmt.Printf("RESULT %s %s %s %s\n", system, workload, strconv.FormatFloat(value, 'f', prec, 64), unit)
}

// Note prints a diagnostic line to stderr.
func Note(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// Skip notes on stderr that a system lacks a workload.
func Skip(system, workload, reason string) {
	Note("SKIP %s %s: %s", system, workload, reason)
}

// Fatal reports a failed run and exits 1.
func Fatal(system, workload string, format string, args ...any) {
	Note("FAIL %s %s: %s", system, workload, fmt.Sprintf(format, args...))
	os.Exit(1)
}

// PerOp returns d in ns divided by ops.
func PerOp(d time.Duration, ops int) float64 { return float64(d.Nanoseconds()) / float64(ops) }

// Rate returns ops per second.
func Rate(d time.Duration, ops int) float64 { return float64(ops) / d.Seconds() }

// RSS returns the resident set size of this process in bytes, from /proc/self/statm.
func RSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// Settle runs the GC twice and returns the Go heap in use, in bytes.
func Settle() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// Release runs the GC and returns freed memory to the OS, so an RSS baseline
// taken after it does not count garbage from earlier work.
func Release() { debug.FreeOSMemory() }

// Main runs the workload named by the first argument from table. A workload
// missing from table is skipped with reason(workload); an unknown id fails.
func Main(system string, table map[string]func(), reason func(w string) string) {
	if len(os.Args) != 2 {
		Note("usage: %s W1..W8 (QUICK=1 divides every N by 10)", os.Args[0])
		os.Exit(2)
	}
	w := strings.ToUpper(os.Args[1])
	if f, ok := table[w]; ok {
		f()
		return
	}
	switch w {
	case "W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "W10", "W11", "W12", "W13":
		Skip(system, w, reason(w))
		return
	}
	ids := make([]string, 0, len(table))
	for id := range table {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	Note("unknown workload %q (want W1..W13; %s has %v)", w, system, ids)
	os.Exit(2)
}

// Spread describes how long each of a workload's repetitions took: the
// median, the 99th percentile and the slowest, and how many took over a
// millisecond (a thread's time off the CPU, an operating system tick,
// shows as such an outlier and sets the mean of a short run).
func Spread(each []time.Duration) string {
	if len(each) == 0 {
		return "no restart"
	}
	s := slices.Clone(each)
	slices.Sort(s)
	slow := len(s) - sort.Search(len(s), func(i int) bool { return s[i] > time.Millisecond })
	return fmt.Sprintf("restarts: median %v, 99th percentile %v, slowest %v; %d of %d over 1 ms",
		s[len(s)/2].Round(100*time.Nanosecond), s[len(s)*99/100].Round(100*time.Nanosecond),
		s[len(s)-1].Round(time.Microsecond), slow, len(s))
}
