package main

import (
	"io"
	"testing"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	testkit.RunExample(t, func(w io.Writer) error { return run(w, 3) }, wantLines)
}

var wantLines = []string{
	"ponger (thread) got ping 1",
	"pinger (async) got pong 3",
	"ponger exited: shutdown",
}
