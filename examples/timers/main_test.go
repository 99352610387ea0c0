package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) { testkit.RunExample(t, run, wantLines) }

var wantLines = []string{
	"received: wake up",
	"cancelled while pending: true",
	"after the time it was due, the first message is the check: true",
	"tick 3",
	"cancelled: true",
	"no tick after the cancel: true",
	"the process with the timers exited: normal",
	"nothing from its timers after its exit: true",
	"heartbeat: beat 3",
	"heartbeat: stopped: normal",
	"touch 3",
	"session: idle for 200ms after 3 touches, expiring",
	"the session exited: session expired",
}
