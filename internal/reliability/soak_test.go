package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// The soak suites run a long series of short-lived processes, links,
// monitors, timers, names and groups through one node, and check that the
// node's tables, the heap and the goroutines come back to where they were:
// whatever a cycle creates must be gone once the cycle is over.
//
// Quick mode (default) runs soakQuickCycles cycles of each kind; long mode
// (SPAWNED_LONG=1) runs soakLongCycles. SPAWNED_SEED replays a run.

const (
	soakQuickCycles = 20_000
	soakLongCycles  = 1_000_000
	soakWarmup      = 1_000
	// soakHeapSlack is the heap growth always tolerated (10% of the
	// starting heap when that is larger).
	soakHeapSlack = 2 << 20
)

var errSoakBoom = errors.New("soak: boom")

func soakCycles() int {
	if longMode() {
		return soakLongCycles
	}
	return soakQuickCycles
}

// soakDeadline bounds a whole soak run.
func soakDeadline() time.Duration {
	if longMode() {
		return 60 * time.Minute
	}
	return 3 * time.Minute
}

// soakSnapshot is what must come back to its level.
type soakSnapshot struct {
	stats      process.Stats
	heap       uint64 // live heap bytes after a GC
	goroutines int
}

func soakMeasure(n *process.Node) soakSnapshot {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return soakSnapshot{stats: n.Stats(), heap: ms.HeapAlloc, goroutines: runtime.NumGoroutine()}
}

// soakSettle waits until the node's tables are back to before and the
// goroutines are within the node's newly parked workers, then checks the
// heap. It returns the final snapshot and the number of leaks found.
func soakSettle(t *testing.T, n *process.Node, before soakSnapshot) (soakSnapshot, int) {
	t.Helper()
	settled := func(s process.Stats, g int) bool {
		extraWorkers := max(0, s.Workers-before.stats.Workers)
		return s.Processes == before.stats.Processes && s.Names == before.stats.Names &&
			s.Groups == before.stats.Groups && s.Stragglers == before.stats.Stragglers &&
			g <= before.goroutines+extraWorkers
	}
	deadline := time.Now().Add(spawntest.Timeout)
	for !settled(n.Stats(), runtime.NumGoroutine()) && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	leaks := 0
	s, g := n.Stats(), runtime.NumGoroutine()
	if s.Processes != before.stats.Processes {
		leaks++
		t.Errorf("leak: %d live processes, %d before (spawned %d, exited %d)", s.Processes, before.stats.Processes, s.Spawned, s.Exited)
	}
	if uint64(s.Processes) != s.Spawned-s.Exited {
		leaks++
		t.Errorf("table: %d live processes but spawned %d - exited %d = %d", s.Processes, s.Spawned, s.Exited, s.Spawned-s.Exited)
	}
	if s.Names != before.stats.Names {
		leaks++
		t.Errorf("leak: %d names, %d before", s.Names, before.stats.Names)
	}
	if s.Groups != before.stats.Groups {
		leaks++
		t.Errorf("leak: %d groups, %d before", s.Groups, before.stats.Groups)
	}
	if s.Stragglers != before.stats.Stragglers {
		leaks++
		t.Errorf("leak: %d stragglers, %d before", s.Stragglers, before.stats.Stragglers)
	}
	if extra := max(0, s.Workers-before.stats.Workers); g > before.goroutines+extra {
		leaks++
		t.Errorf("leak: %d goroutines, %d before (+%d parked workers allowed)", g, before.goroutines, extra)
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
	// The heap: a few GCs let finalizers and sync.Pool caches go.
	slack := max(uint64(soakHeapSlack), before.heap/10)
	var after soakSnapshot
	for range 10 {
		after = soakMeasure(n)
		if after.heap <= before.heap+slack {
			break
		}
	}
	if after.heap > before.heap+slack {
		leaks++
		t.Errorf("leak: heap %d bytes, %d before (slack %d)", after.heap, before.heap, slack)
	}
	return after, leaks
}

func soakMB(b uint64) string { return fmt.Sprintf("%.1fMB", float64(b)/(1<<20)) }

// Messages of the spawn soak.
type (
	soakArm    struct{}              // victim: arm a timer to the driver and an interval to itself
	soakArmed  struct{ pid pid.Pid } // victim to driver: armed
	soakStop   struct{}              // victim: return normally
	soakTick   struct{}              // timer payload
	soakLate   struct{}              // a timer that must never fire
	soakVictim struct{ driver pid.Pid }
)

// HandleMessage makes soakVictim a Handler victim.
func (v *soakVictim) HandleMessage(p *process.Process, msg any) error {
	return soakVictimHandle(p, v.driver, msg)
}

func soakVictimHandle(p *process.Process, driver pid.Pid, msg any) error {
	switch msg.(type) {
	case soakArm:
		if _, err := p.SendAfter(driver, soakLate{}, time.Hour); err != nil {
			return err
		}
		if _, err := p.SendInterval(p.Self(), soakTick{}, time.Hour); err != nil {
			return err
		}
		return p.Send(driver, soakArmed{p.Self()})
	case soakStop:
		return process.Normal
	}
	return nil
}

// soakVictimFunc is the Func victim: the same protocol from a receive loop.
func soakVictimFunc(driver pid.Pid) process.Func {
	return func(p *process.Process) error {
		for {
			m, err := p.Receive(context.Background())
			if err != nil {
				return err
			}
			if err := soakVictimHandle(p, driver, m); err != nil {
				if errors.Is(err, process.Normal) {
					return nil
				}
				return err
			}
		}
	}
}

// soakCounts are the figures of the spawn soak.
type soakCounts struct {
	cycles, spawned, killed, abnormal, shutdowns, normals int
	downs, exits, timersSet, timersCancelled, timersDied  int
	joins, named, demonitors, unlinks                     int
	threads, blocking                                     int
}

const soakVictimName = "soak-victim"

// soakDriver returns the body of the process that runs count cycles.
func soakDriver(count int, seed uint64, c *soakCounts) process.Func {
	return func(p *process.Process) error {
		p.TrapExit(true)
		rng := rand.New(rand.NewPCG(seed, 0x50a4))
		for i := range count {
			if err := soakCycle(p, i, rng, c); err != nil {
				return fmt.Errorf("cycle %d: %w", i, err)
			}
		}
		return nil
	}
}

func soakReceive(p *process.Process, what string, match func(any) bool) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
	defer cancel()
	m, err := p.ReceiveMatch(ctx, match)
	if err != nil {
		return nil, fmt.Errorf("waiting for %s: %w", what, err)
	}
	return m, nil
}

