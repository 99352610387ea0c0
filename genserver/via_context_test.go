package genserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// slowRegistrar is a ContextRegistrar whose lookups wait for a store that
// does not answer: WhereIsName for its own long bound, WhereIsNameContext
// until the context is done.
type slowRegistrar struct{ release chan struct{} }

func (slowRegistrar) RegisterName(string, pid.Pid) bool { return false }
func (slowRegistrar) UnregisterName(string)             {}
func (r slowRegistrar) WhereIsName(string) (pid.Pid, bool) {
	<-r.release // the registrar's own bound, far past the call's deadline
	return pid.Pid{}, false
}
func (slowRegistrar) WhereIsNameContext(ctx context.Context, _ string) (pid.Pid, bool) {
	<-ctx.Done()
	return pid.Pid{}, false
}

// A call by name through a registrar whose lookup waits for the network
// returns by the call's deadline, with ErrTimeout: the lookup is bounded
// by the call's context (found by the cluster's three-node chaos test: a
// call with a 2 s deadline returned after the global names' 5 s bound).
func TestCallByNameViaAContextRegistrarReturnsByItsDeadline(t *testing.T) {
	n := spawntest.NewNode(t)
	r := slowRegistrar{release: make(chan struct{})}
	t.Cleanup(func() { close(r.release) })
	ref := genserver.NamedVia[string, string, genserver.Never](n, r, "svc")
	ctx, cancel := context.WithTimeout(spawntest.Context(t), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := ref.Call(ctx, "hello"); done <- err }()
	err := spawntest.Recv(t, done)
	require.ErrorIs(t, err, genserver.ErrTimeout)
	require.NotErrorIs(t, err, process.NoProc)
	var ce *genserver.CallError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "svc", ce.Name)
}
