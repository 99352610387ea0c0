package benchutil

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The distribution workloads W9..W13 run between OS processes of one
// program: the process that measures (node A) starts the others (its peers)
// by running its own executable again with peerEnv set. W9 and W10 are
// measured in two placements: unpinned, and with A and its peers pinned to
// CPU 0 (taskset -c 0), whose figures carry the suffix "pinned".

const (
	// peerEnv marks a process started as a peer; its value is the role.
	peerEnv = "BENCH_DIST_PEER"
	// placementEnv marks the measuring process of one placement.
	placementEnv = "BENCH_DIST_PLACEMENT"
)

// DistWorkloads are the distribution workloads, in order.
var DistWorkloads = []string{"W9", "W10", "W11", "W12", "W13"}

// IsDist reports whether w (W9..W13, any case) is a distribution workload.
func IsDist(w string) bool { return slices.Contains(DistWorkloads, strings.ToUpper(w)) }

// placed reports whether a workload is measured in both placements.
func placed(w string) bool { return w == "W9" || w == "W10" }

// Placement tells where the measuring process and its peers run.
type Placement string

// The placements.
const (
	Unpinned Placement = "unpinned"
	Pinned   Placement = "pinned" // every process on CPU 0
)

// Figure names a figure of this placement: W9p50 unpinned, W9p50pinned
// pinned.
func (p Placement) Figure(name string) string {
	if p == Pinned {
		return name + "pinned"
	}
	return name
}

// PeerRole returns the role this process was started in by StartPeer, if
// it is a peer.
func PeerRole() (string, bool) {
	r := os.Getenv(peerEnv)
	return r, r != ""
}

// DistMain runs the distribution workload named by the first argument from
// table. Called plainly, a placed workload (W9, W10) runs this program again
// twice, unpinned and then under taskset -c 0, each run printing its own
// figures; the others run here, unpinned. A workload missing from table is
// skipped with reason(workload).
func DistMain(system string, table map[string]func(Placement), reason func(w string) string) {
	if len(os.Args) != 2 {
		Note("usage: %s W9..W13 (QUICK=1 divides every N by 10)", os.Args[0])
		os.Exit(2)
	}
	w := strings.ToUpper(os.Args[1])
	f, ok := table[w]
	switch {
	case !IsDist(w):
		Note("unknown workload %q (want W9..W13)", w)
		os.Exit(2)
	case !ok:
		Skip(system, w, reason(w))
		return
	}
	if p := Placement(os.Getenv(placementEnv)); p != "" {
		f(p)
		return
	}
	if !placed(w) {
		f(Unpinned)
		return
	}
	for _, p := range []Placement{Unpinned, Pinned} {
		if err := runPlaced(w, p); err != nil {
			Fatal(system, w, "%s run: %v", p, err)
		}
	}
}

// runPlaced runs this program for workload w in placement p, its output
// passed through.
func runPlaced(w string, p Placement) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{self, w}
	if p == Pinned {
		ts, err := exec.LookPath("taskset")
		if err != nil {
			return fmt.Errorf("taskset (util-linux) is needed to pin the processes: %w", err)
		}
		args = append([]string{ts, "-c", "0"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), placementEnv+"="+string(p))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	dieWithParent(cmd)
	return cmd.Run()
}

// Peer is a process of this program started by StartPeer. It exits when
// its standard input closes: on Stop, or when the process that started it
// dies.
type Peer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	exited chan struct{}
	err    error // how it exited, once exited is closed
}

// StartPeer runs this program again as a peer in role, with args, and
// returns once it has started; its standard error is this process's.
func StartPeer(role string, args ...string) (*Peer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), peerEnv+"="+role)
	cmd.Stderr = os.Stderr
	dieWithParent(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start peer %s: %w", role, err)
	}
	p := &Peer{cmd: cmd, stdin: stdin, lines: make(chan string, 16), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the peer's OS process id.
func (p *Peer) Pid() int { return p.cmd.Process.Pid }

// Line returns the peer's next line of standard output.
func (p *Peer) Line(timeout time.Duration) (string, error) {
	select {
	case l, ok := <-p.lines:
		if !ok {
			<-p.exited
			return "", fmt.Errorf("peer %d exited: %v", p.Pid(), p.err)
		}
		return l, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("peer %d said nothing for %v", p.Pid(), timeout)
	}
}

// Kill sends SIGKILL to the peer's OS process and returns the time taken
// just before the signal.
func (p *Peer) Kill() (time.Time, error) {
	t := time.Now()
	err := syscall.Kill(p.Pid(), syscall.SIGKILL)
	return t, err
}

// Stop closes the peer's standard input and waits until it has exited; a
// peer that does not exit within 10 s is killed. A killed peer is reaped.
func (p *Peer) Stop() error {
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		syscall.Kill(p.Pid(), syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("peer %d did not exit; killed", p.Pid())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL {
		return nil // killed on purpose
	}
	return p.err
}

// Ready is what a peer prints once it serves, with any words after it.
const Ready = "READY"

// PeerReady tells the process that started this peer that it serves,
// passing fields (an address) along.
func PeerReady(fields ...string) {
	fmt.Println(strings.Join(append([]string{Ready}, fields...), " "))
}

// PeerWait blocks until the peer's standard input closes: the measuring
// process stopped it or died.
func PeerWait() {
	io.Copy(io.Discard, os.Stdin)
}

// ReadyFields waits for the peer's Ready line and returns the fields after
// it.
func (p *Peer) ReadyFields(timeout time.Duration) ([]string, error) {
	l, err := p.Line(timeout)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(l)
	if len(f) == 0 || f[0] != Ready {
		return nil, fmt.Errorf("peer %d said %q, want %s", p.Pid(), l, Ready)
	}
	return f[1:], nil
}

// Percentile is the nearest-rank percentile q (0 < q <= 100) of sorted.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(float64(len(sorted))*q/100)) - 1
	return sorted[max(0, min(len(sorted)-1, k))]
}

// Median is the median of vs (0 for none).
func Median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Reps is the number of repetitions of a workload that kills a peer: 20,
// or 5 under QUICK=1.
func Reps() int {
	if Quick() {
		return 5
	}
	return 20
}

// Millis is d in milliseconds.
func Millis(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// Floats prints figures with two decimals, for NOTE lines.
func Floats(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf("%.2f", v)
	}
	return strings.Join(s, " ")
}
