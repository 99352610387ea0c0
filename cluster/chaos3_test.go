package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster/embedded"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/spawntest"
)

// Chaos across three nodes that are OS processes, under call load: nodes
// killed with SIGKILL and NATS servers shut down at random, then started
// again; after each round a model checks that every node sees the same
// global names and groups, that they are exactly those of the live
// servers, and that no name of a lost node is left. The nodes are
// children of the test (chaos3_child_test.go), driven through their
// standard input and output. SPAWNED_CHAOS_LONG=1 runs many rounds;
// SPAWNED_CHAOS_SEED fixes the random choices.

// chaos3Nodes names the three nodes; a restarted node keeps its name.
var chaos3Nodes = []string{"n0", "n1", "n2"}

// natsFarm is the NATS servers of a chaos test, in this process: one, or
// three in a NATS cluster with JetStream replicated on all three. A server
// shut down starts again on the same ports with the same store.
type natsFarm struct {
	t           *testing.T
	clientPorts []int
	routePorts  []int
	dirs        []string
	servers     []*embedded.Server // nil while down
}

const chaos3User, chaos3Password = "chaos", "chaos-password"

// newFarm starts n NATS servers, routed to each other when n > 1. The
// ports are free when chosen, but another program may take one before its
// server listens there: the farm then starts again on new ports.
func newFarm(t *testing.T, n int) *natsFarm {
	f := &natsFarm{t: t, servers: make([]*embedded.Server, n)}
	t.Cleanup(f.killAll)
	for attempt := 1; ; attempt++ {
		f.clientPorts, f.routePorts, f.dirs = nil, nil, nil
		for range n {
			f.clientPorts = append(f.clientPorts, freePort(t))
			f.routePorts = append(f.routePorts, freePort(t))
			f.dirs = append(f.dirs, t.TempDir())
		}
		var err error
		for i := 0; i < n && err == nil; i++ {
			err = f.tryStart(i)
		}
		if err == nil {
			return f
		}
		f.killAll()
		require.Less(t, attempt, 3, "starting the NATS servers: %v", err)
		t.Logf("starting the NATS servers, attempt %d: %v", attempt, err)
	}
}

// killAll shuts every running server down.
func (f *natsFarm) killAll() {
	for i := range f.servers {
		f.kill(i)
	}
}

// start starts server i.
func (f *natsFarm) start(i int) {
	f.t.Helper()
	require.NoError(f.t, f.tryStart(i))
}

// tryStart starts server i, or says why it could not.
func (f *natsFarm) tryStart(i int) error {
	opts := []embedded.Option{
		embedded.WithCredentials(chaos3User, chaos3Password),
		embedded.WithPort(f.clientPorts[i]),
		embedded.WithName(fmt.Sprintf("s%d", i)),
		embedded.WithStoreDir(f.dirs[i]),
	}
	if len(f.servers) > 1 {
		var routes []string
		for j, p := range f.routePorts {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		opts = append(opts, embedded.WithRoutes("chaos3", fmt.Sprintf("127.0.0.1:%d", f.routePorts[i]), routes...))
	}
	// A minute, as for the other NATS waits of the test: a server with
	// JetStream, its store and its routes took more than 10 s to be ready
	// on a loaded 2-core machine under -race, beside the three node
	// processes and the other servers.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := embedded.Start(ctx, opts...)
	if err != nil {
		return err
	}
	f.servers[i] = s
	return nil
}

// kill shuts server i down, if it runs: its clients lose their
// connections at once.
func (f *natsFarm) kill(i int) {
	if f.servers[i] == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	defer cancel()
	require.NoError(f.t, f.servers[i].Shutdown(ctx))
	f.servers[i] = nil
}

// url lists the servers, server first first.
func (f *natsFarm) url(first int) string {
	var urls []string
	for k := range f.clientPorts {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", f.clientPorts[(first+k)%len(f.clientPorts)]))
	}
	return strings.Join(urls, ",")
}

// waitReady waits until every server is routed to the others and the
// bucket of the cluster's names answers: a node joining then finds the
// store.
func (f *natsFarm) waitReady(cluster string) time.Duration {
	f.t.Helper()
	start := time.Now()
	for _, s := range f.servers {
		spawntest.Eventually(f.t, "the servers routed", func() bool { return s.NumRoutes() >= len(f.servers)-1 })
	}
	nc, err := nats.Connect(f.url(0), nats.UserInfo(chaos3User, chaos3Password))
	require.NoError(f.t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(f.t, err)
	bucket := "spawned_" + cluster + "_names"
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(100 * time.Millisecond) // the pace of the tries
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		// As Join makes it (see Names.start), so that both agree.
		_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "spawned global names of cluster " + cluster,
			History:     1,
			Replicas:    len(f.servers),
			Storage:     jetstream.FileStorage,
		})
		cancel()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("the names' bucket not ready: %v", err)
		}
		<-tick.C // JetStream is electing its leaders
	}
}

