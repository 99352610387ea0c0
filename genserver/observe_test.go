package genserver_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// obsCounter reports its state.
type obsCounter struct {
	genserver.NoCasts
	n int
}

func (c *obsCounter) HandleCall(_ *genserver.CallCtx[int], add int) (int, error) {
	c.n += add
	return c.n, nil
}

func (c *obsCounter) DebugState() any { return map[string]int{"n": c.n} }

// obsPlain reports nothing, and describes itself.
type obsPlain struct {
	genserver.NoCasts
	genserver.NoCalls
}

func (obsPlain) Describe() string { return "plain server" }

// obsPanicky's DebugState panics.
type obsPanicky struct {
	genserver.NoCasts
	genserver.NoCalls
}

func (obsPanicky) DebugState() any { panic("no state for you") }

// TestGetState reads a server's state from inside it, in order with its
// calls, on every backend; servers without it and other processes say so.
func TestGetState(t *testing.T) {
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		ref, err := genserver.Start(ctx, n, &obsCounter{}, genserver.WithBackend(b), genserver.WithMailboxLimit(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ref.Call(ctx, 41); err != nil {
			t.Fatal(err)
		}
		st, err := genserver.GetState(ctx, ref)
		if m, ok := st.(map[string]int); err != nil || !ok || m["n"] != 41 {
			t.Fatalf("GetState = %v, %v", st, err)
		}
		in, err := n.Info(ref.Pid())
		if err != nil || in.Behaviour != "*genserver_test.obsCounter" {
			t.Fatalf("Behaviour = %q, %v", in.Behaviour, err)
		}
		plain, err := genserver.Start(ctx, n, obsPlain{}, genserver.WithBackend(b), genserver.WithName("plain"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := genserver.GetState(ctx, plain.ByName()); !errors.Is(err, genserver.ErrNoState) {
			t.Fatalf("GetState of a server without DebugState: %v", err)
		}
		if in, _ := n.Info(plain.Pid()); in.Behaviour != "plain server" {
			t.Fatalf("Behaviour = %q, want the server's Describe", in.Behaviour)
		}
		panicky, err := genserver.Start(ctx, n, obsPanicky{}, genserver.WithBackend(b))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := genserver.GetState(ctx, panicky); err == nil || !n.Alive(panicky.Pid()) {
			t.Fatalf("a panicking DebugState: %v, server alive %v", err, n.Alive(panicky.Pid()))
		}
		fn := spawntest.SpawnIdle(t, n, process.WithBackend(b))
		if _, err := genserver.StateOf(ctx, n, fn); !errors.Is(err, genserver.ErrNoState) {
			t.Fatalf("StateOf a Func process: %v", err)
		}
		spawntest.ExitAndWait(t, n, ref.Pid(), process.Kill)
		if _, err := genserver.GetState(ctx, ref); !errors.Is(err, process.NoProc) {
			t.Fatalf("GetState of a dead server: %v", err)
		}
		if _, err := genserver.StateOf(ctx, nil, fn); !errors.Is(err, process.ErrNilNode) {
			t.Fatalf("StateOf(nil node) = %v", err)
		}
		if _, err := genserver.StateOf(ctx, n, pid.Pid{}); !errors.Is(err, process.ErrZeroPid) {
			t.Fatalf("StateOf(zero) = %v", err)
		}
	})
}

// latencies records what a call observer is told.
type latencies struct {
	mu   sync.Mutex
	seen map[string]int
}

func (l *latencies) ObserveCall(behaviour string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d > 0 {
		l.seen[behaviour]++
	}
}

// TestCallObserver: with an observer set, each call's latency is reported
// under the server's type; without one, nothing is.
func TestCallObserver(t *testing.T) {
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	ref, err := genserver.Start(ctx, n, &obsCounter{})
	if err != nil {
		t.Fatal(err)
	}
	l := &latencies{seen: map[string]int{}}
	cn := (*core.Node)(n)
	cn.SetCallObserver(l)
	if cn.CallObserver() != l {
		t.Fatal("CallObserver is not the one set")
	}
	for range 3 {
		if _, err := ref.Call(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	cn.SetCallObserver(nil)
	if _, err := ref.Call(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if l.seen["*genserver_test.obsCounter"] != 3 || len(l.seen) != 1 {
		t.Fatalf("observed %v, want 3 calls of *genserver_test.obsCounter", l.seen)
	}
}

// TestTrace_CallsAndCasts: a traced server's log shows calls and casts as
// such.
func TestTrace_CallsAndCasts(t *testing.T) {
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	ref, err := genserver.Start(ctx, n, &benchGSServer{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Trace(ref.Pid()); err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Call(ctx, 5); err != nil {
		t.Fatal(err)
	}
	ref.Cast(benchGSCount{})
	if got, _ := ref.Call(ctx, 0); got != 6 {
		t.Fatalf("count %d", got)
	}
	log, err := n.TraceLog(ref.Pid())
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, e := range log {
		texts = append(texts, e.Op.String()+" "+e.Text)
	}
	// The cast's handling and the second call's queueing may come in
	// either order; each message is queued before it is handled.
	want := []string{"in call 5", "handled call 5", "in cast genserver_test.benchGSCount{}", "handled cast genserver_test.benchGSCount{}", "in call 0", "handled call 0"}
	at := map[string]int{}
	for i, s := range texts {
		at[s] = i + 1
	}
	for i := 0; i < len(want); i += 2 {
		if at[want[i]] == 0 || at[want[i+1]] == 0 || at[want[i]] > at[want[i+1]] {
			t.Fatalf("trace %q, want %q before %q", texts, want[i], want[i+1])
		}
	}
	if len(texts) != len(want) {
		t.Fatalf("trace %q has %d entries, want %d", texts, len(texts), len(want))
	}
}
