package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// sameMembers waits until every node sees want as group's members.
func sameMembers(t *testing.T, cs []*cluster.Cluster, group string, want ...pid.Pid) {
	t.Helper()
	for _, c := range cs {
		spawntest.Eventually(t, "the members of "+group, func() bool {
			got := c.Groups().Members(group)
			return len(got) == len(want) && assert.ElementsMatch(noT{}, want, got)
		})
	}
}

// noT is a testing.T for require that records nothing: ElementsMatch as a
// predicate.
type noT struct{}

func (noT) Errorf(string, ...any) {}

func TestDIST23_ProcessGroupsAcrossNodes(t *testing.T) {
	nodes, cs3 := trio(t)
	cs := cs3[:]
	a, b := nodes[0], nodes[1]
	ga, gb := cs[0].Groups(), cs[1].Groups()
	p, q := testkit.SpawnTarget(t, a), testkit.SpawnTarget(t, b)

	// A member joined on A is seen on B; B's local members are its own.
	require.NoError(t, ga.Join("grp", p))
	sameMembers(t, cs, "grp", p)
	require.Empty(t, gb.LocalMembers("grp"))
	require.NoError(t, gb.Join("grp", q, q))
	sameMembers(t, cs, "grp", p, q, q)
	require.Equal(t, []pid.Pid{q, q}, gb.LocalMembers("grp"))
	require.Equal(t, []string{"grp"}, cs[2].Groups().Groups())

	// Only local processes join; leaving what one has not joined fails.
	require.ErrorIs(t, ga.Join("grp", q), cluster.ErrNotLocal)
	require.ErrorIs(t, ga.Leave("other", p), registry.ErrNotJoined)
	require.ErrorIs(t, ga.Join("", p), registry.ErrEmptyName)
	require.NoError(t, gb.Leave("grp", q))
	sameMembers(t, cs, "grp", p, q)

	// A monitor sees joins and leaves, from any node.
	mon := spawntest.NewProbe(t, nodes[2])
	var ref pid.Ref
	var now []pid.Pid
	mon.Do(func(self *process.Process) (err error) {
		ref, now, err = cs[2].Groups().Monitor(self, "grp")
		return err
	})
	require.ElementsMatch(t, []pid.Pid{p, q}, now)
	r := testkit.SpawnTarget(t, a)
	require.NoError(t, ga.Join("grp", r))
	require.Equal(t, cluster.GroupJoined{Ref: ref, Group: "grp", Members: []pid.Pid{r}}, mon.Receive())

	// A member that exits leaves everywhere.
	spawntest.ExitAndWait(t, a, r, errDone)
	require.Equal(t, cluster.GroupLeft{Ref: ref, Group: "grp", Members: []pid.Pid{r}}, mon.Receive())
	sameMembers(t, cs, "grp", p, q)

	// On node loss, its members are gone before the NodeDown arrives.
	watcher := spawntest.NewProbe(t, a)
	seen := make(chan []pid.Pid, 1)
	watcher.Do(func(self *process.Process) error {
		_, err := cs[0].MonitorNode(self, b.ID())
		return err
	})
	go func() {
		m := watcher.Receive()
		if _, ok := m.(cluster.NodeDown); ok {
			seen <- ga.Members("grp")
		}
	}()
	cs[1].Crash()
	require.Equal(t, []pid.Pid{p}, spawntest.Recv(t, seen))
	require.Equal(t, cluster.GroupLeft{Ref: ref, Group: "grp", Members: []pid.Pid{q}}, mon.Receive())
	require.Equal(t, []string{"grp"}, ga.Groups(), "the group keeps A's member")
	require.True(t, cs[2].Groups().Demonitor(ref))
	spawntest.ExitAndWait(t, a, p, errDone)
	spawntest.Eventually(t, "the group gone", func() bool { return len(cs[2].Groups().Groups()) == 0 })
	mon.ExpectEmpty()
}

func TestProcessGroupsSyncWithANodeThatComesUp(t *testing.T) {
	cfg := testConfig(clusterName(t))
	a, ca := joinNode(t, cfg, "a")
	p := testkit.SpawnTarget(t, a)
	require.NoError(t, ca.Groups().Join("early", p, p))
	_, cb := joinNode(t, cfg, "b")
	waitUp(t, cb, ca.Self().ID)
	sameMembers(t, []*cluster.Cluster{cb}, "early", p, p)
}

// The factories of the remote spawn tests.
var (
	exitWith  = cluster.NewFactory[string]("test.exitWith")
	echoSrv   = cluster.NewServerFactory[string, string, pid.NodeID, genserver.Never]("test.echo")
	errByName = map[string]error{"boom": errBoom, "done": errDone}
)

