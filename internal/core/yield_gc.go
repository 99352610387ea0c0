//go:build gc

package core

import _ "unsafe" // for go:linkname

// Yield lets the goroutines waiting on the current processor run, and
// then goes on. It is the runtime's own yield for a direct hand-off (a
// sync.Mutex in starvation mode passes itself and the processor to a
// waiter with it): the caller goes to the back of this processor's run
// queue, not to the global one.
//
// runtime.Gosched, in contrast, takes the scheduler's global lock twice
// (to queue the caller and to find it again) and wakes an idle processor
// on every call, which may then take the caller or its partner to another
// core. A caller that has just handed work to a goroutine of its own
// processor, and yields so that it runs, wants neither: with Yield a call
// and its answer stay on one core (see bench/README.md, "The hand-off
// floor").
//
// The runtime keeps goyield referable by name on purpose: see its
// comment in runtime/proc.go and go.dev/issue/67401.
//
//go:linkname Yield runtime.goyield
func Yield()

// procPin pins the goroutine to its processor and returns the
// processor's id; procUnpin undoes it. The runtime keeps both referable by
// name, as goyield (see their comments in runtime/proc.go).
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// processor returns the id of the processor the caller runs on, which it
// may leave at any moment: a hint for placing work, never for correctness.
func processor() int {
	id := procPin()
	procUnpin()
	return id
}
