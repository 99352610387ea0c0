package cluster_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

func TestJoin_BadInput(t *testing.T) {
	ctx := spawntest.Context(t)
	cfg := testConfig(clusterName(t))
	var nilCtx context.Context
	_, err := cluster.Join(nilCtx, spawntest.NewNode(t), cfg)
	require.Error(t, err)
	_, err = cluster.Join(ctx, nil, cfg)
	require.ErrorIs(t, err, process.ErrNilNode)
	stopped := process.NewNode(process.WithLogger(nil))
	require.NoError(t, stopped.Stop(ctx))
	_, err = cluster.Join(ctx, stopped, cfg)
	require.ErrorIs(t, err, process.ErrNodeStopped)
	for name, bad := range map[string]func(*cluster.Config){
		"cluster name":   func(c *cluster.Config) { c.Cluster = "a.b" },
		"subject prefix": func(c *cluster.Config) { c.SubjectPrefix = "x y" },
		"interval":       func(c *cluster.Config) { c.HeartbeatInterval = time.Microsecond },
		"misses":         func(c *cluster.Config) { c.HeartbeatMisses = -1 },
		"payload":        func(c *cluster.Config) { c.MaxPayload = 10 },
		"window":         func(c *cluster.Config) { c.Window = -1 },
		"discovery":      func(c *cluster.Config) { c.DiscoveryTimeout = -time.Second },
	} {
		c := cfg
		bad(&c)
		_, err := cluster.Join(ctx, spawntest.NewNode(t), c)
		require.ErrorIs(t, err, cluster.ErrConfig, name)
	}
	n, _ := joinNode(t, cfg, "once")
	_, err = cluster.Join(ctx, n, cfg)
	require.ErrorIs(t, err, cluster.ErrJoined)
	bad := cfg
	bad.Password = "wrong"
	_, err = cluster.Join(ctx, spawntest.NewNode(t), bad)
	require.Error(t, err)
}

// TestLeave_TheGoodbyeDecidesEvenWhenTheAdvisoryComesFirst: a peer that
// leaves says goodbye before its connection closes, and the server tells of
// both in that order; a node that takes the advisory of the closed
// connection while its inbox still holds the goodbye reports the peer as
// having left (ErrNodeLeft), not as closed.
func TestLeave_TheGoodbyeDecidesEvenWhenTheAdvisoryComesFirst(t *testing.T) {
	a, ca, b, cb := pair(t)
	pr := spawntest.NewProbe(t, a)
	pr.Do(func(p *process.Process) error { _, err := ca.MonitorNode(p, b.ID()); return err })

	held, advised, release := ca.HoldGoodbyeFrom(b.ID())
	t.Cleanup(release)
	require.NoError(t, cb.Leave(spawntest.Context(t)))
	for _, step := range []struct {
		name string
		ch   <-chan struct{}
	}{{"the goodbye taken by a's inbox", held}, {"the advisory of b's closed connection", advised}} {
		select {
		case <-step.ch:
		case <-spawntest.Context(t).Done():
			t.Fatalf("no %s", step.name)
		}
	}
	release()
	require.Equal(t, cluster.NodeDown{Node: b.ID(), Name: "b", Reason: cluster.ErrNodeLeft}, pr.Receive())
}