// soakCycle spawns a victim on some backend, links it, monitors it, puts
// it in a group (and sometimes under a name), runs timers on both sides,
// kills or stops it, and checks that the Down and the Exit carry the right
// reason and that nothing else arrives.
func soakCycle(p *process.Process, i int, rng *rand.Rand, c *soakCounts) error {
	n := p.Node()
	reg := registry.Of(n)
	self := p.Self()
	b := process.Async
	switch r := rng.IntN(64); {
	case r == 0:
		b = process.Thread
		c.threads++
	case r < 16:
		b = process.Blocking
		c.blocking++
	}
	opts := []process.SpawnOption{process.WithBackend(b)}
	named := rng.IntN(8) == 0
	if named {
		opts = append(opts, process.WithName(soakVictimName))
		c.named++
	}
	var (
		v    pid.Pid
		mref pid.Ref
		err  error
	)
	switch rng.IntN(3) {
	case 0:
		if v, err = n.SpawnHandler(&soakVictim{driver: self}, opts...); err != nil {
			return fmt.Errorf("spawn handler: %w", err)
		}
		if err = link.Link(p, v); err != nil {
			return fmt.Errorf("link: %w", err)
		}
		if mref, err = link.Monitor(p, v); err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
	case 1:
		if v, err = p.SpawnLink(soakVictimFunc(self), opts...); err != nil {
			return fmt.Errorf("spawn link: %w", err)
		}
		if mref, err = link.Monitor(p, v); err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
	default:
		if v, mref, err = p.SpawnMonitor(soakVictimFunc(self), opts...); err != nil {
			return fmt.Errorf("spawn monitor: %w", err)
		}
		if err = link.Link(p, v); err != nil {
			return fmt.Errorf("link: %w", err)
		}
	}
	c.spawned++
	if named {
		if got, ok := reg.WhereIs(soakVictimName); !ok || got != v {
			return fmt.Errorf("WhereIs(%q) = %v, %v; want %v", soakVictimName, got, ok, v)
		}
	}
	group := "soak-g" + strconv.Itoa(i%8)
	joins := 1 + rng.IntN(2)
	for range joins {
		if err := reg.Join(group, v); err != nil {
			return fmt.Errorf("join: %w", err)
		}
	}
	c.joins += joins

	// Timers: one cancelled, one that fires at once, and two the victim
	// owns that must die with it.
	tref, err := p.SendAfter(v, soakTick{}, time.Hour)
	if err != nil {
		return fmt.Errorf("send after: %w", err)
	}
	if !p.CancelTimer(tref) {
		return errors.New("CancelTimer of a pending timer returned false")
	}
	if _, err := p.SendAfter(v, soakTick{}, 0); err != nil {
		return fmt.Errorf("send after 0: %w", err)
	}
	c.timersSet += 2
	c.timersCancelled++
	if err := p.Send(v, soakArm{}); err != nil {
		return fmt.Errorf("send arm: %w", err)
	}
	if _, err := soakReceive(p, "armed", func(m any) bool { a, ok := m.(soakArmed); return ok && a.pid == v }); err != nil {
		return err
	}
	c.timersDied += 2

	// Sometimes an extra monitor taken back, or the link removed.
	if rng.IntN(4) == 0 {
		r2, err := link.Monitor(p, v)
		if err != nil {
			return fmt.Errorf("second monitor: %w", err)
		}
		if !link.Demonitor(p, r2) {
			return errors.New("Demonitor of an active monitor returned false")
		}
		c.demonitors++
	}
	linked := true
	if rng.IntN(4) == 0 {
		if err := link.Unlink(p, v); err != nil {
			return fmt.Errorf("unlink: %w", err)
		}
		linked = false
		c.unlinks++
	}

	var want error
	switch rng.IntN(4) {
	case 0:
		want = errSoakBoom
		err = p.Exit(v, errSoakBoom)
		c.abnormal++
	case 1:
		want = process.Killed
		err = p.Exit(v, process.Kill)
		c.killed++
	case 2:
		want = process.Normal
		err = p.Send(v, soakStop{})
		c.normals++
	default:
		want = process.Shutdown
		err = n.Exit(v, process.Shutdown)
		c.shutdowns++
	}
	if err != nil {
		return fmt.Errorf("ending the victim: %w", err)
	}
	m, err := soakReceive(p, "down", func(m any) bool { d, ok := m.(link.Down); return ok && d.Ref == mref })
	if err != nil {
		return err
	}
	if d := m.(link.Down); d.Pid != v || !errors.Is(d.Reason, want) {
		return fmt.Errorf("down %+v, want reason %v from %v", d, want, v)
	}
	c.downs++
	if linked {
		// The Exit is queued before the Down: links are told first.
		m, err := soakReceive(p, "exit", func(m any) bool { e, ok := m.(link.Exit); return ok && e.From == v })
		if err != nil {
			return err
		}
		if e := m.(link.Exit); !errors.Is(e.Reason, want) {
			return fmt.Errorf("exit %+v, want reason %v", e, want)
		}
		c.exits++
	}
	// Nothing else may be queued: no Exit after an unlink, no Down of a
	// demonitor, no timer of the dead victim.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if extra, err := p.Receive(done); err == nil {
		return fmt.Errorf("unexpected message %#v", extra)
	}
	if named {
		if got, ok := reg.WhereIs(soakVictimName); ok {
			return fmt.Errorf("name still registered to %v after its owner's Down", got)
		}
	}
	if ms := reg.Members(group); len(ms) != 0 {
		for _, m := range ms {
			if m == v {
				return fmt.Errorf("dead %v still a member of %q", v, group)
			}
		}
	}
	if n.Alive(v) {
		return fmt.Errorf("%v alive after its Down", v)
	}
	c.cycles++
	return nil
}

