package genserver_test

import (
	"fmt"
	"testing"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/spawntest"
)

// poolReq and poolRep are types no other test's servers use, so that the
// pool of their calls holds only what this file's servers left there.
type (
	poolReq struct{ N int }
	poolRep struct{ N int }
)

// poolServer answers a call with its number.
type poolServer struct{ genserver.NoCasts }

func (poolServer) HandleCall(_ *genserver.CallCtx[poolRep], req poolReq) (poolRep, error) {
	return poolRep(req), nil
}

// TestCallPool_ADeadServersSpareCallServesTheNextServer: a server keeps the
// call its caller is done with for the next caller; when it dies, that
// call goes to the pool of its types, cleared, for the next server's first
// call. (Under the race detector a pool drops some of what it is given, so
// the server is started and stopped until one round finds the call.)
func TestCallPool_ADeadServersSpareCallServesTheNextServer(t *testing.T) {
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	for round := range 50 {
		exited := make(chan struct{})
		ref, err := genserver.Start(ctx, n, poolServer{}, genserver.WithOnExit(func(error) { close(exited) }))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ref.Call(ctx, poolReq{N: round}); err != nil || got.N != round {
			t.Fatalf("call %d: %v, %v", round, got, err)
		}
		if err := ref.Stop(ctx, nil); err != nil {
			t.Fatal(err)
		}
		spawntest.Recv(t, exited) // WithOnExit runs after the spare went to the pool
		found, cleared := genserver.TakePooledCall[poolReq, poolRep]()
		if !found {
			continue
		}
		if !cleared {
			t.Fatal("a pooled call is not cleared")
		}
		return
	}
	t.Fatal("no server's spare call reached the pool in 50 rounds")
}

// TestCallPool_CallsFromThePoolAnswerTheirOwnCallers: servers of one pair
// of types are started, called by several callers at once and stopped, one
// after the other, so that calls go from server to server through the
// pool and from caller to caller through the spare: every caller gets its
// own request's answer.
func TestCallPool_CallsFromThePoolAnswerTheirOwnCallers(t *testing.T) {
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	const callers, calls = 4, 200
	for round := range 10 {
		ref, err := genserver.Start(ctx, n, poolServer{})
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, callers)
		for caller := range callers {
			go func() {
				for i := range calls {
					want := (round*callers+caller)*calls + i
					got, err := ref.Call(ctx, poolReq{N: want})
					if err == nil && got.N != want {
						err = fmt.Errorf("call %d answered %d", want, got.N)
					}
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range callers {
			if err := spawntest.Recv(t, errs); err != nil {
				t.Fatal(err)
			}
		}
		if err := ref.Stop(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
}
