package link_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// TestMON10_MonitorByNameReportsNameAndNode: the Down of a monitor by name
// names the process, the name and the node; an unregistered name gives an
// immediate Down with NoProc.
func TestMON10_MonitorByNameReportsNameAndNode(t *testing.T) {
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		frop := errors.New("frop")
		target := spawntest.NewProbe(t, n, process.WithBackend(b), process.WithName("n"))
		pr := spawntest.NewProbe(t, n, process.WithBackend(b))
		var ref, none pid.Ref
		pr.Do(func(p *process.Process) (err error) {
			if ref, err = link.MonitorName(p, "n"); err != nil {
				return err
			}
			none, err = link.MonitorName(p, "nobody")
			return err
		})
		require.Equal(t, link.Down{Ref: none, Reason: process.NoProc, Name: "nobody", Node: n.ID()}, pr.Receive())
		target.Exit(frop)
		require.Equal(t, link.Down{Ref: ref, Pid: target.Pid(), Reason: frop, Name: "n", Node: n.ID()}, pr.Receive())
	})
}

// TestMON11_MonitorByNameBindsAtMonitorTime: re-registering the name to
// another process does not move the monitor.
func TestMON11_MonitorByNameBindsAtMonitorTime(t *testing.T) {
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		p1 := spawntest.NewProbe(t, n, process.WithBackend(b), process.WithName("n"))
		pr := spawntest.NewProbe(t, n, process.WithBackend(b))
		var ref pid.Ref
		pr.Do(func(p *process.Process) (err error) {
			ref, err = link.MonitorName(p, "n")
			return err
		})
		reg := registry.Of(n)
		require.NoError(t, reg.Unregister("n"))
		p2 := spawntest.NewProbe(t, n, process.WithBackend(b), process.WithName("n"))
		spawntest.ExitAndWait(t, n, p2.Pid(), process.Kill)
		pr.ExpectEmpty()
		spawntest.ExitAndWait(t, n, p1.Pid(), process.Kill)
		require.Equal(t, link.Down{Ref: ref, Pid: p1.Pid(), Reason: process.Killed, Name: "n", Node: n.ID()}, pr.Receive())
	})
}

func TestMonitorNameBadInput(t *testing.T) {
	n := spawntest.NewNode(t)
	pr := spawntest.NewProbe(t, n)
	var errs [2]error
	pr.Do(func(p *process.Process) error {
		_, errs[0] = link.MonitorName(p, "")
		_, errs[1] = link.MonitorNameOn(p, n.ID(), "")
		return nil
	})
	for _, err := range errs {
		require.ErrorIs(t, err, registry.ErrEmptyName)
	}
	_, err := link.MonitorName(nil, "x")
	require.ErrorIs(t, err, process.ErrNilProcess)
}
