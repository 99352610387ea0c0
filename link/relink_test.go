package link_test

import (
	"errors"
	"testing"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Linking again to a partner that has just died changes nothing while its
// exit signal is still on its way over the link (LNK-06, idempotent links):
// the partner's real exit always arrives first. Only once that exit has
// been received does a new link find a dead process and add a noproc exit
// (LNK-08), as in Erlang.
func TestLNK06_RelinkToPartnerDyingGivesOnlyItsRealExit(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		probe := spawntest.NewProbe(t, n, process.WithBackend(b))
		for range 200 {
			var child pid.Pid
			var relink error
			probe.Do(func(p *process.Process) error {
				p.TrapExit(true)
				var err error
				if child, err = p.SpawnLink(func(*process.Process) error { return nil }); err != nil {
					return err
				}
				relink = link.Link(p, child) // races the child's normal exit
				return nil
			})
			if relink != nil {
				t.Fatalf("relink: %v", relink)
			}
			exit, ok := probe.Receive().(link.Exit)
			if !ok || exit.From != child || !process.IsNormal(exit.Reason) {
				t.Fatalf("got %#v, want the child's normal exit first", exit)
			}
			var inQueue int
			probe.Do(func(p *process.Process) error {
				info, err := n.Info(p.Self())
				inQueue = info.MessageQueueLen
				return err
			})
			if inQueue > 0 {
				if late, ok := probe.Receive().(link.Exit); !ok || late.From != child || !errors.Is(late.Reason, process.NoProc) {
					t.Fatalf("second message %#v, want at most a noproc exit", late)
				}
			}
			probe.ExpectEmpty()
		}
	})
}