// c3node is a chaos node in another OS process.
type c3node struct {
	t       *testing.T
	name    string
	id      pid.NodeID
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies chan chaos3State
	done    chan struct{}
}

// startC3 starts node name, preferring server pref, and waits until it
// has joined.
func startC3(t *testing.T, f *natsFarm, cluster, name string, pref int) *c3node {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		helperEnv+"=chaos3",
		"SPAWNED_CHAOS3_CLUSTER="+cluster,
		"SPAWNED_CHAOS3_NAME="+name,
		"SPAWNED_CHAOS3_NODES="+strings.Join(chaos3Nodes, ","),
		"SPAWNED_CHAOS3_URL="+f.url(pref),
		"SPAWNED_CHAOS3_USER="+chaos3User,
		"SPAWNED_CHAOS3_PASSWORD="+chaos3Password,
		"SPAWNED_CHAOS3_REPLICAS="+strconv.Itoa(len(f.servers)),
		"SPAWNED_CHAOS3_HB_INTERVAL="+chaos3Heartbeat.String(),
		"SPAWNED_CHAOS3_HB_MISSES="+strconv.Itoa(chaos3Misses),
	)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // killed as a group
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	n := &c3node{t: t, name: name, cmd: cmd, stdin: stdin, replies: make(chan chaos3State, 4), done: make(chan struct{})}
	go func() {
		dec := json.NewDecoder(bufio.NewReader(stdout))
		for {
			var st chaos3State
			if err := dec.Decode(&st); err != nil {
				break
			}
			n.replies <- st
		}
		_ = cmd.Wait() // after the last read of its output
		close(n.done)
	}()
	t.Cleanup(n.stop)
	select {
	case st := <-n.replies:
		id, err := pid.ParseNodeID(st.Self)
		require.NoError(t, err)
		n.id = id
	case <-n.done:
		t.Fatalf("node %s exited before it joined", name)
	case <-time.After(time.Minute):
		t.Fatalf("node %s has not joined in a minute", name)
	}
	return n
}

// do runs a command on the node.
func (n *c3node) do(cmd chaos3Cmd) chaos3State {
	n.t.Helper()
	b, err := json.Marshal(cmd)
	require.NoError(n.t, err)
	_, err = n.stdin.Write(append(b, '\n'))
	require.NoError(n.t, err, "node %s", n.name)
	select {
	case st := <-n.replies:
		require.Empty(n.t, st.Err, "node %s: %s", n.name, cmd.Op)
		return st
	case <-n.done:
		n.t.Fatalf("node %s exited", n.name)
	case <-time.After(30 * time.Second):
		n.t.Fatalf("node %s: no answer to %s in 30s", n.name, cmd.Op)
	}
	return chaos3State{}
}

// kill kills the node's process group with SIGKILL and waits for its end.
func (n *c3node) kill() {
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	<-n.done
}

// stop ends the node: politely (it leaves the cluster), then by force.
func (n *c3node) stop() {
	_ = n.stdin.Close()
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.kill()
	}
}

// The nodes' heartbeat: short, so that a node killed while cut off from
// NATS (no server advisory tells of it) is noticed within 3 s.
const (
	chaos3Heartbeat = 500 * time.Millisecond
	chaos3Misses    = 6
)

