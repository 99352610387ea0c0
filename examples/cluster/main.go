// Command cluster is distribution at work, told in seven acts: three nodes
// in three OS processes, a supervised service with a global name, callers
// on every node, and the service's node killed on stage.
//
//	go run ./examples/cluster
//
// This program is the director. It runs a NATS server inside itself
// (package cluster/embedded: JetStream keeps the global names) and starts
// three nodes, node-1 to node-3: its own binary run again, each joined to
// the cluster. Then:
//
//   - node-2 runs greeter-sup, a supervisor whose child, the greeter, it
//     places on the first node it can reach of node-1, node-2, node-3, by
//     remote spawn; the greeter registers the global name "greeter";
//   - every node runs a caller, member of the process group "callers",
//     that calls the greeter by its global name in a loop;
//   - watchers on node-2 and node-3 monitor the greeter, the nodes and the
//     group;
//   - node-1, the greeter's node, gets SIGKILL.
//
// What follows is printed as the nodes report it: the Downs with
// noconnection, the NodeDowns, the name freed and taken by the greeter
// greeter-sup restarts on node-2, the callers following the name, the
// group shrinking, and every call counted: answered, or failed with a
// documented error.
//
// With -nats the nodes join a NATS server of yours instead (JetStream on):
//
//	go run ./examples/cluster -nats nats://127.0.0.1:4222
//
// The nodes never outlive the director: it stops them on every way out,
// and a node quits when the director is gone.
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
	"syscall"
	"time"

	"github.com/spawned-go/spawned/cluster/embedded"
)

