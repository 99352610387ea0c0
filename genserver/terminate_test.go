package genserver_test

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

func TestGS14_StopWithReplyRepliesThenTerminatesThenExits(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, reason := range []error{ftsErrStopped, process.Normal} {
			t.Run(reason.Error(), func(t *testing.T) {
				n := spawntest.NewNode(t)
				s := ftsNew(t)
				s.termBlock = true // Terminate waits for the test
				parent := spawntest.NewProbe(t, n)
				parent.Do(func(p *process.Process) error { p.TrapExit(true); return nil })
				ref := ftsStartLink(t, parent, b, s)
				exit := spawntest.WatchExit(t, n, ref.Pid())

				// Terminate cannot finish before this returns: the reply came first.
				rep, err := ref.Call(spawntest.Context(t), ftsReq{Op: ftsStopReply, Reason: reason})
				if err != nil || rep != "stopping" {
					t.Fatalf("call = %q, %v; want the reply \"stopping\"", rep, err)
				}
				ftsWantTerminate(t, s, reason)
				if exit.Exited() {
					t.Fatalf("server exited (%v) before Terminate returned", exit.Wait())
				}
				s.releaseTerminate()
				ftsWantExit(t, exit, reason)
				msg := parent.Receive()
				le, ok := msg.(link.Exit)
				if !ok || le.From != ref.Pid() || !errors.Is(le.Reason, reason) {
					t.Fatalf("parent got %#v; want link.Exit{From: %v, Reason: %v}", msg, ref.Pid(), reason)
				}
				parent.ExpectEmpty()
				ftsNoTerminate(t, s)
			})
		}
	})
}

// ftsTriggers make ftsServer stop or panic in each callback.
var ftsTriggers = []struct {
	name  string
	panic bool
	fire  func(t *testing.T, n *process.Node, ref ftsRef)
}{
	{"ctx.Stop in HandleCall", false, func(t *testing.T, _ *process.Node, ref ftsRef) {
		if rep, err := ref.Call(spawntest.Context(t), ftsReq{Op: ftsStopReply, Reason: ftsErrStopped}); err != nil || rep != "stopping" {
			t.Errorf("call = %q, %v; want the reply", rep, err)
		}
	}},
	{"ctx.Stop in HandleCast", false, func(_ *testing.T, _ *process.Node, ref ftsRef) {
		ref.Cast(ftsMsg{Op: ftsStopReply, Reason: ftsErrStopped})
	}},
	{"ctx.Stop in HandleInfo", false, func(_ *testing.T, n *process.Node, ref ftsRef) {
		n.Send(ref.Pid(), ftsInfo{Op: ftsStopReply, Reason: ftsErrStopped})
	}},
	{"panic in HandleCall", true, func(t *testing.T, _ *process.Node, ref ftsRef) {
		var pe *process.PanicError
		if _, err := ref.Call(spawntest.Context(t), ftsReq{Op: ftsPanic}); !errors.As(err, &pe) {
			t.Errorf("call error = %v; want a *process.PanicError", err)
		}
	}},
	{"panic in HandleCast", true, func(_ *testing.T, _ *process.Node, ref ftsRef) {
		ref.Cast(ftsMsg{Op: ftsPanic})
	}},
	{"panic in HandleInfo", true, func(_ *testing.T, n *process.Node, ref ftsRef) {
		n.Send(ref.Pid(), ftsInfo{Op: ftsPanic})
	}},
}

func TestGS16_TerminateRunsOnStopAndOnCallbackPanic(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, tc := range ftsTriggers {
			t.Run(tc.name, func(t *testing.T) {
				n := spawntest.NewNode(t)
				s := ftsNew(t)
				ref := ftsStart(t, n, b, s)
				exit := spawntest.WatchExit(t, n, ref.Pid())
				tc.fire(t, n, ref)
				tr := spawntest.Recv(t, s.terminated)
				r := exit.Wait()
				if tc.panic {
					var pe, exitPanic *process.PanicError
					if !errors.As(tr, &pe) || pe.Value != ftsBoom {
						t.Fatalf("Terminate reason = %v; want a *process.PanicError with %q", tr, ftsBoom)
					}
					if !errors.As(r, &exitPanic) || exitPanic.Value != ftsBoom {
						t.Fatalf("exit = %v; want a *process.PanicError with %q", r, ftsBoom)
					}
				} else {
					if !errors.Is(tr, ftsErrStopped) {
						t.Fatalf("Terminate reason = %v; want %v", tr, ftsErrStopped)
					}
					if !errors.Is(r, ftsErrStopped) {
						t.Fatalf("exit = %v; want %v", r, ftsErrStopped)
					}
				}
				ftsNoTerminate(t, s) // once only
			})
		}
	})
}