// soakRun runs a driver for count cycles and waits for it.
func soakRun(t *testing.T, n *process.Node, count int, seed uint64) soakCounts {
	t.Helper()
	var c soakCounts
	exited := make(chan error, 1)
	d, err := n.Spawn(soakDriver(count, seed, &c), process.OnExit(func(r error) { exited <- r }))
	if err != nil {
		t.Fatalf("spawn driver: %v", err)
	}
	select {
	case r := <-exited:
		if !process.IsNormal(r) {
			t.Fatalf("driver %v: %v", d, r)
		}
	case <-time.After(soakDeadline()):
		t.Fatalf("driver %v did not finish %d cycles within %v", d, count, soakDeadline())
	}
	return c
}

func TestSoak_SpawnLinkMonitorExit(t *testing.T) {
	seed := seedFromEnv(t)
	cycles := soakCycles()
	n := spawntest.NewNode(t)
	start := time.Now()
	soakRun(t, n, soakWarmup, seed^1)
	before := soakMeasure(n)
	c := soakRun(t, n, cycles, seed)
	after, leaks := soakSettle(t, n, before)
	if c.cycles != cycles {
		t.Errorf("%d cycles done, want %d", c.cycles, cycles)
	}
	t.Logf("FIGURES soak-spawn: mode=%s seed=%d cycles=%d spawned=%d (thread %d, blocking %d) killed=%d abnormal=%d shutdown=%d normal=%d "+
		"downs=%d exits=%d timers=%d (cancelled %d, died with owner %d) joins=%d named=%d demonitors=%d unlinks=%d "+
		"leaks=%d heap=%s->%s goroutines=%d->%d workers=%d->%d elapsed=%v",
		modeName(), seed, c.cycles, c.spawned, c.threads, c.blocking, c.killed, c.abnormal, c.shutdowns, c.normals,
		c.downs, c.exits, c.timersSet+c.timersDied, c.timersCancelled, c.timersDied, c.joins, c.named, c.demonitors, c.unlinks,
		leaks, soakMB(before.heap), soakMB(after.heap), before.goroutines, after.goroutines,
		before.stats.Workers, after.stats.Workers, time.Since(start).Round(time.Millisecond))
}

