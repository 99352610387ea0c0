package genserver

import (
	"reflect"
	"sync"
)

// callPools holds a pool of spare calls per request and reply types: the
// calls that servers of those types kept for their next caller when they
// died, or that callers gave back while another call was the spare. A new
// server's first call, and a call that finds the spare taken, take one
// instead of allocating, so a server restarted again and again, or called
// by many callers at once, rarely allocates a call (the garbage collector
// empties the pools now and then).
var callPools sync.Map // reflect.Type of call[Req, Rep] → *sync.Pool

// callPool returns the pool of calls of request type Req and reply type
// Rep.
func callPool[Req, Rep any]() *sync.Pool {
	t := reflect.TypeFor[call[Req, Rep]]()
	if p, ok := callPools.Load(t); ok {
		return p.(*sync.Pool)
	}
	p, _ := callPools.LoadOrStore(t, new(sync.Pool))
	return p.(*sync.Pool)
}
