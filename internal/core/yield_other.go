//go:build !gc

package core

import "runtime"

// Yield lets the goroutines waiting to run have the processor, and then
// goes on: runtime.Gosched, for compilers other than gc.
func Yield() { runtime.Gosched() }
