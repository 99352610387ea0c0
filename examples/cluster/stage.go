package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// stage runs the nodes as OS processes of this very program (its binary
// run again, with envNode set) and gathers what they tell.
//
// No node outlives the director: close kills the ones still running, on
// every way out of run (an error, a panic, a signal); on Linux a node also
// gets SIGKILL from the kernel when the director dies without running its
// defers (see sysproc_linux.go); and a node quits when its standard input,
// the director's end of a pipe, closes.
type stage struct {
	events chan event    // from every node, in the order they arrive
	closed chan struct{} // closed by close: nobody reads events any more
	seq    int           // events read so far
	held   []event       // read, not yet awaited
	mu     sync.Mutex
	actors []*actor
}

// actor is a node's OS process.
type actor struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed once the process has ended and been waited for
	err   error         // how it ended, once done is closed
}

func newStage() *stage {
	return &stage{events: make(chan event, 64), closed: make(chan struct{})}
}

// start runs node name with env added to this program's environment.
func (s *stage) start(name string, env ...string) (*actor, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(append(os.Environ(), envNode+"="+name), env...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = sysProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	a := &actor{name: name, cmd: cmd, stdin: stdin, done: make(chan struct{})}
	s.mu.Lock()
	s.actors = append(s.actors, a)
	s.mu.Unlock()
	go s.listen(a, stdout)
	return a, nil
}

// listen reads a's events until its output ends, then waits for its
// process and tells that it ended.
func (s *stage) listen(a *actor, stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), evPrefix)
		if !ok {
			fmt.Fprintf(os.Stderr, "%s: %s\n", a.name, sc.Text())
			continue
		}
		var ev event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			fmt.Fprintf(os.Stderr, "%s: unreadable event %q: %v\n", a.name, line, err)
			continue
		}
		s.tell(ev)
	}
	_, _ = io.Copy(io.Discard, stdout) // a line too long: keep the node from blocking
	a.err = a.cmd.Wait()
	close(a.done)
	s.tell(event{Node: a.name, Kind: kindExit, At: time.Now(), Text: exitText(a.err)})
}

// tell hands ev to the director, unless it has stopped listening.
func (s *stage) tell(ev event) {
	select {
	case s.events <- ev:
	case <-s.closed:
	}
}

// exitText says how a process ended.
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// send gives a a command.
func (a *actor) send(cmd string) error {
	if _, err := fmt.Fprintln(a.stdin, cmd); err != nil {
		return fmt.Errorf("%s: command %s: %w", a.name, cmd, err)
	}
	return nil
}

// kill ends a's process with SIGKILL and waits until it has been reaped.
func (a *actor) kill() {
	_ = a.cmd.Process.Kill() // fails only for a process already waited for
	<-a.done
}

// want is an event the story waits for: of this node and kind.
type want struct{ node, kind string }

// await waits for one event matching each of wants, and returns them in
// the order of wants (seq tells the order they arrived in). Events that
// match none are kept for a later await. A node that exits while the story
// waits for something else from it is an error, as is ctx's end.
func (s *stage) await(ctx context.Context, wants ...want) ([]event, error) {
	for {
		if got, ok := s.take(wants); ok {
			return got, nil
		}
		select {
		case ev := <-s.events:
			s.seq++
			ev.seq = s.seq
			s.held = append(s.held, ev)
			if ev.Kind == kindExit {
				for _, w := range wants {
					if w.node == ev.Node && w.kind != kindExit {
						return nil, fmt.Errorf("%s ended (%s) while the story waited for its %q", ev.Node, ev.Text, w.kind)
					}
				}
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %v: %w", missing(s.held, wants), context.Cause(ctx))
		}
	}
}

// take removes from the held events the first one for each of wants, if
// all are there.
func (s *stage) take(wants []want) ([]event, bool) {
	used := make([]bool, len(s.held))
	got := make([]event, len(wants))
	for j, w := range wants {
		found := false
		for i, ev := range s.held {
			if !used[i] && ev.Node == w.node && ev.Kind == w.kind {
				used[i], found, got[j] = true, true, ev
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	rest := s.held[:0]
	for i, ev := range s.held {
		if !used[i] {
			rest = append(rest, ev)
		}
	}
	s.held = rest
	return got, true
}

// missing lists the wants that held does not answer, for an error.
func missing(held []event, wants []want) []want {
	var out []want
	used := make([]bool, len(held))
next:
	for _, w := range wants {
		for i, ev := range held {
			if !used[i] && ev.Node == w.node && ev.Kind == w.kind {
				used[i] = true
				continue next
			}
		}
		out = append(out, w)
	}
	return out
}

// quit asks every node still running to leave and exit, and waits until
// they have, or until ctx ends.
func (s *stage) quit(ctx context.Context) error {
	var errs []error
	for _, a := range s.running() {
		if err := a.send(cmdQuit); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range s.running() {
		select {
		case <-a.done:
			if a.err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", a.name, a.err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("%s did not exit: %w", a.name, ctx.Err()))
		}
	}
	return errors.Join(errs...)
}

// running returns the nodes whose process has not ended.
func (s *stage) running() []*actor {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*actor
	for _, a := range s.actors {
		select {
		case <-a.done:
		default:
			out = append(out, a)
		}
	}
	return out
}

// close kills every node still running and waits until each is reaped.
// It is safe to call more than once.
func (s *stage) close() {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.mu.Lock()
	actors := s.actors
	s.mu.Unlock()
	for _, a := range actors {
		_ = a.stdin.Close()
		a.kill()
	}
}
