package cluster_test

import (
	"testing"

	"github.com/spawned-go/spawned/genserver"
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
