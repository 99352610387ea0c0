// Command service_tree is the whole system at work, told in six acts: a
// supervision tree of typed servers on all three backends, crashes injected
// into it, the restarts its strategies make, links and monitors firing,
// names following services to their new processes, and an ordered shutdown.
//
// The tree:
//
//	top (one_for_one)
//	├─ storage (rest_for_one)
//	│  ├─ db       key-value store on Thread (a thread-affine driver)
//	│  └─ cache    on Async, reads through to db
//	├─ jobs (dynamic): transient workers on Blocking, one argument each
//	└─ metrics     on Async, counts the events it is told about
//
// The narrator is run itself, a plain goroutine: it calls servers by name,
// which works from any goroutine, and waits on watches, calls and start
// announcements, never on sleeps.
//
// With -observe, the tree keeps running instead, under a light load, with
// the observer (package observer) served at the address given:
//
//	go run ./examples/service_tree -observe localhost:8080
//
// Open the page to see the tree, the processes and the node's charts;
// switch the chaos monkey on (on the page, or with -chaos) and watch the
// tree heal as services crash.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/supervisor"
)

func main() {
	addr := flag.String("observe", "", "keep the tree running and serve the observer at this address (localhost:8080)")
	chaos := flag.Bool("chaos", false, "with -observe: start with the chaos monkey on (the page has its switch)")
	flag.Parse()
	var err error
	if *addr != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		err = serve(ctx, *addr, *chaos, os.Stdout)
	} else {
		err = run(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "service_tree:", err)
		os.Exit(1)
	}
}

// run tells the story on a fresh node and stops the node before returning.
func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	node := process.NewNode(process.WithLogger(nil)) // crash reports would go to stderr
	defer node.Stop(context.Background())

	s := &story{ctx: ctx, node: node, reg: registry.Of(node), j: newJournal(w)}
	s.j.line("service_tree: a supervision tree, in six acts.")
	for _, act := range []func() error{s.start, s.jobsAct, s.dbCrash, s.kill, s.metricsAct, s.shutdown} {
		if err := act(); err != nil {
			return err
		}
	}
	if err := s.j.unexpectedStarts(); err != nil {
		return err
	}
	s.j.line("\nThe end.")
	return nil
}

// story holds what the acts share.
type story struct {
	ctx     context.Context
	node    *process.Node
	reg     registry.Registry
	j       *journal
	top     supervisor.Ref
	jobs    atomic.Pointer[supervisor.Dynamic[Job]]
	watcher genserver.Ref[WatcherReq, error, genserver.Never]
	initial pids // top's children after act 1
	live    bool // kept running for the observer (-observe): top tolerates more restarts
}

// spec is the tree. Workers keep the default shutdown (5 s before a kill);
// they trap exits and stop at once. Supervisors wait for their children.
func (s *story) spec() supervisor.Spec {
	j := s.j
	// The db's files, shared by every db process the story will see.
	files := &disk{rows: make(map[string]string)}
	storage := supervisor.Spec{
		Name:     "storage",
		Strategy: supervisor.RestForOne,
		// Two restarts in this story: allow a few (the default is 1 in 5 s).
		Intensity: 3, Period: 5 * time.Second,
		Children: []supervisor.ChildSpec{
			{ID: "db", Start: supervisor.GenServer(
				func() *DB { return &DB{j: j, disk: files} },
				genserver.WithName("db"), genserver.WithBackend(process.Thread))},
			{ID: "cache", Start: supervisor.GenServer(
				func() *Cache { return &Cache{j: j} },
				genserver.WithName("cache"))},
		},
	}
	jobs := supervisor.DynamicSpec[Job]{
		Name: "jobs",
		// Transient: a job that crashes is retried, one that finishes is
		// not. Permanent would restart a finished job; Temporary would
		// never retry a crashed one.
		Restart:   supervisor.Transient,
		Intensity: 3, Period: 5 * time.Second,
		Start: func(ctx context.Context, sup *process.Process, job Job) (pid.Pid, error) {
			ref, err := genserver.StartLink(ctx, sup, &Worker{j: j, job: job},
				genserver.WithName(job.Name()), genserver.WithBackend(process.Blocking))
			return ref.Pid(), err
		},
	}
	top := supervisor.Spec{
		Name:     "top",
		Strategy: supervisor.OneForOne,
		Children: []supervisor.ChildSpec{
			{ID: "storage", Type: supervisor.SupervisorChild, Start: supervisor.Supervisor(storage)},
			// supervisor.DynamicSupervisor(jobs) would do, but gives no handle
			// to start children with: start it here and keep the handle.
			{ID: "jobs", Type: supervisor.SupervisorChild, Start: func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
				d, err := supervisor.StartDynamicLink(ctx, sup, jobs)
				if err == nil {
					s.jobs.Store(&d) // a restart of jobs would store the new handle
				}
				return d.Pid(), err
			}},
			{ID: "metrics", Start: supervisor.GenServer(
				func() *Metrics { return &Metrics{j: j} },
				genserver.WithName("metrics"))},
		},
	}
	if s.live { // under the chaos monkey, a subtree may give up now and then
		top.Intensity, top.Period = 10, 10*time.Second
	}
	return top
}

