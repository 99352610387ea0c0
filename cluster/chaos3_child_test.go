package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
)

// The node of the three-node chaos test (chaos3_test.go), in an OS process
// of its own. It joins the cluster, runs chaos3Services echo servers, each
// registered under the global name "<node>-s<i>" and a member of the groups
// "all" and "<node>", and calls the other nodes' servers without pause.
// The test drives it through its standard input and output, one JSON
// object a line, not through the cluster, so that it can be asked even
// when the cluster is cut into pieces. It exits when its input closes.

// chaos3Services is how many servers each node runs.
const chaos3Services = 2

// chaos3CallTimeout is the deadline of every call of the load.
const chaos3CallTimeout = 2 * time.Second

// chaos3Cmd is a command for a chaos node.
type chaos3Cmd struct {
	Op   string    // state, alive, churn, stats
	Pids []pid.Pid // alive: the Pids to check
	Svc  int       // churn: the server to kill and replace
}

// chaos3State is a chaos node's answer.
type chaos3State struct {
	Err    string             `json:",omitempty"`
	Self   string             `json:",omitempty"` // the node's id (a NodeID has no text form)
	Nodes  []string           `json:",omitempty"` // the peers it reaches
	Names  map[string]pid.Pid `json:",omitempty"` // every name it knows, where it is
	Lookup map[string]pid.Pid `json:",omitempty"` // WhereIs of every name the test expects
	Groups map[string][]pid.Pid
	Held   map[string]pid.Pid `json:",omitempty"` // the names its servers hold
	Local  []pid.Pid          `json:",omitempty"` // its servers
	Alive  []bool             `json:",omitempty"`
	Calls  *chaos3Calls       `json:",omitempty"`
}

// chaos3Calls counts how the calls of a node's load ended.
type chaos3Calls struct {
	OK        int64
	Errors    map[string]int64 // by kind
	Registers map[string]int64 // how the name's registrations ended, by kind
	Samples   map[string]string
	Late      int64         // returned later than the deadline and a second
	MaxOver   time.Duration // the longest time past the deadline
	MaxTaken  time.Duration
}

// chaos3Node is the child's state.
type chaos3Node struct {
	name  string
	node  *process.Node
	c     *cluster.Cluster
	names []string // every name of the test, of every node

	mu    sync.Mutex
	svcs  []genserver.Ref[any, any, any] // by index
	calls chaos3Calls
}

// runChaos3Node is the child's main.
func runChaos3Node() int {
	env := func(k string) string { return os.Getenv("SPAWNED_CHAOS3_" + k) }
	interval, _ := time.ParseDuration(env("HB_INTERVAL"))
	misses, _ := strconv.Atoi(env("HB_MISSES"))
	replicas, _ := strconv.Atoi(env("REPLICAS"))
	cfg := cluster.Config{
		Cluster: env("CLUSTER"), Name: env("NAME"), URL: env("URL"), User: env("USER"), Password: env("PASSWORD"),
		HeartbeatInterval: interval, HeartbeatMisses: misses, NameReplicas: replicas, Logger: zap.NewNop(),
		NATSOptions: []nats.Option{nats.DontRandomize()},
	}
	if os.Getenv("SPAWNED_CHAOS3_LOG") == "1" {
		log, _ := zap.NewDevelopment()
		cfg.Logger = log.With(zap.String("at", cfg.Name))
	}
	node := process.NewNode(process.WithLogger(zap.NewNop()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	c, err := cluster.Join(ctx, node, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "join:", err)
		return 1
	}
	n := &chaos3Node{name: cfg.Name, node: node, c: c, svcs: make([]genserver.Ref[any, any, any], chaos3Services)}
	n.calls.Errors, n.calls.Samples, n.calls.Registers = map[string]int64{}, map[string]string{}, map[string]int64{}
	for _, other := range strings.Split(env("NODES"), ",") {
		for i := range chaos3Services {
			n.names = append(n.names, chaos3Name(other, i))
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range chaos3Services {
		if err := n.startService(i); err != nil {
			fmt.Fprintln(os.Stderr, "service:", err)
			return 1
		}
		wg.Add(1)
		go func() { defer wg.Done(); n.keepName(i, stop) }()
	}
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); n.load(stop) }()
	}

	out := json.NewEncoder(os.Stdout)
	_ = out.Encode(chaos3State{Self: node.ID().String()})
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var cmd chaos3Cmd
		if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
			_ = out.Encode(chaos3State{Err: err.Error()})
			continue
		}
		_ = out.Encode(n.do(cmd))
	}
	close(stop)
	wg.Wait()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.Leave(ctx)
	_ = node.Stop(ctx)
	return 0
}

// chaos3Name is the global name of the server i of node.
func chaos3Name(node string, i int) string { return fmt.Sprintf("%s-s%d", node, i) }

// startService starts server i (again) and joins it to its groups; its
// name is registered by keepName.
func (n *chaos3Node) startService(i int) error {
	srv, err := genserver.Start(context.Background(), n.node, echo{})
	if err != nil {
		return err
	}
	if err := n.c.Groups().Join("all", srv.Pid()); err != nil {
		return err
	}
	if err := n.c.Groups().Join(n.name, srv.Pid()); err != nil {
		return err
	}
	n.mu.Lock()
	n.svcs[i] = srv
	n.mu.Unlock()
	return nil
}

