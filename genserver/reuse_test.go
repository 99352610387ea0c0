package genserver_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// echoReq is a call to echoServer: Seq comes back, answered at once or,
// with Later, through From by another goroutine.
type echoReq struct {
	Caller, Seq int
	Later       bool
}

// echoServer answers every call with its request.
type echoServer struct{ genserver.NoCasts }

func (echoServer) HandleCall(c *genserver.CallCtx[echoReq], req echoReq) (echoReq, error) {
	if req.Later {
		from := c.From()
		go from.Reply(req, nil)
		return c.NoReply()
	}
	return req, nil
}

// echoKilled is the reason echo servers are killed with.
type echoKilled struct{}

func (echoKilled) Error() string { return "echo killed" }

// TestCallsAnsweredWhileTheServerIsKilled: callers call a server, answered
// at once and through From, while it is killed. A caller gets its own
// request back, or the kill's reason, or NoProc: never another call's
// answer, whatever becomes of the call it made before (the runtime keeps a
// call its caller is done with for the next one).
func TestCallsAnsweredWhileTheServerIsKilled(t *testing.T) {
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		n := spawntest.NewNode(t)
		ctx := spawntest.Context(t)
		const callers, rounds, callsBeforeKill = 4, 20, 50
		for range rounds {
			ref, err := genserver.Start(ctx, n, echoServer{}, genserver.WithBackend(b))
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, callers)
			answered := make(chan struct{}, callers*callsBeforeKill)
			for caller := range callers {
				wg.Go(func() {
					for seq := 0; ; seq++ {
						req := echoReq{Caller: caller, Seq: seq, Later: seq%3 == 0}
						got, err := ref.Call(ctx, req)
						switch {
						case err == nil && got != req:
							errs <- fmt.Errorf("call %+v answered %+v", req, got)
							return
						case err == nil:
							select {
							case answered <- struct{}{}:
							default:
							}
						case errors.Is(err, echoKilled{}) || errors.Is(err, process.NoProc):
							return
						default:
							errs <- fmt.Errorf("call %+v: %w", req, err)
							return
						}
					}
				})
			}
			for range callsBeforeKill {
				spawntest.Recv(t, answered)
			}
			if err := n.Exit(ref.Pid(), echoKilled{}); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		}
	})
}
