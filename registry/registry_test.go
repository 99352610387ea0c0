package registry_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// regIdleHandler is a Handler that ignores every message.
type regIdleHandler struct{}

func (regIdleHandler) HandleMessage(*process.Process, any) error { return nil }

// regForEachBackend runs f as a parallel subtest per backend, each with a
// node of its own and that node's registry.
func regForEachBackend(t *testing.T, f func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend)) {
	t.Helper()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		f(t, n, registry.Of(n), b)
	})
}

// regSpawnHandler starts an idle Handler process on backend b.
func regSpawnHandler(t testing.TB, n *process.Node, b process.Backend) pid.Pid {
	t.Helper()
	p, err := n.SpawnHandler(regIdleHandler{}, process.WithBackend(b))
	require.NoError(t, err)
	return p
}

// regDead returns the Pid of a process that has exited normally.
func regDead(t testing.TB, n *process.Node, b process.Backend) pid.Pid {
	t.Helper()
	p, err := n.Spawn(func(p *process.Process) error {
		_, err := p.Receive(context.Background())
		return err
	}, process.WithBackend(b))
	require.NoError(t, err)
	exited := spawntest.WatchExit(t, n, p)
	require.NoError(t, n.Send(p, "exit"))
	r := exited.Wait()
	require.True(t, process.IsNormal(r), "%v", r)
	require.False(t, n.Alive(p))
	return p
}

// regKill kills p with Kill and waits for its exit, which must be Killed.
func regKill(t testing.TB, n *process.Node, p pid.Pid) {
	t.Helper()
	require.ErrorIs(t, spawntest.ExitAndWait(t, n, p, process.Kill), process.Killed)
}

// regKillDuring kills p while op runs on a goroutine of its own, and waits
// for both. op races the death: it must succeed or fail with NoProc.
func regKillDuring(t testing.TB, n *process.Node, round int, p pid.Pid, op func() error) {
	t.Helper()
	var opErr error
	var wg sync.WaitGroup
	wg.Go(func() { opErr = op() })
	require.NoError(t, n.Exit(p, process.Kill))
	reason := spawntest.WaitExit(t, n, p)
	require.True(t, errors.Is(reason, process.Killed) || errors.Is(reason, process.NoProc), "%v", reason)
	wg.Wait()
	if opErr != nil {
		require.ErrorIs(t, opErr, process.NoProc, "round %d", round)
	}
}

func TestREG01_RegisterWhereIsRegistered(t *testing.T) {
	t.Parallel()
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		pr := spawntest.NewProbe(t, n, process.WithBackend(b))

		require.NoError(t, r.Register("reg01", pr.Pid()))

		got, ok := r.WhereIs("reg01")
		require.True(t, ok)
		assert.Equal(t, pr.Pid(), got)
		assert.Contains(t, r.Registered(), "reg01")

		info, err := n.Info(pr.Pid())
		require.NoError(t, err)
		assert.Equal(t, "reg01", info.Name)
		name, ok := r.NameOf(pr.Pid())
		assert.True(t, ok)
		assert.Equal(t, "reg01", name)

		var self string
		pr.Do(func(p *process.Process) error { self = p.Name(); return nil })
		assert.Equal(t, "reg01", self)

		// The name reaches the process.
		require.NoError(t, r.Send("reg01", "hello"))
		assert.Equal(t, "hello", pr.Receive())
		pr.ExpectEmpty()
	})
}

func TestREG01_RegisteredIsSortedAndComplete(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	r := registry.Of(n)
	assert.Empty(t, r.Registered())
	for _, name := range []string{"c", "a", "b"} {
		require.NoError(t, r.Register(name, spawntest.SpawnIdle(t, n)))
	}
	assert.Equal(t, []string{"a", "b", "c"}, r.Registered())
	assert.Equal(t, 3, n.Stats().Names)
}

