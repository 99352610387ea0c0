package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// The races suite: each test repeats one race between a process's exit and
// something another party does to it at that moment (a call by name, a
// monitor or link, an unlink or demonitor, a registration, a storm of
// casts), many times, on every backend. Run it with -race.

// errRace is the custom reason of the abnormal exits the races cause.
var errRace = errors.New("race: abnormal exit")

// raceIterations is n in quick mode and long times that in long mode.
func raceIterations(n, long int) int {
	if longMode() {
		return n * long
	}
	return n
}

// raceRand is the random source of one subtest: the seed and the subtest's
// name, so each subtest replays on its own.
func raceRand(seed uint64, t *testing.T) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// raceFigures counts what a race test did and found, for its FIGURES line.
type raceFigures struct {
	suite string
	seed  uint64
	keys  []string // the counters, in the order they are reported

	mu     sync.Mutex
	counts map[string]int64
	extra  map[string]string
}

func newRaceFigures(t *testing.T, suite string, seed uint64, keys ...string) *raceFigures {
	f := &raceFigures{suite: suite, seed: seed, keys: keys, counts: map[string]int64{}, extra: map[string]string{}}
	// Cleanups run once every subtest is done and its node stopped.
	t.Cleanup(func() {
		var b strings.Builder
		fmt.Fprintf(&b, "FIGURES %s: seed=%d mode=%s", f.suite, f.seed, modeName())
		f.mu.Lock()
		for _, k := range f.keys {
			if v, ok := f.extra[k]; ok {
				fmt.Fprintf(&b, " %s=%s", k, v)
				continue
			}
			fmt.Fprintf(&b, " %s=%d", k, f.counts[k])
		}
		f.mu.Unlock()
		t.Logf("%s", b.String())
	})
	return f
}

func (f *raceFigures) add(key string, n int64) {
	f.mu.Lock()
	f.counts[key] += n
	f.mu.Unlock()
}

func (f *raceFigures) max(key string, d time.Duration) {
	f.mu.Lock()
	if int64(d) > f.counts[key+"-ns"] {
		f.counts[key+"-ns"] = int64(d)
		f.extra[key] = d.Round(time.Microsecond).String()
	}
	f.mu.Unlock()
}

// fail records a violation: counted in "failed", reported for the first few.
func (f *raceFigures) fail(t *testing.T, format string, args ...any) {
	t.Helper()
	f.mu.Lock()
	f.counts["failed"]++
	n := f.counts["failed"]
	f.mu.Unlock()
	if n <= 10 {
		t.Errorf(format, args...)
	}
}

// raceNode is a silent node for one subtest. After it has stopped (at
// cleanup), a process or straggler left in its table counts as a leak.
func raceNode(t *testing.T, f *raceFigures) *process.Node {
	var n *process.Node
	t.Cleanup(func() { raceCheckStopped(t, f, n) }) // runs after spawntest's stop
	n = spawntest.NewNode(t)
	return n
}

func raceCheckStopped(t *testing.T, f *raceFigures, n *process.Node) {
	t.Helper()
	if st := n.Stats(); st.Processes != 0 || st.Stragglers != 0 || st.Names != 0 {
		f.add("leaks", int64(st.Processes)+st.Stragglers+int64(st.Names))
		t.Errorf("stopped node still holds %d processes, %d stragglers, %d names", st.Processes, st.Stragglers, st.Names)
	}
}

func raceSpin(n int) {
	for range n {
		runtime.Gosched()
	}
}

// raceDie makes a target exit by itself: with reason, or by panicking.
type raceDie struct {
	reason error
	panic  bool
}

func (d raceDie) die() error {
	if d.panic {
		panic(d.reason)
	}
	return d.reason
}

func raceTargetFunc(p *process.Process) error {
	for {
		m, err := p.Receive(context.Background())
		if err != nil {
			return err
		}
		if d, ok := m.(raceDie); ok {
			return d.die()
		}
	}
}

type raceTargetHandler struct{}

func (raceTargetHandler) HandleMessage(_ *process.Process, m any) error {
	if d, ok := m.(raceDie); ok {
		return d.die()
	}
	return nil
}

