package genserver_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
)

// Counter is a server that adds up numbers.
type Counter struct{ n int }

// Add is a call: add N and reply with the new total.
type Add struct{ N int }

// Reset is a cast: set the count back to zero.
type Reset struct{}

func (c *Counter) HandleCall(_ *genserver.CallCtx[int], req Add) (int, error) {
	c.n += req.N
	return c.n, nil
}

func (c *Counter) HandleCast(_ *genserver.Ctx, _ Reset) { c.n = 0 }

func Example_counter() {
	ctx := context.Background()
	node := process.NewNode()
	defer node.Stop(ctx)

	counter, err := genserver.Start(ctx, node, &Counter{n: 10}, genserver.WithName("counter"))
	if err != nil {
		panic(err)
	}
	total, _ := counter.Call(ctx, Add{N: 5})
	fmt.Println("total:", total)

	counter.Cast(Reset{})
	total, _ = counter.Call(ctx, Add{N: 1}) // the cast was handled first
	fmt.Println("after reset:", total)

	byName := genserver.Named[Add, int, Reset](node, "counter")
	total, _ = byName.Call(ctx, Add{N: 1})
	fmt.Println("by name:", total)

	fmt.Println("stop:", counter.Stop(ctx, nil))
	_, err = counter.Call(ctx, Add{N: 1})
	fmt.Println("after stop:", errors.Is(err, process.NoProc))
	// Output:
	// total: 15
	// after reset: 1
	// by name: 2
	// stop: <nil>
	// after stop: true
}

// KV is a key-value store. Its calls share one request type with a field
// per kind of request; its errors go back to the caller.
type KV struct {
	data map[string]string
}

// KVReq is a call to the store: Get when Value is nil, Put otherwise.
type KVReq struct {
	Key   string
	Value *string
}

// ErrNotFound is the store's answer for a missing key.
var ErrNotFound = errors.New("not found")

// Init runs on the server's backend before any request.
func (kv *KV) Init(*genserver.Ctx) error {
	kv.data = make(map[string]string)
	return nil
}

func (kv *KV) HandleCall(_ *genserver.CallCtx[string], req KVReq) (string, error) {
	if req.Value != nil {
		old := kv.data[req.Key]
		kv.data[req.Key] = *req.Value
		return old, nil
	}
	v, ok := kv.data[req.Key]
	if !ok {
		return "", fmt.Errorf("%q: %w", req.Key, ErrNotFound)
	}
	return v, nil
}

// KV takes no casts.
func (kv *KV) HandleCast(*genserver.Ctx, genserver.Never) {}

func Example_keyValueStore() {
	ctx := context.Background()
	node := process.NewNode()
	defer node.Stop(ctx)

	kv, err := genserver.Start(ctx, node, &KV{}, genserver.WithBackend(process.Blocking))
	if err != nil {
		panic(err)
	}
	put := func(k, v string) { kv.Call(ctx, KVReq{Key: k, Value: &v}) }
	put("lang", "Go")
	v, err := kv.Call(ctx, KVReq{Key: "lang"})
	fmt.Println(v, err)
	_, err = kv.Call(ctx, KVReq{Key: "missing"})
	fmt.Println(errors.Is(err, ErrNotFound), err)
	// Output:
	// Go <nil>
	// true "missing": not found
}

// A server whose callbacks never block can take calls on the caller's
// goroutine while it is idle: the same results, without a goroutine switch.
func ExampleWithDirectCalls() {
	ctx := context.Background()
	node := process.NewNode()
	defer node.Stop(ctx)

	counter, err := genserver.Start(ctx, node, &Counter{}, genserver.WithDirectCalls())
	if err != nil {
		panic(err)
	}
	total, _ := counter.Call(ctx, Add{N: 2}) // handled on this goroutine
	fmt.Println("total:", total)

	counter.Cast(Reset{})
	total, _ = counter.Call(ctx, Add{N: 1}) // never before the cast sent first
	fmt.Println("after reset:", total)

	// WithDirectCalls needs the Async backend.
	_, err = genserver.Start(ctx, node, &Counter{}, genserver.WithDirectCalls(), genserver.WithBackend(process.Thread))
	fmt.Println("on Thread:", errors.Is(err, process.ErrInvalidBackend))
	// Output:
	// total: 2
	// after reset: 1
	// on Thread: true
}

// A bounded server refuses a cast when its mailbox is full; CastWait waits
// for room instead, within its context.
func ExampleRef_CastWait() {
	ctx := context.Background()
	node := process.NewNode()
	defer node.Stop(ctx)

	counter, err := genserver.Start(ctx, node, &Counter{}, genserver.WithMailboxLimit(1))
	if err != nil {
		panic(err)
	}
	counter.Call(ctx, Add{N: 5})
	for range 100 { // each waits while the one before is queued
		if err := counter.CastWait(ctx, Reset{}); err != nil {
			panic(err)
		}
	}
	total, _ := counter.Call(ctx, Add{N: 1}) // after every reset
	fmt.Println("total:", total)
	// Output:
	// total: 1
}
