package process_test

import (
	"testing"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// handlerFunc adapts a function to process.Handler.
type handlerFunc func(p *process.Process, msg any) error

func (f handlerFunc) HandleMessage(p *process.Process, msg any) error { return f(p, msg) }

// A handler that sends to an idle process and then waits for that process
// must not wait forever: the woken process may not stay parked behind the
// sender's activation (the hand-off to the same worker is taken back).
func TestHandOffSenderThatBlocksDoesNotStrandTheReceiver(t *testing.T) {
	for _, sender := range []process.Backend{process.Async, process.Blocking} {
		for _, receiver := range []process.Backend{process.Async, process.Blocking} {
			t.Run(sender.String()+"_to_"+receiver.String(), func(t *testing.T) {
				n := spawntest.NewNode(t)
				closer, err := n.SpawnHandler(handlerFunc(func(_ *process.Process, msg any) error {
					close(msg.(chan struct{}))
					return nil
				}), process.WithBackend(receiver))
				if err != nil {
					t.Fatal(err)
				}
				done := make(chan struct{}, 1)
				waiter, err := n.SpawnHandler(handlerFunc(func(p *process.Process, msg any) error {
					ch := make(chan struct{})
					if err := p.Send(closer, ch); err != nil {
						return err
					}
					<-ch // only the closer can end this wait
					done <- struct{}{}
					return nil
				}), process.WithBackend(sender))
				if err != nil {
					t.Fatal(err)
				}
				for i := range 20 {
					if err := n.Send(waiter, i); err != nil {
						t.Fatal(err)
					}
					spawntest.Recv(t, done)
				}
			})
		}
	}
}

// relay forwards each token to next; the last relay, with no next, hands
// each token it gets to out.
type relay struct {
	next pid.Pid
	out  chan int
}

func (r *relay) HandleMessage(p *process.Process, msg any) error {
	tok := msg.(int)
	if !r.next.IsZero() {
		return p.Send(r.next, tok)
	}
	r.out <- tok
	return nil
}

// Tokens sent from process to process along a chain keep their order while
// outside senders feed the chain at the same time, on every backend.
func TestHandOffKeepsOrderAlongAChain(t *testing.T) {
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		const length, tokens = 50, 2000
		pids := make([]pid.Pid, length)
		// Room for every token: the last relay never blocks. The test takes
		// the tokens one by one, each wait bounded on its own: the whole run
		// (100,000 hops) takes seconds on a loaded machine under -race, and
		// one bound over all of it failed there without anything stuck.
		out := make(chan int, tokens+1)
		for i := length - 1; i >= 0; i-- {
			r := &relay{out: out}
			if i < length-1 {
				r.next = pids[i+1]
			}
			p, err := n.SpawnHandler(r, process.WithBackend(b))
			if err != nil {
				t.Fatal(err)
			}
			pids[i] = p
		}
		go func() {
			for tok := range tokens {
				n.Send(pids[0], tok)
			}
			n.Send(pids[0], -1)
		}()
		for i := range tokens {
			if tok := spawntest.Recv(t, out); tok != i {
				t.Fatalf("token %d arrived as number %d", tok, i)
			}
		}
		if tok := spawntest.Recv(t, out); tok != -1 {
			t.Fatalf("token %d arrived after the last, want the end token -1", tok)
		}
	})
}
