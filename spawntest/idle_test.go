package spawntest_test

import (
	"errors"
	"testing"

	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

func TestSpawnIdle_WaitsUntilToldToExit(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, node *process.Node, b process.Backend) {
		p := spawntest.SpawnIdle(t, node, process.WithBackend(b), process.WithName("idle"))
		for _, msg := range []any{"a", 2} {
			if err := node.Send(p, msg); err != nil {
				t.Fatal(err)
			}
		}
		info, err := node.Info(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Backend != b || info.Name != "idle" || info.MessageQueueLen != 2 {
			t.Errorf("Info: backend %v, name %q, %d queued; want %v, \"idle\", 2 (an idle process takes nothing)",
				info.Backend, info.Name, info.MessageQueueLen, b)
		}
		stop := errors.New("stop")
		if got := spawntest.ExitAndWait(t, node, p, stop); got != stop {
			t.Errorf("exit reason %v, want %v", got, stop)
		}
	})
}

func TestSpawnIdle_FailsWhenTheSpawnFails(t *testing.T) {
	t.Parallel()
	f := runFake(func(t testing.TB) {
		node := spawntest.NewNode(t)
		spawntest.SpawnIdle(t, node, process.WithName("taken"))
		spawntest.SpawnIdle(t, node, process.WithName("taken"))
	})
	wantFail(t, f, "SpawnIdle", "taken")
}
