package genserver_test

import (
	"errors"
	"testing"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/loopback"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// nmJob is the request of nmQueue, nmResult its reply.
type nmJob struct{ N int }

type nmResult struct{ Square int }

// nmQueue squares the jobs it is called with.
type nmQueue struct{ genserver.NoCasts }

func (*nmQueue) HandleCall(_ *genserver.CallCtx[nmResult], j nmJob) (nmResult, error) {
	return nmResult{Square: j.N * j.N}, nil
}

// nmQueueName is declared once with the server's types, as a program would.
var nmQueueName = genserver.NewName[nmJob, nmResult, genserver.Never]("nm-queue")

// TestName_StartAndReach starts a server under a typed Name and reaches
// it by the Name, in the node's registry and in a Registrar, on every
// backend.
func TestName_StartAndReach(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, tc := range []struct {
			label string
			name  func(n *process.Node) genserver.Name[nmJob, nmResult, genserver.Never]
			owner func(n *process.Node, name string) (pid.Pid, bool)
		}{
			{"registry", func(*process.Node) genserver.Name[nmJob, nmResult, genserver.Never] { return nmQueueName },
				func(n *process.Node, name string) (pid.Pid, bool) { return registry.Of(n).WhereIs(name) }},
			{"via", func(n *process.Node) genserver.Name[nmJob, nmResult, genserver.Never] {
				keys, err := registry.NewKeys[string, struct{}](n, registry.KeysOptions{Kind: registry.Unique})
				if err != nil {
					t.Fatalf("NewKeys: %v", err)
				}
				return nmQueueName.Via(registry.Via(keys))
			}, nil},
		} {
			t.Run(tc.label, func(t *testing.T) {
				node, ctx := spawntest.NewNode(t), spawntest.Context(t)
				name := tc.name(node)
				ref, err := name.Start(ctx, node, &nmQueue{}, genserver.WithBackend(b))
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				if ref.Name() != "nm-queue" || name.String() != "nm-queue" {
					t.Fatalf("names %q, %q; want nm-queue", ref.Name(), name.String())
				}
				if tc.owner != nil {
					if p, ok := tc.owner(node, "nm-queue"); !ok || p != ref.Pid() {
						t.Fatalf("registry has %v, %v; want %v", p, ok, ref.Pid())
					}
				} else if p, ok := name.Registrar().WhereIsName("nm-queue"); !ok || p != ref.Pid() {
					t.Fatalf("registrar has %v, %v; want %v", p, ok, ref.Pid())
				}
				res, err := name.Ref(node).Call(ctx, nmJob{N: 7})
				if err != nil || res.Square != 49 {
					t.Fatalf("Call by name = %+v, %v; want 49", res, err)
				}
				// RefOn with this node (or none) is Ref.
				for _, at := range []pid.NodeID{node.ID(), {}} {
					if res, err := name.RefOn(node, at).Call(ctx, nmJob{N: 3}); err != nil || res.Square != 9 {
						t.Fatalf("Call by RefOn(%v) = %+v, %v; want 9", at, res, err)
					}
				}

				// A second server under the name is refused, naming the holder.
				_, err = name.Start(ctx, node, &nmQueue{})
				var taken *genserver.AlreadyStartedError
				if !errors.As(err, &taken) || taken.Pid != ref.Pid() {
					t.Fatalf("second Start: %v; want an *AlreadyStartedError naming %v", err, ref.Pid())
				}

				// StartLink under the name, once the first has stopped.
				if err := name.Ref(node).Stop(ctx, nil); err != nil {
					t.Fatalf("Stop by name: %v", err)
				}
				pr := spawntest.NewProbe(t, node)
				var linked genserver.Ref[nmJob, nmResult, genserver.Never]
				pr.Do(func(p *process.Process) error {
					linked, err = name.StartLink(ctx, p, &nmQueue{}, genserver.WithBackend(b))
					return nil
				})
				if err != nil {
					t.Fatalf("StartLink: %v", err)
				}
				if info, err := node.Info(pr.Pid()); err != nil || len(info.Links) != 1 || info.Links[0] != linked.Pid() {
					t.Fatalf("probe's links %v, %v; want the server %v", info.Links, err, linked.Pid())
				}
				if res, err := name.Ref(node).Call(ctx, nmJob{N: 2}); err != nil || res.Square != 4 {
					t.Fatalf("Call after StartLink = %+v, %v", res, err)
				}
			})
		}
	})
}