// ftsObserved returns a node whose logger records entries of level Info and up.
func ftsObserved(t *testing.T) (*process.Node, *spawntest.Logs) {
	logs := spawntest.NewLogs(zapcore.InfoLevel)
	return spawntest.NewNode(t, process.WithLogger(logs.Logger())), logs
}

func TestGS16_CrashIsReportedAndNormalStopIsNot(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, tc := range ftsTriggers {
			if !tc.panic {
				continue
			}
			t.Run(tc.name, func(t *testing.T) {
				n, logs := ftsObserved(t)
				ref := ftsStart(t, n, b, ftsNew(t))
				exit := spawntest.WatchExit(t, n, ref.Pid())
				tc.fire(t, n, ref)
				r := exit.Wait()
				var found bool
				for _, e := range logs.Filter("", zap.Stringer("pid", ref.Pid())) {
					if e.Level != zapcore.ErrorLevel {
						continue
					}
					m := e.ContextMap()
					found = true
					if m["reason"] != r.Error() {
						t.Errorf("report reason = %v; want %q", m["reason"], r.Error())
					}
					stack, _ := m["stack"].(string)
					if !strings.Contains(stack, "ftsServer") {
						t.Errorf("report stack does not show the panicking callback:\n%s", stack)
					}
				}
				if !found {
					t.Fatalf("no error entry with pid %v; logged: %v", ref.Pid(), logs.All())
				}
			})
		}

		t.Run("normal stops", func(t *testing.T) {
			n, logs := ftsObserved(t)
			ctx := spawntest.Context(t)
			stops := []func(ref ftsRef) error{
				func(ref ftsRef) error { return ref.Stop(ctx, nil) },
				func(ref ftsRef) error { return ref.Stop(ctx, process.Shutdown) },
				func(ref ftsRef) error { return ref.Stop(ctx, process.ShutdownWith(ftsErrCustom)) },
				func(ref ftsRef) error {
					_, err := ref.Call(ctx, ftsReq{Op: ftsStopReply, Reason: process.Normal})
					return err
				},
				func(ref ftsRef) error {
					_, err := ref.Call(ctx, ftsReq{Op: ftsStopNoReply, Reason: process.Normal})
					if errors.Is(err, process.Normal) {
						return nil
					}
					return err
				},
			}
			for i, stop := range stops {
				ref := ftsStart(t, n, b, ftsNew(t))
				exit := spawntest.WatchExit(t, n, ref.Pid())
				if err := stop(ref); err != nil {
					t.Fatalf("stop %d: %v", i, err)
				}
				if r := exit.Wait(); !process.IsShutdown(r) {
					t.Fatalf("stop %d: exit = %v; want a normal or shutdown exit", i, r)
				}
			}
			for _, e := range logs.All() {
				if e.Level == zapcore.ErrorLevel {
					t.Fatalf("normal stops logged errors: %v", logs.All())
				}
			}
		})
	})
}

func TestGS17_TerminateNotCalledOnKill(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		for _, trap := range []bool{true, false} {
			name := "not trapping"
			if trap {
				name = "trapping"
			}
			t.Run(name+", idle", func(t *testing.T) {
				n := spawntest.NewNode(t)
				s := ftsNew(t)
				s.trap = trap
				ref := ftsStart(t, n, b, s)
				exit := spawntest.WatchExit(t, n, ref.Pid())
				n.Exit(ref.Pid(), process.Kill)
				ftsWantExit(t, exit, process.Killed)
				ftsNoTerminate(t, s)
			})
		}

		// Killed inside HandleCall; the straggler then returns, panics or
		// calls ctx.Stop. None of this may run Terminate.
		for _, tc := range []struct {
			name string
			op   ftsOp
		}{
			{"straggler returns on its context", ftsBlockWatch},
			{"straggler returns after release", ftsBlock},
			{"straggler panics", ftsBlockPanic},
			{"straggler calls ctx.Stop", ftsBlockStop},
		} {
			t.Run("trapping, "+tc.name, func(t *testing.T) {
				n := spawntest.NewNode(t)
				s := ftsNew(t)
				s.trap = true
				ref := ftsStart(t, n, b, s)
				exit := spawntest.WatchExit(t, n, ref.Pid())
				res := ftsCallAsync(spawntest.Context(t), ref, ftsReq{Op: tc.op, Reason: ftsErrStopped})
				spawntest.Recv(t, s.entered)
				n.Exit(ref.Pid(), process.Kill)
				ftsWantExit(t, exit, process.Killed)
				ftsCallErr(t, spawntest.Recv(t, res).err, ref.Pid(), process.Killed)
				s.releaseCalls()
				// Stop waits for every goroutine of the node, the straggler too.
				if err := n.Stop(spawntest.Context(t)); err != nil {
					t.Fatalf("node stop: %v", err)
				}
				ftsNoTerminate(t, s)
			})
		}
	})
}

