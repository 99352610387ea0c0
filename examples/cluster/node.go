package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/supervisor"
)

// The environment of a node: the director runs its own binary again with
// these set, once per node.
const (
	envNode     = "SPAWNED_DEMO_NODE" // the node's name; set: this process is a node
	envCluster  = "SPAWNED_DEMO_CLUSTER"
	envURL      = "SPAWNED_DEMO_URL"
	envUser     = "SPAWNED_DEMO_USER"
	envPassword = "SPAWNED_DEMO_PASSWORD"
)

// nodeNames are the three nodes, in the order the supervisor prefers them
// for the greeter.
var nodeNames = []string{"node-1", "node-2", "node-3"}

// The director's commands, one a line on a node's standard input. The end
// of the input (the director is gone) is quit.
const (
	cmdSupervise = "supervise" // start greeter-sup, which places the greeter
	cmdWatch     = "watch"     // start a watcher
	cmdCall      = "call"      // start a caller
	cmdTally     = "tally"     // stop calling and count
	cmdView      = "view"      // tell what this node sees
	cmdQuit      = "quit"      // leave the cluster and exit
)

// nodeRun is one node's program.
type nodeRun struct {
	name string
	node *process.Node
	c    *cluster.Cluster
	out  *emitter
}

// nodeMain is the program of a node: join the cluster, then do what the
// director says until it says quit or goes away. It returns the exit code.
func nodeMain(name string) int {
	n := &nodeRun{name: name, out: &emitter{w: os.Stdout, node: name}}
	if err := n.run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

func (n *nodeRun) run() error {
	// The node's runtime logs nothing: the story is told by events. The
	// cluster's own log (nodes lost, names taken over) goes to stderr at
	// warning level and above.
	n.node = process.NewNode(process.WithLogger(nil))
	log, err := zap.NewProduction(zap.IncreaseLevel(zap.WarnLevel))
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	defer func() {
		// Stopping the node kills its processes and leaves the cluster.
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = n.node.Stop(sctx)
	}()
	n.c, err = cluster.Join(ctx, n.node, cluster.Config{
		Cluster: os.Getenv(envCluster), Name: n.name,
		URL: os.Getenv(envURL), User: os.Getenv(envUser), Password: os.Getenv(envPassword),
		Logger: log.Named(n.name),
	})
	if err != nil {
		return err
	}
	// Every node can run the greeter, under its global name: a supervisor
	// on another node decides where it runs.
	err = greeterFactory.Register(n.c, func(word string) (genserver.Behaviour[Hello, Greeting, genserver.Never], error) {
		return &greeter{n: n, word: word}, nil
	}, genserver.WithVia(n.c.Names(), greeterName))
	if err != nil {
		return err
	}
	if err := n.meet(ctx); err != nil {
		return err
	}
	return n.obey(os.Stdin)
}

// meet waits until this node reaches the other two, and says so.
func (n *nodeRun) meet(ctx context.Context) error {
	ups := make(chan cluster.NodeUp, len(nodeNames))
	subscribed := make(chan error, 1)
	sub, err := n.node.Spawn(func(p *process.Process) error {
		_, err := n.c.MonitorNodes(p)
		subscribed <- err
		for err == nil {
			var m any
			if m, err = p.Receive(p.Context()); err == nil {
				if up, ok := m.(cluster.NodeUp); ok {
					ups <- up
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer n.node.Exit(sub, process.Kill)
	if err := <-subscribed; err != nil {
		return err
	}
	for len(n.c.Nodes()) < len(nodeNames)-1 {
		select {
		case <-ups:
		case <-ctx.Done():
			return fmt.Errorf("meeting the other nodes: %w (reached: %v)", ctx.Err(), n.c.Nodes())
		}
	}
	var names []string
	for _, info := range n.c.Nodes() {
		names = append(names, info.Name)
	}
	n.out.emit(kindReady, "", "joined; reaches %s", strings.Join(names, ", "))
	return nil
}

// commandTimeout bounds what a command waits for: a supervisor's start or
// stop.
const commandTimeout = 10 * time.Second

// obey runs the director's commands.
func (n *nodeRun) obey(in *os.File) error {
	var sup supervisor.Ref
	stop := make(chan struct{})
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		var err error
		switch cmd := sc.Text(); cmd {
		case cmdSupervise:
			sup, err = n.supervise(ctx)
		case cmdWatch:
			err = n.watch()
		case cmdCall:
			_, err = n.node.Spawn(n.caller(stop))
		case cmdTally:
			close(stop)
		case cmdView:
			n.view()
		case cmdQuit:
			if !sup.Pid().IsZero() {
				err = sup.Stop(ctx)
			}
			cancel()
			return err
		default:
			err = fmt.Errorf("unknown command %q", cmd)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Text(), err)
		}
	}
	return sc.Err() // the director is gone: quit
}

// supervise starts greeter-sup, a supervisor whose one child is the
// greeter, placed (remote spawn) on the first node of nodeNames this node
// can reach, at its start and at every restart.
func (n *nodeRun) supervise(ctx context.Context) (supervisor.Ref, error) {
	starts := 0
	where := func() (pid.NodeID, error) {
		starts++
		for i, name := range nodeNames {
			id, ok := n.reach(name)
			if !ok {
				continue
			}
			switch {
			case starts == 1:
				n.out.emit(kindPlace, "greeter-sup", "starts greeter on %s, the first of %s it can reach", name, strings.Join(nodeNames, ", "))
			default:
				n.out.emit(kindPlace, "greeter-sup", "greeter exited: restarts it on %s (%s unreachable)", name, strings.Join(nodeNames[:i], ", "))
			}
			return id, nil
		}
		return pid.NodeID{}, errors.New("no node to place the greeter on")
	}
	return supervisor.Start(ctx, n.node, supervisor.Spec{
		Name:      "greeter-sup",
		Strategy:  supervisor.OneForOne,
		Intensity: 3, Period: 5 * time.Second,
		Children: []supervisor.ChildSpec{
			{ID: "greeter", Start: greeterFactory.ChildOn(n.c, where, "hello")},
		},
	})
}

// reach returns the id of the node called name if this node can reach it
// now (or it is this node).
func (n *nodeRun) reach(name string) (pid.NodeID, bool) {
	if name == n.name {
		return n.c.Self().ID, true
	}
	for _, info := range n.c.Nodes() {
		if info.Name == name {
			return info.ID, true
		}
	}
	return pid.NodeID{}, false
}

// watch starts a watcher of the greeter, found by its global name.
func (n *nodeRun) watch() error {
	g, ok := n.c.Names().WhereIs(greeterName)
	if !ok {
		return fmt.Errorf("no greeter to watch")
	}
	ready := make(chan error, 1)
	if _, err := n.node.Spawn(n.watcher(g, ready)); err != nil {
		return err
	}
	return <-ready
}

// view tells what this node sees of the cluster now.
func (n *nodeRun) view() {
	var nodes []string
	for _, info := range n.c.Nodes() {
		nodes = append(nodes, info.Name)
	}
	owner := "nobody"
	if g, ok := n.c.Names().WhereIs(greeterName); ok {
		owner = n.nameOf(g.Node())
	}
	members := n.nodesOf(n.c.Groups().Members(group))
	n.out.send(event{Kind: kindView, Members: members, Text: fmt.Sprintf(
		"reaches %s; greeter on %s; group %s: %s",
		strings.Join(nodes, ", "), owner, group, strings.Join(members, ", "))})
}

// nameOf is the name of the node id.
func (n *nodeRun) nameOf(id pid.NodeID) string {
	if info, _ := n.c.Node(id); info.Name != "" {
		return info.Name
	}
	return id.String()
}

// nodesOf names the nodes of pids.
func (n *nodeRun) nodesOf(pids []pid.Pid) []string {
	names := make([]string, len(pids))
	for i, p := range pids {
		names[i] = n.nameOf(p.Node())
	}
	slices.Sort(names)
	return names
}
