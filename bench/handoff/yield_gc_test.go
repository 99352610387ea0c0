//go:build gc

package handoff

import _ "unsafe" // for go:linkname

// runtimeYield is the runtime's own yield, as spawned's calls use it (see
// internal/core.Yield): the caller goes to the back of its processor's run
// queue.
//
//go:linkname runtimeYield runtime.goyield
func runtimeYield()
