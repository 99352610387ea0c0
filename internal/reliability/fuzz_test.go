package reliability_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// FuzzOps decodes its input into a sequence of operations on processes,
// links, monitors, names and groups, runs them on a fresh node and checks
// the node against a model after every operation: who is alive, links
// (symmetric, only between live processes), monitors held and on each
// process, names, group members, trap flags and every message each process
// was sent. At the end every live process is drained and what it handled
// (Downs, Exits, messages) must be exactly what the model sent it: each
// Down once, with the right reason.
//
// Input: three bytes per operation: the operation (mod fzNumOps) and two
// arguments. At most fzMaxOps operations are run.
//
// Every process runs a recorder (as a Func or as a Handler, on any
// backend) that records what it receives and runs commands: closures the
// test sends it, so that links, monitors, exits and timers are made from
// inside a process.
func FuzzOps(f *testing.F) {
	for _, s := range fzSeeds {
		f.Add(s)
	}
	// A seeded sweep of random inputs, larger in long mode.
	seed := seedFromEnv(f)
	rng := rand.New(rand.NewPCG(seed, 0xf022))
	sweep := 40
	if longMode() {
		sweep = 3000
	}
	for range sweep {
		b := make([]byte, 3*(8+rng.IntN(fzMaxOps-8)))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		// Start with a few spawns so that most operations have actors.
		for i := 0; i < 9; i += 3 {
			b[i] = byte(fzSpawn)
		}
		f.Add(b)
	}
	f.Cleanup(func() {
		fzFig.mu.Lock()
		defer fzFig.mu.Unlock()
		f.Logf("FIGURES fuzz-ops: mode=%s seed=%d inputs=%d ops=%d spawned=%d deaths=%d (killed %d, cascaded %d) downs=%d exits=%d messages=%d op-errors=%s mismatches=%d",
			modeName(), seed, fzFig.inputs, fzFig.ops, fzFig.spawned, fzFig.deaths, fzFig.killed, fzFig.cascaded,
			fzFig.downs, fzFig.exits, fzFig.messages, fzFormatKinds(fzFig.errs), fzFig.mismatches)
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		n := process.NewNode(process.WithLogger(nil))
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
			defer cancel()
			if err := n.Stop(ctx); err != nil {
				t.Errorf("node stop: %v", err)
			}
		}()
		r := &fzRun{t: t, n: n, reg: registry.Of(n), byPid: map[pid.Pid]int{}, names: map[string]int{},
			groups: map[string][]int{}, mons: map[pid.Ref]*fzMon{}, errs: map[string]int{}}
		defer r.publish()
		for i := 0; i+2 < len(data) && i/3 < fzMaxOps; i += 3 {
			r.step(fzOp(data[i]%byte(fzNumOps)), data[i+1], data[i+2])
			r.ops++
			r.settle(fmt.Sprintf("op %d (%s %d %d)", i/3, fzOp(data[i]%byte(fzNumOps)), data[i+1], data[i+2]))
		}
		r.final()
	})
}

type fzOp byte

const (
	fzSpawn        fzOp = iota // node.Spawn or SpawnHandler, on a backend, maybe named
	fzSpawnLink                // an actor's SpawnLink, or SpawnHandler WithLink(actor)
	fzSpawnMonitor             // an actor's SpawnMonitor
	fzLink                     // actor links target
	fzUnlink                   // actor unlinks target
	fzMonitor                  // actor monitors target
	fzDemonitor                // actor demonitors one of its refs (plain or flush)
	fzExit                     // actor sends an exit signal to target
	fzNodeExit                 // Node.Exit to target, from outside any process
	fzReturn                   // the actor's own code ends with a reason
	fzTrap                     // actor sets trap_exit
	fzRegister                 // registry.Register(name, target)
	fzUnregister               // registry.Unregister(name)
	fzJoin                     // registry.Join(group, target)
	fzLeave                    // registry.Leave(group, target)
	fzSend                     // a message by pid or by name, from a process or not
	fzTimer                    // an actor's timers: fire at once, cancelled, or left pending
	fzNumOps
)

var fzOpNames = [...]string{"spawn", "spawnlink", "spawnmonitor", "link", "unlink", "monitor", "demonitor",
	"exit", "nodeexit", "return", "trap", "register", "unregister", "join", "leave", "send", "timer"}

