package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// trio returns three nodes of a cluster of the test's own, all up.
func trio(t testing.TB) (nodes [3]*process.Node, cs [3]*cluster.Cluster) {
	t.Helper()
	cfg := testConfig(clusterName(t))
	for i, name := range []string{"a", "b", "c"} {
		nodes[i], cs[i] = joinNode(t, cfg, name)
	}
	for _, x := range cs {
		for _, y := range cs {
			if x != y {
				waitUp(t, x, y.Self().ID)
			}
		}
	}
	return nodes, cs
}

func TestDIST20_ExactlyOneOfConcurrentGlobalRegistrationsWins(t *testing.T) {
	nodes, cs := trio(t)
	ctx := spawntest.Context(t)
	t.Run("two nodes at once", func(t *testing.T) {
		pb, pc := testkit.SpawnTarget(t, nodes[1]), testkit.SpawnTarget(t, nodes[2])
		errs := make([]error, 2)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); errs[0] = cs[1].Names().Register(ctx, "gdup", pb) }()
		go func() { defer wg.Done(); errs[1] = cs[2].Names().Register(ctx, "gdup", pc) }()
		wg.Wait()
		winner, loser, lerr := pb, pc, errs[1]
		if errs[0] != nil {
			winner, loser, lerr = pc, pb, errs[0]
		}
		require.True(t, (errs[0] == nil) != (errs[1] == nil), "exactly one winner: %v", errs)
		var taken *registry.NameTakenError
		require.ErrorAs(t, lerr, &taken)
		require.ErrorIs(t, lerr, registry.ErrNameTaken)
		require.Equal(t, winner, taken.Owner, "the loser's error names the owner")
		for _, c := range cs {
			got, ok := c.Names().WhereIs("gdup")
			require.True(t, ok)
			require.Equal(t, winner, got, "every node finds the winner at once (DIST-16's note)")
		}
		// Registering the taken name again fails; so does a second name for
		// the winner (a process holds one global name).
		owner := cs[1]
		if winner.Node() == nodes[2].ID() {
			owner = cs[2]
		}
		require.ErrorIs(t, cs[0].Names().Register(ctx, "gdup", testkit.SpawnTarget(t, nodes[0])), registry.ErrNameTaken)
		require.ErrorIs(t, owner.Names().Register(ctx, "other", winner), registry.ErrAlreadyNamed)
		_ = loser
		// Send by global name reaches the owner; an unknown name is an error.
		exited := spawntest.WatchExit(t, nodeOf(nodes, winner), winner)
		require.NoError(t, cs[0].Names().Send("gdup", errDone))
		require.ErrorIs(t, exited.Wait(), errDone)
		require.ErrorIs(t, cs[0].Names().Send("nope", "x"), registry.ErrNotRegistered)
		// When the owner died the name is gone: on its node at once, on the
		// others a frame later (before any Down of it: DIST-21).
		_, ok := owner.Names().WhereIs("gdup")
		require.False(t, ok)
		for _, c := range cs {
			spawntest.Eventually(t, "the name gone", func() bool {
				_, ok := c.Names().WhereIs("gdup")
				return !ok
			})
		}
	})
	t.Run("100 registrations from three nodes, every time", func(t *testing.T) {
		for round := range 3 {
			name := fmt.Sprintf("race-%d", round)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var wins []pid.Pid
			for i := range 100 {
				n, c := nodes[i%3], cs[i%3]
				p := testkit.SpawnTarget(t, n)
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := c.Names().Register(ctx, name, p)
					switch {
					case err == nil:
						mu.Lock()
						wins = append(wins, p)
						mu.Unlock()
					case !errors.Is(err, registry.ErrNameTaken):
						t.Errorf("register: %v", err)
					}
				}()
			}
			wg.Wait()
			require.Len(t, wins, 1, "exactly one winner")
			for _, c := range cs {
				got, ok := c.Names().WhereIs(name)
				require.True(t, ok)
				require.Equal(t, wins[0], got)
			}
		}
	})
	t.Run("bad input", func(t *testing.T) {
		names := cs[0].Names()
		p := testkit.SpawnTarget(t, nodes[0])
		require.ErrorIs(t, names.Register(ctx, "", p), registry.ErrEmptyName)
		require.ErrorIs(t, names.Register(ctx, "x", pid.Pid{}), process.ErrZeroPid)
		require.ErrorIs(t, names.Register(ctx, "x", testkit.SpawnTarget(t, nodes[1])), cluster.ErrNotLocal)
		require.ErrorIs(t, names.Register(nil, "x", p), process.ErrNilContext) //nolint:staticcheck // nil on purpose
		dead := testkit.SpawnTarget(t, nodes[0])
		spawntest.ExitAndWait(t, nodes[0], dead, errDone)
		require.ErrorIs(t, names.Register(ctx, "x", dead), process.NoProc)
		require.ErrorIs(t, names.Unregister(ctx, "never"), registry.ErrNotRegistered)
		var nilNames *cluster.Names
		require.Error(t, nilNames.Register(ctx, "x", p))
	})
}

