package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun checks the facts the program prints, never its timings: the
// heartbeat's threshold is generous and the Blocking facts are bounds that
// hold on any machine.
func TestRun(t *testing.T) {
	got := testkit.RunExample(t, run, wantLines)
	if n := strings.Count(got, "the heartbeat kept ticking: true"); n != 3 {
		t.Errorf("the heartbeat kept ticking on %d backends of 3:\n%s", n, got)
	}
}

var wantLines = []string{
	"async:\n",
	"blocking:\n",
	"thread:\n",
	"at most 2 at once, the pool bound: true",
	"the calls queued for a slot and took at least 3 x 100ms: true",
	"What to pick:",
}