func (o fzOp) String() string {
	if int(o) < len(fzOpNames) {
		return fzOpNames[o]
	}
	return fmt.Sprintf("op(%d)", byte(o))
}

const fzMaxOps = 48

var (
	errFzBoom        = errors.New("fuzz: boom")
	errFzUndelivered = errors.New("fuzz: command undelivered")
	fzNames          = []string{"fz-a", "fz-b", "fz-c"}
	fzGroups         = []string{"g0", "g1", "g2"}
)

// fzReason is a reason as the model knows it.
type fzReason string

const (
	rNormal   fzReason = "normal"
	rBoom     fzReason = "boom"
	rKill     fzReason = "kill"
	rKilled   fzReason = "killed"
	rShutdown fzReason = "shutdown"
	rNoProc   fzReason = "noproc"
)

var fzReasons = []fzReason{rNormal, rBoom, rKill, rShutdown}

func (r fzReason) err() error {
	switch r {
	case rNormal:
		return process.Normal
	case rBoom:
		return errFzBoom
	case rKill:
		return process.Kill
	case rShutdown:
		return process.Shutdown
	}
	panic("no error for reason " + string(r))
}

func fzClassify(err error) fzReason {
	for _, c := range []struct {
		e error
		r fzReason
	}{{process.Killed, rKilled}, {process.Kill, rKill}, {process.Normal, rNormal}, {process.Shutdown, rShutdown},
		{process.NoProc, rNoProc}, {errFzBoom, rBoom}, {process.NoConnection, "noconnection"}} {
		if errors.Is(err, c.e) {
			return c.r
		}
	}
	return fzReason(fmt.Sprintf("other(%v)", err))
}

// fzCmd is a closure run inside a recorder process. A command sent to a
// process that is dead, or dies with it queued, reports errFzUndelivered.
type fzCmd struct {
	fn   func(p *process.Process) (exit error)
	done chan error
}

func (c *fzCmd) Undelivered(error) {
	select {
	case c.done <- errFzUndelivered:
	default:
	}
}

// fzMsg is a plain message, numbered.
type fzMsg struct{ k int }

// fzRecorder records every message that is not a command.
type fzRecorder struct {
	mu  sync.Mutex
	got []any
}

func (r *fzRecorder) handle(p *process.Process, msg any) error {
	if c, ok := msg.(*fzCmd); ok {
		exit := c.fn(p)
		c.done <- nil
		return exit
	}
	r.mu.Lock()
	r.got = append(r.got, msg)
	r.mu.Unlock()
	return nil
}

// HandleMessage makes the recorder a Handler.
func (r *fzRecorder) HandleMessage(p *process.Process, msg any) error { return r.handle(p, msg) }

// run is the recorder as a Func.
func (r *fzRecorder) run(p *process.Process) error {
	for {
		m, err := p.Receive(context.Background())
		if err != nil {
			return err
		}
		if exit := r.handle(p, m); exit != nil {
			return exit
		}
	}
}

func (r *fzRecorder) messages() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// fzProc is a process in the model.
type fzProc struct {
	id       int
	pid      pid.Pid
	rec      *fzRecorder
	handler  bool
	alive    bool
	reason   fzReason
	trap     bool
	links    map[int]bool
	name     string
	groups   map[string]int
	refs     []pid.Ref      // every monitor ref it was given, fired or not
	received uint64         // messages the node must have queued for it
	expect   map[string]int // what its recorder must handle
	optional map[string]int // what it may have handled as it died
}

// fzMon is a monitor in the model.
type fzMon struct {
	ref             pid.Ref
	watcher, target int
	active          bool
}

// fzRun is one input's run: the node, the model and the figures.
type fzRun struct {
	t      *testing.T
	n      *process.Node
	reg    registry.Registry
	procs  []*fzProc
	byPid  map[pid.Pid]int
	names  map[string]int
	groups map[string][]int
	mons   map[pid.Ref]*fzMon
	msgK   int

	ops, spawned, deaths, killed, cascaded, downs, exits, messages int
	errs                                                           map[string]int
}

// fzFig sums the figures of every input run by this process.
var fzFig struct {
	mu                                                                     sync.Mutex
	inputs, ops, spawned, deaths, killed, cascaded, downs, exits, messages int
	mismatches                                                             int
	errs                                                                   map[string]int
}

