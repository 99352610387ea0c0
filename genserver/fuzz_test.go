package genserver_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// FuzzServerOps decodes its input into a backend and a sequence of
// operations on a counter server, and checks every result against a model.
//
// Input: byte 0 picks the backend (mod 3); then each pair of bytes is one
// operation (first byte mod fuzzNumOps) and its argument (second byte as an
// int8). At most fuzzMaxOps operations are run.

type fuzzOp byte

const (
	fuzzCallAdd     fuzzOp = iota // call: add k, reply with the count
	fuzzCallGet                   // call: the count
	fuzzCastAdd                   // cast: add k
	fuzzCastReset                 // cast: count = 0
	fuzzDeferGo                   // call answered through From by a goroutine
	fuzzDeferInfo                 // call answered through From from HandleInfo
	fuzzInfoAdd                   // plain message: add k
	fuzzCallCheck                 // call: the count, with an error when it is odd
	fuzzCallTimeout               // call never answered: times out after 1ms
	fuzzYield                     // runtime.Gosched
	fuzzCallStop                  // call: reply with the count, then stop
	fuzzNumOps
)

const fuzzMaxOps = 64

var (
	errFuzzOdd  = errors.New("fuzz: odd")
	errFuzzLate = errors.New("fuzz: a timed-out call got its reply")
	errFuzzStop = errors.New("fuzz: stop")
)

type fuzzReq struct {
	Op fuzzOp
	K  int
}

type fuzzCast struct {
	Reset bool
	K     int
}

type fuzzInfo struct{ K int }

type fuzzWake struct{}

type fuzzServer struct {
	n     int
	wake  genserver.From[int]
	stale []genserver.From[int] // calls whose callers have timed out
}

func (s *fuzzServer) HandleCall(ctx *genserver.CallCtx[int], req fuzzReq) (int, error) {
	switch req.Op {
	case fuzzCallAdd:
		s.n += req.K
	case fuzzCallGet:
		late := false
		for _, f := range s.stale {
			late = f.Reply(-1, nil) || late
		}
		s.stale = nil
		if late {
			return 0, errFuzzLate
		}
	case fuzzCallCheck:
		if s.n%2 != 0 {
			return s.n, errFuzzOdd
		}
	case fuzzDeferGo:
		from, v := ctx.From(), s.n
		go from.Reply(v, nil)
		return ctx.NoReply()
	case fuzzDeferInfo:
		s.wake = ctx.From()
		if err := ctx.Process().Send(ctx.Self(), fuzzWake{}); err != nil {
			return 0, err
		}
		return ctx.NoReply()
	case fuzzCallTimeout:
		s.stale = append(s.stale, ctx.From())
		return ctx.NoReply()
	case fuzzCallStop:
		ctx.Stop(errFuzzStop)
	}
	return s.n, nil
}

func (s *fuzzServer) HandleCast(_ *genserver.Ctx, m fuzzCast) {
	if m.Reset {
		s.n = 0
		return
	}
	s.n += m.K
}

func (s *fuzzServer) HandleInfo(_ *genserver.Ctx, msg any) {
	switch m := msg.(type) {
	case fuzzInfo:
		s.n += m.K
	case fuzzWake:
		s.wake.Reply(s.n, nil)
	}
}

// fuzzEncode builds an input, for seeds: backend, then (op, arg) pairs.
func fuzzEncode(b process.Backend, ops ...int) []byte {
	out := []byte{byte(b)}
	for _, v := range ops {
		out = append(out, byte(v))
	}
	return out
}