// c3totals sums the nodes' call counts.
type c3totals struct {
	ok        int64
	errors    map[string]int64
	registers map[string]int64
	samples   map[string]string
	late      int64
	maxOver   time.Duration
	maxTaken  time.Duration
}

func (tt *c3totals) add(c *chaos3Calls) {
	tt.ok += c.OK
	for k, v := range c.Errors {
		tt.errors[k] += v
	}
	for k, v := range c.Samples {
		if _, ok := tt.samples[k]; !ok {
			tt.samples[k] = v
		}
	}
	tt.late += c.Late
	for k, v := range c.Registers {
		tt.registers[k] += v
	}
	tt.maxOver = max(tt.maxOver, c.MaxOver)
	tt.maxTaken = max(tt.maxTaken, c.MaxTaken)
}

func (tt *c3totals) String() string {
	var b strings.Builder
	var all int64 = tt.ok
	for _, v := range tt.errors {
		all += v
	}
	fmt.Fprintf(&b, "%d calls: %d answered", all, tt.ok)
	for _, k := range slices.Sorted(maps.Keys(tt.errors)) {
		fmt.Fprintf(&b, ", %d %s", tt.errors[k], k)
	}
	fmt.Fprintf(&b, "; registrations:")
	for _, k := range slices.Sorted(maps.Keys(tt.registers)) {
		fmt.Fprintf(&b, " %d %s", tt.registers[k], k)
	}
	fmt.Fprintf(&b, "; longest %v (deadline %v), %d more than 1s late", tt.maxTaken.Round(time.Millisecond), chaos3CallTimeout, tt.late)
	return b.String()
}

// c3model is what the test knows: the live nodes, and the incarnations
// that were lost.
type c3model struct {
	t       *testing.T
	farm    *natsFarm
	cluster string
	live    map[string]*c3node
	dead    map[pid.NodeID]string
}

// view checks once whether the live nodes agree with the model: each
// reaches every other, sees the names the live servers hold and no
// other, finds by lookup exactly those of the expected names, and sees
// the groups of the live servers. It returns what differs, or "".
func (m *c3model) view() (string, map[string]chaos3State) {
	states := map[string]chaos3State{}
	for name, n := range m.live {
		states[name] = n.do(chaos3Cmd{Op: "state"})
	}
	wantNames := map[string]pid.Pid{}
	wantGroups := map[string][]pid.Pid{}
	for name, st := range states {
		if len(st.Held) != chaos3Services {
			return fmt.Sprintf("%s: its servers hold %v", name, st.Held), states
		}
		maps.Copy(wantNames, st.Held)
		wantGroups["all"] = append(wantGroups["all"], st.Local...)
		wantGroups[name] = slices.Clone(st.Local)
	}
	for g, ms := range wantGroups {
		sort.Slice(ms, func(i, j int) bool { return ms[i].String() < ms[j].String() })
		wantGroups[g] = ms
	}
	for name, st := range states {
		var wantNodes []string
		for other, n := range m.live {
			if other != name {
				wantNodes = append(wantNodes, n.id.String())
			}
		}
		sort.Strings(wantNodes)
		switch {
		case !slices.Equal(st.Nodes, wantNodes):
			return fmt.Sprintf("%s reaches %v, not %v", name, st.Nodes, wantNodes), states
		case !maps.Equal(st.Names, wantNames):
			return fmt.Sprintf("%s: names %v, not %v", name, st.Names, wantNames), states
		case !maps.Equal(st.Lookup, wantNames):
			return fmt.Sprintf("%s: lookups %v, not %v", name, st.Lookup, wantNames), states
		case !maps.EqualFunc(st.Groups, wantGroups, slices.Equal):
			return fmt.Sprintf("%s: groups %v, not %v", name, st.Groups, wantGroups), states
		}
	}
	return "", states
}

