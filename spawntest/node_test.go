package spawntest_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

func TestNewNode_IsStoppedWhenTheTestEnds(t *testing.T) {
	t.Parallel()
	var node *process.Node
	var ctx context.Context
	f := runFake(func(t testing.TB) {
		node = spawntest.NewNode(t)
		ctx = spawntest.Context(t)
		spawntest.NewProbe(t, node)
		if n := len(node.Processes()); n != 1 {
			t.Fatalf("%d processes, want 1", n)
		}
		if err := ctx.Err(); err != nil {
			t.Fatalf("context done during the test: %v", err)
		}
	})
	wantPass(t, f)
	if ps := node.Processes(); len(ps) != 0 {
		t.Errorf("processes left after the test: %v", ps)
	}
	if _, err := node.Spawn(func(*process.Process) error { return nil }); !errors.Is(err, process.ErrNodeStopped) {
		t.Errorf("spawn after the test: %v, want ErrNodeStopped", err)
	}
	if ctx.Err() == nil {
		t.Error("Context not done after the test")
	}
}

func TestNewNode_IsSilentUnlessAskedToLog(t *testing.T) {
	t.Parallel()
	f := runFake(func(t testing.TB) {
		node := spawntest.NewNode(t)
		if node.Logger().Core().Enabled(zapcore.ErrorLevel) {
			t.Error("the default node logs")
		}
		logged := spawntest.NewNode(t, spawntest.WithTestLog(t))
		logged.Logger().Info("hello from the node")
	})
	wantPass(t, f)
	if !slices.ContainsFunc(f.logs, func(s string) bool { return containsAll(s, "INFO", "hello from the node") }) {
		t.Errorf("WithTestLog: the test's log holds %q, want the node's entry", f.logs)
	}
}

// A process that ignores its context outlives the node's stop: the test
// fails, saying so.
func TestNewNode_FailsWhenTheStopDoesNotFinish(t *testing.T) {
	release := make(chan struct{})
	var node *process.Node
	old := spawntest.Timeout
	defer func() { spawntest.Timeout = old }()
	f := runFake(func(t testing.TB) {
		node = spawntest.NewNode(t)
		running := make(chan struct{})
		if _, err := node.Spawn(func(*process.Process) error {
			close(running)
			<-release // ignores its context on purpose
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		spawntest.Recv(t, running)
		// Cleanups run last first: this one shortens the node's stop.
		t.Cleanup(func() { spawntest.Timeout = short })
	})
	wantFail(t, f, "stopping the test's node", "1 stragglers")
	close(release)
	if err := node.Stop(context.Background()); err != nil {
		t.Fatalf("stop after the release: %v", err)
	}
}

func TestForEachBackend_RunsEveryBackend(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	t.Run("run", func(t *testing.T) {
		spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
			node := spawntest.NewNode(t)
			pr := spawntest.NewProbe(t, node, process.WithBackend(b))
			var got process.Backend
			pr.Do(func(p *process.Process) error { got = p.Backend(); return nil })
			if got != b {
				t.Errorf("probe runs on %v, want %v", got, b)
			}
			mu.Lock()
			seen = append(seen, t.Name())
			mu.Unlock()
		})
	})
	slices.Sort(seen)
	want := []string{
		"TestForEachBackend_RunsEveryBackend/run/" + process.Async.String(),
		"TestForEachBackend_RunsEveryBackend/run/" + process.Blocking.String(),
		"TestForEachBackend_RunsEveryBackend/run/" + process.Thread.String(),
	}
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Errorf("subtests %q, want %q", seen, want)
	}
}

func TestForEachBackendNode_GivesEachBackendANodeOfItsOwn(t *testing.T) {
	var mu sync.Mutex
	nodes := map[string]*process.Node{}
	t.Run("run", func(t *testing.T) {
		spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
			pr := spawntest.NewProbe(t, n, process.WithBackend(b))
			var got process.Backend
			pr.Do(func(p *process.Process) error { got = p.Backend(); return nil })
			if got != b {
				t.Errorf("probe runs on %v, want %v", got, b)
			}
			if bound, _ := n.BlockingPool(); bound != 2 {
				t.Errorf("blocking pool bound %d, want the option's 2", bound)
			}
			mu.Lock()
			nodes[t.Name()] = n
			mu.Unlock()
		}, process.WithBlockingPool(2))
	})
	if len(nodes) != len(spawntest.Backends()) {
		t.Fatalf("%d subtests ran, want one per backend: %v", len(nodes), nodes)
	}
	ids := map[string]bool{}
	for name, n := range nodes {
		ids[n.ID().String()] = true
		if _, err := n.Spawn(func(*process.Process) error { return nil }); !errors.Is(err, process.ErrNodeStopped) {
			t.Errorf("%s: spawn after the subtest: %v, want ErrNodeStopped", name, err)
		}
	}
	if len(ids) != len(nodes) {
		t.Errorf("the subtests shared nodes: %d distinct of %d", len(ids), len(nodes))
	}
}

func TestInfo_OfALiveProcessAndOfADeadOne(t *testing.T) {
	t.Parallel()
	node := spawntest.NewNode(t)
	pr := spawntest.NewProbe(t, node)
	idle := spawntest.SpawnIdle(t, node)
	pr.Link(idle)
	info := spawntest.Info(t, node, pr.Pid())
	if info.Pid != pr.Pid() || !slices.Equal(info.Links, []pid.Pid{idle}) {
		t.Errorf("Info = %+v, want the probe's, linked to %v", info, idle)
	}

	dead := spawntest.SpawnIdle(t, node)
	spawntest.ExitAndWait(t, node, dead, process.Kill)
	f := runFake(func(t testing.TB) { spawntest.Info(t, node, dead) })
	wantFail(t, f, "Info of "+dead.String(), process.NoProc.Error())
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