// raceSpawnTarget spawns a target on b, a Func process or a Handler one,
// and returns it with its exit reason to come.
func raceSpawnTarget(t *testing.T, n *process.Node, r *rand.Rand, b process.Backend) (pid.Pid, *spawntest.ExitWatch) {
	t.Helper()
	var p pid.Pid
	var err error
	if r.IntN(2) == 0 {
		p, err = n.Spawn(raceTargetFunc, process.WithBackend(b))
	} else {
		p, err = n.SpawnHandler(raceTargetHandler{}, process.WithBackend(b))
	}
	if err != nil {
		t.Fatalf("spawn target: %v", err)
	}
	return p, spawntest.WatchExit(t, n, p)
}

// The ways a race ends a target.
const (
	raceExitKill   = iota // node.Exit(target, Kill): Killed
	raceExitCustom        // node.Exit(target, errRace)
	raceSelfExit          // the target returns errRace
	raceSelfPanic         // the target panics
	raceKillerKinds
)

var raceKillerNames = [raceKillerKinds]string{"exit-kill", "exit-custom", "self-exit", "self-panic"}

// raceKiller ends a target after spinning a little, so that it lands before,
// during or after what it races with. The exit signals (not the self exits)
// have been applied in full, links and monitors told, when run returns.
type raceKiller struct {
	kind  int
	spins int
}

func newRaceKiller(r *rand.Rand, kinds int) raceKiller {
	return raceKiller{kind: r.IntN(kinds), spins: r.IntN(40)}
}

func (k raceKiller) run(n *process.Node, target pid.Pid) {
	raceSpin(k.spins)
	switch k.kind {
	case raceExitKill:
		n.Exit(target, process.Kill)
	case raceExitCustom:
		n.Exit(target, errRace)
	case raceSelfExit:
		n.Send(target, raceDie{reason: errRace})
	case raceSelfPanic:
		n.Send(target, raceDie{reason: errRace, panic: true})
	}
}

// matches reports whether reason is the one this killer causes.
func (k raceKiller) matches(reason error) bool {
	var pe *process.PanicError
	switch k.kind {
	case raceExitKill:
		return errors.Is(reason, process.Killed)
	case raceExitCustom, raceSelfExit:
		return errors.Is(reason, errRace) && !errors.As(reason, &pe)
	case raceSelfPanic:
		return errors.As(reason, &pe)
	}
	return false
}

func (k raceKiller) String() string { return raceKillerNames[k.kind] }

// raceMarker is what a probe sends itself right after an Unlink or
// Demonitor returns: a signal queued after it arrived too late.
type raceMarker struct{ id int }

// raceUntilMarker receives the probe's messages up to the marker.
func raceUntilMarker(pr *spawntest.Probe, m raceMarker) []any {
	var before []any
	for {
		msg := pr.Receive()
		if msg == m {
			return before
		}
		before = append(before, msg)
	}
}

