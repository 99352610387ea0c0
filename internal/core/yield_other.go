//go:build !gc

package core

import "runtime"

// Yield lets the goroutines waiting to run have the processor, and then
// goes on: runtime.Gosched, for compilers other than gc.
func Yield() { runtime.Gosched() }

// processor returns 0: compilers other than gc give no processor id, so
// every worker looks to be on the caller's processor.
func processor() int { return 0 }
