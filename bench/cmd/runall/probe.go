package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The hand-offs that W2, W3 and W7 measure cost what the machine charges
// for a goroutine switch, for moving a cache line from one core to another
// and for a locked instruction. Those differ between machines of the same
// CPU model (a virtual machine's two vCPUs may share a cache or sit on two
// chiplets; a busy host steals time from its guests), so the report
// measures them beside the workloads: two runs on machines that differ
// there are not comparable figure by figure, only ratio by ratio.

// machineProbe is what the probe measured, in nanoseconds; 0 was not
// measured.
type machineProbe struct {
	// coreRoundTrip is the median round trip of a value between two OS
	// threads that spin on one cache line: twice the core-to-core latency.
	coreRoundTrip float64
	// lockedOp is the median cost of one atomic add on a cache line the
	// core owns: what every compare-and-swap, swap and lock costs at least.
	lockedOp float64
}

// Probe sizes: each sample is short, so that a probe takes well under a
// second, and the median of several samples is kept.
const (
	probeSamples    = 7
	probeRoundTrips = 20_000
	probeLockedOps  = 2_000_000
	// probeGiveUp bounds one sample of the round trip: with one CPU free,
	// or a partner thread descheduled, spinning makes no progress.
	probeGiveUp = 2 * time.Second
)

// probeMachine measures the machine as it is now.
func probeMachine() machineProbe {
	var p machineProbe
	if runtime.GOMAXPROCS(0) >= 2 && runtime.NumCPU() >= 2 {
		p.coreRoundTrip = medianOf(probeSamples, func() (float64, bool) {
			return coreRoundTrip(probeRoundTrips, probeGiveUp)
		})
	}
	p.lockedOp = medianOf(probeSamples, func() (float64, bool) {
		return lockedOp(probeLockedOps), true
	})
	return p
}

// medianOf returns the median of the n samples that sample took, or 0 if
// none did.
func medianOf(n int, sample func() (float64, bool)) float64 {
	var vs []float64
	for range n {
		if v, ok := sample(); ok {
			vs = append(vs, v)
		}
	}
	m, _ := median(vs)
	return m
}

// coreRoundTrip passes a counter back and forth n times between this
// goroutine and another, each locked to its own OS thread and spinning on
// the one word, and returns the nanoseconds per round trip. It reports
// false when giveUp passed first (the two threads did not run at once).
func coreRoundTrip(n int, giveUp time.Duration) (float64, bool) {
	var ball atomic.Uint64 // odd: the partner's turn; even: ours
	var quit atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for want := uint64(1); want < uint64(2*n); want += 2 {
			for spins := 0; ball.Load() != want; spins++ {
				if spins&1023 == 0 && quit.Load() {
					return
				}
			}
			ball.Store(want + 1)
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	deadline := start.Add(giveUp)
	ok := true
	for v := uint64(0); v < uint64(2*n) && ok; v += 2 {
		ball.Store(v + 1)
		for spins := 0; ball.Load() != v+2; spins++ {
			if spins&1023 == 0 && time.Now().After(deadline) {
				ok = false
				break
			}
		}
	}
	elapsed := time.Since(start)
	quit.Store(true)
	<-done
	return float64(elapsed.Nanoseconds()) / float64(n), ok
}

// lockedOp returns the nanoseconds of one atomic add, over n of them.
func lockedOp(n int) float64 {
	var word atomic.Uint64
	start := time.Now()
	for range n {
		word.Add(1)
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// cpuTimes is the machine's CPU time as /proc/stat counts it, in ticks:
// all of it, and what the hypervisor gave to others (steal).
type cpuTimes struct{ total, steal uint64 }

// readCPUTimes reads the first line of /proc/stat, and reports false where
// there is none.
func readCPUTimes() (cpuTimes, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseCPUTimes(line)
}

// parseCPUTimes parses the "cpu" line of /proc/stat: user nice system
// idle iowait irq softirq steal guest guest_nice. Guest time is already
// counted in user and nice, so it is not added again.
func parseCPUTimes(line string) (cpuTimes, bool) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}, false
	}
	var t cpuTimes
	for i, s := range f[1:9] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return cpuTimes{}, false
		}
		t.total += v
		if i == 7 {
			t.steal = v
		}
	}
	return t, true
}

// stealShare is the share of the CPU time between a and b that the
// hypervisor gave to other guests, and false when nothing was counted.
func stealShare(a, b cpuTimes) (float64, bool) {
	if b.total <= a.total || b.steal < a.steal {
		return 0, false
	}
	return float64(b.steal-a.steal) / float64(b.total-a.total), true
}

// probeText is the report's lines on the probes taken at the start and
// the end of the run, and on the time stolen meanwhile.
func probeText(start, end machineProbe, steal float64, stealOK bool) string {
	var b strings.Builder
	pair := func(a, z float64) string {
		return nsText(a) + " at the start, " + nsText(z) + " at the end"
	}
	fmt.Fprintf(&b, "- core-to-core round trip (two threads spinning on one cache line, median of %d): %s\n",
		probeSamples, pair(start.coreRoundTrip, end.coreRoundTrip))
	fmt.Fprintf(&b, "- one locked atomic add (median of %d): %s\n", probeSamples, pair(start.lockedOp, end.lockedOp))
	if stealOK {
		fmt.Fprintf(&b, "- CPU time stolen by the hypervisor during the run: %.1f%%\n", 100*steal)
	}
	return b.String()
}

// handOffText is the report's paragraph on what the probes mean for the
// hand-off workloads, with the figures of this run.
func (s *session) handOffText() string {
	rt := s.probeStart.coreRoundTrip
	if rt == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nW2, W3 and W7 hand work from one goroutine to another, so what they cost is mostly what the\n")
	b.WriteString("machine charges for a goroutine switch, a locked instruction and a cache line moved between two\n")
	b.WriteString("cores, and machines of one CPU model differ there (a virtual machine's vCPUs may share a cache or\n")
	b.WriteString("not, and a busy host steals time). Plain Go's channels hand a message to another processor when\n")
	b.WriteString("the Go scheduler runs the two goroutines on two; spawned keeps a woken process on its waker's\n")
	b.WriteString("processor where it can. So compare runs on different machines by their ratios, with these probes\n")
	fmt.Fprintf(&b, "beside them.\nOn this machine a round trip between two cores took %s ns", format(rt, "ns"))
	if w2, ok := s.median("plaingo", "W2", "ns/call"); ok {
		fmt.Fprintf(&b, ", against %s ns for a whole W2 call of plain Go", format(w2, "ns/call"))
	}
	b.WriteString(".\n")
	return b.String()
}

// text is the probe on its own, for runall -probe.
func (p machineProbe) text() string {
	return fmt.Sprintf("core-to-core round trip: %s; one locked atomic add: %s (medians of %d)\n",
		nsText(p.coreRoundTrip), nsText(p.lockedOp), probeSamples)
}

// nsText prints nanoseconds, or that they were not measured.
func nsText(ns float64) string {
	if ns == 0 {
		return "not measured"
	}
	return format(ns, "ns") + " ns"
}