// converge waits until the live nodes agree with the model, checks that
// no name or member is of a lost node and that every name's owner is
// alive, and returns how long it took.
func (m *c3model) converge(what string, since time.Time) time.Duration {
	m.t.Helper()
	deadline := time.Now().Add(chaos3ConvergeBound)
	tick := time.NewTicker(25 * time.Millisecond) // the pace of the polls
	defer tick.Stop()
	slow := false
	for {
		why, states := m.view()
		if why == "" {
			took := time.Since(since)
			m.checkNoStale(what, states)
			return took
		}
		if time.Now().After(deadline) {
			var views []string
			for _, name := range slices.Sorted(maps.Keys(states)) {
				views = append(views, fmt.Sprintf("%s names %v, holds %v", name, states[name].Names, states[name].Held))
			}
			m.t.Fatalf("%s: not converged after %v: %s; the nodes: %s; the store has %s",
				what, chaos3ConvergeBound, why, strings.Join(views, "; "), m.storeNames())
		}
		if !slow && time.Since(since) > 5*time.Second {
			slow = true
			m.t.Logf("%s: not converged after 5s: %s", what, why)
		}
		<-tick.C
	}
}

// storeNames reads the names' bucket, for a failure's message: whether a
// name a node misses is missing from the store too, or only from the
// node's cache.
func (m *c3model) storeNames() string {
	nc, err := nats.Connect(m.farm.url(0), nats.UserInfo(chaos3User, chaos3Password))
	if err != nil {
		return "(not read: " + err.Error() + ")"
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "(not read: " + err.Error() + ")"
	}
	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	defer cancel()
	kv, err := js.KeyValue(ctx, "spawned_"+m.cluster+"_names")
	if err != nil {
		return "(not read: " + err.Error() + ")"
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return "(not read: " + err.Error() + ")"
	}
	var entries []string
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			entries = append(entries, k+": "+err.Error())
			continue
		}
		var p pid.Pid
		if err := p.UnmarshalBinary(e.Value()); err != nil {
			entries = append(entries, k+": "+err.Error())
			continue
		}
		entries = append(entries, fmt.Sprintf("%s: %v at revision %d", k, p, e.Revision()))
	}
	sort.Strings(entries)
	return "[" + strings.Join(entries, ", ") + "]"
}

// chaos3ConvergeBound bounds each convergence: well past the heartbeat
// bound and a JetStream leader election on a loaded machine.
const chaos3ConvergeBound = time.Minute

// checkNoStale checks that no name, lookup or member of a converged view
// is of a lost node, and that every name's owner is alive on its node.
func (m *c3model) checkNoStale(what string, states map[string]chaos3State) {
	m.t.Helper()
	byID := map[pid.NodeID]*c3node{}
	for _, n := range m.live {
		byID[n.id] = n
	}
	for name, st := range states {
		for _, pids := range []map[string]pid.Pid{st.Names, st.Lookup} {
			for gname, p := range pids {
				if lost, ok := m.dead[p.Node()]; ok {
					m.t.Fatalf("%s: %s finds %q at %v, of the lost %s", what, name, gname, p, lost)
				}
				owner := byID[p.Node()]
				require.NotNil(m.t, owner, "%s: %s finds %q at %v, of no live node", what, name, gname, p)
				require.Equal(m.t, []bool{true}, owner.do(chaos3Cmd{Op: "alive", Pids: []pid.Pid{p}}).Alive,
					"%s: %s finds %q at %v, dead", what, name, gname, p)
			}
		}
		for g, ms := range st.Groups {
			for _, p := range ms {
				if lost, ok := m.dead[p.Node()]; ok {
					m.t.Fatalf("%s: %s has %v of the lost %s in group %q", what, name, p, lost, g)
				}
			}
		}
	}
}

func TestChaos3_ThreeNodeProcessesKilledWithTheirNATSServersUnderCalls(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SPAWNED_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		seed = v
	}
	for _, tc := range []struct {
		name    string
		servers int
		rounds  int
		long    int
	}{
		{"one server restarted", 1, 2, 25},
		{"three servers routed", 3, 2, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("seed %d (SPAWNED_CHAOS_SEED)", seed)
			chaos3Run(t, rand.New(rand.NewPCG(seed, uint64(tc.servers))), tc.servers, rounds(tc.rounds, tc.long))
		})
	}
}

// chaos3FirstKinds are the kinds of the first rounds: a node and a server
// killed, one or two nodes and a server, a node, a server.
var chaos3FirstKinds = []int{2, 3, 0, 1}

