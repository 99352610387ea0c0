// Command spawned runs one of the distribution workloads W9–W13 of
// BENCHMARKS.md on spawned-go's cluster package, between nodes in separate
// OS processes over 127.0.0.1, and prints the figures as
//
//	RESULT spawned <figure> <value> <unit>
//
// on stdout (nothing else goes to stdout; notes go to stderr):
//
//	go run ./cmd/spawned W9    # W9p50 W9p99, then W9p50pinned W9p99pinned (us/call)
//	go run ./cmd/spawned W10   # W10s16 W10s256 W10s4096, then the same with pinned (msgs/s)
//	go run ./cmd/spawned W11   # W11 (ms)
//	QUICK=1 go run ./cmd/spawned W9   # every N divided by 10; W11 kills 5 nodes, not 20
//
// Each placement runs in a fresh measuring process (node A), which embeds
// the NATS server and starts the peer node B as another OS process of this
// executable: left to the scheduler, then with both pinned to CPU 0
// (taskset -c 0, which B inherits). B exits when A closes its standard
// input, or dies.
//
//	go run ./cmd/spawned W12   # W12 (ns/lookup): 10,000 global names from A, B and C; 2 goroutines on A look up 2,000,000
//	go run ./cmd/spawned W13   # W13 (ms): B's owner of a global name killed -9; until A has registered it; median of 20
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/cluster/embedded"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
)

const system = "spawned"

// The roles of this executable's processes, chosen by roleEnv.
const (
	roleEnv   = "SPAWNED_DIST_ROLE"
	urlEnv    = "SPAWNED_DIST_URL"
	userEnv   = "SPAWNED_DIST_USER"
	passEnv   = "SPAWNED_DIST_PASSWORD"
	suffixEnv = "SPAWNED_DIST_SUFFIX"
	namesEnv  = "SPAWNED_DIST_NAMES" // a peer registers global names: "<prefix>:<from>:<to>"
)

var quick = os.Getenv("QUICK") == "1"

func n(full int) int {
	if quick {
		return full / 10
	}
	return full
}

