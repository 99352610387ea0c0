package process_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// TestReceiveWithDoneContextIsAfterZero: a done context takes what is
// queued and waits for nothing (Erlang's receive ... after 0).
func TestReceiveWithDoneContextIsAfterZero(t *testing.T) {
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		done, cancel := context.WithCancel(context.Background())
		cancel()
		type result struct {
			msg any
			err error
		}
		got := make(chan []result, 1)
		start := make(chan struct{})
		p, err := n.Spawn(func(p *process.Process) error {
			<-start
			var rs []result
			for range 3 {
				m, err := p.Receive(done)
				rs = append(rs, result{m, err})
			}
			m, err := p.ReceiveMatch(done, func(m any) bool { return m == "b" })
			rs = append(rs, result{m, err})
			got <- rs
			return nil
		}, process.WithBackend(b))
		require.NoError(t, err)
		require.NoError(t, n.Send(p, "a"))
		require.NoError(t, n.Send(p, "b"))
		close(start)
		rs := spawntest.Recv(t, got)
		require.Equal(t, "a", rs[0].msg)
		require.Equal(t, "b", rs[1].msg)
		require.True(t, errors.Is(rs[2].err, context.Canceled), "empty mailbox: %v", rs[2].err)
		require.True(t, errors.Is(rs[3].err, context.Canceled), "no match: %v", rs[3].err)
	})
}
