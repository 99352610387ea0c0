package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
)

// journal is where the story is told. The narrator (run, a plain goroutine)
// and the services (processes) write to it from different goroutines, one
// whole line at a time. The services also announce every start on it, so the
// narrator can wait for a restart to be over instead of sleeping.
//
// The order of the lines is fixed by cause and effect, never by timing: a
// service prints in Terminate before it exits, and whoever prints next has
// learnt of that exit first (a supervisor, a monitor, a link).
type journal struct {
	mu     sync.Mutex
	w      io.Writer
	starts chan start
}

// start is the announcement a service makes at the end of its Init.
type start struct {
	name    string
	backend process.Backend
}

func (s start) String() string { return fmt.Sprintf("%s (%s)", s.name, s.backend) }

func newJournal(w io.Writer) *journal {
	return &journal{w: w, starts: make(chan start, 32)}
}

func (j *journal) line(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	fmt.Fprintf(j.w, format+"\n", args...)
}

// act opens act n of the story.
func (j *journal) act(n int, title string) { j.line("\n%d. %s", n, title) }

// narrate is a line of the narrator.
func (j *journal) narrate(format string, args ...any) { j.line("   "+format, args...) }

// say is a line spoken by the process who.
func (j *journal) say(who, format string, args ...any) {
	j.line("   %-7s | %s", who, fmt.Sprintf(format, args...))
}

// started announces, from a service's Init, that it is up under name.
func (j *journal) started(ctx *genserver.Ctx, name string) {
	j.starts <- start{name: name, backend: ctx.Process().Backend()}
}

// awaitStarts waits for the next n announcements and returns them in the
// order the services started.
func (j *journal) awaitStarts(ctx context.Context, n int) (starts, error) {
	var got starts
	for range n {
		select {
		case s := <-j.starts:
			got = append(got, s)
		case <-ctx.Done():
			return got, fmt.Errorf("waiting for %d starts, got %v: %w", n, got, ctx.Err())
		}
	}
	return got, nil
}

// unexpectedStarts reports announcements nobody waited for: restarts the
// story did not foresee.
func (j *journal) unexpectedStarts() error {
	if n := len(j.starts); n > 0 {
		return fmt.Errorf("%d unexpected starts", n)
	}
	return nil
}

type starts []start

func (ss starts) String() string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.String()
	}
	return strings.Join(names, ", ")
}