func TestREG02_RegisteringTakenNameFails(t *testing.T) {
	t.Parallel()
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		owner := spawntest.NewProbe(t, n, process.WithBackend(b))
		other := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		require.NoError(t, r.Register("reg02", owner.Pid()))

		err := r.Register("reg02", other)
		require.ErrorIs(t, err, registry.ErrNameTaken)
		var taken *registry.NameTakenError
		require.ErrorAs(t, err, &taken)
		assert.Equal(t, "reg02", taken.Name)
		assert.Equal(t, owner.Pid(), taken.Owner)

		// The owner registering its own name again is refused the same way.
		err = r.Register("reg02", owner.Pid())
		require.ErrorIs(t, err, registry.ErrNameTaken)
		require.ErrorAs(t, err, &taken)
		assert.Equal(t, owner.Pid(), taken.Owner)

		// The old owner keeps the name; the other process got none.
		got, ok := r.WhereIs("reg02")
		require.True(t, ok)
		assert.Equal(t, owner.Pid(), got)
		_, ok = r.NameOf(other)
		assert.False(t, ok)
		info, err := n.Info(other)
		require.NoError(t, err)
		assert.Empty(t, info.Name)
		assert.Equal(t, []string{"reg02"}, r.Registered())

		require.NoError(t, r.Send("reg02", "still mine"))
		assert.Equal(t, "still mine", owner.Receive())
		owner.ExpectEmpty()
	})
}

func TestREG03_ProcessHasAtMostOneName(t *testing.T) {
	t.Parallel()
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		p := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		require.NoError(t, r.Register("reg03-a", p))

		err := r.Register("reg03-b", p)
		require.ErrorIs(t, err, registry.ErrAlreadyNamed)
		assert.NotErrorIs(t, err, registry.ErrNameTaken)

		_, ok := r.WhereIs("reg03-b")
		assert.False(t, ok)
		name, ok := r.NameOf(p)
		assert.True(t, ok)
		assert.Equal(t, "reg03-a", name)
		assert.Equal(t, []string{"reg03-a"}, r.Registered())
	})
}

func TestREG04_RegisteringDeadPidFails(t *testing.T) {
	t.Parallel()
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		dead := regDead(t, n, b)

		err := r.Register("reg04", dead)
		require.ErrorIs(t, err, process.NoProc)
		_, ok := r.WhereIs("reg04")
		assert.False(t, ok)
		assert.Empty(t, r.Registered())
		_, ok = r.NameOf(dead)
		assert.False(t, ok)

		// A killed process is just as dead.
		killed := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		regKill(t, n, killed)
		require.ErrorIs(t, r.Register("reg04", killed), process.NoProc)
		assert.Empty(t, r.Registered())
	})
}

// REG-05: checked 1000 times per backend. Each round the victim is killed
// with Exit(P, Kill); the name must be gone by the time a watch fires and by
// the time a monitoring process receives its Down, and must be free for a
// new process at once.
func TestREG05_NameReleasedBeforeExitIsObservable(t *testing.T) {
	t.Parallel()
	const rounds = 1000
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		const name = "reg05"
		monitor := spawntest.NewProbe(t, n)

		victim := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		require.NoError(t, r.Register(name, victim))
		for i := range rounds {
			var ref pid.Ref
			monitor.Do(func(p *process.Process) error {
				var err error
				ref, err = link.Monitor(p, victim)
				return err
			})
			watched := spawntest.WatchExit(t, n, victim)

			require.NoError(t, n.Exit(victim, process.Kill))

			// Watch: the name is gone when the watch fires.
			require.ErrorIs(t, watched.Wait(), process.Killed, "round %d", i)
			owner, found := r.WhereIs(name)
			require.False(t, found, "round %d: name still resolves to %v after the exit was observed", i, owner)

			// Monitor: checked inside the monitoring process as it takes the Down.
			var down link.Down
			var foundInProc bool
			var recvErr error
			monitor.Do(func(p *process.Process) error {
				ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
				defer cancel()
				var m any
				m, recvErr = p.ReceiveMatch(ctx, func(m any) bool {
					d, ok := m.(link.Down)
					return ok && d.Ref == ref
				})
				if recvErr == nil {
					down = m.(link.Down)
					_, foundInProc = registry.Of(p.Node()).WhereIs(name)
				}
				return nil
			})
			require.NoError(t, recvErr, "round %d", i)
			require.Equal(t, victim, down.Pid)
			require.ErrorIs(t, down.Reason, process.Killed, "round %d", i)
			require.False(t, foundInProc, "round %d: name still resolves when the Down is received", i)

			// The name is free for a new process at once.
			var next pid.Pid
			if i%2 == 0 {
				next = spawntest.SpawnIdle(t, n, process.WithBackend(b))
			} else {
				next = regSpawnHandler(t, n, b)
			}
			require.NoError(t, r.Register(name, next), "round %d", i)
			got, ok := r.WhereIs(name)
			require.True(t, ok)
			require.Equal(t, next, got)
			victim = next
		}
		monitor.ExpectEmpty()
	})
}