// TestName_Overrides checks that the Name wins over a name among the
// options: the server is registered under the Name only.
func TestName_Overrides(t *testing.T) {
	t.Parallel()
	node, ctx := spawntest.NewNode(t), spawntest.Context(t)
	ref, err := nmQueueName.Start(ctx, node, &nmQueue{}, genserver.WithName("other"))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if p, ok := registry.Of(node).WhereIs("nm-queue"); !ok || p != ref.Pid() {
		t.Fatalf("nm-queue is %v, %v; want %v", p, ok, ref.Pid())
	}
	if p, ok := registry.Of(node).WhereIs("other"); ok {
		t.Fatalf("other is registered to %v; the Name must win", p)
	}
}

// TestName_BadInput: an empty or zero Name starts nothing and reaches
// nothing; an unregistered one answers NoProc at once.
func TestName_BadInput(t *testing.T) {
	t.Parallel()
	node, ctx := spawntest.NewNode(t), spawntest.Context(t)
	pr := spawntest.NewProbe(t, node)
	var zero genserver.Name[nmJob, nmResult, genserver.Never]
	for _, tc := range []struct {
		label string
		name  genserver.Name[nmJob, nmResult, genserver.Never]
		err   error // of Start and StartLink
		call  error // of a call through Ref
	}{
		{"zero", zero, registry.ErrEmptyName, genserver.ErrZeroRef},
		{"empty", genserver.NewName[nmJob, nmResult, genserver.Never](""), registry.ErrEmptyName, genserver.ErrZeroRef},
		{"empty via", genserver.NewName[nmJob, nmResult, genserver.Never]("").Via(registry.Via[int](nil)), registry.ErrEmptyName, genserver.ErrZeroRef},
		{"unregistered", genserver.NewName[nmJob, nmResult, genserver.Never]("nm-nobody"), nil, process.NoProc},
	} {
		t.Run(tc.label, func(t *testing.T) {
			if tc.err != nil {
				if _, err := tc.name.Start(ctx, node, &nmQueue{}); !errors.Is(err, tc.err) {
					t.Fatalf("Start: %v; want %v", err, tc.err)
				}
				var err error
				pr.Do(func(p *process.Process) error {
					_, err = tc.name.StartLink(ctx, p, &nmQueue{})
					return nil
				})
				if !errors.Is(err, tc.err) {
					t.Fatalf("StartLink: %v; want %v", err, tc.err)
				}
			}
			if _, err := tc.name.Ref(node).Call(ctx, nmJob{N: 1}); !errors.Is(err, tc.call) {
				t.Fatalf("Call: %v; want %v", err, tc.call)
			}
		})
	}
	if n := node.Stats().Processes; n != 1 { // the probe alone
		t.Fatalf("%d processes alive; the failed starts must leave none", n)
	}
	// A nil node is refused as by Start.
	if _, err := nmQueueName.Start(ctx, nil, &nmQueue{}); !errors.Is(err, process.ErrNilNode) {
		t.Fatalf("Start(nil node): %v; want ErrNilNode", err)
	}
}

// TestName_OnAnotherNode reaches a server by its Name on another node
// (Erlang's {Name, Node}).
func TestName_OnAnotherNode(t *testing.T) {
	t.Parallel()
	a, b := spawntest.NewNode(t), spawntest.NewNode(t)
	net := loopback.New()
	t.Cleanup(net.Close)
	net.Join(a)
	net.Join(b)
	ctx := spawntest.Context(t)
	if _, err := nmQueueName.Start(ctx, b, &nmQueue{}); err != nil {
		t.Fatalf("Start on b: %v", err)
	}
	res, err := nmQueueName.RefOn(a, b.ID()).Call(ctx, nmJob{N: 5})
	if err != nil || res.Square != 25 {
		t.Fatalf("Call from a to b by name = %+v, %v; want 25", res, err)
	}
	// On a, where nothing has the name, the local Ref finds nothing.
	if _, err := nmQueueName.Ref(a).Call(ctx, nmJob{N: 5}); !errors.Is(err, process.NoProc) {
		t.Fatalf("Call on a: %v; want NoProc", err)
	}
	if err := nmQueueName.RefOn(a, b.ID()).Stop(ctx, nil); err != nil {
		t.Fatalf("Stop from a: %v", err)
	}
	if _, err := nmQueueName.RefOn(a, b.ID()).Call(ctx, nmJob{N: 5}); !errors.Is(err, process.NoProc) {
		t.Fatalf("Call after the stop: %v; want NoProc", err)
	}
}
