package cluster_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// BenchmarkCall is a call round trip between two nodes of this process,
// through the embedded server (W9's shape, without the second process).
func BenchmarkCall(b *testing.B) {
	a, _, bn, _ := pair(b)
	ctx := spawntest.Context(b)
	srv, err := genserver.Start(ctx, bn, echo{})
	if err != nil {
		b.Fatal(err)
	}
	ref := genserver.At[any, any, any](a, srv.Pid())
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := ref.Call(ctx, i); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCast is W10's shape at 16 bytes between two nodes of this
// process.
func BenchmarkCast(b *testing.B) {
	a, ca, bn, _ := pair(b)
	ctx := spawntest.Context(b)
	srv, err := genserver.Start(ctx, bn, echo{})
	if err != nil {
		b.Fatal(err)
	}
	ref := genserver.At[any, any, any](a, srv.Pid())
	payload := make([]byte, 16)
	b.ReportAllocs()
	for b.Loop() {
		for {
			err := ref.Cast(payload)
			if err == nil {
				break
			}
			if err := ca.WaitRoom(ctx, bn.ID()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := ref.Call(ctx, 0); err != nil {
		b.Fatal(err)
	}
}

// lookupNames is the number of names of the lookup benchmarks, as in W8
// and W12.
const lookupNames = 10_000

// BenchmarkW12WhereIs is W12's shape in one OS process: 10,000 global
// names, half of them of node a's processes and half of node b's, looked
// up on a from its cache. BenchmarkW12WhereIs/W8 is W8 (the local
// registry, 10,000 names) in the same binary, for the ratio.
func BenchmarkW12WhereIs(b *testing.B) {
	a, ca, bn, cb := pair(b)
	// 10,000 registrations outlast spawntest.Timeout on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)
	idle := func(p *process.Process) error { <-p.Context().Done(); return nil }
	keys := make([]string, lookupNames)
	for i := range keys {
		keys[i] = "g" + strconv.Itoa(i)
	}
	// Each node registers its half, both at once.
	errs := make(chan error, 2)
	for half, on := range []struct {
		node *process.Node
		c    *cluster.Cluster
	}{{a, ca}, {bn, cb}} {
		go func() {
			for i := half; i < len(keys); i += 2 {
				p, err := on.node.Spawn(idle)
				if err == nil {
					err = on.c.Names().Register(ctx, keys[i], p)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	for _, k := range keys {
		if _, ok := ca.Names().WhereIs(k); !ok {
			b.Fatalf("%s not found", k)
		}
	}
	b.Run("W12", func(b *testing.B) { lookups(b, keys, ca.Names().WhereIs) })

	local := make([]string, lookupNames)
	for i := range local {
		local[i] = "w8-" + strconv.Itoa(i)
		if _, err := a.Spawn(idle, process.WithName(local[i])); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("W8", func(b *testing.B) { lookups(b, local, registry.Of(a).WhereIs) })
}

// lookups runs W8's lookup pattern over keys with whereIs.
func lookups(b *testing.B, keys []string, whereIs func(string) (pid.Pid, bool)) {
	testkit.LookupParallel(b, keys, func(k string) bool { _, ok := whereIs(k); return ok })
}
