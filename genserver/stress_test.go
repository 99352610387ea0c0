package genserver_test

import (
	"context"
	"sync"
	"testing"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Stress: many concurrent callers and casters on one server, and many
// servers called at once, on every backend.

type stressOp int

const (
	stressAdd   stressOp = iota // count one op for Caller, reply with its count
	stressMine                  // reply with Caller's count
	stressTotal                 // reply with the total count
)

type stressReq struct {
	Op     stressOp
	Caller int
	Seq    int
}

type stressRep struct {
	Caller, Seq, Mine, Total int
}

type stressCast struct{ Caller int }

// stressServer counts the calls and casts of each caller.
type stressServer struct {
	per   map[int]int
	total int
}

func (s *stressServer) HandleCall(_ *genserver.CallCtx[stressRep], req stressReq) (stressRep, error) {
	if req.Op == stressAdd {
		s.per[req.Caller]++
		s.total++
	}
	return stressRep{Caller: req.Caller, Seq: req.Seq, Mine: s.per[req.Caller], Total: s.total}, nil
}

func (s *stressServer) HandleCast(_ *genserver.Ctx, m stressCast) {
	s.per[m.Caller]++
	s.total++
}

func TestStress_ConcurrentCallersAndCasters(t *testing.T) {
	t.Parallel()
	const (
		callers        = 16
		callsPerCaller = 500
		casters        = 4
		castsPerCaster = 1000
	)
	spawntest.ForEachBackendNode(t, func(t *testing.T, node *process.Node, b process.Backend) {
		ctx := spawntest.Context(t)
		ref, err := genserver.Start(ctx, node, &stressServer{per: make(map[int]int)}, genserver.WithBackend(b))
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		// Each call has a bound of its own: the callers' eight thousand
		// calls took more than 10 s on a loaded 2-core machine under -race, and
		// a bound over all of them was a speed limit, not a bound on a hang.
		call := func(req stressReq) (stressRep, error) {
			ctx, cancel := context.WithTimeout(context.Background(), spawntest.Timeout)
			defer cancel()
			return ref.Call(ctx, req)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ops := make(map[int]int) // per caller, as sent
		for c := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := 0
				for i := range callsPerCaller {
					if i%3 == 0 { // callers cast too: each cast is counted before the next call
						ref.Cast(stressCast{Caller: c})
						mine++
					}
					mine++
					rep, err := call(stressReq{Op: stressAdd, Caller: c, Seq: i})
					if err != nil {
						t.Errorf("caller %d call %d: %v", c, i, err)
						return
					}
					if rep.Caller != c || rep.Seq != i || rep.Mine != mine {
						t.Errorf("caller %d call %d: got reply %+v; want caller %d seq %d mine %d", c, i, rep, c, i, mine)
						return
					}
				}
				mu.Lock()
				ops[c] = mine
				mu.Unlock()
			}()
		}
		for k := range casters {
			c := callers + k
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range castsPerCaster {
					if err := ref.Cast(stressCast{Caller: c}); err != nil {
						t.Errorf("caster %d: %v", c, err)
						return
					}
				}
				mu.Lock()
				ops[c] = castsPerCaster
				mu.Unlock()
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		ctx = spawntest.Context(t)
		want := 0
		for c, n := range ops {
			want += n
			rep, err := ref.Call(ctx, stressReq{Op: stressMine, Caller: c})
			if err != nil || rep.Mine != n {
				t.Errorf("count of %d = %d, %v; want %d", c, rep.Mine, err, n)
			}
		}
		rep, err := ref.Call(ctx, stressReq{Op: stressTotal})
		if err != nil || rep.Total != want {
			t.Errorf("total = %d, %v; want %d (calls+casts)", rep.Total, err, want)
		}
		if want != callers*(callsPerCaller+(callsPerCaller+2)/3)+casters*castsPerCaster {
			t.Errorf("sent %d ops; the test's own arithmetic is off", want)
		}
		if err := ref.Stop(ctx, nil); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
}

func TestStress_ManyServersCalledConcurrently(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, node *process.Node, b process.Backend) {
		// Each phase (start, call, stop) has a bound of its own, and Thread
		// gets fewer servers (each is an OS thread): on a loaded 2-core
		// machine under -race, starting a thousand Thread servers alone took
		// up to 7 s, so one 10 s bound over the three phases was a speed
		// limit on the machine, not a bound on a hang.
		servers := 1000
		if b == process.Thread {
			servers = 250
		}
		ctx := spawntest.Context(t)
		refs := make([]genserver.Ref[stressReq, stressRep, stressCast], servers)
		var wg sync.WaitGroup
		for i := range refs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ref, err := genserver.Start(ctx, node, &stressServer{per: make(map[int]int)}, genserver.WithBackend(b))
				if err != nil {
					t.Errorf("start %d: %v", i, err)
					return
				}
				refs[i] = ref
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		// Each server gets i casts and one call from its own goroutine, so
		// every server ends with its own count.
		ctx = spawntest.Context(t)
		for i, ref := range refs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range i % 7 {
					ref.Cast(stressCast{Caller: i})
				}
				rep, err := ref.Call(ctx, stressReq{Op: stressAdd, Caller: i, Seq: i})
				if err != nil || rep.Caller != i || rep.Mine != i%7+1 || rep.Total != i%7+1 {
					t.Errorf("server %d: reply %+v, %v; want mine = total = %d", i, rep, err, i%7+1)
				}
			}()
		}
		wg.Wait()
		if got := node.Stats().Processes; got != servers {
			t.Errorf("node has %d processes; want %d", got, servers)
		}
		ctx = spawntest.Context(t)
		for i, ref := range refs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := ref.Stop(ctx, nil); err != nil {
					t.Errorf("stop %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
	})
}
