package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) { testkit.RunExample(t, run, wantLines) }

var wantLines = []string{
	"report: attempt 1 exited: normal",
	"backup: attempt 1 exited: normal",
	"fetch: attempt 1 exited: fetch: transient failure",
	"fetch: attempt 2 exited: normal",
	"resize: attempt 2 exited: resize: transient failure",
	"resize: attempt 3 exited: normal",
	"restarts so far: 3 of 5 allowed",
	"doomed: attempt 3 exited: doomed: transient failure",
	"indexer: attempt 1 exited: shutdown",
	"restart 6 would exceed the intensity of 5: the supervisor exited: shutdown",
	"starting another job now fails with noproc: true",
	"attempts per job: indexer 1, report 1, backup 1, fetch 2, resize 3, doomed 3",
}