func main() {
	if prefix := os.Getenv("SPAWNED_DIST_CPUPROFILE"); prefix != "" && os.Getenv(roleEnv) != "" {
		// A CPU profile per process: <prefix>.<role>.<pid>.
		f, err := os.Create(fmt.Sprintf("%s.%s.%d", prefix, os.Getenv(roleEnv), os.Getpid()))
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	switch os.Getenv(roleEnv) {
	case "peer":
		if code := peer(); code != 0 {
			os.Exit(code)
		}
		return
	case "measure":
		if len(os.Args) != 2 {
			os.Exit(2)
		}
		if err := measure(strings.ToUpper(os.Args[1]), os.Getenv(suffixEnv)); err != nil {
			fmt.Fprintf(os.Stderr, "spawned %s: %v\n", os.Args[1], err)
			pprof.StopCPUProfile()
			os.Exit(1)
		}
		return
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: spawned W9|W10|W11|W12|W13   (QUICK=1 divides every N by 10)")
		os.Exit(2)
	}
	w := strings.ToUpper(os.Args[1])
	switch w {
	case "W9", "W10":
		for _, placement := range []string{"", "pinned"} {
			if err := runPlacement(w, placement); err != nil {
				fmt.Fprintf(os.Stderr, "spawned %s %s: %v\n", w, placement, err)
				os.Exit(1)
			}
		}
	case "W11", "W12", "W13":
		if err := runPlacement(w, ""); err != nil {
			fmt.Fprintf(os.Stderr, "spawned %s: %v\n", w, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "spawned: unknown workload %q (want W9..W13)\n", os.Args[1])
		os.Exit(2)
	}
}

// runPlacement runs workload w in a fresh measuring process, pinned to CPU
// 0 when placement is "pinned"; its RESULT lines go to stdout.
func runPlacement(w, placement string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{self, w}
	if placement == "pinned" {
		ts, err := exec.LookPath("taskset")
		if err != nil {
			fmt.Fprintf(os.Stderr, "SKIP %s %s pinned: taskset (util-linux) not found, needed to pin the nodes\n", system, w)
			return nil
		}
		args = append([]string{ts, "-c", "0"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), roleEnv+"=measure", suffixEnv+"="+placement)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// result prints one RESULT line.
func result(figure string, value float64, unit string) {
	prec := 1
	switch unit {
	case "msgs/s":
		prec = 0
	case "ms":
		prec = 2
	}
	fmt.Printf("RESULT %s %s %s %s\n", system, figure, strconv.FormatFloat(value, 'f', prec, 64), unit)
}

func note(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "NOTE "+system+" "+format+"\n", args...)
}

// Messages. A cast carries its payload as bytes; a call carries a number.
type (
	// count asks the server how many casts it has handled.
	count struct{}
)

func init() {
	cluster.MustRegister[count]("bench.count")
}

// server answers calls with their argument (W9) or with the casts handled
// (W10), and counts casts.
type server struct{ casts int }

func (s *server) HandleCall(_ *genserver.CallCtx[int], req any) (int, error) {
	if _, ok := req.(count); ok {
		return s.casts, nil
	}
	return req.(int), nil
}

func (s *server) HandleCast(_ *genserver.Ctx, _ []byte) { s.casts++ }

// peer is node B: it joins, starts the server "bench", says READY and
// lives until its standard input closes.
func peer() int {
	node := process.NewNode(process.WithLogger(nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := cluster.Join(ctx, node, cluster.Config{
		Cluster: "bench", Name: "b-" + strconv.Itoa(os.Getpid()), URL: os.Getenv(urlEnv),
		User: os.Getenv(userEnv), Password: os.Getenv(passEnv), Logger: zap.NewNop(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer: join:", err)
		return 1
	}
	srv, err := genserver.Start(ctx, node, &server{}, genserver.WithName("bench"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer: start:", err)
		return 1
	}
	if spec := os.Getenv(namesEnv); spec != "" {
		if err := registerNames(ctx, node, c, spec); err != nil {
			fmt.Fprintln(os.Stderr, "peer: global names:", err)
			return 1
		}
	}
	fmt.Printf("READY %s %s\n", node.ID(), srv.Pid())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = c.Leave(context.Background())
	_ = node.Stop(context.Background())
	return 0
}

// peerProc is node B as seen from A.
type peerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	node  pid.NodeID
	srv   pid.Pid
	done  chan struct{}
}

// registerNames registers the global names <prefix><i>, from <= i < to,
// each for an idle process of node; spec is "<prefix>:<from>:<to>".
func registerNames(ctx context.Context, node *process.Node, c *cluster.Cluster, spec string) error {
	f := strings.Split(spec, ":")
	if len(f) != 3 {
		return fmt.Errorf("bad spec %q", spec)
	}
	from, err1 := strconv.Atoi(f[1])
	to, err2 := strconv.Atoi(f[2])
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	for i := from; i < to; i++ {
		p, err := node.Spawn(func(p *process.Process) error { <-p.Context().Done(); return nil })
		if err != nil {
			return err
		}
		if err := c.Names().Register(ctx, f[0]+strconv.Itoa(i), p); err != nil {
			return err
		}
	}
	return nil
}

// startPeer starts node B and waits until A's cluster reaches it.
func startPeer(s *embedded.Server, ca *cluster.Cluster, env ...string) (*peerProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	user, password := s.Credentials()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), roleEnv+"=peer", urlEnv+"="+s.ClientURL(), userEnv+"="+user, passEnv+"="+password)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &peerProc{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- rest
			}
		}
	}()
	select {
	case line := <-ready:
		f := strings.Fields(line)
		if len(f) != 2 {
			p.kill()
			return nil, fmt.Errorf("peer said %q", line)
		}
		if p.node, err = pid.ParseNodeID(f[0]); err == nil {
			p.srv, err = pid.Parse(f[1])
		}
		if err != nil {
			p.kill()
			return nil, err
		}
	case <-p.done:
		return nil, errors.New("the peer exited before it was ready")
	case <-time.After(5 * time.Minute):
		p.kill()
		return nil, errors.New("the peer was not ready in time")
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if _, ok := ca.Node(p.node); ok {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, errors.New("the peer did not come up")
		}
	}
}

// stop ends the peer politely.
func (p *peerProc) stop() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

// kill ends the peer with SIGKILL.
func (p *peerProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// measure is node A: the embedded server, the node, its peer, and the
// workload.
func measure(w, suffix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var opts []embedded.Option
	if w != "W12" && w != "W13" {
		opts = append(opts, embedded.WithoutJetStream())
	}
	s, err := embedded.Start(ctx, opts...)
	if err != nil {
		return err
	}
	defer s.Shutdown(context.Background())
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())
	user, password := s.Credentials()
	ca, err := cluster.Join(ctx, node, cluster.Config{
		Cluster: "bench", Name: "a", URL: s.ClientURL(), User: user, Password: password, Logger: zap.NewNop(),
	})
	if err != nil {
		return err
	}
	defer ca.Leave(context.Background())
	switch w {
	case "W9":
		return w9(ctx, node, s, ca, suffix)
	case "W10":
		return w10(ctx, node, s, ca, suffix)
	case "W11":
		return w11(node, s, ca)
	case "W12":
		return w12(ctx, node, s, ca)
	case "W13":
		return w13(ctx, node, s, ca)
	}
	return fmt.Errorf("unknown workload %s", w)
}

// w9: one client on A calls the server on B, one call at a time.
func w9(ctx context.Context, node *process.Node, s *embedded.Server, ca *cluster.Cluster, suffix string) error {
	b, err := startPeer(s, ca)
	if err != nil {
		return err
	}
	defer b.stop()
	ref := genserver.At[any, int, []byte](node, b.srv)
	for i := range n(1000) + 1000 {
		if _, err := ref.Call(ctx, i); err != nil {
			return fmt.Errorf("warm-up call: %w", err)
		}
	}
	calls := n(100_000)
	lat := make([]time.Duration, calls)
	for i := range lat {
		start := time.Now()
		rep, err := ref.Call(ctx, i)
		lat[i] = time.Since(start)
		if err != nil || rep != i {
			return fmt.Errorf("call %d: %v, %v", i, rep, err)
		}
	}
	slices.Sort(lat)
	rank := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))+0.5)-1)] }
	result("W9p50"+suffix, float64(rank(0.50).Nanoseconds())/1e3, "us/call")
	result("W9p99"+suffix, float64(rank(0.99).Nanoseconds())/1e3, "us/call")
	return nil
}