func TestGS18_ParentExitRunsTerminateOnlyWhenTrapping(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("trapping", func(t *testing.T) {
			n := spawntest.NewNode(t)
			s := ftsNew(t)
			s.trap = true
			parent := spawntest.NewProbe(t, n)
			ref := ftsStartLink(t, parent, b, s)
			exit := spawntest.WatchExit(t, n, ref.Pid())
			parentExit := spawntest.WatchExit(t, n, parent.Pid())
			n.Exit(parent.Pid(), process.Shutdown)
			if r := parentExit.Wait(); !errors.Is(r, process.Shutdown) {
				t.Fatalf("parent exit = %v; want Shutdown", r)
			}
			ftsWantTerminate(t, s, process.Shutdown)
			ftsWantExit(t, exit, process.Shutdown)
		})

		t.Run("not trapping, idle", func(t *testing.T) {
			n := spawntest.NewNode(t)
			s := ftsNew(t)
			parent := spawntest.NewProbe(t, n)
			ref := ftsStartLink(t, parent, b, s)
			exit := spawntest.WatchExit(t, n, ref.Pid())
			n.Exit(parent.Pid(), process.Shutdown)
			ftsWantExit(t, exit, process.Shutdown)
			ftsNoTerminate(t, s)
		})

		t.Run("not trapping, busy", func(t *testing.T) {
			n := spawntest.NewNode(t)
			s := ftsNew(t)
			parent := spawntest.NewProbe(t, n)
			ref := ftsStartLink(t, parent, b, s)
			exit := spawntest.WatchExit(t, n, ref.Pid())
			res := ftsCallAsync(spawntest.Context(t), ref, ftsReq{Op: ftsBlock})
			spawntest.Recv(t, s.entered)
			n.Exit(parent.Pid(), process.Shutdown)
			// The handler is still blocked: the server dies at once anyway.
			ftsWantExit(t, exit, process.Shutdown)
			ftsCallErr(t, spawntest.Recv(t, res).err, ref.Pid(), process.Shutdown)
			s.releaseCalls()
			if err := n.Stop(spawntest.Context(t)); err != nil {
				t.Fatalf("node stop: %v", err)
			}
			ftsNoTerminate(t, s)
		})
	})
}

func TestGS19_TrappingServerGetsOtherLinksExitsInHandleInfo(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackendNode(t, func(t *testing.T, n *process.Node, b process.Backend) {
		s := ftsNew(t)
		s.trap = true
		parent := spawntest.NewProbe(t, n)
		ref := ftsStartLink(t, parent, b, s)

		for _, reason := range []error{ftsErrBye, process.Normal} {
			q := spawntest.NewProbe(t, n)
			q.Do(func(p *process.Process) error { return link.Link(p, ref.Pid()) })
			q.Exit(reason)
			msg := spawntest.Recv(t, s.infos)
			le, ok := msg.(link.Exit)
			if !ok || le.From != q.Pid() || !errors.Is(le.Reason, reason) {
				t.Fatalf("HandleInfo got %#v; want link.Exit{From: %v, Reason: %v}", msg, q.Pid(), reason)
			}
			if !n.Alive(ref.Pid()) {
				t.Fatalf("server died of a linked process's exit (%v)", reason)
			}
			ftsPong(t, ref)
		}
		ftsNoTerminate(t, s)
		if !n.Alive(parent.Pid()) {
			t.Fatal("parent died")
		}
	})
}
