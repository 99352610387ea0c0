package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range wantLines {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

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
