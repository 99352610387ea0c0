package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Nodes in other OS processes: the test binary runs itself again with
// helperEnv set, joins the cluster as a node and serves a control server
// (registered as "ctl") through which the test starts processes there and
// reads what they received. The child exits when its standard input
// closes, and is killed on cleanup if it has not.

const helperEnv = "SPAWNED_CLUSTER_HELPER"

// ctlReq is a command for a child node's control server.
type ctlReq struct {
	Op   string // idle, link, monitor, monitorname, monnode, echo, events, alive, info
	Name string
	Pid  pid.Pid
	Node pid.NodeID
	Trap bool
}

// ctlRep is its answer.
type ctlRep struct {
	Pid    pid.Pid
	Ref    pid.Ref
	Alive  bool
	Queue  int  // info: the process's queued messages
	Busy   bool // info: the process is handling a message
	Events []ctlEvent
}

// ctlEvent is something a recorder process on the child received, or its
// exit.
type ctlEvent struct {
	Pid    pid.Pid
	Msg    any
	Exited bool
	Reason error
}

func init() {
	cluster.MustRegister[ctlReq]("test.ctlReq")
	cluster.MustRegister[ctlRep]("test.ctlRep")
	cluster.MustRegister[ctlEvent]("test.ctlEvent")
}

// runHelper is the child's main.
func runHelper(role string) int {
	if role == "chaos3" {
		return runChaos3Node()
	}
	if role != "node" {
		fmt.Fprintln(os.Stderr, "unknown helper role", role)
		return 2
	}
	env := func(k string) string { return os.Getenv("SPAWNED_TEST_" + k) }
	interval, _ := time.ParseDuration(env("HB_INTERVAL"))
	misses, _ := strconv.Atoi(env("HB_MISSES"))
	cfg := cluster.Config{
		Cluster: env("CLUSTER"), Name: env("NAME"), URL: env("URL"), User: env("USER"), Password: env("PASSWORD"),
		HeartbeatInterval: interval, HeartbeatMisses: misses, Logger: zap.NewNop(),
	}
	node := process.NewNode(process.WithLogger(zap.NewNop()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	c, err := cluster.Join(ctx, node, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "join:", err)
		return 1
	}
	s := &ctlServer{node: node, c: c}
	if _, err := genserver.Start(context.Background(), node, s, genserver.WithName("ctl")); err != nil {
		fmt.Fprintln(os.Stderr, "ctl:", err)
		return 1
	}
	fmt.Printf("READY %s\n", node.ID())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.Leave(ctx)
	_ = node.Stop(ctx)
	return 0
}

// ctlServer is the child's control server.
type ctlServer struct {
	genserver.NoCasts
	node *process.Node
	c    *cluster.Cluster
	mu   sync.Mutex
	log  []ctlEvent // Pid holds the recorder's number until events reads it
	pids map[uint64]pid.Pid
	seq  uint64
}

func (s *ctlServer) record(n uint64, e ctlEvent) {
	e.Pid = pid.New(pid.NodeID{}, n)
	s.mu.Lock()
	s.log = append(s.log, e)
	s.mu.Unlock()
}

func (s *ctlServer) HandleCall(ctx *genserver.CallCtx[ctlRep], req ctlReq) (ctlRep, error) {
	switch req.Op {
	case "events":
		s.mu.Lock()
		defer s.mu.Unlock()
		out := make([]ctlEvent, len(s.log))
		for i, e := range s.log {
			e.Pid = s.pids[e.Pid.Serial()]
			out[i] = e
		}
		return ctlRep{Events: out}, nil
	case "alive":
		return ctlRep{Alive: s.node.Alive(req.Pid)}, nil
	case "info":
		info, err := s.node.Info(req.Pid)
		if err != nil {
			return ctlRep{}, nil
		}
		return ctlRep{Alive: true, Queue: info.MessageQueueLen, Busy: info.Status == process.Running}, nil
	case "echo":
		srv, err := genserver.Start(ctx.Context(), s.node, echo{}, genserver.WithName(req.Name))
		return ctlRep{Pid: srv.Pid()}, err
	}
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	opts := []process.SpawnOption{process.OnExit(func(reason error) {
		s.record(n, ctlEvent{Exited: true, Reason: reason})
	})}
	if req.Name != "" {
		opts = append(opts, process.WithName(req.Name))
	}
	ready := make(chan ctlRep, 1)
	p, err := s.node.Spawn(func(p *process.Process) error {
		p.TrapExit(req.Trap)
		var rep ctlRep
		var err error
		switch req.Op {
		case "link":
			err = link.Link(p, req.Pid)
		case "monitor":
			rep.Ref, err = link.Monitor(p, req.Pid)
		case "monitorname":
			rep.Ref, err = link.MonitorNameOn(p, req.Node, req.Name)
		case "monnode":
			rep.Ref, err = s.c.MonitorNode(p, req.Node)
		}
		ready <- rep
		if err != nil {
			return err
		}
		for {
			m, err := p.Receive(p.Context())
			if err != nil {
				return err
			}
			if reason, ok := m.(error); ok {
				return reason
			}
			s.record(n, ctlEvent{Msg: m})
		}
	}, opts...)
	if err != nil {
		return ctlRep{}, err
	}
	s.mu.Lock()
	if s.pids == nil {
		s.pids = map[uint64]pid.Pid{}
	}
	s.pids[n] = p
	s.mu.Unlock()
	rep := <-ready
	rep.Pid = p
	return rep, nil
}

// child is a node running in another OS process.
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ID    pid.NodeID
	Name  string
	ctl   genserver.Ref[ctlReq, ctlRep, genserver.Never]
	done  chan struct{}
}