// 1. Calls by name while a supervisor restarts the named child: every call
// gets a reply, NoProc or the crash reason; none hangs.
func TestRace_CallByNameDuringRestart(t *testing.T) {
	t.Parallel()
	seed := seedFromEnv(t)
	f := newRaceFigures(t, "races/call-by-name-during-restart", seed,
		"iterations", "restarts", "calls", "replies", "noproc", "crash-reason", "slowest-call", "failed", "leaks")
	iterations := raceIterations(200, 50)
	const clients, callsEach = 4, 20
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		r := raceRand(seed, t)
		n := raceNode(t, f)
		name := "race-call-" + b.String()
		type ref = genserver.Ref[chaosReq, chaosRep, chaosCast]
		started := make(chan ref, 4)
		_, err := supervisor.Start(spawntest.Context(t), n, supervisor.Spec{
			Intensity: 1 << 20, Period: time.Second, Backend: spawntest.Backends()[r.IntN(3)],
			Children: []supervisor.ChildSpec{{ID: "w", Start: func(ctx context.Context, sup *process.Process) (pid.Pid, error) {
				gs, err := genserver.StartLink(ctx, sup, &chaosWorker{id: name}, genserver.WithName(name), genserver.WithBackend(b))
				if err == nil {
					started <- gs
				}
				return gs.Pid(), err
			}}},
		})
		if err != nil {
			t.Fatalf("start supervisor: %v", err)
		}
		cur := <-started
		named := chaosNamed(n, name)
		for range iterations {
			f.add("iterations", 1)
			crash, spins := r.IntN(4), r.IntN(200)
			var crashed func(error) bool
			go1 := make(chan struct{})
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					<-go1
					for range callsEach {
						ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
						start := time.Now()
						rep, err := named.Call(ctx, chaosReq{Op: "ping"})
						cancel()
						f.max("slowest-call", time.Since(start))
						f.add("calls", 1)
						var ce *genserver.CallError
						switch {
						case err == nil && rep.ID == name:
							f.add("replies", 1)
						case err == nil:
							f.fail(t, "call %q answered by %q", name, rep.ID)
						case !errors.As(err, &ce):
							f.fail(t, "call %q: %v is not a *CallError", name, err)
						case errors.Is(err, process.NoProc):
							f.add("noproc", 1)
						case crashed(err):
							f.add("crash-reason", 1)
						default:
							f.fail(t, "call %q during a restart: %v", name, err)
						}
					}
				})
			}
			ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
			switch crash {
			case 0:
				crashed = func(err error) bool { return errors.Is(err, process.Killed) }
			case 1:
				crashed = func(err error) bool { return errors.Is(err, errRace) }
			case 2:
				crashed = func(err error) bool { var pe *process.PanicError; return errors.As(err, &pe) }
			case 3:
				crashed = func(err error) bool { return errors.Is(err, process.Normal) }
			}
			close(go1)
			raceSpin(spins)
			switch crash {
			case 0:
				n.Exit(cur.Pid(), process.Kill)
			case 1:
				n.Exit(cur.Pid(), errRace)
			case 2:
				if _, err := cur.Call(ctx, chaosReq{Op: "panic"}); !crashed(err) {
					f.fail(t, "panic call: %v", err)
				}
			case 3:
				if _, err := cur.Call(ctx, chaosReq{Op: "stop"}); err != nil {
					f.fail(t, "stop call: %v", err)
				}
			}
			select {
			case next := <-started:
				if next.Pid() == cur.Pid() {
					t.Fatalf("restarted child kept its pid %v", cur.Pid())
				}
				cur = next
				f.add("restarts", 1)
			case <-ctx.Done():
				t.Fatalf("the child was not restarted within %v", spawntest.Timeout)
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				t.Fatalf("calls by name hang across a restart")
			}
			if rep, err := named.Call(ctx, chaosReq{Op: "ping"}); err != nil || rep.ID != name {
				f.fail(t, "call after the restart: %+v, %v", rep, err)
			}
			cancel()
		}
	})
}

