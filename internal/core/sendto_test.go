package core

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
)

// busyRemote is a Remote that refuses sends with ErrPeerBusy while busy
// is set, and whose WaitRoom returns once room is closed.
type busyRemote struct {
	mu   sync.Mutex
	busy bool
	room chan struct{}
	sent []any
}

func newBusyRemote(busy bool) *busyRemote {
	return &busyRemote{busy: busy, room: make(chan struct{})}
}

func (r *busyRemote) Send(_ pid.Pid, _ Target, msg any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.busy {
		return ErrPeerBusy
	}
	r.sent = append(r.sent, msg)
	return nil
}

func (r *busyRemote) Call(pid.Pid, Target, any, RemoteAnswer) (pid.Ref, error) {
	return pid.Ref{}, nil
}
func (r *busyRemote) Forget(pid.Ref)      {}
func (r *busyRemote) Signal(Signal) error { return nil }

func (r *busyRemote) WaitRoom(ctx context.Context, _ Target) error {
	select {
	case <-r.room:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// makeRoom ends the busy spell.
func (r *busyRemote) makeRoom() {
	r.mu.Lock()
	r.busy = false
	r.mu.Unlock()
	close(r.room)
}

func (r *busyRemote) sends() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.sent...)
}

// otherNode is the id of a node that is not the test's.
var otherNode = pid.NewNodeID()

func stopNode(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSendToWaitWaitsWhileThePeerIsBusy: a send by name to another node
// that the peer refuses for now goes out once there is room, and a send
// whose context ends first fails with the context's error.
func TestSendToWaitWaitsWhileThePeerIsBusy(t *testing.T) {
	n := NewNode(Config{})
	defer stopNode(t, n)
	r := newBusyRemote(true)
	n.SetRemote(r)
	defer n.SetRemote(nil)
	to := Target{Node: otherNode, Name: "far"}

	if err := n.SendTo(to, "refused"); !errors.Is(err, ErrPeerBusy) {
		t.Fatalf("SendTo to a busy peer = %v; want ErrPeerBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.SendToWait(ctx, to, "given up"); !errors.Is(err, context.Canceled) {
		t.Fatalf("SendToWait with a done context = %v; want context.Canceled", err)
	}
	done := make(chan error, 1)
	go func() { done <- n.SendToWait(context.Background(), to, "waited") }()
	r.makeRoom()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("SendToWait once there is room = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SendToWait did not return once there was room")
	}
	if got := r.sends(); len(got) != 1 || got[0] != "waited" {
		t.Fatalf("the peer got %v; want [waited]", got)
	}
}

// TestSendToWaitByPidAndByName covers the targets of this node and the
// bad ones: each is what SendWait or SendTo gives for it.
func TestSendToWaitByPidAndByName(t *testing.T) {
	n := NewNode(Config{})
	defer stopNode(t, n)
	p, _, err := n.Spawn(Spec{Handler: idleHandler{}, Name: "here"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		to   Target
		want error // nil: sent
	}{
		{"a Pid of this node", ctx, Target{Pid: p.Pid()}, nil},
		{"a name of this node", ctx, Target{Node: n.ID(), Name: "here"}, nil},
		{"an unknown name of this node", ctx, Target{Node: n.ID(), Name: "nobody"}, ErrNotRegistered},
		{"an empty name", ctx, Target{Node: otherNode}, ErrEmptyName},
		{"a name on no node", ctx, Target{Name: "far"}, ErrZeroPid},
		{"a name of a node not reachable", ctx, Target{Node: otherNode, Name: "far"}, NoConnection},
		{"a nil context", nil, Target{Pid: p.Pid()}, ErrNilContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := n.SendToWait(tt.ctx, tt.to, "hello")
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("SendToWait = %v; want %v", err, tt.want)
			}
		})
	}
}

// TestSendByNameToAnotherNodeWhileItsRemoteGoes: the node's way to other
// nodes may go (a Leave) between the check of a send by name and the
// send itself. Each send then fails with NoConnection or goes out; none
// panics on the missing Remote.
func TestSendByNameToAnotherNodeWhileItsRemoteGoes(t *testing.T) {
	n := NewNode(Config{})
	defer stopNode(t, n)
	p, _, err := n.Spawn(Spec{Handler: idleHandler{}})
	if err != nil {
		t.Fatal(err)
	}
	r := newBusyRemote(false)
	to := Target{Node: otherNode, Name: "far"}
	var stop atomic.Bool
	toggled := make(chan struct{})
	go func() {
		defer close(toggled)
		for !stop.Load() {
			n.SetRemote(r)
			n.SetRemote(nil)
		}
	}()
	ops := []struct {
		name string
		send func() error
	}{
		{"Node.SendTo", func() error { return n.SendTo(to, "m") }},
		{"Proc.SendTo", func() error { return p.SendTo(to, "m") }},
		{"Node.SendToWait", func() error { return n.SendToWait(context.Background(), to, "m") }},
		{"Node.SendSystem", func() error { return n.SendSystem(to, StopMsg{}) }},
		{"Node.CallRemote", func() error { _, err := n.CallRemote(pid.Pid{}, to, "req", nil); return err }},
	}
	for range 20_000 {
		for _, op := range ops {
			if err := op.send(); err != nil && !errors.Is(err, NoConnection) {
				stop.Store(true)
				<-toggled
				t.Fatalf("%s while the Remote comes and goes = %v; want nil or NoConnection", op.name, err)
			}
		}
	}
	stop.Store(true)
	<-toggled
}
