// Command job_runner runs jobs under a dynamic supervisor. Each job is a
// transient child started with its own argument: a job that crashes is
// restarted and may succeed on a retry, a job that finishes is not
// restarted, and a job that keeps failing uses up the supervisor's restart
// intensity, which makes the supervisor give up and exit with shutdown,
// taking its other children with it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/supervisor"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "job_runner:", err)
		os.Exit(1)
	}
}

// Job is the argument of each child. A restart starts the child again with
// the same Job, so the attempt counter, a pointer, is shared by all the
// attempts of one job.
type Job struct {
	Name string
	// Failures is how many attempts crash before one succeeds; -1 means
	// every attempt crashes.
	Failures int
	// LongRunning jobs run until they are stopped.
	LongRunning bool

	attempts *atomic.Int32
	exits    chan<- attemptExit
}

// attemptExit reports how one attempt of a job ended.
type attemptExit struct {
	job     string
	attempt int
	reason  error
}

var errFlaky = errors.New("transient failure")

// work is the body of a job's process: attempt n.
func (j Job) work(p *process.Process, n int) error {
	switch {
	case j.LongRunning:
		_, err := p.Receive(p.Context()) // returns only when the process is stopped
		return err
	case j.Failures < 0 || n <= j.Failures:
		return fmt.Errorf("%s: %w", j.Name, errFlaky) // a crash: restarted
	}
	return nil // a normal exit: a transient child is not restarted
}

// startJob is the dynamic supervisor's template: it starts one attempt of
// job as a process linked to the supervisor. OnExit reports the attempt's
// exit reason; it runs before the supervisor can hear of the exit, so the
// reports come in the order things happened.
func startJob(_ context.Context, sup *process.Process, job Job) (pid.Pid, error) {
	n := int(job.attempts.Add(1))
	return sup.SpawnLink(func(p *process.Process) error { return job.work(p, n) },
		process.OnExit(func(reason error) {
			job.exits <- attemptExit{job: job.Name, attempt: n, reason: reason}
		}))
}

const intensity = 5

// run starts the job supervisor and feeds it jobs one at a time, so that
// the story is the same on every run.
func run(w io.Writer) error {
	ctx := context.Background()
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(ctx)
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	jobs, err := supervisor.StartDynamic(ctx, node, supervisor.DynamicSpec[Job]{
		Start:   startJob,
		Restart: supervisor.Transient, // restart after a crash, not after success
		// More than 5 restarts within 60 s and the supervisor gives up.
		// Everything here happens well within the window.
		Intensity: intensity,
		Period:    60 * time.Second,
	})
	if err != nil {
		return err
	}
	supDown := make(chan error, 1)
	if _, err := link.Watch(node, jobs.Pid(), func(d link.Down) { supDown <- d.Reason }); err != nil {
		return err
	}

	exits := make(chan attemptExit, 16)
	var submitted []Job
	newJob := func(name string, failures int, long bool) Job {
		j := Job{Name: name, Failures: failures, LongRunning: long, attempts: new(atomic.Int32), exits: exits}
		submitted = append(submitted, j)
		return j
	}
	report := func(e attemptExit) { say("   %s: attempt %d exited: %v", e.job, e.attempt, e.reason) }
	restarts := 0
	// submit starts a job and reports its attempts until one succeeds.
	submit := func(name string, failures int) error {
		if _, err := jobs.StartChild(ctx, newJob(name, failures, false)); err != nil {
			return err
		}
		for {
			e := <-exits
			report(e)
			if process.IsNormal(e.reason) {
				return nil
			}
			restarts++
		}
	}

	say("1. A long-running job, then jobs that finish: a normal exit is not restarted.")
	if _, err := jobs.StartChild(ctx, newJob("indexer", 0, true)); err != nil {
		return err
	}
	for _, name := range []string{"report", "backup"} {
		if err := submit(name, 0); err != nil {
			return err
		}
	}

	say("2. Jobs that crash are restarted with the same argument, and succeed on a retry.")
	if err := submit("fetch", 1); err != nil {
		return err
	}
	if err := submit("resize", 2); err != nil {
		return err
	}
	say("   restarts so far: %d of %d allowed", restarts, intensity)

	say("3. A job that always fails: each crash is one more restart, until the supervisor gives up.")
	if _, err := jobs.StartChild(ctx, newJob("doomed", -1, false)); err != nil {
		return err
	}
	reason := <-supDown
	// Every attempt, and the indexer stopped by the supervisor on its way
	// out, reported its exit before the supervisor's exit could be seen.
	for len(exits) > 0 {
		e := <-exits
		report(e)
		if e.job == "doomed" {
			restarts++ // each crash asks for one more restart
		}
	}
	say("   restart %d would exceed the intensity of %d: the supervisor exited: %v", restarts, intensity, reason)
	_, err = jobs.StartChild(ctx, Job{Name: "late"})
	say("   starting another job now fails with noproc: %v", errors.Is(err, process.NoProc))

	// With the supervisor gone, nothing can start another attempt: the
	// counts are final. The jobs that finished ran once each.
	var tally []string
	for _, j := range submitted {
		tally = append(tally, fmt.Sprintf("%s %d", j.Name, j.attempts.Load()))
	}
	say("   attempts per job: %s", strings.Join(tally, ", "))
	return nil
}
