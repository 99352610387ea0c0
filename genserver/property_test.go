package genserver_test

import (
	"context"
	"testing"

	"pgregory.net/rapid"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Property tests: a counter server against a model, each run on a Backend
// drawn by rapid. One node per test; each run starts and stops its own
// servers.

type propOp int

const (
	propGet propOp = iota
	propAdd        // add K, reply with the new count
)

type propReq struct {
	Op propOp
	K  int
}

type propCast struct{ K int } // add K

type propCounter struct{ n int }

func (c *propCounter) HandleCall(_ *genserver.CallCtx[int], req propReq) (int, error) {
	if req.Op == propAdd {
		c.n += req.K
	}
	return c.n, nil
}

func (c *propCounter) HandleCast(_ *genserver.Ctx, m propCast) { c.n += m.K }

type propRef = genserver.Ref[propReq, int, propCast]

var propBackend = rapid.SampledFrom(spawntest.Backends())

// propStart starts a counter at initial on a drawn backend; it is stopped
// when the run ends.
func propStart(rt *rapid.T, ctx context.Context, node *process.Node, label string, initial int) propRef {
	b := propBackend.Draw(rt, label)
	ref, err := genserver.Start(ctx, node, &propCounter{n: initial}, genserver.WithBackend(b))
	if err != nil {
		rt.Fatalf("start on %v: %v", b, err)
	}
	rt.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		defer cancel()
		if err := ref.Stop(stopCtx, nil); err != nil {
			rt.Errorf("stop: %v", err)
		}
	})
	return ref
}

func propGetValue(rt *rapid.T, ctx context.Context, ref propRef) int {
	v, err := ref.Call(ctx, propReq{Op: propGet})
	if err != nil {
		rt.Fatalf("get: %v", err)
	}
	return v
}

// propCheck runs prop as a rapid property on a node of the test's own,
// with a context bounded per check (the machine may be busy).
func propCheck(t *testing.T, prop func(rt *rapid.T, ctx context.Context, node *process.Node)) {
	t.Helper()
	node := spawntest.NewNode(t)
	rapid.Check(t, func(rt *rapid.T) {
		ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
		defer cancel()
		prop(rt, ctx, node)
	})
}

func TestProp_CounterKeepsInitialState(t *testing.T) {
	t.Parallel()
	propCheck(t, func(rt *rapid.T, ctx context.Context, node *process.Node) {
		initial := rapid.Int().Draw(rt, "initial")
		ref := propStart(rt, ctx, node, "backend", initial)
		if got := propGetValue(rt, ctx, ref); got != initial {
			rt.Fatalf("first read = %d; want the initial state %d", got, initial)
		}
	})
}

func TestProp_IncrementsAddUp(t *testing.T) {
	t.Parallel()
	propCheck(t, func(rt *rapid.T, ctx context.Context, node *process.Node) {
		initial := rapid.IntRange(-1000, 1000).Draw(rt, "initial")
		byCast := rapid.SliceOfN(rapid.Bool(), 0, 100).Draw(rt, "byCast")
		ref := propStart(rt, ctx, node, "backend", initial)
		for i, cast := range byCast {
			if cast {
				if err := ref.Cast(propCast{K: 1}); err != nil {
					rt.Fatalf("cast: %v", err)
				}
				continue
			}
			if got, err := ref.Call(ctx, propReq{Op: propAdd, K: 1}); err != nil || got != initial+i+1 {
				rt.Fatalf("increment %d = %d, %v; want %d", i, got, err, initial+i+1)
			}
		}
		if got, want := propGetValue(rt, ctx, ref), initial+len(byCast); got != want {
			rt.Fatalf("after %d increments: %d; want %d", len(byCast), got, want)
		}
	})
}

func TestProp_ReadsAreIdempotent(t *testing.T) {
	t.Parallel()
	propCheck(t, func(rt *rapid.T, ctx context.Context, node *process.Node) {
		ref := propStart(rt, ctx, node, "backend", rapid.Int().Draw(rt, "initial"))
		for _, k := range rapid.SliceOfN(rapid.IntRange(-50, 50), 0, 10).Draw(rt, "adds") {
			ref.Cast(propCast{K: k})
		}
		first := propGetValue(rt, ctx, ref)
		for i := range rapid.IntRange(1, 20).Draw(rt, "reads") {
			if got := propGetValue(rt, ctx, ref); got != first {
				rt.Fatalf("read %d = %d; the first read gave %d", i+2, got, first)
			}
		}
		if got, err := ref.Call(ctx, propReq{Op: propAdd, K: 0}); err != nil || got != first {
			rt.Fatalf("adding 0 = %d, %v; want %d", got, err, first)
		}
	})
}

func TestProp_ServersKeepIndependentState(t *testing.T) {
	t.Parallel()
	propCheck(t, func(rt *rapid.T, ctx context.Context, node *process.Node) {
		count := rapid.IntRange(2, 5).Draw(rt, "servers")
		refs := make([]propRef, count)
		model := make([]int, count)
		for i := range refs {
			model[i] = rapid.IntRange(-100, 100).Draw(rt, "initial")
			refs[i] = propStart(rt, ctx, node, "backend", model[i])
		}
		pick := rapid.IntRange(0, count-1)
		amount := rapid.IntRange(-10, 10)
		rt.Repeat(map[string]func(*rapid.T){
			"callAdd": func(rt *rapid.T) {
				i, k := pick.Draw(rt, "server"), amount.Draw(rt, "k")
				model[i] += k
				if got, err := refs[i].Call(ctx, propReq{Op: propAdd, K: k}); err != nil || got != model[i] {
					rt.Fatalf("server %d add %d = %d, %v; want %d", i, k, got, err, model[i])
				}
			},
			"castAdd": func(rt *rapid.T) {
				i, k := pick.Draw(rt, "server"), amount.Draw(rt, "k")
				model[i] += k
				refs[i].Cast(propCast{K: k})
			},
			"get": func(rt *rapid.T) {
				i := pick.Draw(rt, "server")
				if got := propGetValue(rt, ctx, refs[i]); got != model[i] {
					rt.Fatalf("server %d = %d; want %d", i, got, model[i])
				}
			},
			"": func(rt *rapid.T) {
				for i, ref := range refs {
					if got := propGetValue(rt, ctx, ref); got != model[i] {
						rt.Fatalf("server %d = %d; want %d", i, got, model[i])
					}
				}
			},
		})
	})
}

func TestProp_CastThenCallIsReflected(t *testing.T) {
	t.Parallel()
	propCheck(t, func(rt *rapid.T, ctx context.Context, node *process.Node) {
		model := rapid.IntRange(-1000, 1000).Draw(rt, "initial")
		ref := propStart(rt, ctx, node, "backend", model)
		for _, k := range rapid.SliceOfN(rapid.IntRange(-100, 100), 1, 30).Draw(rt, "casts") {
			if err := ref.Cast(propCast{K: k}); err != nil {
				rt.Fatalf("cast: %v", err)
			}
			model += k
			if got := propGetValue(rt, ctx, ref); got != model {
				rt.Fatalf("call after cast %d = %d; want %d", k, got, model)
			}
		}
	})
}