func TestJoin_NodesSelfAndLeave(t *testing.T) {
	cfg := testConfig(clusterName(t))
	a, ca := joinNode(t, cfg, "a")
	b := spawntest.NewNode(t)
	bcfg := cfg
	bcfg.Name = "b"
	cb, err := cluster.Join(spawntest.Context(t), b, bcfg)
	require.NoError(t, err)
	require.Equal(t, cluster.NodeInfo{ID: b.ID(), Name: "b"}, cb.Self())
	require.Equal(t, []cluster.NodeInfo{{ID: b.ID(), Name: "b"}}, ca.Nodes())
	info, ok := ca.Node(b.ID())
	require.True(t, ok)
	require.Equal(t, "b", info.Name)
	self, ok := ca.Node(a.ID())
	require.True(t, ok)
	require.Equal(t, "a", self.Name)

	pr := spawntest.NewProbe(t, a)
	pr.Do(func(p *process.Process) error { _, err := ca.MonitorNode(p, b.ID()); return err })
	require.NoError(t, cb.Leave(spawntest.Context(t)))
	require.NoError(t, cb.Leave(spawntest.Context(t)), "Leave again")
	nd := pr.Receive().(cluster.NodeDown)
	require.Equal(t, cluster.NodeDown{Node: b.ID(), Name: "b", Reason: cluster.ErrNodeLeft}, nd)
	require.Empty(t, ca.Nodes())
	_, ok = ca.Node(b.ID())
	require.False(t, ok)

	// After Leave, the node is alone: other nodes' Pids are unreachable.
	p := spawntest.NewProbe(t, b)
	_, err = cb.MonitorNode(nil, a.ID())
	require.Error(t, err)
	p.Do(func(proc *process.Process) error {
		_, err := cb.MonitorNode(proc, a.ID())
		if !errors.Is(err, cluster.ErrLeft) {
			return fmt.Errorf("MonitorNode after Leave: %v", err)
		}
		return nil
	})
	require.Error(t, b.Send(pid.New(a.ID(), 1), "x"))

	// And it may join again: the others meet it in a new session.
	b2cfg := bcfg
	cb2, err := cluster.Join(spawntest.Context(t), b, b2cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cb2.Leave(context.Background()) })
	waitUp(t, ca, b.ID())
	require.True(t, cb2.Disconnect(a.ID()))
	require.False(t, cb2.Disconnect(ghostNode))
}

func TestMonitorNode_BadInput(t *testing.T) {
	a, ca, b, _ := pair(t)
	_, err := ca.MonitorNode(nil, b.ID())
	require.Error(t, err)
	pr := spawntest.NewProbe(t, a)
	pr.Do(func(p *process.Process) error {
		if _, err := ca.MonitorNode(p, pid.NodeID{}); !errors.Is(err, process.ErrZeroPid) {
			return fmt.Errorf("zero node: %v", err)
		}
		// A monitor of this node itself never fires, and can be removed.
		ref, err := ca.MonitorNode(p, a.ID())
		if err != nil {
			return err
		}
		if !ca.DemonitorNode(ref) {
			return errors.New("DemonitorNode of a live monitor reported false")
		}
		return nil
	})
	pr.ExpectEmpty()
	// A dead process's monitors go with it.
	var ref pid.Ref
	pr.Do(func(p *process.Process) (err error) { ref, err = ca.MonitorNode(p, b.ID()); return err })
	pr.Exit(nil)
	spawntest.Eventually(t, "the monitor gone with its process", func() bool { return !ca.DemonitorNode(ref) })
}

// money has its own binary form: it crosses by its methods.
type money struct{ cents int64 }

func (m money) AppendBinary(b []byte) ([]byte, error) { return binary.AppendVarint(b, m.cents), nil }
func (m *money) UnmarshalBinary(b []byte) error {
	v, n := binary.Varint(b)
	if n != len(b) {
		return errors.New("money: bad bytes")
	}
	m.cents = v
	return nil
}

// protoLike stands for a message generated by gogo- or vtprotobuf.
type protoLike struct{ body string }

func (p *protoLike) MarshalVT() ([]byte, error) { return []byte(p.body), nil }
func (p *protoLike) UnmarshalVT(b []byte) error { p.body = string(b); return nil }

// celsius crosses through a codec of its own.
type celsius float64

// codeError is an error type registered as a message type: it crosses
// whole.
type codeError struct{ Code int }

func (e *codeError) Error() string { return fmt.Sprintf("code %d", e.Code) }

// opaque is an error type nobody registered: it crosses as its text.
type opaque struct{ why string }

func (e opaque) Error() string        { return "opaque: " + e.why }
func (e opaque) Is(target error) bool { return target == errBoom }

func init() {
	cluster.MustRegister[money]("test.money")
	cluster.MustRegister[*protoLike]("test.protoLike")
	cluster.MustRegister[*codeError]("test.codeError")
	if err := cluster.RegisterCodec("test.celsius",
		func(b []byte, c celsius) ([]byte, error) { return fmt.Appendf(b, "%g", float64(c)), nil },
		func(b []byte) (celsius, error) {
			var f float64
			_, err := fmt.Sscanf(string(b), "%g", &f)
			return celsius(f), err
		}); err != nil {
		panic(err)
	}
}

