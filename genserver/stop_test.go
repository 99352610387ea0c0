package genserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

func TestGS20_StopRunsTerminateAndFailsOnDeadOrSlowServer(t *testing.T) {
	t.Parallel()
	spawntest.ForEachBackend(t, func(t *testing.T, b process.Backend) {
		t.Run("stop with nil reason", func(t *testing.T) {
			n := spawntest.NewNode(t)
			s := ftsNew(t)
			ref := ftsStart(t, n, b, s)
			exit := spawntest.WatchExit(t, n, ref.Pid())
			if err := ref.Stop(spawntest.Context(t), nil); err != nil {
				t.Fatalf("stop = %v; want nil", err)
			}
			if n.Alive(ref.Pid()) {
				t.Error("server alive after Stop returned")
			}
			ftsWantTerminate(t, s, process.Normal)
			ftsWantExit(t, exit, process.Normal)
		})

		t.Run("stop without deadline", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ref := ftsStart(t, n, b, ftsNew(t))
			start := time.Now()
			if err := ref.Stop(context.Background(), nil); err != nil {
				t.Fatalf("stop = %v; want nil", err)
			}
			if d := time.Since(start); d >= genserver.DefaultCallTimeout/2 {
				t.Errorf("stop took %v; want it prompt", d)
			}
		})

		for _, reason := range []error{ftsErrCustom, process.Shutdown, process.ShutdownWith(ftsErrCustom)} {
			t.Run("stop with "+reason.Error(), func(t *testing.T) {
				n := spawntest.NewNode(t)
				s := ftsNew(t)
				ref := ftsStart(t, n, b, s)
				exit := spawntest.WatchExit(t, n, ref.Pid())
				if err := ref.Stop(spawntest.Context(t), reason); err != nil {
					t.Fatalf("stop = %v; want nil", err)
				}
				ftsWantTerminate(t, s, reason)
				ftsWantExit(t, exit, reason)
			})
		}

		t.Run("stop by name releases the name", func(t *testing.T) {
			n := spawntest.NewNode(t)
			s := ftsNew(t)
			ftsStart(t, n, b, s, genserver.WithName("gs20"))
			byName := genserver.Named[ftsReq, string, ftsMsg](n, "gs20")
			if err := byName.Stop(spawntest.Context(t), nil); err != nil {
				t.Fatalf("stop = %v; want nil", err)
			}
			if p, ok := registry.Of(n).WhereIs("gs20"); ok {
				t.Errorf("name still registered to %v after Stop", p)
			}
			ftsWantTerminate(t, s, process.Normal)
		})

		t.Run("stop a dead server", func(t *testing.T) {
			n := spawntest.NewNode(t)
			s := ftsNew(t)
			ref := ftsStart(t, n, b, s)
			if err := ref.Stop(spawntest.Context(t), nil); err != nil {
				t.Fatalf("first stop = %v; want nil", err)
			}
			spawntest.Recv(t, s.terminated)
			ftsCallErr(t, ref.Stop(spawntest.Context(t), nil), ref.Pid(), process.NoProc)
			ftsNoTerminate(t, s)

			killed := ftsStart(t, n, b, ftsNew(t))
			n.Exit(killed.Pid(), process.Kill)
			ftsCallErr(t, killed.Stop(spawntest.Context(t), nil), killed.Pid(), process.NoProc)
		})

		t.Run("stop an unregistered name", func(t *testing.T) {
			n := spawntest.NewNode(t)
			ref := genserver.Named[ftsReq, string, ftsMsg](n, "gs20-nobody")
			ce := ftsCallErr(t, ref.Stop(spawntest.Context(t), nil), pid.Pid{}, process.NoProc)
			if ce.Name != "gs20-nobody" {
				t.Errorf("CallError.Name = %q; want gs20-nobody", ce.Name)
			}
		})

		t.Run("terminate slower than the deadline", func(t *testing.T) {
			n := spawntest.NewNode(t)
			s := ftsNew(t)
			s.termBlock = true
			ref := ftsStart(t, n, b, s)
			exit := spawntest.WatchExit(t, n, ref.Pid())
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			ftsCallErr(t, ref.Stop(ctx, ftsErrCustom), ref.Pid(), genserver.ErrTimeout)
			ftsWantTerminate(t, s, ftsErrCustom)
			if exit.Exited() {
				t.Fatalf("server exited (%v) while Terminate was blocked", exit.Wait())
			}
			s.releaseTerminate() // the stop goes on after the timeout
			ftsWantExit(t, exit, ftsErrCustom)
		})
	})
}