// w10: one sender on A casts messages of 16, 256 and 4096 bytes to the
// server on B; the clock stops when a call returns the count.
func w10(ctx context.Context, node *process.Node, s *embedded.Server, ca *cluster.Cluster, suffix string) error {
	for _, size := range []struct {
		bytes, count int
	}{{16, 1_000_000}, {256, 200_000}, {4096, 50_000}} {
		b, err := startPeer(s, ca)
		if err != nil {
			return err
		}
		ref := genserver.At[any, int, []byte](node, b.srv)
		payload := make([]byte, size.bytes)
		total := n(size.count)
		var busy atomic.Int64
		start := time.Now()
		for i := 0; i < total; {
			err := ref.Cast(payload)
			if errors.Is(err, cluster.ErrPeerBusy) {
				busy.Add(1)
				if err := ca.WaitRoom(ctx, b.node); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("cast: %w", err)
			}
			i++
		}
		got, err := ref.Call(ctx, count{})
		elapsed := time.Since(start)
		b.stop()
		if err != nil {
			return fmt.Errorf("final call: %w", err)
		}
		if got != total {
			return fmt.Errorf("the server handled %d casts of %d", got, total)
		}
		result(fmt.Sprintf("W10s%d%s", size.bytes, suffix), float64(total)/elapsed.Seconds(), "msgs/s")
		note("W10s%d%s: %d waits for the flow-control window", size.bytes, suffix, busy.Load())
	}
	return nil
}

