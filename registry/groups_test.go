package registry_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

func TestXREG06_JoinTwiceListedTwiceLeaveOnce(t *testing.T) {
	t.Parallel()
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		p := spawntest.SpawnIdle(t, n, process.WithBackend(b))

		require.NoError(t, r.Join("g", p))
		require.NoError(t, r.Join("g", p))
		assert.Equal(t, []pid.Pid{p, p}, r.Members("g"))
		assert.Equal(t, []string{"g"}, r.Groups())
		info, err := n.Info(p)
		require.NoError(t, err)
		assert.Equal(t, []string{"g"}, info.Groups)

		require.NoError(t, r.Leave("g", p))
		assert.Equal(t, []pid.Pid{p}, r.Members("g"))
		assert.Equal(t, []string{"g"}, r.Groups())

		require.NoError(t, r.Leave("g", p))
		assert.Empty(t, r.Members("g"))
		assert.Empty(t, r.Groups())
		info, err = n.Info(p)
		require.NoError(t, err)
		assert.Empty(t, info.Groups)

		require.ErrorIs(t, r.Leave("g", p), registry.ErrNotJoined)
		assert.True(t, n.Alive(p))
	})
}

func TestXREG06_MembersInJoinOrder(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	r := registry.Of(n)
	a, b, c := spawntest.SpawnIdle(t, n), spawntest.SpawnIdle(t, n, process.WithBackend(process.Blocking)), spawntest.SpawnIdle(t, n, process.WithBackend(process.Thread))
	for _, p := range []pid.Pid{a, b, a, c} {
		require.NoError(t, r.Join("g", p))
	}
	assert.Equal(t, []pid.Pid{a, b, a, c}, r.Members("g"))

	require.NoError(t, r.Leave("g", a))
	assert.ElementsMatch(t, []pid.Pid{a, b, c}, r.Members("g"))

	// Members returns a copy.
	m := r.Members("g")
	m[0] = pid.Pid{}
	assert.NotContains(t, r.Members("g"), pid.Pid{})
}

func TestXREG06_LeaveNonMemberIsNotJoined(t *testing.T) {
	t.Parallel()
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		p := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		q := spawntest.SpawnIdle(t, n, process.WithBackend(b))

		require.ErrorIs(t, r.Leave("nowhere", p), registry.ErrNotJoined)

		require.NoError(t, r.Join("g", q))
		require.NoError(t, r.Join("other", p))
		require.ErrorIs(t, r.Leave("g", p), registry.ErrNotJoined)
		assert.Equal(t, []pid.Pid{q}, r.Members("g"))
		assert.Equal(t, []pid.Pid{p}, r.Members("other"))

		dead := regDead(t, n, b)
		require.ErrorIs(t, r.Leave("g", dead), registry.ErrNotJoined)
		assert.Equal(t, []pid.Pid{q}, r.Members("g"))
		assert.Equal(t, []string{"g", "other"}, r.Groups())
	})
}

func TestXREG06_JoinDeadPidIsNoProc(t *testing.T) {
	t.Parallel()
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		dead := regDead(t, n, b)

		require.ErrorIs(t, r.Join("g", dead), process.NoProc)
		assert.Empty(t, r.Members("g"))
		assert.Empty(t, r.Groups())
		assert.Zero(t, n.Stats().Groups)

		killed := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		regKill(t, n, killed)
		require.ErrorIs(t, r.Join("g", killed), process.NoProc)
		assert.Empty(t, r.Groups())
	})
}

func TestXREG06_EmptyGroupName(t *testing.T) {
	t.Parallel()
	n := spawntest.NewNode(t)
	r := registry.Of(n)
	p := spawntest.SpawnIdle(t, n)
	require.ErrorIs(t, r.Join("", p), registry.ErrEmptyName)
	require.ErrorIs(t, r.Leave("", p), registry.ErrEmptyName)
	assert.Empty(t, r.Groups())
}