func (r *fzRun) publish() {
	fzFig.mu.Lock()
	defer fzFig.mu.Unlock()
	fzFig.inputs++
	fzFig.ops += r.ops
	fzFig.spawned += r.spawned
	fzFig.deaths += r.deaths
	fzFig.killed += r.killed
	fzFig.cascaded += r.cascaded
	fzFig.downs += r.downs
	fzFig.exits += r.exits
	fzFig.messages += r.messages
	if r.t.Failed() {
		fzFig.mismatches++
	}
	if fzFig.errs == nil {
		fzFig.errs = map[string]int{}
	}
	for k, v := range r.errs {
		fzFig.errs[k] += v
	}
}

func fzFormatKinds(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func (r *fzRun) live() []*fzProc {
	var out []*fzProc
	for _, p := range r.procs {
		if p.alive {
			out = append(out, p)
		}
	}
	return out
}

// actor picks a live process, or nil when there is none.
func (r *fzRun) actor(b byte) *fzProc {
	l := r.live()
	if len(l) == 0 {
		return nil
	}
	return l[int(b)%len(l)]
}

// target picks any process, dead or alive.
func (r *fzRun) target(b byte) *fzProc {
	if len(r.procs) == 0 {
		return nil
	}
	return r.procs[int(b)%len(r.procs)]
}

func (r *fzRun) id(p pid.Pid) int {
	if p.IsZero() {
		return -1
	}
	if id, ok := r.byPid[p]; ok {
		return id
	}
	return -2
}

func fzDownKey(ref pid.Ref, target int, why fzReason) string {
	return fmt.Sprintf("down ref=%d pid=%d %s", ref.ID(), target, why)
}
func fzExitKey(from int, why fzReason) string { return fmt.Sprintf("exit from=%d %s", from, why) }
func fzMsgKey(k int) string                   { return fmt.Sprintf("msg %d", k) }

func (r *fzRun) key(m any) string {
	switch m := m.(type) {
	case link.Down:
		return fzDownKey(m.Ref, r.id(m.Pid), fzClassify(m.Reason))
	case link.Exit:
		return fzExitKey(r.id(m.From), fzClassify(m.Reason))
	case fzMsg:
		return fzMsgKey(m.k)
	}
	return fmt.Sprintf("unexpected %T %v", m, m)
}

// deliver records that the node queues a message for p.
func (p *fzProc) deliver(key string) {
	p.received++
	p.expect[key]++
}

// cmd runs fn inside p and waits for it.
func (r *fzRun) cmd(p *fzProc, fn func(self *process.Process) error) {
	r.t.Helper()
	c := &fzCmd{fn: fn, done: make(chan error, 1)}
	if err := r.n.Send(p.pid, c); err != nil {
		r.t.Fatalf("send command to %d: %v", p.id, err)
	}
	p.received++
	select {
	case err := <-c.done:
		if err != nil {
			r.t.Fatalf("command to %d (alive in the model): %v", p.id, err)
		}
	case <-time.After(spawntest.Timeout):
		r.t.Fatalf("command to %d did not run within %v", p.id, spawntest.Timeout)
	}
}

// check compares an error with the model's expectation.
func (r *fzRun) check(what string, got, want error) {
	r.t.Helper()
	if want == nil {
		if got != nil {
			r.t.Fatalf("%s: %v, want nil", what, got)
		}
		return
	}
	if !errors.Is(got, want) {
		r.t.Fatalf("%s: %v, want %v", what, got, want)
	}
	r.errs[fzErrKind(got)]++
}

func fzErrKind(err error) string {
	for _, c := range []struct {
		e error
		k string
	}{{registry.ErrNameTaken, "name-taken"}, {registry.ErrAlreadyNamed, "already-named"},
		{registry.ErrNotRegistered, "not-registered"}, {registry.ErrNotJoined, "not-joined"},
		{process.NoProc, "noproc"}} {
		if errors.Is(err, c.e) {
			return c.k
		}
	}
	return "other"
}

// newProc adds a spawned process to the model.
func (r *fzRun) newProc(p pid.Pid, rec *fzRecorder, handler bool) *fzProc {
	q := &fzProc{id: len(r.procs), pid: p, rec: rec, handler: handler, alive: true,
		links: map[int]bool{}, groups: map[string]int{}, expect: map[string]int{}, optional: map[string]int{}}
	r.procs = append(r.procs, q)
	r.byPid[p] = q.id
	r.spawned++
	return q
}

func fzBackend(b byte) process.Backend { return spawntest.Backends()[int(b)%len(spawntest.Backends())] }

func (r *fzRun) addLink(a, b *fzProc) {
	if a == b {
		return
	}
	a.links[b.id] = true
	b.links[a.id] = true
}

func (r *fzRun) addMon(ref pid.Ref, w, tg *fzProc) {
	r.mons[ref] = &fzMon{ref: ref, watcher: w.id, target: tg.id, active: true}
	w.refs = append(w.refs, ref)
}

// die applies the death of p with reason to the model, with its link
// cascade. Every death of a cascade has the same reason.
func (r *fzRun) die(first *fzProc, why fzReason) {
	cascade := map[int]bool{}
	for work := []*fzProc{first}; len(work) > 0; {
		p := work[0]
		work = work[1:]
		if !p.alive {
			continue
		}
		p.alive, p.reason = false, why
		cascade[p.id] = true
		r.deaths++
		if p != first {
			r.cascaded++
		}
		if p.name != "" {
			delete(r.names, p.name)
			p.name = ""
		}
		for g := range p.groups {
			ms := slices.DeleteFunc(r.groups[g], func(m int) bool { return m == p.id })
			if len(ms) == 0 {
				delete(r.groups, g)
			} else {
				r.groups[g] = ms
			}
		}
		p.groups = map[string]int{}
		for _, oid := range slices.Sorted(maps.Keys(p.links)) {
			q := r.procs[oid]
			delete(q.links, p.id)
			switch {
			case !q.alive:
			case q.trap:
				q.deliver(fzExitKey(p.id, why))
				r.exits++
			case why != rNormal:
				work = append(work, q)
			}
		}
		p.links = map[int]bool{}
		for _, m := range r.mons {
			if !m.active {
				continue
			}
			switch {
			case m.target == p.id:
				m.active = false
				w := r.procs[m.watcher]
				key := fzDownKey(m.ref, p.id, why)
				switch {
				case w == p: // a monitor of oneself never fires
				case w.alive:
					w.deliver(key)
					r.downs++
				case cascade[w.id]:
					// The runtime may tell a watcher dying in the same
					// cascade before it marks it dead.
					w.optional[key]++
				}
			case m.watcher == p.id:
				m.active = false
			}
		}
	}
}

// exitSignal applies an exit signal from from (nil: not a process) to tg.
func (r *fzRun) exitSignal(from, tg *fzProc, why fzReason) {
	switch {
	case !tg.alive:
	case why == rKill:
		r.killed++
		r.die(tg, rKilled)
	case tg.trap:
		fid := -1
		if from != nil {
			fid = from.id
		}
		tg.deliver(fzExitKey(fid, why))
		r.exits++
	case why == rNormal && from != tg:
	default:
		r.die(tg, why)
	}
}

func (r *fzRun) step(op fzOp, a, b byte) {
	t := r.t
	t.Helper()
	switch op {
	case fzSpawn:
		rec := &fzRecorder{}
		var opts []process.SpawnOption
		opts = append(opts, process.WithBackend(fzBackend(b)))
		name := ""
		if b&0x80 != 0 {
			name = fzNames[int(a)%len(fzNames)]
			opts = append(opts, process.WithName(name))
		}
		handler := a&1 == 1
		var p pid.Pid
		var err error
		if handler {
			p, err = r.n.SpawnHandler(rec, opts...)
		} else {
			p, err = r.n.Spawn(rec.run, opts...)
		}
		if owner, taken := r.names[name]; name != "" && taken {
			r.check(fmt.Sprintf("spawn named %q (taken by %d)", name, owner), err, registry.ErrNameTaken)
			if !p.IsZero() {
				t.Fatalf("a refused spawn returned %v", p)
			}
			return
		}
		r.check("spawn", err, nil)
		q := r.newProc(p, rec, handler)
		if name != "" {
			q.name = name
			r.names[name] = q.id
		}

	case fzSpawnLink, fzSpawnMonitor:
		act := r.actor(a)
		if act == nil {
			return
		}
		rec := &fzRecorder{}
		handler := op == fzSpawnLink && b&0x80 != 0
		var p pid.Pid
		var ref pid.Ref
		var err error
		r.cmd(act, func(self *process.Process) error {
			bk := process.WithBackend(fzBackend(b))
			switch {
			case op == fzSpawnMonitor:
				p, ref, err = self.SpawnMonitor(rec.run, bk)
			case handler:
				p, err = self.Node().SpawnHandler(rec, bk, process.WithLink(self))
			default:
				p, err = self.SpawnLink(rec.run, bk)
			}
			return nil
		})
		r.check(op.String(), err, nil)
		q := r.newProc(p, rec, handler)
		if op == fzSpawnMonitor {
			r.addMon(ref, act, q)
		} else {
			r.addLink(act, q)
		}

	case fzLink, fzUnlink:
		act, tg := r.actor(a), r.target(b)
		if act == nil {
			return
		}
		var err error
		r.cmd(act, func(self *process.Process) error {
			if op == fzLink {
				err = link.Link(self, tg.pid)
			} else {
				err = link.Unlink(self, tg.pid)
			}
			return nil
		})
		what := fmt.Sprintf("%s %d->%d", op, act.id, tg.id)
		switch {
		case op == fzUnlink:
			r.check(what, err, nil)
			delete(act.links, tg.id)
			delete(tg.links, act.id)
		case tg.alive:
			r.check(what, err, nil)
			r.addLink(act, tg)
		case act.trap:
			r.check(what, err, nil)
			act.deliver(fzExitKey(tg.id, rNoProc))
			r.exits++
		default:
			r.check(what, err, process.NoProc)
			var le *link.Error
			if !errors.As(err, &le) || le.Pid != tg.pid {
				t.Fatalf("%s: %v is not a *link.Error for %v", what, err, tg.pid)
			}
		}

	case fzMonitor:
		act, tg := r.actor(a), r.target(b)
		if act == nil {
			return
		}
		var ref pid.Ref
		var err error
		r.cmd(act, func(self *process.Process) error { ref, err = link.Monitor(self, tg.pid); return nil })
		r.check(fmt.Sprintf("monitor %d->%d", act.id, tg.id), err, nil)
		if ref.IsZero() {
			t.Fatalf("monitor %d->%d: zero ref", act.id, tg.id)
		}
		if tg.alive {
			r.addMon(ref, act, tg)
		} else {
			act.refs = append(act.refs, ref)
			act.deliver(fzDownKey(ref, tg.id, rNoProc))
			r.downs++
		}

	case fzDemonitor:
		act := r.actor(a)
		if act == nil {
			return
		}
		var ref pid.Ref
		want := false
		if len(act.refs) > 0 && b%8 != 7 {
			ref = act.refs[int(b)%len(act.refs)]
			if m := r.mons[ref]; m != nil && m.active {
				want = true
			}
		}
		flush := b&0x80 != 0
		var got bool
		r.cmd(act, func(self *process.Process) error {
			if ref.IsZero() {
				ref = self.Node().MakeRef() // an unknown ref
			}
			if flush {
				got = link.DemonitorFlush(self, ref)
			} else {
				got = link.Demonitor(self, ref)
			}
			return nil
		})
		if got != want {
			t.Fatalf("demonitor(flush=%v) %v by %d = %v, want %v", flush, ref, act.id, got, want)
		}
		if m := r.mons[ref]; m != nil {
			m.active = false
		}

	case fzExit:
		act, tg := r.actor(a), r.target(b)
		if act == nil {
			return
		}
		why := fzReasons[int(b>>4)%len(fzReasons)]
		var err error
		r.cmd(act, func(self *process.Process) error { err = self.Exit(tg.pid, why.err()); return nil })
		r.check(fmt.Sprintf("exit %d->%d %s", act.id, tg.id, why), err, nil)
		r.exitSignal(act, tg, why)

	case fzNodeExit:
		tg := r.target(b)
		if tg == nil {
			return
		}
		why := fzReasons[int(a)%len(fzReasons)]
		r.check(fmt.Sprintf("node exit ->%d %s", tg.id, why), r.n.Exit(tg.pid, why.err()), nil)
		r.exitSignal(nil, tg, why)

	case fzReturn:
		act := r.actor(a)
		if act == nil {
			return
		}
		why := fzReasons[int(b)%len(fzReasons)]
		r.cmd(act, func(*process.Process) error { return why.err() })
		r.die(act, why)

	case fzTrap:
		act := r.actor(a)
		if act == nil {
			return
		}
		on := b&1 == 1
		var prev bool
		r.cmd(act, func(self *process.Process) error { prev = self.TrapExit(on); return nil })
		if prev != act.trap {
			t.Fatalf("TrapExit(%v) on %d returned %v, want %v", on, act.id, prev, act.trap)
		}
		act.trap = on

	case fzRegister:
		tg := r.target(b)
		if tg == nil {
			return
		}
		name := fzNames[int(a)%len(fzNames)]
		err := r.reg.Register(name, tg.pid)
		what := fmt.Sprintf("register %q to %d", name, tg.id)
		owner, taken := r.names[name]
		switch {
		case !tg.alive:
			r.check(what, err, process.NoProc)
		case tg.name == name:
			r.check(what, err, registry.ErrNameTaken)
		case tg.name != "":
			r.check(what, err, registry.ErrAlreadyNamed)
		case taken:
			r.check(what+fmt.Sprintf(" (owner %d)", owner), err, registry.ErrNameTaken)
		default:
			r.check(what, err, nil)
			tg.name = name
			r.names[name] = tg.id
		}

	case fzUnregister:
		name := fzNames[int(a)%len(fzNames)]
		err := r.reg.Unregister(name)
		if owner, ok := r.names[name]; ok {
			r.check("unregister "+name, err, nil)
			r.procs[owner].name = ""
			delete(r.names, name)
		} else {
			r.check("unregister "+name, err, registry.ErrNotRegistered)
		}

	case fzJoin, fzLeave:
		tg := r.target(b)
		if tg == nil {
			return
		}
		g := fzGroups[int(a)%len(fzGroups)]
		what := fmt.Sprintf("%s %q %d", op, g, tg.id)
		if op == fzJoin {
			err := r.reg.Join(g, tg.pid)
			if !tg.alive {
				r.check(what, err, process.NoProc)
				return
			}
			r.check(what, err, nil)
			tg.groups[g]++
			r.groups[g] = append(r.groups[g], tg.id)
			return
		}
		err := r.reg.Leave(g, tg.pid)
		if !tg.alive || tg.groups[g] == 0 {
			r.check(what, err, registry.ErrNotJoined)
			return
		}
		r.check(what, err, nil)
		if tg.groups[g]--; tg.groups[g] == 0 {
			delete(tg.groups, g)
		}
		ms := r.groups[g]
		i := slices.Index(ms, tg.id)
		ms = slices.Delete(ms, i, i+1)
		if len(ms) == 0 {
			delete(r.groups, g)
		} else {
			r.groups[g] = ms
		}

	case fzSend:
		r.msgK++
		msg := fzMsg{r.msgK}
		var to *fzProc
		var err error
		byName := b&0x40 != 0
		name := fzNames[int(b)%len(fzNames)]
		act := r.actor(a)
		fromProcess := b&0x80 != 0 && act != nil
		if byName {
			if owner, ok := r.names[name]; ok {
				to = r.procs[owner]
			}
		} else {
			to = r.target(a ^ b)
			if to == nil {
				return
			}
		}
		switch {
		case fromProcess:
			r.cmd(act, func(self *process.Process) error {
				if byName {
					err = registry.SendFrom(self, name, msg)
				} else {
					err = self.Send(to.pid, msg)
				}
				return nil
			})
		case byName:
			err = r.reg.Send(name, msg)
		default:
			err = r.n.Send(to.pid, msg)
		}
		if byName && to == nil {
			r.check("send to "+name, err, registry.ErrNotRegistered)
			return
		}
		r.check("send", err, nil)
		if to.alive {
			to.deliver(fzMsgKey(msg.k))
			r.messages++
		}

	case fzTimer:
		act, tg := r.actor(a), r.target(b)
		if act == nil {
			return
		}
		r.msgK++
		msg := fzMsg{r.msgK}
		mode := int(b>>6) % 3
		var err error
		cancelled := true
		r.cmd(act, func(self *process.Process) error {
			switch mode {
			case 0:
				_, err = self.SendAfter(tg.pid, msg, 0)
			case 1:
				var ref pid.Ref
				if ref, err = self.SendAfter(tg.pid, msg, time.Hour); err == nil {
					cancelled = self.CancelTimer(ref)
				}
			default:
				_, err = self.SendAfter(tg.pid, msg, time.Hour) // dies with its owner
			}
			return nil
		})
		r.check("timer", err, nil)
		if !cancelled {
			t.Fatalf("CancelTimer of a pending timer returned false")
		}
		if mode == 0 && tg.alive {
			tg.deliver(fzMsgKey(msg.k))
			r.messages++
		}
	}
}

// diff describes the first difference between the node and the model, or
// returns "".
func (r *fzRun) diff() string {
	live := r.live()
	st := r.n.Stats()
	if st.Processes != len(live) || st.Names != len(r.names) || st.Groups != len(r.groups) || st.Stragglers != 0 {
		return fmt.Sprintf("stats %+v; model: %d live, %d names, %d groups", st, len(live), len(r.names), len(r.groups))
	}
	for name, owner := range r.names {
		if got, ok := r.reg.WhereIs(name); !ok || got != r.procs[owner].pid {
			return fmt.Sprintf("WhereIs(%q) = %v, %v; model: %d", name, got, ok, owner)
		}
	}
	for _, g := range fzGroups {
		var want []pid.Pid
		for _, id := range r.groups[g] {
			want = append(want, r.procs[id].pid)
		}
		if got := r.reg.Members(g); !slices.Equal(got, want) {
			return fmt.Sprintf("Members(%q) = %v; model: %v", g, got, want)
		}
	}
	for _, p := range r.procs {
		if !p.alive {
			if r.n.Alive(p.pid) {
				return fmt.Sprintf("%d (%v) alive; model: dead with %s", p.id, p.pid, p.reason)
			}
			continue
		}
		in, err := r.n.Info(p.pid)
		if err != nil {
			return fmt.Sprintf("Info(%d): %v; model: alive", p.id, err)
		}
		var links []pid.Pid
		for _, id := range slices.Sorted(maps.Keys(p.links)) {
			if !r.procs[id].alive {
				return fmt.Sprintf("model bug: %d linked to dead %d", p.id, id)
			}
			links = append(links, r.procs[id].pid)
		}
		// Info lists links by serial; a reused slot gives a later process a
		// larger serial, so spawn order is not serial order.
		slices.SortFunc(links, func(a, b pid.Pid) int { return cmp.Compare(a.Serial(), b.Serial()) })
		var mons []string
		var by []pid.Pid
		for _, m := range r.mons {
			if !m.active {
				continue
			}
			if m.watcher == p.id {
				mons = append(mons, fmt.Sprintf("%v->%v", m.ref, r.procs[m.target].pid))
			}
			if m.target == p.id {
				by = append(by, r.procs[m.watcher].pid)
			}
		}
		sort.Strings(mons)
		var gotMons []string
		for _, m := range in.Monitors {
			gotMons = append(gotMons, fmt.Sprintf("%v->%v", m.Ref, m.Pid))
		}
		sort.Strings(gotMons)
		sort.Slice(by, func(i, j int) bool { return by[i].Serial() < by[j].Serial() })
		groups := slices.Sorted(maps.Keys(p.groups))
		switch {
		case !slices.Equal(in.Links, links):
			return fmt.Sprintf("%d links %v; model %v", p.id, in.Links, links)
		case !slices.Equal(gotMons, mons):
			return fmt.Sprintf("%d monitors %v; model %v", p.id, gotMons, mons)
		case !slices.Equal(in.MonitoredBy, by):
			return fmt.Sprintf("%d monitored by %v; model %v", p.id, in.MonitoredBy, by)
		case !slices.Equal(in.Groups, groups):
			return fmt.Sprintf("%d groups %v; model %v", p.id, in.Groups, groups)
		case in.Name != p.name:
			return fmt.Sprintf("%d name %q; model %q", p.id, in.Name, p.name)
		case in.TrapExit != p.trap:
			return fmt.Sprintf("%d trap %v; model %v", p.id, in.TrapExit, p.trap)
		case in.Received != p.received:
			return fmt.Sprintf("%d received %d messages; model %d (expected %v)", p.id, in.Received, p.received, p.expect)
		}
	}
	return ""
}

// settle waits until the node matches the model: exits that a process's
// own return started are propagated by its goroutine, and timers firing at
// once deliver from theirs.
func (r *fzRun) settle(after string) {
	r.t.Helper()
	deadline := time.Now().Add(spawntest.Timeout)
	for {
		d := r.diff()
		if d == "" {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("after %s: %s", after, d)
		}
		runtime.Gosched()
	}
}

// final drains every live process and compares what each handled with
// what the model sent it.
func (r *fzRun) final() {
	t := r.t
	t.Helper()
	for _, p := range r.live() {
		r.cmd(p, func(*process.Process) error { return nil }) // everything queued before is handled
	}
	r.settle("the final drain")
	for _, p := range r.procs {
		got := map[string]int{}
		for _, m := range p.rec.messages() {
			got[r.key(m)]++
		}
		if p.alive {
			if !maps.Equal(got, p.expect) {
				t.Fatalf("process %d handled %v; model: %v", p.id, got, p.expect)
			}
			continue
		}
		// A dead process handled part of what it was sent before it died.
		for k, v := range got {
			if v > p.expect[k]+p.optional[k] {
				t.Fatalf("dead process %d handled %q %d times; model: %d (or %d as it died)", p.id, k, v, p.expect[k], p.optional[k])
			}
		}
	}
}

// fzSeeds are the f.Add seeds; testdata/fuzz/FuzzOps holds the same
// inputs as files.
var fzSeeds = [][]byte{
	// A chain of three linked processes and a trapping watcher: an
	// abnormal exit cascades down the chain; the watcher gets an Exit and
	// the monitors' Downs.
	{
		byte(fzSpawn), 0, 0, byte(fzSpawn), 1, 1, byte(fzSpawn), 0, 2, byte(fzSpawn), 1, 0,
		byte(fzTrap), 3, 1, byte(fzLink), 0, 1, byte(fzLink), 1, 2, byte(fzLink), 3, 2,
		byte(fzMonitor), 3, 0, byte(fzMonitor), 3, 1, byte(fzExit), 3, 0x10, byte(fzMonitor), 0, 0,
	},
	// Names and groups: register, taken, already named, join twice, leave
	// once, then the owner dies and everything is released.
	{
		byte(fzSpawn), 0, 0x80, byte(fzSpawn), 1, 1, byte(fzRegister), 1, 1, byte(fzRegister), 0, 1,
		byte(fzRegister), 0, 0, byte(fzJoin), 0, 0, byte(fzJoin), 0, 0, byte(fzJoin), 1, 1,
		byte(fzLeave), 0, 0, byte(fzSend), 0, 0x40, byte(fzSend), 1, 0xc1, byte(fzNodeExit), 1, 0,
		byte(fzRegister), 0, 1, byte(fzUnregister), 0, 0, byte(fzUnregister), 1, 0, byte(fzLeave), 0, 0,
	},
	// Kill and trap: a trapping process survives an abnormal signal but not
	// a kill; exit(self, normal) ends a process that does not trap.
	{
		byte(fzSpawn), 1, 2, byte(fzSpawn), 0, 1, byte(fzSpawn), 1, 0, byte(fzTrap), 0, 1,
		byte(fzLink), 0, 1, byte(fzExit), 1, 0x10, byte(fzExit), 1, 0x20, byte(fzMonitor), 2, 0,
		byte(fzExit), 2, 0x00, byte(fzExit), 2, 0x02, byte(fzNodeExit), 2, 0, byte(fzLink), 0, 2,
	},
	// SpawnLink and SpawnMonitor, then a process whose own code returns
	// Kill: the link partners get an ordinary, trappable kill.
	{
		byte(fzSpawn), 0, 0, byte(fzTrap), 0, 1, byte(fzSpawnLink), 0, 0x81, byte(fzSpawnLink), 0, 2,
		byte(fzSpawnMonitor), 0, 1, byte(fzLink), 1, 3, byte(fzReturn), 1, 2, byte(fzDemonitor), 0, 0,
		byte(fzDemonitor), 0, 0x80, byte(fzReturn), 0, 1,
	},
	// Timers and sends: at once, cancelled, left pending on a process that
	// then dies; demonitor before the target dies.
	{
		byte(fzSpawn), 1, 0, byte(fzSpawn), 0, 1, byte(fzSpawn), 1, 2, byte(fzTimer), 0, 1,
		byte(fzTimer), 1, 0x42, byte(fzTimer), 2, 0x80, byte(fzMonitor), 0, 1, byte(fzDemonitor), 0, 0,
		byte(fzSend), 2, 0x80, byte(fzNodeExit), 2, 2, byte(fzTimer), 0, 2, byte(fzReturn), 0, 0,
	},
}
