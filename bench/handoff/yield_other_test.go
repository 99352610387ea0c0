//go:build !gc

package handoff

import "runtime"

// runtimeYield is runtime.Gosched where the runtime's own yield cannot be
// named.
func runtimeYield() { runtime.Gosched() }
