package spawntest

import (
	"testing"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Idle is the body of a process that does nothing until it is told to exit
// (an exit signal, or its node stopping): a target to link to, monitor, name
// or kill. It receives nothing, so whatever is sent to it stays queued.
// Spawn it yourself (node.Spawn(spawntest.Idle, ...), or as a supervisor's
// child with supervisor.Func(spawntest.Idle)), or with SpawnIdle.
func Idle(p *process.Process) error {
	<-p.Context().Done()
	return nil
}

// SpawnIdle spawns an Idle process on node with opts (a backend, a name,
// ...) and returns it; it fails the test if the spawn fails.
func SpawnIdle(t testing.TB, node *process.Node, opts ...process.SpawnOption) pid.Pid {
	t.Helper()
	if node == nil {
		t.Fatal("spawntest: SpawnIdle: nil node")
	}
	p, err := node.Spawn(Idle, opts...)
	if err != nil {
		t.Fatalf("spawntest: SpawnIdle: spawn: %v", err)
	}
	return p
}