// start is act 1: the tree comes up, jobs get their workers, and every
// service answers.
func (s *story) start() error {
	s.j.act(1, "The tree starts: children in spec order, each start synchronous.")
	for _, line := range []string{
		"top (one_for_one)",
		"├─ storage (rest_for_one): db on Thread, cache on Async",
		"├─ jobs (dynamic): transient workers on Blocking",
		"└─ metrics on Async",
	} {
		s.j.narrate("%s", line)
	}
	top, err := supervisor.Start(s.ctx, s.node, s.spec())
	if err != nil {
		return err
	}
	s.top = top
	started, err := s.j.awaitStarts(s.ctx, 3)
	if err != nil {
		return err
	}
	s.j.narrate("started, in order: %v", started)

	for _, job := range []Job{{ID: 1, Task: "resize photos"}, {ID: 2, Task: "send newsletters"}} {
		if _, err := s.jobs.Load().StartChild(s.ctx, job); err != nil {
			return err
		}
	}
	if started, err = s.j.awaitStarts(s.ctx, 2); err != nil {
		return err
	}
	s.j.narrate("jobs started two workers from one template, each with its own Job: %v", started)
	s.initial = s.pids("storage", "jobs", "metrics")

	if _, err := dbRef(s.node).Call(s.ctx, Put{Key: "user:1", Value: "ada"}); err != nil {
		return err
	}
	first, err := cacheRef(s.node).Call(s.ctx, Lookup{Key: "user:1"})
	if err != nil {
		return err
	}
	second, err := cacheRef(s.node).Call(s.ctx, Lookup{Key: "user:1"})
	if err != nil {
		return err
	}
	s.j.narrate("db put user:1=ada; cache lookups: %v, then %v", first, second)
	for _, name := range []string{"job-1", "job-2"} {
		rep, err := jobRef(s.node, name).Call(s.ctx, Work{})
		if err != nil {
			return err
		}
		s.j.narrate("%s: %s", name, rep)
	}
	return nil
}

// jobsAct is act 2: transient workers, a normal stop, a panic, and a
// trapping process linked to the one that panics.
func (s *story) jobsAct() error {
	s.j.act(2, "Jobs are transient: a crashed job is restarted, a finished one is not.")

	// A watch is a monitor for code that is not a process.
	job1, err := s.exited("job-1")
	if err != nil {
		return err
	}
	s.j.narrate("job-1 gets its last batch: it replies, then stops normally.")
	rep, err := jobRef(s.node, "job-1").Call(s.ctx, Work{Last: true})
	if err != nil {
		return err
	}
	reason, err := s.wait(job1)
	if err != nil {
		return err
	}
	s.j.narrate("job-1 replied %q and exited %q", rep, reason)

	before := s.pids("job-2")
	linked := make(chan error, 1)
	aud, err := s.node.Spawn(auditor(s.j, before.at["job-2"], "job-2", linked))
	if err != nil {
		return err
	}
	if linkErr, err := s.wait(linked); err != nil || linkErr != nil {
		return errors.Join(linkErr, err)
	}
	audDone, err := s.watch(aud)
	if err != nil {
		return err
	}
	s.j.narrate("an auditor process traps exits and links to job-2; job-2 panics:")
	_, callErr := jobRef(s.node, "job-2").Call(s.ctx, Work{Crash: true})
	restarted, err := s.j.awaitStarts(s.ctx, 1)
	if err != nil {
		return err
	}
	if _, err := s.wait(audDone); err != nil {
		return err
	}
	panicked, err := panicValue(callErr)
	if err != nil {
		return err
	}
	s.j.narrate("the caller got the crash as its error: a *process.PanicError, value %q", panicked)
	s.j.narrate("jobs restarted: %v; %s", restarted, s.same(before))
	counts, err := s.jobs.Load().CountChildren(s.ctx)
	if err != nil {
		return err
	}
	s.j.narrate("jobs has %d active child: job-1 finished normally and stays down", counts.Active)
	if rep, err = jobRef(s.node, "job-2").Call(s.ctx, Work{}); err != nil {
		return err
	}
	s.j.narrate("job-2 called by name right after its restart: %q (a fresh state)", rep)
	return nil
}

