package spawntest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// In the Examples, inTest(func(t testing.TB) { ... }) stands for a test
// function: in your tests, the body is the test and t its *testing.T.

// Counter is the server under test in these examples: calls add N and
// return the total; "crash" panics.
type Counter struct {
	genserver.NoCasts
	n int
}

func (c *Counter) HandleCall(_ *genserver.CallCtx[int], req string) (int, error) {
	switch req {
	case "add":
		c.n++
	case "crash":
		panic("asked to crash")
	}
	return c.n, nil
}

func ExampleNewNode() {
	inTest(func(t testing.TB) {
		node := spawntest.NewNode(t) // stopped when the test ends
		ctx := spawntest.Context(t)  // done after spawntest.Timeout at the latest

		ref, err := genserver.Start(ctx, node, &Counter{})
		if err != nil {
			t.Fatal(err)
		}
		ref.Call(ctx, "add")
		n, err := ref.Call(ctx, "add")
		fmt.Println(n, err)
	})
	// Output: 2 <nil>
}

func ExampleNewProbe() {
	inTest(func(t testing.TB) {
		node := spawntest.NewNode(t)
		ctx := spawntest.Context(t)
		ref, err := genserver.Start(ctx, node, &Counter{})
		if err != nil {
			t.Fatal(err)
		}

		// The probe stands for a client process that is linked to the
		// server and traps exits.
		client := spawntest.NewProbe(t, node)
		client.TrapExit(true)
		client.Link(ref.Pid())

		ref.Call(ctx, "crash")
		exit := client.ExpectExit(ref.Pid())
		var pe *process.PanicError
		fmt.Println("server crashed with a panic:", errors.As(exit.Reason, &pe))
		client.ExpectEmpty() // nothing else arrived
	})
	// Output: server crashed with a panic: true
}

func ExampleExpect() {
	inTest(func(t testing.TB) {
		node := spawntest.NewNode(t)
		watcher := spawntest.NewProbe(t, node)
		worker := spawntest.NewProbe(t, node)
		ref := watcher.Monitor(worker.Pid())

		worker.Send(watcher.Pid(), "last words")
		worker.Exit(errors.New("done for"))

		// A selective receive by type: the string stays queued.
		down := spawntest.Expect[link.Down](t, watcher)
		fmt.Println(down.Ref == ref, down.Reason)
		fmt.Println(spawntest.Expect[string](t, watcher))
	})
	// Output:
	// true done for
	// last words
}

func ExampleProbe_ExpectNothing() {
	inTest(func(t testing.TB) {
		node := spawntest.NewNode(t)
		pr := spawntest.NewProbe(t, node)
		pr.Do(func(p *process.Process) error {
			ref, err := p.SendAfter(p.Self(), "tick", 10*time.Millisecond)
			if err != nil {
				return err
			}
			p.CancelTimer(ref)
			return nil
		})
		// A cancelled timer never delivers. Waiting is the behaviour under
		// test: a bit longer than the timer's delay.
		pr.ExpectNothing(50 * time.Millisecond)
		fmt.Println("no tick")
	})
	// Output: no tick
}

func ExampleWatchExit() {
	inTest(func(t testing.TB) {
		node := spawntest.NewNode(t)
		ctx := spawntest.Context(t)
		ref, err := genserver.Start(ctx, node, &Counter{})
		if err != nil {
			t.Fatal(err)
		}
		exit := spawntest.WatchExit(t, node, ref.Pid()) // before causing the exit

		ref.Call(ctx, "crash")
		var pe *process.PanicError
		if errors.As(exit.Wait(), &pe) {
			fmt.Println("exited with a panic:", pe.Value)
		}
	})
	// Output: exited with a panic: asked to crash
}

func ExampleExitWatch_Done() {
	inTest(func(t testing.TB) {
		node := spawntest.NewNode(t)
		worker := spawntest.NewProbe(t, node)
		exit := spawntest.WatchExit(t, node, worker.Pid())
		results := make(chan string, 1)
		worker.Do(func(p *process.Process) error {
			return errors.New("crashed") // before it could send a result
		})

		// Whichever comes first: a result or the exit.
		select {
		case r := <-results:
			fmt.Println("result:", r)
		case <-exit.Done():
			fmt.Println("exited before a result:", exit.Wait())
		}
	})
	// Output: exited before a result: crashed
}