func FuzzServerOps(f *testing.F) {
	f.Add(fuzzEncode(process.Async, int(fuzzCallAdd), 5, int(fuzzCallGet), 0, int(fuzzCastAdd), 3,
		int(fuzzCallCheck), 0, int(fuzzCallStop), 0, int(fuzzCallGet), 0))
	f.Add(fuzzEncode(process.Blocking, int(fuzzDeferGo), 0, int(fuzzCallAdd), 1, int(fuzzDeferInfo), 0,
		int(fuzzInfoAdd), 7, int(fuzzCastReset), 0, int(fuzzCallGet), 0))
	f.Add(fuzzEncode(process.Thread, int(fuzzCallTimeout), 0, int(fuzzCallAdd), 2, int(fuzzCallGet), 0,
		int(fuzzYield), 0, int(fuzzCallCheck), 0))
	f.Add([]byte{})

	node := spawntest.NewNode(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		b := process.Async
		if len(data) > 0 {
			b = process.Backend(data[0] % 3)
			data = data[1:]
		}
		ctx := spawntest.Context(t)
		ref, err := genserver.Start(ctx, node, &fuzzServer{}, genserver.WithBackend(b))
		if err != nil {
			t.Fatalf("start on %v: %v", b, err)
		}
		exit := spawntest.WatchExit(t, node, ref.Pid())
		waitExit := func(want error) {
			t.Helper()
			if reason := exit.Wait(); !errors.Is(reason, want) {
				t.Fatalf("exit reason %v; want %v", reason, want)
			}
		}

		model, stopped := 0, false
		// expect checks a call's result against the model.
		expect := func(i int, op fuzzOp, got int, err error, want int, wantErr error) {
			t.Helper()
			if stopped {
				if !errors.Is(err, process.NoProc) {
					t.Fatalf("op %d (%d) after stop: %d, %v; want NoProc", i, op, got, err)
				}
				return
			}
			if got != want || !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
				t.Fatalf("op %d (%d) on %v: %d, %v; want %d, %v", i, op, b, got, err, want, wantErr)
			}
		}

		for i := 0; i+1 < len(data) && i/2 < fuzzMaxOps; i += 2 {
			op, k := fuzzOp(data[i])%fuzzNumOps, int(int8(data[i+1]))
			switch op {
			case fuzzCallAdd:
				got, err := ref.Call(ctx, fuzzReq{Op: op, K: k})
				if !stopped {
					model += k
				}
				expect(i/2, op, got, err, model, nil)
			case fuzzCallGet, fuzzDeferGo, fuzzDeferInfo:
				got, err := ref.Call(ctx, fuzzReq{Op: op})
				expect(i/2, op, got, err, model, nil)
			case fuzzCallCheck:
				got, err := ref.Call(ctx, fuzzReq{Op: op})
				var want error
				if model%2 != 0 {
					want = errFuzzOdd
				}
				expect(i/2, op, got, err, model, want)
			case fuzzCastAdd, fuzzCastReset:
				if err := ref.Cast(fuzzCast{Reset: op == fuzzCastReset, K: k}); err != nil {
					t.Fatalf("cast: %v", err)
				}
				if !stopped {
					model += k
					if op == fuzzCastReset {
						model = 0
					}
				}
			case fuzzInfoAdd:
				if err := node.Send(ref.Pid(), fuzzInfo{K: k}); err != nil {
					t.Fatalf("send: %v", err)
				}
				if !stopped {
					model += k
				}
			case fuzzCallTimeout:
				cctx, cancel := context.WithTimeout(ctx, time.Millisecond)
				got, err := ref.Call(cctx, fuzzReq{Op: op})
				cancel()
				var ce *genserver.CallError
				if !errors.As(err, &ce) {
					t.Fatalf("op %d: timed-out call = %d, %v; want a CallError", i/2, got, err)
				}
				expect(i/2, op, 0, ce.Reason, 0, genserver.ErrTimeout)
			case fuzzYield:
				runtime.Gosched()
			case fuzzCallStop:
				got, err := ref.Call(ctx, fuzzReq{Op: op})
				expect(i/2, op, got, err, model, nil)
				if !stopped {
					stopped = true
					waitExit(errFuzzStop)
				}
			}
		}
		if !stopped {
			if err := ref.Stop(ctx, nil); err != nil {
				t.Fatalf("stop: %v", err)
			}
			waitExit(process.Normal)
		}
	})
}