// REG-05 for other exits: a normal return, a crash, a panic and an exit
// signal. The name goes in every case.
func TestREG05_NameReleasedOnAnyExit(t *testing.T) {
	t.Parallel()
	crash := errors.New("crash")
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		for _, tc := range []struct {
			name  string
			after func() error // what the process does after its first message
			check func(t *testing.T, reason error)
		}{
			{"normal", func() error { return nil }, func(t *testing.T, reason error) {
				require.True(t, process.IsNormal(reason), "%v", reason)
			}},
			{"crash", func() error { return crash }, func(t *testing.T, reason error) {
				require.ErrorIs(t, reason, crash)
			}},
			{"panic", func() error { panic("boom") }, func(t *testing.T, reason error) {
				var pe *process.PanicError
				require.ErrorAs(t, reason, &pe)
				assert.Equal(t, "boom", pe.Value)
			}},
			{"shutdown", nil, func(t *testing.T, reason error) {
				require.ErrorIs(t, reason, process.Shutdown)
			}},
		} {
			name := "reg05-" + tc.name
			p, err := n.Spawn(func(p *process.Process) error {
				if _, err := p.Receive(context.Background()); err != nil {
					return err
				}
				return tc.after()
			}, process.WithBackend(b), process.WithName(name))
			require.NoError(t, err)
			exited := spawntest.WatchExit(t, n, p)
			if tc.after == nil {
				require.NoError(t, n.Exit(p, process.Shutdown))
			} else {
				require.NoError(t, r.Send(name, "go"))
			}
			tc.check(t, exited.Wait())
			_, ok := r.WhereIs(name)
			require.False(t, ok, tc.name)
			require.NoError(t, r.Register(name, spawntest.SpawnIdle(t, n, process.WithBackend(b))), tc.name)
		}
	})
}

func TestREG06_Unregister(t *testing.T) {
	t.Parallel()
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		pr := spawntest.NewProbe(t, n, process.WithBackend(b))
		require.NoError(t, r.Register("reg06", pr.Pid()))

		require.NoError(t, r.Unregister("reg06"))
		_, ok := r.WhereIs("reg06")
		assert.False(t, ok)
		assert.Empty(t, r.Registered())

		require.ErrorIs(t, r.Unregister("reg06"), registry.ErrNotRegistered)

		info, err := n.Info(pr.Pid())
		require.NoError(t, err)
		assert.Empty(t, info.Name)
		name, ok := r.NameOf(pr.Pid())
		assert.False(t, ok)
		assert.Empty(t, name)
		var self string
		pr.Do(func(p *process.Process) error { self = p.Name(); return nil })
		assert.Empty(t, self)

		// The process lives on and may take a name again, even another one.
		assert.True(t, n.Alive(pr.Pid()))
		require.NoError(t, r.Register("reg06-again", pr.Pid()))
		name, _ = r.NameOf(pr.Pid())
		assert.Equal(t, "reg06-again", name)
		pr.ExpectEmpty()
	})
}

func TestREG06_UnregisterUnknownName(t *testing.T) {
	t.Parallel()
	r := registry.Of(spawntest.NewNode(t))
	require.ErrorIs(t, r.Unregister("never"), registry.ErrNotRegistered)
}