// chaos3Run runs the chaos with servers NATS servers for n rounds.
func chaos3Run(t *testing.T, rng *rand.Rand, servers, n int) {
	start := time.Now()
	f := newFarm(t, servers)
	cl := clusterName(t)
	t.Logf("%d NATS servers ready in %v", servers, f.waitReady(cl).Round(time.Millisecond))
	m := &c3model{t: t, farm: f, cluster: cl, live: map[string]*c3node{}, dead: map[pid.NodeID]string{}}
	for i, name := range chaos3Nodes {
		m.live[name] = startC3(t, f, cl, name, i%servers)
	}
	t.Logf("first convergence: %v", m.converge("start", start).Round(time.Millisecond))
	totals := &c3totals{errors: map[string]int64{}, registers: map[string]int64{}, samples: map[string]string{}}
	var lossTimes, fullTimes []time.Duration

	for round := range n {
		// What this round does: kill one or two nodes, a server, or both;
		// and maybe kill a server process so that its name moves. The
		// first rounds (the quick mode's) kill a server and nodes at once.
		kind := rng.IntN(4)
		if round < len(chaos3FirstKinds) {
			kind = chaos3FirstKinds[round]
		}
		killNodes := 0
		switch kind {
		case 0, 2:
			killNodes = 1
		case 3:
			killNodes = 1 + rng.IntN(2)
		}
		killServer := -1
		if kind >= 1 {
			killServer = rng.IntN(servers)
		}
		victims := slices.Clone(chaos3Nodes)
		rng.Shuffle(len(victims), func(i, j int) { victims[i], victims[j] = victims[j], victims[i] })
		victims = victims[:killNodes]
		churn := rng.IntN(2) == 0

		lost := time.Now()
		if killServer >= 0 {
			f.kill(killServer)
		}
		for _, v := range victims {
			n := m.live[v]
			// Its counts up to now; the calls it makes from here to its end
			// are not counted.
			totals.add(n.do(chaos3Cmd{Op: "stats"}).Calls)
			n.kill()
			delete(m.live, v)
			m.dead[n.id] = v
		}
		down := time.Duration(50+rng.IntN(400)) * time.Millisecond
		time.Sleep(down) // the chaos's pacing, what is under test: how long servers and nodes stay down
		if churn {
			for _, n := range m.live {
				n.do(chaos3Cmd{Op: "churn", Svc: rng.IntN(chaos3Services)})
				break
			}
		}
		if killServer >= 0 {
			f.start(killServer)
		}
		if len(victims) > 0 {
			took := m.converge(fmt.Sprintf("round %d, %v lost", round, victims), lost)
			lossTimes = append(lossTimes, took)
		}
		restarted := time.Now()
		for _, v := range victims {
			i := slices.Index(chaos3Nodes, v)
			m.live[v] = startC3(t, f, cl, v, i%servers)
		}
		full := m.converge(fmt.Sprintf("round %d, all back", round), restarted)
		fullTimes = append(fullTimes, full)
		t.Logf("round %d: nodes killed %v, server killed %d, churn %v; converged %v after the restarts",
			round, victims, killServer, churn, full.Round(time.Millisecond))
	}
	for _, name := range chaos3Nodes {
		totals.add(m.live[name].do(chaos3Cmd{Op: "stats"}).Calls)
	}
	t.Logf("%d rounds in %v; %s", n, time.Since(start).Round(time.Millisecond), totals)
	t.Logf("convergence after a loss (kill to survivors agreeing): %s", durations(lossTimes))
	t.Logf("convergence after the restarts: %s", durations(fullTimes))
	for k, v := range totals.samples {
		t.Logf("  e.g. %s: %s", k, v)
	}
	require.Zero(t, totals.errors["other"], "calls failed with an undocumented error: %s", totals.samples["other"])
	require.Zero(t, totals.late, "calls returned more than a second past their deadline")
	require.Zero(t, totals.registers["other"], "a registration failed with an undocumented error: %s", totals.samples["register"])
	require.NotZero(t, totals.ok)
}

// durations summarises a list of durations: min, median, max.
func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("%d: min %v, median %v, max %v", len(s), r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]))
}