// nodeOf returns the node of nodes that runs p.
func nodeOf(nodes [3]*process.Node, p pid.Pid) *process.Node {
	for _, n := range nodes {
		if n.ID() == p.Node() {
			return n
		}
	}
	return nil
}

// downThenLookup makes a process on n monitor target and, when its Down
// arrives, look the name up from n at once: it sends what it saw on the
// returned channel.
type downSeen struct {
	down  link.Down
	found bool
	owner pid.Pid
}

func downThenLookup(t *testing.T, n *process.Node, names *cluster.Names, target pid.Pid, name string) <-chan downSeen {
	t.Helper()
	out := make(chan downSeen, 1)
	ready := make(chan struct{})
	_, err := n.Spawn(func(p *process.Process) error {
		if _, err := link.Monitor(p, target); err != nil {
			return err
		}
		close(ready)
		m, err := p.ReceiveMatch(p.Context(), func(m any) bool { _, ok := m.(link.Down); return ok })
		if err != nil {
			return err
		}
		owner, found := names.WhereIs(name)
		out <- downSeen{down: m.(link.Down), found: found, owner: owner}
		return nil
	})
	require.NoError(t, err)
	<-ready
	return out
}

func TestDIST21_AGlobalNameIsReleasedBeforeItsOwnersDownAndCanBeTakenAtOnce(t *testing.T) {
	t.Run("the owner dies", func(t *testing.T) {
		nodes, cs := trio(t)
		ctx := spawntest.Context(t)
		for round := range 20 {
			name := fmt.Sprintf("gn-%d", round)
			p := testkit.SpawnTarget(t, nodes[1])
			require.NoError(t, cs[1].Names().Register(ctx, name, p))
			seenA := downThenLookup(t, nodes[0], cs[0].Names(), p, name)
			seenC := downThenLookup(t, nodes[2], cs[2].Names(), p, name)
			testkit.Monitored(t, nodes[1], p, 2)
			require.NoError(t, nodes[1].Send(p, errBoom))
			for _, seen := range []<-chan downSeen{seenA, seenC} {
				got := spawntest.Recv(t, seen)
				require.ErrorIs(t, got.down.Reason, errBoom)
				require.False(t, got.found, "round %d: the name was still found (%v) when the Down arrived", round, got.owner)
			}
			q := testkit.SpawnTarget(t, nodes[0])
			require.NoError(t, cs[0].Names().Register(ctx, name, q), "taken again at once")
			got, ok := cs[2].Names().WhereIs(name)
			require.True(t, ok)
			require.Equal(t, q, got)
		}
	})
	t.Run("the owner's node is lost", func(t *testing.T) {
		nodes, cs := trio(t)
		ctx := spawntest.Context(t)
		p := testkit.SpawnTarget(t, nodes[1])
		require.NoError(t, cs[1].Names().Register(ctx, "gn", p))
		seenA := downThenLookup(t, nodes[0], cs[0].Names(), p, "gn")
		seenC := downThenLookup(t, nodes[2], cs[2].Names(), p, "gn")
		testkit.Monitored(t, nodes[1], p, 2)
		cs[1].Crash()
		for _, seen := range []<-chan downSeen{seenA, seenC} {
			got := spawntest.Recv(t, seen)
			require.ErrorIs(t, got.down.Reason, process.NoConnection)
			require.False(t, got.found, "the name was still found when the Down arrived")
		}
		q := testkit.SpawnTarget(t, nodes[0])
		require.NoError(t, cs[0].Names().Register(ctx, "gn", q), "taken again at once")
		require.NoError(t, cs[2].Names().Send("gn", "hi"))
		got, ok := cs[2].Names().WhereIs("gn")
		require.True(t, ok)
		require.Equal(t, q, got)
	})
	t.Run("unregister, then register elsewhere", func(t *testing.T) {
		nodes, cs := trio(t)
		ctx := spawntest.Context(t)
		p := testkit.SpawnTarget(t, nodes[1])
		require.NoError(t, cs[1].Names().Register(ctx, "u", p))
		name, ok := cs[1].Names().NameOf(p)
		require.True(t, ok)
		require.Equal(t, "u", name)
		require.NoError(t, cs[1].Names().Unregister(ctx, "u"))
		q := testkit.SpawnTarget(t, nodes[2])
		require.NoError(t, cs[2].Names().Register(ctx, "u", q))
		require.NoError(t, cs[1].Names().Register(ctx, "u2", p), "p may take a name again")
		spawntest.Eventually(t, "the registered names everywhere", func() bool {
			return fmt.Sprint(cs[0].Names().Registered()) == "[u u2]"
		})
	})
}