func TestREG07_SendToUnknownNameFailsToDeadPidDoesNot(t *testing.T) {
	t.Parallel()
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		sender := spawntest.NewProbe(t, n, process.WithBackend(b))

		require.ErrorIs(t, r.Send("nobody", "msg"), registry.ErrNotRegistered)
		var fromErr error
		sender.Do(func(p *process.Process) error {
			fromErr = registry.SendFrom(p, "nobody", "msg")
			return nil
		})
		require.ErrorIs(t, fromErr, registry.ErrNotRegistered)

		dead := regDead(t, n, b)
		require.NoError(t, n.Send(dead, "msg"))
		require.NoError(t, process.Send(dead, "msg"))
		var procErr error
		sender.Do(func(p *process.Process) error {
			procErr = p.Send(dead, "msg")
			return nil
		})
		require.NoError(t, procErr)

		// A name whose owner died is unknown again.
		owner := spawntest.NewProbe(t, n, process.WithBackend(b))
		require.NoError(t, r.Register("reg07", owner.Pid()))
		require.NoError(t, r.Send("reg07", "one"))
		sender.Do(func(p *process.Process) error {
			fromErr = registry.SendFrom(p, "reg07", "two")
			return nil
		})
		require.NoError(t, fromErr)
		assert.Equal(t, "one", owner.Receive())
		assert.Equal(t, "two", owner.Receive())
		owner.ExpectEmpty()
		owner.Exit(nil)
		spawntest.WaitExit(t, n, owner.Pid())
		require.ErrorIs(t, r.Send("reg07", "three"), registry.ErrNotRegistered)
		sender.ExpectEmpty()
	})
}

func TestREG08_EmptyNameCannotBeRegistered(t *testing.T) {
	t.Parallel()
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		p := spawntest.SpawnIdle(t, n, process.WithBackend(b))

		require.ErrorIs(t, r.Register("", p), registry.ErrEmptyName)
		assert.Empty(t, r.Registered())
		_, ok := r.NameOf(p)
		assert.False(t, ok)
		_, ok = r.WhereIs("")
		assert.False(t, ok)
		require.ErrorIs(t, r.Unregister(""), registry.ErrEmptyName)
		require.ErrorIs(t, r.Send("", "msg"), registry.ErrEmptyName)

		// The process can still take a real name.
		require.NoError(t, r.Register("reg08", p))
	})
}

func TestREGSpawnWithName_IsAtomic(t *testing.T) {
	t.Parallel()
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {

		// A free name is registered before Spawn returns.
		owner, err := n.Spawn(spawntest.Idle, process.WithBackend(b), process.WithName("reg-atomic"))
		require.NoError(t, err)
		got, ok := r.WhereIs("reg-atomic")
		require.True(t, ok)
		require.Equal(t, owner, got)
		info, err := n.Info(owner)
		require.NoError(t, err)
		assert.Equal(t, "reg-atomic", info.Name)

		before := n.Stats()
		procsBefore := len(n.Processes())
		var ran atomic.Bool
		body := func(*process.Process) error { ran.Store(true); return nil }

		p, err := n.Spawn(body, process.WithBackend(b), process.WithName("reg-atomic"))
		require.ErrorIs(t, err, registry.ErrNameTaken)
		var taken *registry.NameTakenError
		require.ErrorAs(t, err, &taken)
		assert.Equal(t, owner, taken.Owner)
		assert.True(t, p.IsZero())

		h, err := n.SpawnHandler(regIdleHandler{}, process.WithBackend(b), process.WithName("reg-atomic"))
		require.ErrorIs(t, err, registry.ErrNameTaken)
		assert.True(t, h.IsZero())

		// Linked and monitored spawns from a process fail the same way and
		// leave neither a link nor a monitor behind.
		parent := spawntest.NewProbe(t, n)
		procsBefore++
		var linkErr, monErr error
		var linked, monitored pid.Pid
		parent.Do(func(p *process.Process) error {
			linked, linkErr = p.SpawnLink(body, process.WithBackend(b), process.WithName("reg-atomic"))
			monitored, _, monErr = p.SpawnMonitor(body, process.WithBackend(b), process.WithName("reg-atomic"))
			return nil
		})
		require.ErrorIs(t, linkErr, registry.ErrNameTaken)
		require.ErrorIs(t, monErr, registry.ErrNameTaken)
		assert.True(t, linked.IsZero())
		assert.True(t, monitored.IsZero())
		pinfo, err := n.Info(parent.Pid())
		require.NoError(t, err)
		assert.Empty(t, pinfo.Links)
		assert.Empty(t, pinfo.Monitors)
		parent.ExpectEmpty() // no Exit or Down from a process that never was

		after := n.Stats()
		assert.Len(t, n.Processes(), procsBefore)
		assert.Equal(t, before.Processes+1, after.Processes) // the parent probe only
		assert.Equal(t, before.Names, after.Names)
		assert.Equal(t, after.Spawned-after.Exited, uint64(after.Processes))
		assert.Zero(t, after.Stragglers)
		assert.False(t, ran.Load())

		got, ok = r.WhereIs("reg-atomic")
		require.True(t, ok)
		assert.Equal(t, owner, got)
		assert.Equal(t, []string{"reg-atomic"}, r.Registered())
	})
}