// 2. Monitor and link racing the target's exit: exactly one Down (or
// link.Exit for a trapping linker) with the real reason or NoProc; a linker
// that does not trap either gets the link error or dies of the reason.
func TestRace_MonitorLinkDuringExit(t *testing.T) {
	t.Parallel()
	seed := seedFromEnv(t)
	f := newRaceFigures(t, "races/monitor-link-during-exit", seed,
		"iterations", "killed", "monitor-down-reason", "monitor-down-noproc",
		"trap-link-exit-reason", "trap-link-exit-noproc", "link-died-of-reason", "link-error-noproc", "failed", "leaks")
	iterations := raceIterations(1000, 100)
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		r := raceRand(seed, t)
		n := raceNode(t, f)
		watcher := spawntest.NewProbe(t, n, process.WithBackend(spawntest.Backends()[r.IntN(3)]))
		trapper := spawntest.NewProbe(t, n, process.WithBackend(spawntest.Backends()[r.IntN(3)]))
		trapper.Do(func(p *process.Process) error { p.TrapExit(true); return nil })
		for range iterations {
			f.add("iterations", 1)
			target, targetExit := raceSpawnTarget(t, n, r, b)
			killer := newRaceKiller(r, raceKillerKinds)
			spins := r.IntN(40)
			var wg sync.WaitGroup
			go1 := make(chan struct{})
			wg.Go(func() { <-go1; killer.run(n, target) })

			switch mode := r.IntN(3); mode {
			case 0: // monitor
				var ref pid.Ref
				var err error
				raceOn(watcher, go1, spins, func(p *process.Process) {
					ref, err = link.Monitor(p, target)
				})
				wg.Wait()
				if err != nil {
					f.fail(t, "monitor: %v", err)
					continue
				}
				d, ok := watcher.Receive().(link.Down)
				switch {
				case !ok || d.Ref != ref || d.Pid != target:
					f.fail(t, "monitor %v racing %v: got %#v, want its Down", target, killer, d)
				case killer.matches(d.Reason):
					f.add("monitor-down-reason", 1)
				case errors.Is(d.Reason, process.NoProc):
					f.add("monitor-down-noproc", 1)
				default:
					f.fail(t, "monitor racing %v: Down with %v", killer, d.Reason)
				}
				watcher.ExpectEmpty()
			case 1: // link from a trapping process
				var err error
				raceOn(trapper, go1, spins, func(p *process.Process) {
					err = link.Link(p, target)
				})
				wg.Wait()
				if err != nil {
					f.fail(t, "trapping link: %v", err)
					continue
				}
				e, ok := trapper.Receive().(link.Exit)
				switch {
				case !ok || e.From != target:
					f.fail(t, "link to %v racing %v: got %#v, want its Exit", target, killer, e)
				case killer.matches(e.Reason):
					f.add("trap-link-exit-reason", 1)
				case errors.Is(e.Reason, process.NoProc):
					f.add("trap-link-exit-noproc", 1)
				default:
					f.fail(t, "trapping link racing %v: Exit with %v", killer, e.Reason)
				}
				trapper.ExpectEmpty()
			case 2: // link from a process that does not trap
				linker := spawntest.NewProbe(t, n, process.WithBackend(spawntest.Backends()[r.IntN(3)]))
				linkerExit := spawntest.WatchExit(t, n, linker.Pid())
				var err error
				raceOn(linker, go1, spins, func(p *process.Process) {
					err = link.Link(p, target)
				})
				wg.Wait()
				var le *link.Error
				if err != nil {
					if !errors.As(err, &le) || !errors.Is(err, process.NoProc) || le.Pid != target {
						f.fail(t, "link racing %v: %v, want a *link.Error with NoProc", killer, err)
					}
					// The target was dead before the link: the linker lives on.
					f.add("link-error-noproc", 1)
					f.raceRetire(t, linker, linkerExit)
					break
				}
				if reason := linkerExit.Wait(); !killer.matches(reason) {
					f.fail(t, "linked to a target ended by %v, the linker died of %v", killer, reason)
				}
				f.add("link-died-of-reason", 1)
			}
			f.raceTargetDied(t, targetExit, killer)
		}
	})
}

