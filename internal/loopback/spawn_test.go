package loopback_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// A process spawned for a parent of another node that exits at once: its
// link and monitor exist on both sides before it runs, so the parent
// always gets its exit (LNK-13 and MON-12 across nodes).

func exitAtOnce(reason error) process.Func {
	return func(*process.Process) error { return reason }
}

func TestLNK13_RemoteSpawnLinkExistsBeforeTheChildRuns(t *testing.T) {
	a, b, net := pair(t)
	t.Run("a trapping parent gets the Exit", func(t *testing.T) {
		for range 50 {
			pr := spawntest.NewProbe(t, a)
			pr.Do(func(p *process.Process) error { p.TrapExit(true); return nil })
			child, _, err := net.Spawn(pr.Pid(), b, exitAtOnce(errBoom), true, false)
			require.NoError(t, err)
			require.Equal(t, link.Exit{From: child, Reason: errBoom}, pr.Receive())
		}
	})
	t.Run("a parent that does not trap dies with the child's reason", func(t *testing.T) {
		pr := spawntest.NewProbe(t, a)
		exited := spawntest.WatchExit(t, a, pr.Pid())
		_, _, err := net.Spawn(pr.Pid(), b, exitAtOnce(errBoom), true, false)
		require.NoError(t, err)
		require.Equal(t, errBoom, exited.Wait())
	})
	t.Run("the parent's death reaches the child", func(t *testing.T) {
		pr := spawntest.NewProbe(t, a)
		child, _, err := net.Spawn(pr.Pid(), b, spawntest.Idle, true, false)
		require.NoError(t, err)
		watch := spawntest.WatchExit(t, b, child)
		spawntest.Eventually(t, "the adoption on the parent's node", func() bool {
			info, err := a.Info(pr.Pid())
			return err == nil && len(info.Links) == 1
		})
		require.NoError(t, a.Exit(pr.Pid(), errBoom))
		require.Equal(t, errBoom, watch.Wait())
	})
	t.Run("a parent dead before the adoption kills the child with NoProc", func(t *testing.T) {
		dead := spawntest.SpawnIdle(t, a)
		spawntest.ExitAndWait(t, a, dead, errBoom)
		child, _, err := net.Spawn(dead, b, spawntest.Idle, true, false)
		require.NoError(t, err)
		require.ErrorIs(t, spawntest.WaitExit(t, b, child), process.NoProc)
	})
	t.Run("a lost parent's node kills the child with NoConnection", func(t *testing.T) {
		c := spawntest.NewNode(t)
		net.Join(c)
		pr := spawntest.NewProbe(t, c)
		child, _, err := net.Spawn(pr.Pid(), b, spawntest.Idle, true, false)
		require.NoError(t, err)
		watch := spawntest.WatchExit(t, b, child)
		spawntest.Eventually(t, "the adoption on the parent's node", func() bool {
			info, err := c.Info(pr.Pid())
			return err == nil && len(info.Links) == 1
		})
		net.Cut(c.ID())
		require.ErrorIs(t, watch.Wait(), process.NoConnection)
	})
}

func TestMON12_RemoteSpawnMonitorExistsBeforeTheChildRuns(t *testing.T) {
	a, b, net := pair(t)
	for range 50 {
		pr := spawntest.NewProbe(t, a)
		child, ref, err := net.Spawn(pr.Pid(), b, exitAtOnce(errBoom), false, true)
		require.NoError(t, err)
		require.Equal(t, a.ID(), ref.Node())
		require.Equal(t, link.Down{Ref: ref, Pid: child, Reason: errBoom}, pr.Receive())
	}
	t.Run("linked and monitored", func(t *testing.T) {
		pr := spawntest.NewProbe(t, a)
		pr.Do(func(p *process.Process) error { p.TrapExit(true); return nil })
		child, ref, err := net.Spawn(pr.Pid(), b, exitAtOnce(errBoom), true, true)
		require.NoError(t, err)
		require.ElementsMatch(t, []any{
			link.Exit{From: child, Reason: errBoom},
			link.Down{Ref: ref, Pid: child, Reason: errBoom},
		}, []any{pr.Receive(), pr.Receive()})
	})
}

func TestRemoteSpawnBadSpecs(t *testing.T) {
	a, b, _ := pair(t)
	pa := spawntest.NewProbe(t, a)
	pb := spawntest.NewProbe(t, b)
	local, _ := (*core.Node)(b).Local(pb.Pid())
	require.NotNil(t, local)
	tests := []struct {
		name string
		spec core.Spec
		want error
	}{
		{"a remote parent of the node itself", core.Spec{RemoteParent: pb.Pid(), Link: true}, core.ErrBadSpec},
		{"a monitor without a ref", core.Spec{RemoteParent: pa.Pid(), Monitor: true}, core.ErrBadSpec},
		{"a monitor with a ref of another node", core.Spec{RemoteParent: pa.Pid(), Monitor: true, MonitorRef: pid.NewRef(b.ID(), 7)}, core.ErrBadSpec},
		{"a local and a remote parent", core.Spec{RemoteParent: pa.Pid(), Link: true, Parent: local}, core.ErrBadSpec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.spec
			s.Func = func(*core.Proc) error { return nil }
			_, _, err := (*core.Node)(b).Spawn(s)
			require.ErrorIs(t, err, tc.want)
		})
	}
	t.Run("an Announce that fails undoes the spawn", func(t *testing.T) {
		want := errors.New("no")
		var seen pid.Pid
		_, _, err := (*core.Node)(b).Spawn(core.Spec{
			Func:     func(*core.Proc) error { t.Error("the process ran"); return nil },
			Announce: func(p pid.Pid) error { seen = p; return want },
		})
		require.ErrorIs(t, err, want)
		require.False(t, b.Alive(seen))
	})
}