func TestREGBadInput_ZeroAndForeignPids(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	r := registry.Of(n)
	foreign := pid.New(pid.NewNodeID(), 1)
	otherNode := spawntest.NewNode(t)
	onOther := spawntest.SpawnIdle(t, otherNode)

	require.ErrorIs(t, r.Register("bad", pid.Pid{}), process.ErrZeroPid)
	require.ErrorIs(t, r.Register("bad", foreign), process.NoConnection)
	require.ErrorIs(t, r.Register("bad", onOther), process.NoConnection)
	assert.Empty(t, r.Registered())
	assert.Empty(t, registry.Of(otherNode).Registered())

	for _, p := range []pid.Pid{{}, foreign, onOther} {
		_, ok := r.NameOf(p)
		assert.False(t, ok, "%v", p)
	}
	require.ErrorIs(t, r.Join("g", pid.Pid{}), process.ErrZeroPid)
	require.ErrorIs(t, r.Join("g", foreign), process.NoConnection)
	require.ErrorIs(t, r.Join("g", onOther), process.NoConnection)
	require.ErrorIs(t, r.Leave("g", pid.Pid{}), process.ErrZeroPid)
	require.ErrorIs(t, r.Leave("g", foreign), process.NoConnection)
	require.ErrorIs(t, r.Leave("g", onOther), process.NoConnection)
	assert.Empty(t, r.Groups())
	assert.Empty(t, r.Members("g"))
}

func TestREGBadInput_ZeroRegistry(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	p := spawntest.SpawnIdle(t, n)
	for name, r := range map[string]registry.Registry{"zero": {}, "Of(nil)": registry.Of(nil)} {
		require.ErrorIs(t, r.Register("x", p), process.ErrNilNode, name)
		require.ErrorIs(t, r.Unregister("x"), process.ErrNilNode, name)
		require.ErrorIs(t, r.Send("x", "msg"), process.ErrNilNode, name)
		require.ErrorIs(t, r.Join("g", p), process.ErrNilNode, name)
		require.ErrorIs(t, r.Leave("g", p), process.ErrNilNode, name)
		_, ok := r.WhereIs("x")
		assert.False(t, ok, name)
		_, ok = r.NameOf(p)
		assert.False(t, ok, name)
		assert.Empty(t, r.Registered(), name)
		assert.Empty(t, r.Members("g"), name)
		assert.Empty(t, r.Groups(), name)
	}
	require.ErrorIs(t, registry.SendFrom(nil, "x", "msg"), process.ErrNilProcess)
	_, ok := registry.Of(n).NameOf(p)
	assert.False(t, ok)
}

func TestREGBadInput_AfterNodeStop(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	r := registry.Of(n)
	p := spawntest.SpawnIdle(t, n)
	q := spawntest.SpawnIdle(t, n)
	require.NoError(t, r.Register("reg-stop", p))
	require.NoError(t, r.Join("g", p))

	require.NoError(t, n.Stop(spawntest.Context(t)))

	require.ErrorIs(t, r.Register("reg-stop2", q), process.ErrNodeStopped)
	require.ErrorIs(t, r.Unregister("reg-stop"), process.ErrNodeStopped)
	require.ErrorIs(t, r.Send("reg-stop", "msg"), process.ErrNodeStopped)
	require.ErrorIs(t, r.Join("g", q), process.ErrNodeStopped)
	require.ErrorIs(t, r.Leave("g", p), process.ErrNodeStopped)

	// Stop killed every process, so their names and memberships are gone.
	_, ok := r.WhereIs("reg-stop")
	assert.False(t, ok)
	assert.Empty(t, r.Registered())
	assert.Empty(t, r.Groups())
	assert.Empty(t, r.Members("g"))
	_, err := n.Spawn(spawntest.Idle, process.WithName("reg-stop3"))
	require.ErrorIs(t, err, process.ErrNodeStopped)
	assert.Empty(t, r.Registered())
}

// regRace runs f(0), ..., f(racers-1) on goroutines of their own, let go
// together, and returns their errors.
func regRace(racers int, f func(i int) error) []error {
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// regOneWinner fails unless exactly one of errs is nil, and returns its
// index.
func regOneWinner(t testing.TB, round int, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "round %d: two winners", round)
			winner = i
		}
	}
	require.NotEqual(t, -1, winner, "round %d: no winner: %v", round, errs)
	return winner
}