// 3. Unlink and demonitor racing the target's exit (LNK-11, MON-13):
// nothing from the link or monitor arrives after Unlink or Demonitor
// returns, and at most one signal was queued before.
func TestRace_UnlinkDemonitorDuringExit(t *testing.T) {
	t.Parallel()
	seed := seedFromEnv(t)
	f := newRaceFigures(t, "races/unlink-demonitor-during-exit", seed,
		"iterations", "killed", "demonitor-in-time", "demonitor-down-first",
		"trap-unlink-in-time", "trap-unlink-exit-first", "unlink-in-time", "unlink-died-first", "late-signals", "failed", "leaks")
	iterations := raceIterations(1000, 100)
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		r := raceRand(seed, t)
		n := raceNode(t, f)
		watcher := spawntest.NewProbe(t, n, process.WithBackend(spawntest.Backends()[r.IntN(3)]))
		trapper := spawntest.NewProbe(t, n, process.WithBackend(spawntest.Backends()[r.IntN(3)]))
		trapper.Do(func(p *process.Process) error { p.TrapExit(true); return nil })
		for i := range iterations {
			f.add("iterations", 1)
			target, targetExit := raceSpawnTarget(t, n, r, b)
			// Only exit signals: when the killer returns the exit has been
			// told to every link and monitor, so anything still to come
			// would be late.
			killer := newRaceKiller(r, raceSelfExit)
			spins := r.IntN(40)
			marker := raceMarker{id: i}
			var wg sync.WaitGroup
			go1 := make(chan struct{})

			switch mode := r.IntN(3); mode {
			case 0: // demonitor
				var ref pid.Ref
				watcher.Do(func(p *process.Process) error {
					var err error
					if ref, err = link.Monitor(p, target); err != nil {
						f.fail(t, "monitor: %v", err)
					}
					return nil
				})
				wg.Go(func() { <-go1; killer.run(n, target) })
				var active bool
				raceOn(watcher, go1, spins, func(p *process.Process) {
					active = link.Demonitor(p, ref)
					p.Send(p.Self(), marker)
				})
				wg.Wait()
				downs := f.raceSignals(t, watcher, marker, killer, "Down racing demonitor", func(m any) (error, bool) {
					d, ok := m.(link.Down)
					return d.Reason, ok && d.Ref == ref
				})
				switch {
				case active && downs == 0:
					f.add("demonitor-in-time", 1)
				case !active && downs == 1:
					f.add("demonitor-down-first", 1)
				default:
					f.fail(t, "Demonitor reported active=%v and %d Downs were queued before it returned", active, downs)
				}
				f.raceExpectNothingLate(t, watcher)
			case 1: // unlink from a trapping process
				trapper.Do(func(p *process.Process) error {
					if err := link.Link(p, target); err != nil {
						f.fail(t, "link: %v", err)
					}
					return nil
				})
				wg.Go(func() { <-go1; killer.run(n, target) })
				raceOn(trapper, go1, spins, func(p *process.Process) {
					link.Unlink(p, target)
					p.Send(p.Self(), marker)
				})
				wg.Wait()
				exits := f.raceSignals(t, trapper, marker, killer, "Exit racing unlink", func(m any) (error, bool) {
					e, ok := m.(link.Exit)
					return e.Reason, ok && e.From == target
				})
				switch exits {
				case 0:
					f.add("trap-unlink-in-time", 1)
				case 1:
					f.add("trap-unlink-exit-first", 1)
				default:
					f.fail(t, "%d Exits from one link", exits)
				}
				f.raceExpectNothingLate(t, trapper)
			case 2: // unlink from a process that does not trap
				linker := spawntest.NewProbe(t, n, process.WithBackend(spawntest.Backends()[r.IntN(3)]))
				linkerExit := spawntest.WatchExit(t, n, linker.Pid())
				linker.Do(func(p *process.Process) error {
					if err := link.Link(p, target); err != nil {
						f.fail(t, "link: %v", err)
					}
					return nil
				})
				wg.Go(func() { <-go1; killer.run(n, target) })
				var aliveAfter bool
				raceOn(linker, go1, spins, func(p *process.Process) {
					link.Unlink(p, target)
					aliveAfter = p.Alive()
				})
				wg.Wait()
				if aliveAfter {
					// Unlinked in time: the exit must not reach it later.
					if !n.Alive(linker.Pid()) {
						f.add("late-signals", 1)
						f.fail(t, "the linker died of a link it had removed: %v", linkerExit.Wait())
						break
					}
					f.raceRetire(t, linker, linkerExit)
					f.add("unlink-in-time", 1)
					break
				}
				if reason := linkerExit.Wait(); !killer.matches(reason) {
					f.fail(t, "linker died of %v racing %v", reason, killer)
				}
				f.add("unlink-died-first", 1)
			}
			f.raceTargetDied(t, targetExit, killer)
		}
	})
}

// raceOn releases the killer waiting on go1 and, after spins, runs op on
// pr's process, so that op races the kill.
func raceOn(pr *spawntest.Probe, go1 chan struct{}, spins int, op func(p *process.Process)) {
	pr.Do(func(p *process.Process) error {
		close(go1)
		raceSpin(spins)
		op(p)
		return nil
	})
}

// raceTargetDied checks that the target died of killer's reason, and
// counts it.
func (f *raceFigures) raceTargetDied(t *testing.T, targetExit *spawntest.ExitWatch, killer raceKiller) {
	t.Helper()
	if r := targetExit.Wait(); !killer.matches(r) {
		f.fail(t, "target ended by %v exited with %v", killer, r)
	}
	f.add("killed", 1)
}

// raceRetire ends a linker that outlived the target: nothing may be queued
// for it, and it exits normally.
func (f *raceFigures) raceRetire(t *testing.T, linker *spawntest.Probe, linkerExit *spawntest.ExitWatch) {
	t.Helper()
	linker.ExpectEmpty()
	linker.Exit(nil)
	if reason := linkerExit.Wait(); !errors.Is(reason, process.Normal) {
		f.fail(t, "the linker that outlived the target exited with %v", reason)
	}
}

