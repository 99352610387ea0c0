package genserver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// TestCastWait_WaitsForRoomInAFullMailbox: where Cast fails with
// ErrMailboxFull, CastWait waits for room and the cast is handled; one
// whose context ends first fails with ErrTimeout and sends nothing.
func TestCastWait_WaitsForRoomInAFullMailbox(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		srv := &gatedServer{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
		ref, err := genserver.Start(ctx, n, srv, genserver.WithBackend(b), genserver.WithMailboxLimit(1))
		if err != nil {
			t.Fatal(err)
		}
		blocked := make(chan error, 1)
		go func() { _, err := ref.Call(ctx, true); blocked <- err }()
		<-srv.entered // busy, with an empty mailbox
		if err := ref.CastWait(ctx, struct{}{}); err != nil {
			t.Fatalf("CastWait with room: %v", err)
		}
		if err := ref.Cast(struct{}{}); !errors.Is(err, process.ErrMailboxFull) {
			t.Fatalf("Cast to a full mailbox: %v; want ErrMailboxFull", err)
		}

		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		err = ref.CastWait(short, struct{}{})
		var ce *genserver.CallError
		if !errors.Is(err, genserver.ErrTimeout) || !errors.As(err, &ce) || ce.Op != genserver.OpCast || ce.Server != ref.Pid() {
			t.Fatalf("CastWait to a full mailbox with a short deadline: %v; want a cast *CallError wrapping ErrTimeout", err)
		}

		waited := make(chan error, 1)
		go func() { waited <- ref.CastWait(ctx, struct{}{}) }()
		spawntest.Eventually(t, "CastWait to wait for room", func() bool {
			in, err := n.Info(ref.Pid())
			return err == nil && in.WaitingSenders == 1
		})
		close(srv.gate)
		if err := <-blocked; err != nil {
			t.Fatal(err)
		}
		if err := spawntest.Recv(t, waited); err != nil {
			t.Fatalf("CastWait once there was room: %v", err)
		}
		// The first cast and the one that waited; not the one that timed out.
		if got, err := ref.Call(ctx, false); err != nil || got != 2 {
			t.Fatalf("the server counted %d casts (%v); want 2", got, err)
		}
	})
}

// TestCastWait_ToItselfFromItsCallbackDoesNotWait: a server's mailbox
// empties only once its callback returns, so a CastWait to itself from
// the callback fails as Cast does instead of waiting out its deadline.
func TestCastWait_ToItselfFromItsCallbackDoesNotWait(t *testing.T) {
	t.Parallel()
	ctx := spawntest.Context(t)
	n := spawntest.NewNode(t)
	self := &selfCaster{}
	ref, err := genserver.Start(ctx, n, self, genserver.WithMailboxLimit(1))
	if err != nil {
		t.Fatal(err)
	}
	self.ref = ref
	errs, err := ref.Call(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], process.ErrMailboxFull) || !errors.Is(errs[2], process.ErrMailboxFull) {
		t.Fatalf("CastWait to itself, three times into a mailbox of 1: %v; want nil, then ErrMailboxFull twice", errs)
	}
}

// selfCaster casts to itself with CastWait from its HandleCall, with the
// callback's context, and answers what each cast returned.
type selfCaster struct {
	ref genserver.Ref[int, []error, struct{}]
}

func (s *selfCaster) HandleCall(c *genserver.CallCtx[[]error], casts int) ([]error, error) {
	var errs []error
	for range casts {
		errs = append(errs, s.ref.CastWait(c.Context(), struct{}{}))
	}
	return errs, nil
}

func (s *selfCaster) HandleCast(*genserver.Ctx, struct{}) {}

// TestCastWait_BadInput: each fails at once with the error that names the
// problem, or is dropped as a Cast would be.
func TestCastWait_BadInput(t *testing.T) {
	t.Parallel()
	ctx := spawntest.Context(t)
	n := spawntest.NewNode(t)
	ref, err := genserver.Start(ctx, n, &gatedServer{}, genserver.WithName("castwait-gated"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := genserver.Start(ctx, n, &selfCaster{})
	if err != nil {
		t.Fatal(err)
	}
	dead, err := genserver.Start(ctx, n, &gatedServer{})
	if err != nil {
		t.Fatal(err)
	}
	if err := dead.Stop(ctx, nil); err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	type gated = genserver.Ref[bool, int, struct{}]
	tests := []struct {
		name string
		ref  gated
		ctx  context.Context
		want error // nil: sent or dropped without an error
	}{
		{"nil context", ref, nil, process.ErrNilContext},
		{"context already done", ref, done, context.Canceled},
		{"zero Ref", gated{}, ctx, genserver.ErrZeroRef},
		{"a server of other types", genserver.At[bool, int, struct{}](n, other.Pid()), ctx, genserver.ErrWrongServer},
		{"a dead server: dropped", dead, ctx, nil},
		{"an unknown name: dropped", genserver.Named[bool, int, struct{}](n, "nobody"), ctx, nil},
		{"a zero Pid on a node", genserver.At[bool, int, struct{}](n, pid.Pid{}), ctx, genserver.ErrZeroRef},
		{"by name", genserver.Named[bool, int, struct{}](n, "castwait-gated"), ctx, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := spawntest.Bounded(t, "CastWait", func() error { return tt.ref.CastWait(tt.ctx, struct{}{}) })
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("CastWait = %v; want %v", err, tt.want)
			}
		})
	}
	if got, err := ref.Call(ctx, false); err != nil || got != 1 {
		t.Fatalf("the server counted %d casts (%v); want 1, the one by name", got, err)
	}
}