// regCounts are the figures of the registry soak.
type regCounts struct {
	cycles, registers, unregisters, taken, alreadyNamed, notRegistered int
	sends, joins, leaves, notJoined, replaced, spawnNamed              int
}

// regHolder is a Handler that holds names and group memberships and
// ignores its messages.
type regHolder struct{}

func (regHolder) HandleMessage(*process.Process, any) error { return nil }

const regPool = 32

// regRun does count register/unregister and join/leave cycles over pool,
// from the test goroutine. Every 64th cycle a holder that has a name and
// groups is killed and replaced: its name and memberships must go with it.
func regRun(n *process.Node, pool []pid.Pid, count, base int, rng *rand.Rand, c *regCounts) error {
	reg := registry.Of(n)
	spawn := func(opts ...process.SpawnOption) (pid.Pid, error) {
		b := process.Async
		if rng.IntN(4) == 0 {
			b = process.Blocking
		}
		return n.SpawnHandler(regHolder{}, append(opts, process.WithBackend(b))...)
	}
	for i := range count {
		k := base + i
		name := "soak-name-" + strconv.Itoa(k)
		slot := rng.IntN(len(pool))
		p := pool[slot]
		if err := reg.Register(name, p); err != nil {
			return fmt.Errorf("cycle %d: register %q: %w", k, name, err)
		}
		c.registers++
		if got, ok := reg.WhereIs(name); !ok || got != p {
			return fmt.Errorf("cycle %d: WhereIs = %v, %v; want %v", k, got, ok, p)
		}
		if got, ok := reg.NameOf(p); !ok || got != name {
			return fmt.Errorf("cycle %d: NameOf = %q, %v", k, got, ok)
		}
		switch rng.IntN(8) {
		case 0:
			if err := reg.Register(name+"-2", p); !errors.Is(err, registry.ErrAlreadyNamed) {
				return fmt.Errorf("cycle %d: second name: %v, want ErrAlreadyNamed", k, err)
			}
			c.alreadyNamed++
		case 1:
			other := pool[(slot+1)%len(pool)]
			if err := reg.Register(name, other); !errors.Is(err, registry.ErrNameTaken) {
				return fmt.Errorf("cycle %d: taken name: %v, want ErrNameTaken", k, err)
			}
			c.taken++
		case 2:
			if err := reg.Send(name, soakTick{}); err != nil {
				return fmt.Errorf("cycle %d: send by name: %w", k, err)
			}
			c.sends++
		}
		group := "soak-grp-" + strconv.Itoa(k%64)
		if err := reg.Join(group, p); err != nil {
			return fmt.Errorf("cycle %d: join: %w", k, err)
		}
		c.joins++

		if k%64 == 63 {
			// The holder dies with its name and group: both must go.
			if err := n.Exit(p, process.Kill); err != nil {
				return fmt.Errorf("cycle %d: kill: %w", k, err)
			}
			if got, ok := reg.WhereIs(name); ok {
				return fmt.Errorf("cycle %d: name of a killed holder still registered to %v", k, got)
			}
			for _, m := range reg.Members(group) {
				if m == p {
					return fmt.Errorf("cycle %d: killed holder still in %q", k, group)
				}
			}
			if err := reg.Unregister(name); !errors.Is(err, registry.ErrNotRegistered) {
				return fmt.Errorf("cycle %d: unregister the dead holder's name: %v, want ErrNotRegistered", k, err)
			}
			var opts []process.SpawnOption
			if rng.IntN(2) == 0 { // sometimes the replacement takes the freed name at once
				opts = append(opts, process.WithName(name))
				c.spawnNamed++
			}
			np, err := spawn(opts...)
			if err != nil {
				return fmt.Errorf("cycle %d: replace holder: %w", k, err)
			}
			if len(opts) > 0 {
				if err := reg.Unregister(name); err != nil {
					return fmt.Errorf("cycle %d: unregister the replacement's name: %w", k, err)
				}
				c.unregisters++
			}
			pool[slot] = np
			c.replaced++
			c.cycles++
			continue
		}
		if err := reg.Unregister(name); err != nil {
			return fmt.Errorf("cycle %d: unregister: %w", k, err)
		}
		c.unregisters++
		if rng.IntN(16) == 0 {
			if err := reg.Unregister(name); !errors.Is(err, registry.ErrNotRegistered) {
				return fmt.Errorf("cycle %d: unregister twice: %v, want ErrNotRegistered", k, err)
			}
			c.notRegistered++
		}
		if _, ok := reg.WhereIs(name); ok {
			return fmt.Errorf("cycle %d: name still found after Unregister", k)
		}
		if err := reg.Leave(group, p); err != nil {
			return fmt.Errorf("cycle %d: leave: %w", k, err)
		}
		c.leaves++
		if rng.IntN(16) == 0 {
			if err := reg.Leave(group, p); !errors.Is(err, registry.ErrNotJoined) {
				return fmt.Errorf("cycle %d: leave twice: %v, want ErrNotJoined", k, err)
			}
			c.notJoined++
		}
		c.cycles++
	}
	return nil
}