// raceSignals takes what pr received up to marker and counts the signals
// that signal recognises (it returns the signal's reason), each of which
// must carry killer's reason; any other message fails the test.
func (f *raceFigures) raceSignals(t *testing.T, pr *spawntest.Probe, marker raceMarker, killer raceKiller, what string, signal func(any) (error, bool)) int {
	t.Helper()
	n := 0
	for _, m := range raceUntilMarker(pr, marker) {
		reason, ok := signal(m)
		if !ok {
			f.fail(t, "unexpected message %#v", m)
			continue
		}
		n++
		if !killer.matches(reason) {
			f.fail(t, "%s and %v: %v", what, killer, reason)
		}
	}
	return n
}

// raceExpectNothingLate checks that nothing was queued after the marker:
// the probe's mailbox is empty.
func (f *raceFigures) raceExpectNothingLate(t *testing.T, pr *spawntest.Probe) {
	t.Helper()
	var late []any
	pr.Do(func(p *process.Process) error {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // take what is queued, wait for nothing
		for {
			m, err := p.ReceiveMatch(ctx, func(any) bool { return true })
			if err != nil {
				return nil
			}
			late = append(late, m)
		}
	})
	if len(late) > 0 {
		f.add("late-signals", int64(len(late)))
		f.fail(t, "arrived after Unlink or Demonitor returned: %#v", late)
	}
	pr.ExpectEmpty()
}

// 4. Register racing the target's death: either NoProc, or success and the
// name released with the death, free for the next process at once.
func TestRace_RegisterDuringExit(t *testing.T) {
	t.Parallel()
	seed := seedFromEnv(t)
	f := newRaceFigures(t, "races/register-during-exit", seed,
		"iterations", "killed", "registered-then-released", "noproc", "reused", "failed", "leaks")
	iterations := raceIterations(1000, 100)
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		r := raceRand(seed, t)
		n := raceNode(t, f)
		reg := registry.Of(n)
		name := "race-reg-" + b.String()
		successor := spawntest.NewProbe(t, n, process.WithBackend(spawntest.Backends()[r.IntN(3)]))
		for range iterations {
			f.add("iterations", 1)
			target, targetExit := raceSpawnTarget(t, n, r, b)
			killer := newRaceKiller(r, raceKillerKinds)
			spins := r.IntN(40)
			var wg sync.WaitGroup
			go1 := make(chan struct{})
			wg.Go(func() { <-go1; killer.run(n, target) })
			close(go1)
			raceSpin(spins)
			err := reg.Register(name, target)
			wg.Wait()
			f.raceTargetDied(t, targetExit, killer) // the name goes before the exit is seen
			switch {
			case err == nil:
				f.add("registered-then-released", 1)
			case errors.Is(err, process.NoProc):
				f.add("noproc", 1)
			default:
				f.fail(t, "register racing %v: %v", killer, err)
			}
			if p, ok := reg.WhereIs(name); ok {
				f.fail(t, "name %q still resolves to %v after the death of %v (register err %v)", name, p, target, err)
				continue
			}
			if got, ok := reg.NameOf(target); ok {
				f.fail(t, "dead %v still named %q", target, got)
			}
			// The name is free for the next process at once.
			if err := reg.Register(name, successor.Pid()); err != nil {
				f.fail(t, "register the freed name: %v", err)
				continue
			}
			if err := reg.Unregister(name); err != nil {
				f.fail(t, "unregister: %v", err)
			}
			f.add("reused", 1)
		}
	})
}

// raceStormReq is the call that makes a storm server stop itself.
type raceStormReq struct{}

// raceStormServer counts the casts it handles.
type raceStormServer struct {
	handled *sync.Mutex
	count   *int64
}

func (s *raceStormServer) HandleCall(ctx *genserver.CallCtx[int64], _ raceStormReq) (int64, error) {
	ctx.Stop(process.Normal)
	return s.get(), nil
}

func (s *raceStormServer) HandleCast(_ *genserver.Ctx, _ int) {
	s.handled.Lock()
	*s.count++
	s.handled.Unlock()
}

func (s *raceStormServer) get() int64 {
	s.handled.Lock()
	defer s.handled.Unlock()
	return *s.count
}