func registerFactories(t testing.TB, c *cluster.Cluster) {
	t.Helper()
	require.NoError(t, exitWith.Register(c, func(p *process.Process, reason string) error {
		if reason == "wait" {
			_, err := p.Receive(p.Context())
			return err
		}
		return errByName[reason]
	}))
	node := c.Self().ID
	require.NoError(t, echoSrv.Register(c, func(name string) (genserver.Behaviour[string, pid.NodeID, genserver.Never], error) {
		if name == "bad" {
			return nil, errBoom
		}
		return &gsEcho{node: node}, nil
	}))
}

func TestDIST24_RemoteSpawn(t *testing.T) {
	a, ca, b, cb := pair(t)
	registerFactories(t, ca)
	registerFactories(t, cb)
	ctx := spawntest.Context(t)
	t.Run("spawn_link: a trapping parent gets the Exit", func(t *testing.T) {
		for range 20 {
			pr := spawntest.NewProbe(t, a)
			var child pid.Pid
			pr.Do(func(self *process.Process) (err error) {
				self.TrapExit(true)
				child, err = exitWith.SpawnLink(ctx, self, ca, b.ID(), "boom")
				return err
			})
			require.Equal(t, b.ID(), child.Node())
			require.Equal(t, link.Exit{From: child, Reason: errBoom}, pr.Receive())
		}
	})
	t.Run("spawn_monitor: the Down arrives", func(t *testing.T) {
		for range 20 {
			pr := spawntest.NewProbe(t, a)
			var child pid.Pid
			var ref pid.Ref
			pr.Do(func(self *process.Process) (err error) {
				child, ref, err = exitWith.SpawnMonitor(ctx, self, ca, b.ID(), "done")
				return err
			})
			require.Equal(t, link.Down{Ref: ref, Pid: child, Reason: errDone}, pr.Receive())
		}
	})
	t.Run("plain spawn, and the parent's death reaches a linked child", func(t *testing.T) {
		child, err := exitWith.Spawn(ctx, ca, b.ID(), "wait")
		require.NoError(t, err)
		require.True(t, b.Alive(child))
		pr := spawntest.NewProbe(t, a)
		pr.Do(func(self *process.Process) (err error) {
			child, err = exitWith.SpawnLink(ctx, self, ca, b.ID(), "wait")
			return err
		})
		exited := spawntest.WatchExit(t, b, child)
		require.NoError(t, a.Exit(pr.Pid(), errBoom))
		require.ErrorIs(t, exited.Wait(), errBoom)
	})
	t.Run("an unknown factory or an unreachable node is an error and no Pid", func(t *testing.T) {
		unknown := cluster.NewFactory[string]("nope")
		p, err := unknown.Spawn(ctx, ca, b.ID(), "x")
		require.ErrorIs(t, err, cluster.ErrUnknownFactory)
		require.True(t, p.IsZero())
		p, err = exitWith.Spawn(ctx, ca, ghostNode, "x")
		require.ErrorIs(t, err, process.NoConnection)
		require.True(t, p.IsZero())
		wrongArg := cluster.NewFactory[int]("test.exitWith")
		_, err = wrongArg.Spawn(ctx, ca, b.ID(), 3)
		require.ErrorIs(t, err, cluster.ErrFactoryArgument)
		require.ErrorIs(t, exitWith.Register(cb, func(*process.Process, string) error { return nil }), cluster.ErrFactoryRegistered)
	})
	t.Run("a server from a factory, then a supervisor placing it on the other node", func(t *testing.T) {
		srv, err := echoSrv.Start(ctx, ca, b.ID(), "x")
		require.NoError(t, err)
		got, err := srv.Call(ctx, "where")
		require.NoError(t, err)
		require.Equal(t, b.ID(), got)
		_, err = echoSrv.Start(ctx, ca, b.ID(), "bad")
		require.ErrorIs(t, err, errBoom)

		on := func() (pid.NodeID, error) { return b.ID(), nil }
		sup, err := supervisor.Start(ctx, a, supervisor.Spec{Intensity: 10, Period: time.Second, Children: []supervisor.ChildSpec{
			{ID: "remote", Start: echoSrv.ChildOn(ca, on, "x")},
			{ID: "worker", Start: exitWith.ChildOn(ca, on, "wait")},
		}})
		require.NoError(t, err)
		kids, err := sup.WhichChildren(ctx)
		require.NoError(t, err)
		require.Len(t, kids, 2)
		first := kids[0].Pid
		require.Equal(t, b.ID(), first.Node())
		require.NoError(t, b.Exit(first, process.Kill))
		spawntest.Eventually(t, "the child restarted on B", func() bool {
			kids, err := sup.WhichChildren(context.Background())
			return err == nil && !kids[0].Pid.IsZero() && kids[0].Pid != first && kids[0].Pid.Node() == b.ID()
		})
		kids, err = sup.WhichChildren(ctx)
		require.NoError(t, err)
		require.NoError(t, sup.Stop(ctx))
		for _, k := range kids {
			require.False(t, b.Alive(k.Pid), "the supervisor stopped its remote child %v", k.ID)
		}
	})
}