func TestSoak_RegisterUnregister(t *testing.T) {
	seed := seedFromEnv(t)
	cycles := soakCycles()
	n := spawntest.NewNode(t)
	rng := rand.New(rand.NewPCG(seed, 0x4e6))
	start := time.Now()
	pool := make([]pid.Pid, regPool)
	for i := range pool {
		b := spawntest.Backends()[i%len(spawntest.Backends())]
		p, err := n.SpawnHandler(regHolder{}, process.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		pool[i] = p
	}
	var warm regCounts
	if err := regRun(n, pool, soakWarmup, 0, rng, &warm); err != nil {
		t.Fatal(err)
	}
	before := soakMeasure(n)
	var c regCounts
	if err := regRun(n, pool, cycles, soakWarmup, rng, &c); err != nil {
		t.Fatal(err)
	}
	after, leaks := soakSettle(t, n, before)
	if got := registry.Of(n).Registered(); len(got) != 0 {
		leaks++
		t.Errorf("names left: %d (first %q)", len(got), got[0])
	}
	if got := registry.Of(n).Groups(); len(got) != 0 {
		leaks++
		t.Errorf("groups left: %d (first %q)", len(got), got[0])
	}
	t.Logf("FIGURES soak-registry: mode=%s seed=%d cycles=%d registers=%d unregisters=%d name-taken=%d already-named=%d "+
		"not-registered=%d sends-by-name=%d joins=%d leaves=%d not-joined=%d holders-killed=%d respawned-with-freed-name=%d "+
		"leaks=%d heap=%s->%s goroutines=%d->%d workers=%d->%d elapsed=%v",
		modeName(), seed, c.cycles, c.registers, c.unregisters, c.taken, c.alreadyNamed,
		c.notRegistered, c.sends, c.joins, c.leaves, c.notJoined, c.replaced, c.spawnNamed,
		leaks, soakMB(before.heap), soakMB(after.heap), before.goroutines, after.goroutines,
		before.stats.Workers, after.stats.Workers, time.Since(start).Round(time.Millisecond))
}