func ExampleWaitReregistered() {
	inTest(func(t testing.TB) {
		node := spawntest.NewNode(t)
		ctx := spawntest.Context(t)
		_, err := supervisor.Start(ctx, node, supervisor.Spec{
			Children: []supervisor.ChildSpec{{ID: "counter", Start: supervisor.GenServer(
				func() *Counter { return &Counter{} }, genserver.WithName("counter"))}},
		})
		if err != nil {
			t.Fatal(err)
		}
		counter := genserver.Named[string, int, genserver.Never](node, "counter")
		counter.Call(ctx, "add")

		old := spawntest.WaitName(t, node, "counter")
		counter.Call(ctx, "crash")
		restarted := spawntest.WaitReregistered(t, node, "counter", old)

		n, err := counter.Call(ctx, "add")
		fmt.Println(restarted != old, n, err) // a fresh server: its count starts again
	})
	// Output: true 1 <nil>
}

func ExampleWaitChild() {
	inTest(func(t testing.TB) {
		node := spawntest.NewNode(t)
		sup, err := supervisor.Start(spawntest.Context(t), node, supervisor.Spec{
			Children: []supervisor.ChildSpec{{ID: "worker", Start: supervisor.Func(spawntest.ProbeLoop)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		first := spawntest.WaitChild(t, sup, "worker", pid.Pid{})
		spawntest.ExitAndWait(t, node, first, errors.New("crash"))

		second := spawntest.WaitChild(t, sup, "worker", first)
		fmt.Println(second != first, node.Alive(second))
	})
	// Output: true true
}

func ExampleClock() {
	inTest(func(t testing.TB) {
		node := spawntest.NewNode(t)
		clock := spawntest.NewClock(time.Time{})
		sup, err := supervisor.Start(spawntest.Context(t), node, supervisor.Spec{
			Intensity: 1, Period: 5 * time.Second, Clock: clock.Now,
			Children: []supervisor.ChildSpec{{ID: "w", Start: supervisor.Func(spawntest.ProbeLoop)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		crash := func(old pid.Pid) pid.Pid {
			spawntest.ExitAndWait(t, node, old, errors.New("crash"))
			return spawntest.WaitChild(t, sup, "w", old)
		}
		w := crash(spawntest.WaitChild(t, sup, "w", pid.Pid{})) // restart 1 of 1 in the window

		clock.Advance(6 * time.Second) // the first restart leaves the 5 s window
		w = crash(w)

		// A second restart within the window is one too many.
		supExit := spawntest.WatchExit(t, node, sup.Pid())
		node.Exit(w, errors.New("crash"))
		fmt.Println("supervisor:", supExit.Wait())
	})
	// Output: supervisor: shutdown
}

func ExampleLogs() {
	inTest(func(t testing.TB) {
		logs := spawntest.NewLogs(zapcore.InfoLevel)
		node := spawntest.NewNode(t, process.WithLogger(logs.Logger()))
		ctx := spawntest.Context(t)
		ref, err := genserver.Start(ctx, node, &Counter{})
		if err != nil {
			t.Fatal(err)
		}
		exit := spawntest.WatchExit(t, node, ref.Pid())
		ref.Call(ctx, "crash")
		exit.Wait()

		report := logs.Expect(t, "genserver terminated", zap.Stringer("pid", ref.Pid()))
		fmt.Println(report.Level, report.ContextMap()["reason"])
	})
	// Output: error panic: asked to crash
}

// Slow is a server whose Init waits at a gate.
type Slow struct {
	genserver.NoCalls
	genserver.NoCasts
	gate *spawntest.Gate
}

func (s *Slow) Init(ctx *genserver.Ctx) error { return s.gate.Wait(ctx.Context()) }

func ExampleGate() {
	inTest(func(t testing.TB) {
		node := spawntest.NewNode(t)
		gate := spawntest.NewGate(t)
		started := make(chan error, 1)
		go func() {
			_, err := genserver.Start(context.Background(), node, &Slow{gate: gate})
			started <- err
		}()

		gate.WaitReached() // Init is running and held
		fmt.Println("Init reached the gate")
		gate.Open()
		fmt.Println("started:", spawntest.Recv(t, started))
	})
	// Output:
	// Init reached the gate
	// started: <nil>
}

func ExampleSpawnIdle() {
	inTest(func(t testing.TB) {
		node := spawntest.NewNode(t)
		target := spawntest.SpawnIdle(t, node, process.WithName("target"))
		watcher := spawntest.NewProbe(t, node)
		ref := watcher.Monitor(target)

		spawntest.ExitAndWait(t, node, target, process.Kill)
		fmt.Println(watcher.ExpectDown(ref).Reason)
	})
	// Output: killed
}

func ExampleInfo() {
	inTest(func(t testing.TB) {
		node := spawntest.NewNode(t)
		watcher := spawntest.NewProbe(t, node)
		target := spawntest.SpawnIdle(t, node)
		watcher.Monitor(target)

		info := spawntest.Info(t, node, target) // fails the test if target is dead
		fmt.Println(info.MonitoredBy[0] == watcher.Pid(), info.MessageQueueLen)
	})
	// Output: true 0
}