// keepName registers the name of server i whenever the server has none,
// as an application does: Register fails while the names' store cannot be
// reached (ErrNamesUnavailable), and is tried again.
func (n *chaos3Node) keepName(i int, stop <-chan struct{}) {
	// The pacing of the retries, not a wait for something.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		n.mu.Lock()
		srv := n.svcs[i]
		n.mu.Unlock()
		if _, ok := n.c.Names().NameOf(srv.Pid()); !ok && n.node.Alive(srv.Pid()) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := n.c.Names().Register(ctx, chaos3Name(n.name, i), srv.Pid())
			cancel()
			n.mu.Lock()
			n.calls.Registers[registerKind(err)]++
			if err != nil && registerKind(err) == "other" {
				if _, ok := n.calls.Samples["register"]; !ok {
					n.calls.Samples["register"] = err.Error()
				}
			}
			n.mu.Unlock()
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// load calls servers of the other nodes, by global name and by Pid (a
// member of the group "all"), each call with a deadline, and counts how
// they ended.
func (n *chaos3Node) load(stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), 0))
	pace := time.NewTicker(time.Millisecond) // the load's pace
	defer pace.Stop()
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		case <-pace.C:
		}
		var ref genserver.Ref[any, any, any]
		if k%2 == 0 {
			name := n.names[rng.IntN(len(n.names))]
			if strings.HasPrefix(name, n.name+"-") {
				continue
			}
			ref = genserver.NamedVia[any, any, any](n.node, n.c.Names(), name)
		} else {
			var remote []pid.Pid
			for _, p := range n.c.Groups().Members("all") {
				if p.Node() != n.node.ID() {
					remote = append(remote, p)
				}
			}
			if len(remote) == 0 {
				continue
			}
			ref = genserver.At[any, any, any](n.node, remote[rng.IntN(len(remote))])
		}
		ctx, cancel := context.WithTimeout(context.Background(), chaos3CallTimeout)
		start := time.Now()
		rep, err := ref.Call(ctx, k)
		took := time.Since(start)
		cancel()
		if err == nil && rep != k {
			err = fmt.Errorf("reply %v to call %d", rep, k)
		}
		n.count(err, took)
	}
}

// registerKind names how a Register ended.
func registerKind(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, cluster.ErrNamesUnavailable):
		return "ErrNamesUnavailable"
	case errors.Is(err, registry.ErrNameTaken):
		return "ErrNameTaken"
	case errors.Is(err, process.NoProc):
		return "NoProc"
	}
	return "other"
}

// chaos3Kind names the kind of a call's error.
func chaos3Kind(err error) string {
	switch {
	case errors.Is(err, process.NoConnection):
		return "NoConnection"
	case errors.Is(err, process.NoProc):
		return "NoProc"
	case errors.Is(err, cluster.ErrPeerBusy):
		return "ErrPeerBusy"
	case errors.Is(err, registry.ErrNotRegistered):
		return "ErrNotRegistered"
	case errors.Is(err, genserver.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "ErrTimeout"
	case errors.Is(err, process.Kill), errors.Is(err, process.Killed):
		return "Killed"
	}
	return "other"
}

func (n *chaos3Node) count(err error, took time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := &n.calls
	c.MaxTaken = max(c.MaxTaken, took)
	if over := took - chaos3CallTimeout; over > 0 {
		c.MaxOver = max(c.MaxOver, over)
		if over > time.Second {
			c.Late++
		}
	}
	if err == nil {
		c.OK++
		return
	}
	kind := chaos3Kind(err)
	c.Errors[kind]++
	if _, ok := c.Samples[kind]; !ok {
		c.Samples[kind] = err.Error()
	}
}

// do runs a command.
func (n *chaos3Node) do(cmd chaos3Cmd) chaos3State {
	switch cmd.Op {
	case "state":
		return n.state()
	case "alive":
		st := chaos3State{}
		for _, p := range cmd.Pids {
			st.Alive = append(st.Alive, n.node.Alive(p))
		}
		return st
	case "churn":
		// The server dies; a new one takes its place and its name.
		n.mu.Lock()
		old := n.svcs[cmd.Svc]
		n.mu.Unlock()
		if err := n.node.Exit(old.Pid(), process.Kill); err != nil {
			return chaos3State{Err: err.Error()}
		}
		if err := n.startService(cmd.Svc); err != nil {
			return chaos3State{Err: err.Error()}
		}
		return chaos3State{}
	case "stats":
		n.mu.Lock()
		defer n.mu.Unlock()
		c := n.calls
		c.Errors, c.Samples, c.Registers = maps.Clone(c.Errors), maps.Clone(c.Samples), maps.Clone(c.Registers)
		return chaos3State{Calls: &c}
	}
	return chaos3State{Err: "unknown op " + cmd.Op}
}

// state is what the node sees of the cluster now.
func (n *chaos3Node) state() chaos3State {
	st := chaos3State{
		Self:   n.node.ID().String(),
		Names:  map[string]pid.Pid{},
		Lookup: map[string]pid.Pid{},
		Groups: map[string][]pid.Pid{},
		Held:   map[string]pid.Pid{},
	}
	for _, ni := range n.c.Nodes() {
		st.Nodes = append(st.Nodes, ni.ID.String())
	}
	sort.Strings(st.Nodes)
	names := n.c.Names()
	for _, name := range names.Registered() {
		if p, ok := names.WhereIs(name); ok {
			st.Names[name] = p
		}
	}
	for _, name := range n.names {
		if p, ok := names.WhereIs(name); ok {
			st.Lookup[name] = p
		}
	}
	for _, g := range n.c.Groups().Groups() {
		m := slices.Clone(n.c.Groups().Members(g))
		sort.Slice(m, func(i, j int) bool { return m[i].String() < m[j].String() })
		st.Groups[g] = m
	}
	n.mu.Lock()
	svcs := slices.Clone(n.svcs)
	n.mu.Unlock()
	for _, srv := range svcs {
		st.Local = append(st.Local, srv.Pid())
		if name, ok := names.NameOf(srv.Pid()); ok {
			st.Held[name] = srv.Pid()
		}
	}
	return st
}