func main() {
	// A node is this program run again by the director.
	if name := os.Getenv(envNode); name != "" {
		os.Exit(nodeMain(name))
	}
	url := flag.String("nats", "", "join the NATS servers at these URLs (comma-separated, credentials in the URL) instead of starting one")
	name := flag.String("cluster", "demo", "the cluster's name (on a shared NATS server, one per run at a time)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runWith(ctx, os.Stdout, options{url: *url, cluster: *name}); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		stop()
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	url     string // NATS URLs; empty: the embedded server
	cluster string
}

// run tells the story over the embedded NATS server.
func run(w io.Writer) error { return runWith(context.Background(), w, options{cluster: "demo"}) }

// runWith tells the story; every node's process has ended when it
// returns, whatever happened.
func runWith(ctx context.Context, w io.Writer, o options) (err error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s := &story{ctx: ctx, w: w, stage: newStage(), opts: o}
	// Deferred calls run on a panic too, the last first: the nodes are
	// stopped before the NATS server they use.
	defer func() {
		if s.srv != nil {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			err = errors.Join(err, s.srv.Shutdown(sctx))
		}
	}()
	defer s.stage.close()
	s.line("cluster: three nodes in three OS processes, and one of them killed on stage.")
	for _, act := range []func() error{s.setUp, s.service, s.calls, s.kill, s.follow, s.tally, s.curtain} {
		if err := act(); err != nil {
			return err
		}
	}
	s.line("\nThe end.")
	return nil
}

// story holds what the acts share.
type story struct {
	ctx    context.Context
	w      io.Writer
	stage  *stage
	opts   options
	srv    *embedded.Server
	actors map[string]*actor
	killed time.Time // when node-1 got SIGKILL
}

func (s *story) line(format string, args ...any) { fmt.Fprintf(s.w, format+"\n", args...) }

// act opens act n.
func (s *story) act(n int, title string) { s.line("\n%d. %s", n, title) }

// narrate is a line of the director.
func (s *story) narrate(format string, args ...any) { s.line("   "+format, args...) }

// say prints what a node told, as the process that told it.
func (s *story) say(ev event) {
	who := ev.Node
	if ev.Who != "" {
		who += " " + ev.Who
	}
	s.line("   %-18s | %s", who, ev.Text)
}

// sayAfterKill is say, with the time since the kill.
func (s *story) sayAfterKill(ev event) {
	ev.Text += fmt.Sprintf("  (+%.1f ms)", float64(ev.At.Sub(s.killed).Microseconds())/1000)
	s.say(ev)
}

// await waits for events: one of kind from each of nodes.
func (s *story) await(kind string, nodes ...string) ([]event, error) {
	wants := make([]want, len(nodes))
	for i, n := range nodes {
		wants[i] = want{node: n, kind: kind}
	}
	return s.stage.await(s.ctx, wants...)
}

// tell sends cmd to each of nodes.
func (s *story) tell(cmd string, nodes ...string) error {
	for _, n := range nodes {
		if err := s.actors[n].send(cmd); err != nil {
			return err
		}
	}
	return nil
}

// The nodes' roles in the story.
const (
	home      = "node-1" // where the greeter runs first, and the node killed
	supNode   = "node-2" // where greeter-sup runs
	otherNode = "node-3"
)

var survivors = []string{supNode, otherNode}

// setUp is act 1: the NATS server and the three nodes.
func (s *story) setUp() error {
	s.act(1, "The stage: a NATS server, and three nodes, each an OS process of this program.")
	env := []string{envCluster + "=" + s.opts.cluster}
	if s.opts.url == "" {
		srv, err := embedded.Start(s.ctx)
		if err != nil {
			return err
		}
		s.srv = srv
		user, password := srv.Credentials()
		env = append(env, envURL+"="+srv.ClientURL(), envUser+"="+user, envPassword+"="+password)
		s.narrate("NATS server embedded in this program at %s, JetStream on (it keeps the global names)", srv.ClientURL())
	} else {
		env = append(env, envURL+"="+s.opts.url)
		s.narrate("NATS at %s (given with -nats)", s.opts.url)
	}
	s.actors = map[string]*actor{}
	for _, name := range nodeNames {
		a, err := s.stage.start(name, env...)
		if err != nil {
			return err
		}
		s.actors[name] = a
		s.narrate("%s: OS process %d", name, a.cmd.Process.Pid)
	}
	ready, err := s.await(kindReady, nodeNames...)
	if err != nil {
		return err
	}
	for _, ev := range ready {
		s.say(ev)
	}
	return nil
}

// service is act 2: greeter-sup places the greeter, which takes its global
// name.
func (s *story) service() error {
	s.act(2, "A supervised service with a global name.")
	s.narrate("%s starts greeter-sup, a supervisor with one child: the greeter, started by remote spawn", supNode)
	s.narrate("on the first node it can reach of %s, under the global name %q", strings.Join(nodeNames, ", "), greeterName)
	s.narrate("(genserver.WithVia with the cluster's Names; a JetStream key-value store decides who holds a name).")
	if err := s.tell(cmdSupervise, supNode); err != nil {
		return err
	}
	placed, err := s.await(kindPlace, supNode)
	if err != nil {
		return err
	}
	started, err := s.await(kindStarted, home)
	if err != nil {
		return err
	}
	s.say(placed[0])
	s.say(started[0])
	return nil
}

// calls is act 3: callers on every node, watchers on the survivors-to-be.
func (s *story) calls() error {
	s.act(3, "Callers on every node call the greeter by its global name; watchers look on.")
	s.narrate("each node runs a caller, member of the process group %q (cluster pg); it calls %q", group, greeterName)
	s.narrate("back to back, by name (genserver.NamedVia: a lookup in the node's cache, no network),")
	s.narrate("each call with a %v deadline; the greeter takes about %v to answer.", callTimeout, greeterWork)
	if err := s.tell(cmdCall, nodeNames...); err != nil {
		return err
	}
	flowing, err := s.await(kindFlowing, nodeNames...)
	if err != nil {
		return err
	}
	for _, ev := range flowing {
		s.say(ev)
	}
	s.narrate("watchers on %s and %s monitor the greeter across nodes, every node, and the group:", supNode, otherNode)
	if err := s.tell(cmdWatch, survivors...); err != nil {
		return err
	}
	watching, err := s.await(kindWatching, survivors...)
	if err != nil {
		return err
	}
	for _, ev := range watching {
		s.say(ev)
	}
	return nil
}

// kill is act 4: node-1 gets SIGKILL; the survivors see it go, and
// greeter-sup restarts the greeter.
func (s *story) kill() error {
	a := s.actors[home]
	s.act(4, fmt.Sprintf("%s, the greeter's node, is killed: SIGKILL to OS process %d, no goodbye.", home, a.cmd.Process.Pid))
	s.killed = time.Now()
	a.kill()
	exit, err := s.await(kindExit, home)
	if err != nil {
		return err
	}
	s.narrate("%s ended: %s", home, exit[0].Text)
	s.narrate("what the watchers received, in order (the time since the kill, on this machine's one clock):")
	var seen []event
	for _, kind := range []string{kindGroup, kindDown, kindNodeDown} {
		evs, err := s.await(kind, survivors...)
		if err != nil {
			return err
		}
		seen = append(seen, evs...)
	}
	slices.SortStableFunc(seen, func(a, b event) int {
		if a.Node != b.Node {
			return strings.Compare(a.Node, b.Node)
		}
		return a.seq - b.seq
	})
	for _, ev := range seen {
		s.sayAfterKill(ev)
	}
	s.narrate("the name and the group membership went with %s before its Down or NodeDown could be seen.", home)
	s.narrate("%s's greeter-sup got its child's exit (noconnection, through the link) and restarts it:", supNode)
	placed, err := s.await(kindPlace, supNode)
	if err != nil {
		return err
	}
	started, err := s.await(kindStarted, supNode)
	if err != nil {
		return err
	}
	s.sayAfterKill(placed[0])
	s.sayAfterKill(started[0])
	return nil
}

// follow is act 5: the callers find the new greeter by the same name.
func (s *story) follow() error {
	s.act(5, "The callers follow the name to the new greeter.")
	followed, err := s.await(kindFollowed, survivors...)
	if err != nil {
		return err
	}
	for _, ev := range followed {
		s.sayAfterKill(ev)
	}
	flowing, err := s.await(kindFlowing, survivors...)
	if err != nil {
		return err
	}
	for _, ev := range flowing {
		s.say(ev)
	}
	s.narrate("the new greeter counts from 1: what the old one kept in memory died with %s.", home)
	return nil
}

// tally is act 6: every call made, answered or failed with a documented
// error.
func (s *story) tally() error {
	s.act(6, "The tally: every call was answered, or failed with a documented error.")
	if err := s.tell(cmdTally, survivors...); err != nil {
		return err
	}
	tallies, err := s.await(kindTally, survivors...)
	if err != nil {
		return err
	}
	all := newTally()
	for _, ev := range tallies {
		t := ev.Tally
		var by []string
		for _, node := range nodeNames {
			if n := t.Answered[node]; n > 0 {
				by = append(by, fmt.Sprintf("%d by greeter@%s", n, node))
			}
		}
		failed := "none failed"
		if t.failures() > 0 {
			failed = fmt.Sprintf("%d failed: %s", t.failures(), counts(t.Failed))
		}
		ev.Text = fmt.Sprintf("%d calls: %d answered (%s), %s", t.Made, t.answers(), strings.Join(by, ", "), failed)
		s.say(ev)
		all.Made += t.Made
		all.Late += t.Late
		for k, v := range t.Answered {
			all.Answered[k] += v
		}
		for k, v := range t.Failed {
			all.Failed[k] += v
			if _, ok := all.Samples[k]; !ok {
				all.Samples[k] = t.Samples[k]
			}
		}
	}
	if all.failures() > 0 {
		s.narrate("the errors, as the callers got them (errors.Is tells them apart):")
	}
	for _, k := range slices.Sorted(maps.Keys(all.Failed)) {
		s.narrate("  %-12s %s", k, all.Samples[k])
		s.narrate("  %-12s %s", "", meaning[k])
	}
	lost := all.Made - all.answers() - all.failures()
	s.narrate("in all: %d calls made = %d answered + %d failed with an error; lost without one: %d;",
		all.Made, all.answers(), all.failures(), lost)
	s.narrate("calls that outlived their deadline: %d; errors of no documented kind: %d.", all.Late, all.Failed["other"])
	if lost != 0 || all.Late != 0 || all.Failed["other"] != 0 {
		return fmt.Errorf("the tally does not add up: %d lost, %d late, %d other errors", lost, all.Late, all.Failed["other"])
	}
	s.narrate("(%s's caller went down with its node: no one is left to count its calls.)", home)
	if err := s.tell(cmdView, survivors...); err != nil {
		return err
	}
	views, err := s.await(kindView, survivors...)
	if err != nil {
		return err
	}
	s.narrate("the survivors agree:")
	for _, ev := range views {
		s.say(ev)
	}
	return nil
}

// meaning says what each kind of error tells a caller.
var meaning = map[string]string{
	"noconnection": "the call was under way when its node was lost: it may have run there, but no reply can come",
	"noproc":       "no process held the name: the old greeter was gone, the new one not yet registered",
	"timeout":      "no answer within the deadline",
	"other":        "an error of no documented kind: a bug",
}

// curtain is act 7: the survivors leave; no process is left behind.
func (s *story) curtain() error {
	s.act(7, "Curtain: the survivors leave the cluster, and every OS process of the story has ended.")
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if err := s.stage.quit(ctx); err != nil {
		return err
	}
	for _, name := range survivors {
		exit, err := s.await(kindExit, name)
		if err != nil {
			return err
		}
		s.narrate("%s ended: %s", name, exit[0].Text)
	}
	if s.srv != nil {
		sctx, scancel := context.WithTimeout(s.ctx, 5*time.Second)
		defer scancel()
		err := s.srv.Shutdown(sctx)
		s.srv = nil
		if err != nil {
			return err
		}
		s.narrate("NATS server shut down")
	}
	s.narrate("nodes still running: %d", len(s.stage.running()))
	return nil
}