// gsEcho is a GenServer that answers its node's id.
type gsEcho struct {
	genserver.NoCasts
	node pid.NodeID
}

func (s *gsEcho) HandleCall(_ *genserver.CallCtx[pid.NodeID], req string) (pid.NodeID, error) {
	if req == "crash" {
		panic("crash")
	}
	return s.node, nil
}

func TestGlobalNamesThroughGenServerVia(t *testing.T) {
	nodes, cs := trio(t)
	ctx := spawntest.Context(t)
	// A globally named server on B, reached by name from A and C.
	ref, err := genserver.Start(ctx, nodes[1], &gsEcho{node: nodes[1].ID()}, genserver.WithVia(cs[1].Names(), "svc"))
	require.NoError(t, err)
	_, err = genserver.Start(ctx, nodes[2], &gsEcho{node: nodes[2].ID()}, genserver.WithVia(cs[2].Names(), "svc"))
	var already *genserver.AlreadyStartedError
	require.ErrorAs(t, err, &already)
	require.Equal(t, ref.Pid(), already.Pid)
	fromA := genserver.NamedVia[string, pid.NodeID, genserver.Never](nodes[0], cs[0].Names(), "svc")
	got, err := fromA.Call(ctx, "where")
	require.NoError(t, err)
	require.Equal(t, nodes[1].ID(), got)
	// The server stops; a new one on C takes the name once C has seen the
	// death (the name is free from the moment the Down can be seen, not
	// before a node has heard of it); the same Ref follows it.
	watcher := spawntest.NewProbe(t, nodes[2])
	mref := watcher.Monitor(ref.Pid())
	require.NoError(t, ref.Stop(ctx, process.Shutdown))
	watcher.ExpectDown(mref)
	_, err = genserver.Start(ctx, nodes[2], &gsEcho{node: nodes[2].ID()}, genserver.WithVia(cs[2].Names(), "svc"))
	require.NoError(t, err)
	// A has not necessarily heard of the old server's death yet (a frame
	// away): a call may still reach it and fail with NoProc; the next one
	// finds the new server.
	spawntest.Eventually(t, "the Ref following the name to C", func() bool {
		got, err = fromA.Call(ctx, "where")
		return err == nil && got == nodes[2].ID()
	})
	_, err = genserver.NamedVia[string, pid.NodeID, genserver.Never](nodes[0], cs[0].Names(), "nope").Call(ctx, "x")
	require.ErrorIs(t, err, process.NoProc)
}

func TestGlobalNamesWithoutJetStream(t *testing.T) {
	// A node that cannot reach the store refuses to register, clearly.
	n := spawntest.NewNode(t)
	c, err := cluster.Join(spawntest.Context(t), n, testConfig(clusterName(t)))
	require.NoError(t, err)
	require.NoError(t, c.Leave(context.Background()))
	p := testkit.SpawnTarget(t, n)
	require.ErrorIs(t, c.Names().Register(spawntest.Context(t), "x", p), cluster.ErrLeft)
}