// dbCrash is act 3: the db panics; rest_for_one restarts it and the cache
// after it, in order, while a watcher monitors the cache.
func (s *story) dbCrash() error {
	s.j.act(3, "The db crashes. storage is rest_for_one: the cache, started after the db, restarts with it.")
	watcher, err := genserver.Start(s.ctx, s.node, &Watcher{j: s.j}, genserver.WithName("watcher"))
	if err != nil {
		return err
	}
	s.watcher = watcher
	before := s.pids("storage", "db", "cache", "metrics")
	if _, err := s.watcher.Call(s.ctx, Watch{Name: "cache"}); err != nil {
		return err
	}
	s.j.narrate("a watcher process monitors the cache; the db's driver panics:")
	_, callErr := dbRef(s.node).Call(s.ctx, Corrupt{})
	restarted, err := s.j.awaitStarts(s.ctx, 2)
	if err != nil {
		return err
	}
	if _, err := s.watcher.Call(s.ctx, NextDown{}); err != nil {
		return err
	}
	panicked, err := panicValue(callErr)
	if err != nil {
		return err
	}
	s.j.narrate("the db call failed with the crash, value %q", panicked)
	s.j.narrate("restarted, in order: %v", restarted)
	s.j.narrate("%s", s.same(before))
	entry, err := cacheRef(s.node).Call(s.ctx, Lookup{Key: "user:1"})
	if err != nil {
		return err
	}
	s.j.narrate("cache lookup by name right after the restart: %v; the new db reopened its data", entry)
	return nil
}

// kill is act 4: an untrappable Kill from outside, seen as Killed.
func (s *story) kill() error {
	s.j.act(4, "Kill from outside: it cannot be trapped, and everyone sees the reason Killed.")
	before := s.pids("db", "cache")
	if _, err := s.watcher.Call(s.ctx, Watch{Name: "cache"}); err != nil {
		return err
	}
	s.j.narrate("the watcher monitors the new cache; we send it the exit signal %q:", process.Kill)
	if err := s.node.Exit(before.at["cache"], process.Kill); err != nil {
		return err
	}
	restarted, err := s.j.awaitStarts(s.ctx, 1)
	if err != nil {
		return err
	}
	reason, err := s.watcher.Call(s.ctx, NextDown{})
	if err != nil {
		return err
	}
	s.j.narrate("sent %q, seen %q: the cache traps exits, yet it died at once and ran no Terminate",
		process.Kill, reason)
	s.j.narrate("restarted: %v (nothing was started after the cache)", restarted)
	s.j.narrate("%s", s.same(before))
	entry, err := cacheRef(s.node).Call(s.ctx, Lookup{Key: "user:1"})
	if err != nil {
		return err
	}
	s.j.narrate("cache lookup by name right after the restart: %v", entry)
	return nil
}

// metricsAct is act 5: what did not move, and what metrics was told.
func (s *story) metricsAct() error {
	s.j.act(5, "The crashes stayed in their subtrees: top (one_for_one) restarted nothing.")
	counts, err := metricsRef(s.node).Call(s.ctx, Snapshot{})
	if err != nil {
		return err
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		kv = append(kv, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	s.j.narrate("%s", s.same(s.initial))
	s.j.narrate("metrics counted what it was told: %s", strings.Join(kv, " "))
	s.j.narrate("(no crash.cache: a killed process runs no more code, so it could not report)")
	return nil
}

// shutdown is act 6: top stops its children in reverse start order.
func (s *story) shutdown() error {
	s.j.act(6, "Stop top: children stop in reverse start order, each in its Terminate.")
	s.j.narrate("expected: metrics, then jobs (its workers), then storage (cache, then db)")
	if err := s.top.Stop(s.ctx); err != nil {
		return err
	}
	s.j.narrate("top has stopped, and the whole tree with it")
	if err := s.watcher.Stop(s.ctx, nil); err != nil {
		return err
	}
	s.j.narrate("with the watcher stopped too, processes left on the node: %d", len(s.node.Processes()))
	return nil
}

// ---- helpers --------------------------------------------------------------

// pids is a snapshot of which process holds each of some names.
type pids struct {
	names []string
	at    map[string]pid.Pid
}

// pids finds the processes registered under names now.
func (s *story) pids(names ...string) pids {
	at := make(map[string]pid.Pid, len(names))
	for _, name := range names {
		at[name], _ = s.reg.WhereIs(name)
	}
	return pids{names: names, at: at}
}

// same says, for each name of before, whether it still names the same
// process: facts to print rather than Pids, which change from run to run.
func (s *story) same(before pids) string {
	facts := make([]string, len(before.names))
	for i, name := range before.names {
		now, _ := s.reg.WhereIs(name)
		facts[i] = fmt.Sprintf("%s same pid: %v", name, now == before.at[name])
	}
	return strings.Join(facts, ", ")
}

// watch returns a channel that receives p's exit reason.
func (s *story) watch(p pid.Pid) (<-chan error, error) {
	ch := make(chan error, 1)
	_, err := link.Watch(s.node, p, func(d link.Down) { ch <- d.Reason })
	return ch, err
}

// exited is watch for the process registered as name.
func (s *story) exited(name string) (<-chan error, error) {
	p, ok := s.reg.WhereIs(name)
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, registry.ErrNotRegistered)
	}
	return s.watch(p)
}

// panicValue is the panic value of the server a call failed on.
func panicValue(callErr error) (any, error) {
	var pe *process.PanicError
	if !errors.As(callErr, &pe) {
		return nil, fmt.Errorf("expected a crash, the call returned %v", callErr)
	}
	return pe.Value, nil
}

// wait receives from ch, giving up when the story's time is out.
func (s *story) wait(ch <-chan error) (error, error) {
	select {
	case v := <-ch:
		return v, nil
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
}