func TestCodecs_ValuesCrossByTheirCodec(t *testing.T) {
	a, _, b, _ := pair(t)
	coll, got := collector(t, b, false)
	wrapped := fmt.Errorf("while paying: %w", errBoom)
	for _, tc := range []struct {
		msg   any
		check func(t *testing.T, got any)
	}{
		{money{cents: -250}, nil},
		{&protoLike{body: "payload"}, nil},
		{celsius(21.5), nil},
		{&codeError{Code: 7}, nil},
		{time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC), nil},
		{[]string{"a", "b"}, nil},
		{map[string]any{"k": 1, "pid": pid.New(a.ID(), 3)}, nil},
		{opaque{why: "no codec"}, func(t *testing.T, got any) {
			err := got.(error)
			require.Equal(t, "opaque: no codec", err.Error())
			require.ErrorIs(t, err, errBoom)
			var re *cluster.RemoteError
			require.ErrorAs(t, err, &re)
		}},
		{wrapped, func(t *testing.T, got any) {
			err := got.(error)
			require.Equal(t, wrapped.Error(), err.Error())
			require.ErrorIs(t, err, errBoom)
		}},
		{process.ShutdownWith(process.NoConnection), func(t *testing.T, got any) {
			var se *process.ShutdownError
			require.ErrorAs(t, got.(error), &se)
			require.ErrorIs(t, se.Cause, process.NoConnection)
		}},
	} {
		require.NoError(t, a.Send(coll, tc.msg), "%T", tc.msg)
		m := spawntest.Recv(t, got)
		if tc.check != nil {
			tc.check(t, m)
		} else {
			require.Equal(t, tc.msg, m)
		}
	}
}

func TestCodecs_Registration(t *testing.T) {
	type hidden struct{ n int }
	require.ErrorContains(t, cluster.Register[hidden]("test.hidden"), "unexported field n")
	require.Error(t, cluster.Register[money]("test.money-again"))
	require.Error(t, cluster.Register[celsius]("test.money"))
	require.NoError(t, cluster.Register[money]("test.money"))
	require.Error(t, cluster.RegisterError("test.boom", errors.New("another")))
	require.Error(t, cluster.RegisterCodec[int]("test.int", nil, nil))
	require.Panics(t, func() { cluster.MustRegister[hidden]("test.hidden") })
}

// typed is a server whose reply type nobody registered.
type typed struct{ genserver.NoCasts }

type unregisteredReply struct{ X int }

func (typed) HandleCall(_ *genserver.CallCtx[unregisteredReply], req int) (unregisteredReply, error) {
	return unregisteredReply{X: req}, nil
}

func TestCodecs_WhatCannotCrossFailsTheCallNotSilently(t *testing.T) {
	a, _, b, _ := pair(t)
	ctx := spawntest.Context(t)
	srv, err := genserver.Start(ctx, b, typed{})
	require.NoError(t, err)
	_, err = genserver.At[int, unregisteredReply, genserver.Never](a, srv.Pid()).Call(ctx, 1)
	require.ErrorIs(t, err, cluster.ErrNotRegistered)
	require.ErrorContains(t, err, "unregisteredReply")

	echoSrv, err := genserver.Start(ctx, b, echo{})
	require.NoError(t, err)
	_, err = genserver.At[any, any, any](a, echoSrv.Pid()).Call(ctx, unregisteredReply{})
	require.ErrorIs(t, err, cluster.ErrNotRegistered)
	_, err = genserver.At[any, any, any](a, echoSrv.Pid()).Call(ctx, make([]byte, 2<<20))
	require.ErrorIs(t, err, cluster.ErrTooLarge)
	require.ErrorIs(t, genserver.At[any, any, any](a, echoSrv.Pid()).Cast(unregisteredReply{}), cluster.ErrNotRegistered)
}

func TestJoin_EveryNodeHasItsNameFromTheMomentItIsUp(t *testing.T) {
	// Nodes joining at once meet in every order: whichever frame of a peer
	// comes first, the peer is never up here without its name.
	for round := range 10 {
		cfg := testConfig(clusterName(t))
		var wg sync.WaitGroup
		for _, name := range []string{"a", "b", "c"} {
			wg.Go(func() {
				n := spawntest.NewNode(t)
				c := cfg
				c.Name = name
				cl, err := cluster.Join(spawntest.Context(t), n, c)
				if err != nil {
					t.Error(err)
					return
				}
				t.Cleanup(func() { _ = cl.Leave(context.Background()) })
				for _, info := range cl.Nodes() {
					if info.Name == "" {
						t.Errorf("round %d: %s reaches %s, with no name", round, name, info.ID)
					}
				}
			})
		}
		wg.Wait()
	}
}
