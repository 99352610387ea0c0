// Package handoff measures the ways the Go runtime lets one goroutine hand
// the processor to another and get it back, with nothing else around them.
// They are the floor under W2 (a call and its reply): spawned's call
// yields with the runtime's own yield and a plain-Go call parks on a
// channel, and which is cheaper depends on how many processors there are.
// Run them on one processor and on two:
//
//	go test -run - -bench . -cpu 1,2 ./bench/handoff
//
// The package holds benchmarks only.
package handoff