// Many goroutines race to register one name, each for its own fresh
// process: exactly one wins each round and the losers are told who won.
func TestREGConcurrentRegister_ExactlyOneWins(t *testing.T) {
	t.Parallel()
	const rounds, racers = 200, 8
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		const name = "reg-race"
		for round := range rounds {
			pids := make([]pid.Pid, racers)
			for i := range pids {
				pids[i] = spawntest.SpawnIdle(t, n, process.WithBackend(b))
			}
			errs := regRace(racers, func(i int) error { return r.Register(name, pids[i]) })
			winner := regOneWinner(t, round, errs)
			for i, err := range errs {
				if i == winner {
					continue
				}
				var taken *registry.NameTakenError
				require.ErrorAs(t, err, &taken, "round %d", round)
				require.Equal(t, pids[winner], taken.Owner, "round %d", round)
				_, named := r.NameOf(pids[i])
				require.False(t, named)
			}
			got, ok := r.WhereIs(name)
			require.True(t, ok)
			require.Equal(t, pids[winner], got)

			// Free the name for the next round: unregister or kill the winner.
			if round%2 == 0 {
				require.NoError(t, r.Unregister(name))
			} else {
				regKill(t, n, pids[winner])
			}
			for _, p := range pids {
				require.NoError(t, n.Exit(p, process.Kill))
			}
		}
	})
}

// Many goroutines race to give one process different names: exactly one
// name sticks.
func TestREGConcurrentRegister_OneNamePerProcess(t *testing.T) {
	t.Parallel()
	const rounds, racers = 200, 8
	n := spawntest.NewNode(t)
	r := registry.Of(n)
	for round := range rounds {
		p := spawntest.SpawnIdle(t, n)
		errs := regRace(racers, func(i int) error { return r.Register(fmt.Sprintf("reg-one-%d-%d", round, i), p) })
		winner := regOneWinner(t, round, errs)
		for i, err := range errs {
			if i != winner {
				require.ErrorIs(t, err, registry.ErrAlreadyNamed, "round %d", round)
			}
		}
		name, ok := r.NameOf(p)
		require.True(t, ok)
		require.Equal(t, fmt.Sprintf("reg-one-%d-%d", round, winner), name)
		require.Equal(t, []string{name}, r.Registered())
		regKill(t, n, p)
		require.Empty(t, r.Registered())
	}
}

// Concurrent named spawns of one name: one process is created, the other
// spawns leave nothing behind.
func TestREGConcurrentSpawnWithName_ExactlyOneProcess(t *testing.T) {
	t.Parallel()
	const rounds, racers = 100, 8
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		for round := range rounds {
			before := len(n.Processes())
			pids := make([]pid.Pid, racers)
			errs := regRace(racers, func(i int) (err error) {
				pids[i], err = n.Spawn(spawntest.Idle, process.WithBackend(b), process.WithName("reg-spawn-race"))
				return err
			})
			winner := regOneWinner(t, round, errs)
			for i, err := range errs {
				if i != winner {
					require.ErrorIs(t, err, registry.ErrNameTaken, "round %d", round)
					require.True(t, pids[i].IsZero())
				}
			}
			require.Len(t, n.Processes(), before+1, "round %d", round)
			got, ok := r.WhereIs("reg-spawn-race")
			require.True(t, ok)
			require.Equal(t, pids[winner], got)
			regKill(t, n, pids[winner])
		}
	})
}

// Register racing the owner's death: either it fails with NoProc or it
// succeeds and the name goes with the exit. Once the exit is seen, the name
// never resolves to the dead process.
func TestREGConcurrentRegister_RacingExit(t *testing.T) {
	t.Parallel()
	const rounds = 300
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		for round := range rounds {
			p := spawntest.SpawnIdle(t, n, process.WithBackend(b))
			name := fmt.Sprintf("reg-exit-%d", round)
			regKillDuring(t, n, round, p, func() error { return r.Register(name, p) })
			_, ok := r.WhereIs(name)
			require.False(t, ok, "round %d: name of a dead process resolves", round)
		}
		assert.Empty(t, r.Registered())
	})
}
