//go:build race

package core

// raceOn reports whether the race detector is on: sync.Pool then drops
// what it is given at random, so allocation counts mean nothing.
const raceOn = true
