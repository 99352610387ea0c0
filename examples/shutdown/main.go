// Command shutdown stops a supervision tree and shows the order and the
// manner in which its children go. A supervisor stops its children one at a
// time, in reverse start order, each as its Shutdown says:
//
//   - BrutalKill: killed at once; its Terminate does not run.
//   - Shutdown(d): an exit signal Shutdown, then d to stop. A well-behaved
//     child runs Terminate and exits; a stubborn one is killed after d.
//   - Infinity: the supervisor waits as long as it takes, the default for a
//     child that is itself a supervisor, which stops its own children first.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/supervisor"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "shutdown:", err)
		os.Exit(1)
	}
}

// grace is the stubborn child's shutdown timeout.
const grace = 100 * time.Millisecond

// eventLog records what happens during the shutdown, in order.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *eventLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

// Service is a worker with nothing to do but stop. It takes no calls and
// no casts.
type Service struct {
	genserver.NoCalls
	genserver.NoCasts

	name  string
	stall bool // Terminate takes longer than the supervisor allows
	log   *eventLog
}

// Init traps exits: the supervisor's Shutdown signal then reaches the
// server as a message, and the server stops by running Terminate. A server
// that does not trap exits dies of the signal at once, without Terminate.
func (s *Service) Init(ctx *genserver.Ctx) error {
	ctx.Process().TrapExit(true)
	return nil
}

// Terminate is the server's last word. A stubborn one does not return until
// its process is killed, which cancels its context.
func (s *Service) Terminate(ctx *genserver.Ctx, reason error) {
	if s.stall {
		s.log.add("%s: Terminate(%v) started, and takes its time", s.name, reason)
		<-ctx.Context().Done()
		return
	}
	s.log.add("%s: Terminate(%v) ran, state saved", s.name, reason)
}

// run builds the tree, stops it and prints what happened.
func run(w io.Writer) error {
	ctx := context.Background()
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(ctx)
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	log := &eventLog{}
	service := func(id string, shutdown supervisor.Shutdown, stall bool) supervisor.ChildSpec {
		return supervisor.ChildSpec{
			ID:       id,
			Shutdown: shutdown,
			Start: supervisor.GenServer(func() *Service {
				return &Service{name: id, stall: stall, log: log}
			}, genserver.WithName(id)),
		}
	}
	sup, err := supervisor.Start(ctx, node, supervisor.Spec{
		Children: []supervisor.ChildSpec{
			service("cache", supervisor.BrutalKill, false),
			service("db", supervisor.Shutdown(time.Second), false),
			service("stubborn", supervisor.Shutdown(grace), true),
			{
				ID:       "workers",
				Type:     supervisor.SupervisorChild,
				Shutdown: supervisor.Infinity, // the default for a supervisor child
				Start: supervisor.Supervisor(supervisor.Spec{Children: []supervisor.ChildSpec{
					service("w1", supervisor.Shutdown(time.Second), false),
					service("w2", supervisor.Shutdown(time.Second), false),
				}}),
			},
		},
	})
	if err != nil {
		return err
	}
	children, err := sup.WhichChildren(ctx)
	if err != nil {
		return err
	}
	var started []string
	for _, c := range children {
		started = append(started, c.ID)
	}
	say("start order: %v (the workers supervisor started w1, w2)", started)

	// Watch every process of the tree for its exit reason. A kill is
	// applied by the supervisor itself and the watch is told before the
	// kill returns, so a killed child can be logged in order here; a child
	// that stops by itself has logged its Terminate before it exits.
	ids := []string{"cache", "db", "stubborn", "workers", "w1", "w2"}
	pids := map[string]pid.Pid{}
	for _, c := range children {
		pids[c.ID] = c.Pid
	}
	reg := registry.Of(node)
	for _, id := range []string{"w1", "w2"} {
		pids[id], _ = reg.WhereIs(id)
	}
	var (
		stopping time.Time // when Stop was called; set before any child stops
		mu       sync.Mutex
		reasons  = map[string]error{}
		wg       sync.WaitGroup
	)
	for _, id := range ids {
		wg.Add(1)
		_, err := link.Watch(node, pids[id], func(d link.Down) {
			defer wg.Done()
			mu.Lock()
			reasons[id] = d.Reason
			mu.Unlock()
			if !errors.Is(d.Reason, process.Killed) {
				return
			}
			if id == "stubborn" {
				// The supervisor started its timer after Stop was called.
				log.add("%s: killed once its %v were up: %v", id, grace, time.Since(stopping) >= grace)
				return
			}
			log.add("%s: killed at once (brutal kill)", id)
		})
		if err != nil {
			return err
		}
	}
	supDown := make(chan error, 1)
	if _, err := link.Watch(node, sup.Pid(), func(d link.Down) { supDown <- d.Reason }); err != nil {
		return err
	}

	stopping = time.Now()
	if err := sup.Stop(ctx); err != nil {
		return err
	}
	reason := <-supDown
	wg.Wait()

	say("stop order:")
	for i, e := range log.all() {
		say("  %d. %s", i+1, e)
	}
	say("exit reasons:")
	for _, id := range []string{"w2", "w1", "workers", "stubborn", "db", "cache"} {
		say("  %-8s %v", id, reasons[id])
	}
	say("  %-8s %v", "top", reason)
	cacheTerminated := false
	for _, e := range log.all() {
		cacheTerminated = cacheTerminated || strings.HasPrefix(e, "cache: Terminate")
	}
	say("the brutally killed cache ran its Terminate: %v", cacheTerminated)
	return nil
}