// 5. Cast storms while the server is stopped or killed, or its whole node
// stopped: Cast always returns nil, nothing panics or hangs, the server
// exits with the reason asked for and the node stops clean.
func TestRace_CastStormDuringShutdown(t *testing.T) {
	t.Parallel()
	seed := seedFromEnv(t)
	ways := []string{"stop", "stop-custom", "exit-kill", "exit-custom", "ctx-stop", "node-stop"}
	keys := []string{"iterations", "nodes", "casts", "handled"}
	for _, w := range ways {
		keys = append(keys, "by-"+w)
	}
	f := newRaceFigures(t, "races/cast-storm-during-shutdown", seed, append(keys, "hung", "failed", "leaks")...)
	iterations := raceIterations(60, 100)
	const casters, castsEach = 8, 150
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		r := raceRand(seed, t)
		for range iterations {
			f.add("iterations", 1)
			way, spins := r.IntN(len(ways)), r.IntN(300)
			n := process.NewNode(process.WithLogger(nil))
			t.Cleanup(func() { n.Stop(context.Background()) }) // if the iteration fails; Stop again is harmless
			f.add("nodes", 1)
			ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
			srv := &raceStormServer{handled: &sync.Mutex{}, count: new(int64)}
			ref, err := genserver.Start(ctx, n, srv, genserver.WithName("storm"), genserver.WithBackend(b))
			if err != nil {
				cancel()
				t.Fatalf("start: %v", err)
			}
			exited := spawntest.WatchExit(t, n, ref.Pid())
			named := genserver.Named[raceStormReq, int64, int](n, "storm")

			var wg sync.WaitGroup
			go1 := make(chan struct{})
			for c := range casters {
				wg.Go(func() {
					<-go1
					for k := range castsEach {
						target := ref
						if (c+k)%2 == 1 {
							target = named
						}
						if err := target.Cast(k); err != nil {
							f.fail(t, "cast during shutdown: %v", err)
						}
					}
					f.add("casts", castsEach)
				})
			}
			close(go1)
			raceSpin(spins)
			var want func(error) bool
			switch ways[way] {
			case "stop":
				if err := ref.Stop(ctx, nil); err != nil {
					f.fail(t, "stop: %v", err)
				}
				want = func(err error) bool { return errors.Is(err, process.Normal) }
			case "stop-custom":
				if err := ref.Stop(ctx, errRace); err != nil {
					f.fail(t, "stop: %v", err)
				}
				want = func(err error) bool { return errors.Is(err, errRace) }
			case "exit-kill":
				n.Exit(ref.Pid(), process.Kill)
				want = func(err error) bool { return errors.Is(err, process.Killed) }
			case "exit-custom":
				n.Exit(ref.Pid(), errRace)
				want = func(err error) bool { return errors.Is(err, errRace) }
			case "ctx-stop":
				if _, err := ref.Call(ctx, raceStormReq{}); err != nil {
					f.fail(t, "stop call: %v", err)
				}
				want = func(err error) bool { return errors.Is(err, process.Normal) }
			case "node-stop":
				if err := n.Stop(ctx); err != nil {
					f.fail(t, "node stop during a cast storm: %v", err)
				}
				want = func(err error) bool { return errors.Is(err, process.Shutdown) }
			}
			f.add("by-"+ways[way], 1)
			select {
			case <-exited.Done():
				if reason := exited.Wait(); !want(reason) {
					f.fail(t, "stopped by %s, the server exited with %v", ways[way], reason)
				}
			case <-ctx.Done():
				f.add("hung", 1)
				f.fail(t, "stopped by %s, the server did not exit", ways[way])
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				f.add("hung", 1)
				t.Fatalf("casters hang after a %s", ways[way])
			}
			if p, ok := registry.Of(n).WhereIs("storm"); ok {
				f.fail(t, "the name still resolves to %v", p)
			}
			if got := srv.get(); got > casters*castsEach {
				f.fail(t, "%d casts handled, %d sent", got, casters*castsEach)
			} else {
				f.add("handled", got)
			}
			if err := n.Stop(ctx); err != nil {
				f.fail(t, "node stop: %v", err)
			}
			raceCheckStopped(t, f, n)
			cancel()
		}
	})
}