// w11: a process on A monitors a process on B; B gets SIGKILL; the time
// from just before the kill until the Down at A; median of 20 fresh B's.
func w11(node *process.Node, s *embedded.Server, ca *cluster.Cluster) error {
	reps := 20
	if quick {
		reps = 5
	}
	var took []time.Duration
	for range reps {
		b, err := startPeer(s, ca)
		if err != nil {
			return err
		}
		down := make(chan link.Down, 1)
		ready := make(chan error, 1)
		_, err = node.Spawn(func(p *process.Process) error {
			_, err := link.Monitor(p, b.srv)
			ready <- err
			m, err := p.Receive(p.Context())
			if err == nil {
				down <- m.(link.Down)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := <-ready; err != nil {
			return err
		}
		// A call answered: the monitor, sent before it, is in place.
		if _, err := genserver.At[any, int, []byte](node, b.srv).Call(context.Background(), 0); err != nil {
			return err
		}
		start := time.Now()
		_ = b.cmd.Process.Signal(syscall.SIGKILL)
		var d link.Down
		select {
		case d = <-down:
		case <-time.After(time.Minute):
			return errors.New("no Down within a minute")
		}
		took = append(took, time.Since(start))
		<-b.done
		if !errors.Is(d.Reason, process.NoConnection) {
			return fmt.Errorf("Down with %v, want NoConnection", d.Reason)
		}
	}
	slices.Sort(took)
	result("W11", float64(took[len(took)/2].Microseconds())/1e3, "ms")
	note("W11: %v", took)
	return nil
}

// w12: 10,000 global names registered from three nodes (A, and B and C
// in other OS processes); two goroutines on A each look up 1,000,000
// random names, drawn beforehand as in W8; wall time over the lookups.
func w12(ctx context.Context, node *process.Node, s *embedded.Server, ca *cluster.Cluster) error {
	const total = 10_000
	third := total / 3
	b, err := startPeer(s, ca, namesEnv+"=g:0:"+strconv.Itoa(third))
	if err != nil {
		return err
	}
	defer b.stop()
	c, err := startPeer(s, ca, namesEnv+"=g:"+strconv.Itoa(third)+":"+strconv.Itoa(2*third))
	if err != nil {
		return err
	}
	defer c.stop()
	if err := registerNames(ctx, node, ca, "g:"+strconv.Itoa(2*third)+":"+strconv.Itoa(total)); err != nil {
		return err
	}
	// Every name is in A's cache before the clock starts (the watch has
	// brought B's and C's; a miss would be looked up in the store).
	keys := make([]string, total)
	for i := range keys {
		keys[i] = "g" + strconv.Itoa(i)
		if _, ok := ca.Names().WhereIs(keys[i]); !ok {
			return fmt.Errorf("global name %s not found", keys[i])
		}
	}
	// As W8: the random index sequences are drawn before the clock starts,
	// so the RNG is not measured, and the goroutines start together.
	per := n(1_000_000)
	const goroutines = 2
	seqs := make([][]uint16, goroutines)
	for g := range seqs {
		rng := rand.New(rand.NewPCG(uint64(g)+1, 12))
		seqs[g] = make([]uint16, per)
		for i := range seqs[g] {
			seqs[g][i] = uint16(rng.IntN(total))
		}
	}
	names := ca.Names()
	var ready, done sync.WaitGroup
	var missed atomic.Int64
	begin := make(chan struct{})
	for g := range goroutines {
		ready.Add(1)
		done.Add(1)
		go func(seq []uint16) {
			defer done.Done()
			ready.Done()
			<-begin
			miss := 0
			for _, k := range seq {
				if _, ok := names.WhereIs(keys[k]); !ok {
					miss++
				}
			}
			missed.Add(int64(miss))
		}(seqs[g])
	}
	ready.Wait()
	start := time.Now()
	close(begin)
	done.Wait()
	elapsed := time.Since(start)
	if missed.Load() != 0 {
		return fmt.Errorf("%d lookups missed", missed.Load())
	}
	result("W12", float64(elapsed.Nanoseconds())/float64(goroutines*per), "ns/lookup")
	return nil
}

// w13: B owns a global name and is killed -9; the time from just before
// the kill until a process on A has registered the same name; median of
// 20 fresh B's.
func w13(ctx context.Context, node *process.Node, s *embedded.Server, ca *cluster.Cluster) error {
	reps := 20
	if quick {
		reps = 5
	}
	var took []time.Duration
	for i := range reps {
		name := "w13-" + strconv.Itoa(i)
		b, err := startPeer(s, ca, namesEnv+"="+name+":0:1")
		if err != nil {
			return err
		}
		owner, ok := ca.Names().WhereIs(name + "0")
		if !ok || owner.Node() != b.node {
			b.kill()
			return fmt.Errorf("the name is not B's: %v %v", owner, ok)
		}
		q, err := node.Spawn(func(p *process.Process) error { <-p.Context().Done(); return nil })
		if err != nil {
			return err
		}
		start := time.Now()
		_ = b.cmd.Process.Signal(syscall.SIGKILL)
		tries := 0
		for {
			tries++
			err := ca.Names().Register(ctx, name+"0", q)
			if err == nil {
				break
			}
			if !errors.Is(err, registry.ErrNameTaken) {
				return err
			}
			if time.Since(start) > time.Minute {
				return errors.New("not registered within a minute")
			}
		}
		took = append(took, time.Since(start))
		<-b.done
		note("W13 round %d: %v, %d tries", i, took[len(took)-1], tries)
		_ = node.Exit(q, process.Kill)
	}
	slices.Sort(took)
	result("W13", float64(took[len(took)/2].Microseconds())/1e3, "ms")
	return nil
}