// startChild starts a node named name in another OS process, joined to the
// cluster of cfg, and waits until the node at reaches it.
func startChild(t *testing.T, at *process.Node, ca *cluster.Cluster, cfg cluster.Config, name string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		helperEnv+"=node",
		"SPAWNED_TEST_CLUSTER="+cfg.Cluster,
		"SPAWNED_TEST_NAME="+name,
		"SPAWNED_TEST_URL="+cfg.URL,
		"SPAWNED_TEST_USER="+cfg.User,
		"SPAWNED_TEST_PASSWORD="+cfg.Password,
		"SPAWNED_TEST_HB_INTERVAL="+cfg.HeartbeatInterval.String(),
		"SPAWNED_TEST_HB_MISSES="+strconv.Itoa(cfg.HeartbeatMisses),
	)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{t: t, cmd: cmd, stdin: stdin, Name: name, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(ch.done) }()
	t.Cleanup(ch.stop)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				lines <- strings.TrimPrefix(sc.Text(), "READY ")
			}
		}
	}()
	select {
	case line := <-lines:
		if ch.ID, err = pid.ParseNodeID(line); err != nil {
			t.Fatalf("child %s: %v", name, err)
		}
	case <-ch.done:
		t.Fatalf("child %s exited before it was ready", name)
	case <-time.After(spawntest.Timeout):
		t.Fatalf("child %s not ready in time", name)
	}
	waitUp(t, ca, ch.ID)
	ch.ctl = genserver.NamedOn[ctlReq, ctlRep, genserver.Never](at, ch.ID, "ctl")
	return ch
}

// stop ends the child: politely, then by force.
func (ch *child) stop() {
	_ = ch.stdin.Close()
	select {
	case <-ch.done:
		return
	case <-time.After(5 * time.Second):
	}
	_ = ch.cmd.Process.Signal(syscall.SIGKILL)
	_ = ch.cmd.Process.Signal(syscall.SIGCONT)
	<-ch.done
}

// signal sends the child's OS process sig.
func (ch *child) signal(sig syscall.Signal) {
	ch.t.Helper()
	if err := ch.cmd.Process.Signal(sig); err != nil {
		ch.t.Fatalf("signal %v to child %s: %v", sig, ch.Name, err)
	}
}

// kill kills the child with SIGKILL and waits until its process is gone.
func (ch *child) kill() {
	ch.signal(syscall.SIGKILL)
	<-ch.done
}

// do runs a control command on the child.
func (ch *child) do(req ctlReq) ctlRep {
	ch.t.Helper()
	rep, err := ch.ctl.Call(spawntest.Context(ch.t), req)
	if err != nil {
		ch.t.Fatalf("child %s: %s: %v", ch.Name, req.Op, err)
	}
	return rep
}

// events returns what the child's recorder process p received, and
// whether (and why) it exited.
func (ch *child) events(p pid.Pid) (msgs []any, exited bool, reason error) {
	for _, e := range ch.do(ctlReq{Op: "events"}).Events {
		if e.Pid != p {
			continue
		}
		if e.Exited {
			exited, reason = true, e.Reason
			continue
		}
		msgs = append(msgs, e.Msg)
	}
	return msgs, exited, reason
}
