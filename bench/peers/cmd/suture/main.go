// Command suture runs W7 of BENCHMARKS.md with suture v4 (system "suture"):
// a supervisor with one service that crashes (Serve returns an error) and is
// restarted; a name → service lookup kept by hand (suture has no registry).
// Every other workload is skipped: suture supervises goroutines and has no
// processes, mailboxes, links or names of its own.
//
//	go run ./cmd/suture W7        # QUICK=1 divides every N by 10
package main

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/thejerf/suture/v4"

	bu "github.com/spawned-go/spawned/bench/peers/internal/benchutil"
)

const system = "suture"

func main() {
	bu.Main(system, map[string]func(){"W7": w7}, func(string) string {
		return "suture only supervises services (no processes, mailboxes, links or registry)"
	})
}

type req struct {
	crash bool
	reply chan int
}

// incarnation is one run of Serve: its request channel, closed on exit.
type incarnation struct {
	reqs chan req
	done chan struct{}
	gen  int
}

var (
	errCrash  = errors.New("crash")
	errNoProc = errors.New("noproc")
)

func (c *incarnation) call() (int, error) {
	r := req{reply: make(chan int, 1)}
	select {
	case c.reqs <- r:
	case <-c.done:
		return 0, errNoProc
	}
	select {
	case g := <-r.reply:
		return g, nil
	case <-c.done:
		return 0, errNoProc
	}
}

// names is the name → service lookup.
var names sync.Map

// server is the supervised service; each Serve is a new incarnation that
// registers itself under its name and unregisters before returning.
type server struct {
	name string
	gen  int
}

func (s *server) Serve(ctx context.Context) error {
	s.gen++
	c := &incarnation{reqs: make(chan req), done: make(chan struct{}), gen: s.gen}
	names.Store(s.name, c)
	defer func() {
		names.CompareAndDelete(s.name, c)
		close(c.done)
	}()
	for {
		select {
		case r := <-c.reqs:
			if r.crash {
				return errCrash
			}
			r.reply <- c.gen
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func lookup(name string) *incarnation {
	v, ok := names.Load(name)
	if !ok {
		return nil
	}
	return v.(*incarnation)
}

func w7() {
	restarts := bu.N(1_000)
	sup := suture.New("sup", suture.Spec{
		EventHook:        func(suture.Event) {}, // logging off
		FailureThreshold: 1e12,                  // never back off: restart every time, as the other systems
		FailureBackoff:   time.Millisecond,
	})
	sup.Add(&server{name: "child"})
	ctx, cancel := context.WithCancel(context.Background())
	errc := sup.ServeBackground(ctx)

	var old *incarnation
	for old = lookup("child"); old == nil; old = lookup("child") {
		runtime.Gosched()
	}
	retries := 0
	t0 := time.Now()
	for i := 0; i < restarts; i++ {
		old = lookup("child")
		old.reqs <- req{crash: true}
		for {
			if c := lookup("child"); c != nil {
				if g, err := c.call(); err == nil {
					if g == old.gen {
						bu.Fatal(system, "W7", "call answered by the crashed service")
					}
					break
				}
			}
			retries++
			runtime.Gosched()
		}
	}
	el := time.Since(t0)
	cancel()
	<-errc
	bu.Note("NOTE %s W7 %d failed lookups/calls over %d restarts", system, retries, restarts)
	bu.Result(system, "W7", float64(el.Nanoseconds())/1e3/float64(restarts), "us/restart")
}