// Exit removes a process from every group it joined, and the removal is
// complete by the time the exit can be observed (a watch, or a monitor's
// Down received by a process). Groups left empty disappear.
func TestXREG06_ExitRemovesFromAllGroups(t *testing.T) {
	t.Parallel()
	crash := errors.New("crash")
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		stay := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		monitor := spawntest.NewProbe(t, n)
		for _, tc := range []struct {
			name string
			end  func(pr *spawntest.Probe)
			want error
		}{
			{"normal", func(pr *spawntest.Probe) { pr.Exit(nil) }, process.Normal},
			{"crash", func(pr *spawntest.Probe) { pr.Exit(crash) }, crash},
			{"kill", func(pr *spawntest.Probe) { require.NoError(t, n.Exit(pr.Pid(), process.Kill)) }, process.Killed},
		} {
			pr := spawntest.NewProbe(t, n, process.WithBackend(b))
			p := pr.Pid()
			require.NoError(t, r.Join("only", p))
			require.NoError(t, r.Join("only", p))
			require.NoError(t, r.Join("shared", stay))
			require.NoError(t, r.Join("shared", p))
			require.NoError(t, r.Join("shared", stay))
			require.NoError(t, r.Join("shared", p))
			require.NoError(t, r.Join("third", p))
			require.Equal(t, []string{"only", "shared", "third"}, r.Groups())

			var ref pid.Ref
			monitor.Do(func(mp *process.Process) error {
				var err error
				ref, err = link.Monitor(mp, p)
				return err
			})
			tc.end(pr)

			var seen struct {
				down    link.Down
				only    []pid.Pid
				shared  []pid.Pid
				groups  []string
				recvErr error
			}
			monitor.Do(func(mp *process.Process) error {
				ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
				defer cancel()
				m, err := mp.ReceiveMatch(ctx, func(m any) bool {
					d, ok := m.(link.Down)
					return ok && d.Ref == ref
				})
				seen.recvErr = err
				if err == nil {
					rr := registry.Of(mp.Node())
					seen.down = m.(link.Down)
					seen.only, seen.shared, seen.groups = rr.Members("only"), rr.Members("shared"), rr.Groups()
				}
				return nil
			})
			require.NoError(t, seen.recvErr, tc.name)
			require.ErrorIs(t, seen.down.Reason, tc.want, tc.name)
			assert.Empty(t, seen.only, tc.name)
			assert.Equal(t, []pid.Pid{stay, stay}, seen.shared, tc.name)
			assert.Equal(t, []string{"shared"}, seen.groups, tc.name)

			require.ErrorIs(t, spawntest.WaitExit(t, n, p), process.NoProc) // already dead
			assert.Empty(t, r.Members("only"))
			assert.Empty(t, r.Members("third"))
			assert.Equal(t, []pid.Pid{stay, stay}, r.Members("shared"))
			assert.Equal(t, []string{"shared"}, r.Groups())
			assert.Equal(t, 1, n.Stats().Groups)
			require.ErrorIs(t, r.Leave("shared", p), registry.ErrNotJoined)

			require.NoError(t, r.Leave("shared", stay))
			require.NoError(t, r.Leave("shared", stay))
			assert.Empty(t, r.Groups())
		}
		monitor.ExpectEmpty()
	})
}

// The same with the exit observed by a watch, many times.
func TestXREG06_ExitRemovesFromGroupsBeforeWatchFires(t *testing.T) {
	t.Parallel()
	const rounds = 300
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		for round := range rounds {
			p := spawntest.SpawnIdle(t, n, process.WithBackend(b))
			require.NoError(t, r.Join("a", p))
			require.NoError(t, r.Join("b", p))
			require.NoError(t, r.Join("b", p))
			regKill(t, n, p)
			require.Empty(t, r.Members("a"), "round %d", round)
			require.Empty(t, r.Members("b"), "round %d", round)
			require.Empty(t, r.Groups(), "round %d", round)
		}
	})
}

// Joins and leaves from many goroutines keep the membership counts exact.
func TestXREG06_ConcurrentJoinLeave(t *testing.T) {
	t.Parallel()
	const workers, joins = 8, 200
	n := spawntest.NewNode(t)
	r := registry.Of(n)
	procs := make([]pid.Pid, workers)
	for i := range procs {
		procs[i] = spawntest.SpawnIdle(t, n, process.WithBackend(spawntest.Backends()[i%3]))
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*joins*2)
	for i := range workers {
		wg.Go(func() {
			for range joins {
				if err := r.Join("g", procs[i]); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	members := r.Members("g")
	require.Len(t, members, workers*joins)
	count := map[pid.Pid]int{}
	for _, m := range members {
		count[m]++
	}
	for _, p := range procs {
		require.Equal(t, joins, count[p], "%v", p)
	}

	errs = make(chan error, workers*joins)
	for i := range workers {
		wg.Go(func() {
			for range joins {
				if err := r.Leave("g", procs[i]); err != nil {
					errs <- err
				}
			}
			if err := r.Leave("g", procs[i]); !errors.Is(err, registry.ErrNotJoined) {
				errs <- fmt.Errorf("extra leave: %v", err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Empty(t, r.Members("g"))
	assert.Empty(t, r.Groups())
}

// Join racing the process's death: once the exit is observed, the process
// is in no group, whichever of the two came first.
func TestXREG06_JoinRacingExit(t *testing.T) {
	t.Parallel()
	const rounds = 300
	regForEachBackend(t, func(t *testing.T, n *process.Node, r registry.Registry, b process.Backend) {
		for round := range rounds {
			p := spawntest.SpawnIdle(t, n, process.WithBackend(b))
			group := fmt.Sprintf("race-%d", round%4)
			regKillDuring(t, n, round, p, func() error { return r.Join(group, p) })
			require.NotContains(t, r.Members(group), p, "round %d", round)
		}
		assert.Empty(t, r.Groups())
	})
}
