package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) { testkit.RunExample(t, run, wantLines) }

var wantLines = []string{
	`register "logger": <nil>`,
	`whereis "logger" finds the first process: true`,
	`a second name for it: register "audit": process already has a registered name: "logger"`,
	`whereis "logger" after unregister: false; the process is still alive: true`,
	`unregister again: unregister "logger": name not registered`,
	`ErrNameTaken: true`,
	`the error names the owner: the first process: true (the owner is registered as "logger")`,
	`first got hello by name`,
	`send to "nobody": name not registered (ErrNotRegistered: true)`,
	`send to its dead Pid: <nil>`,
	`killed the owner of "logger", registered the name again at once: <nil>`,
	`the owner's Down: killed`,
	`"logger" is the replacement: true`,
	`replacement got hello again`,
	`a monitoring process got Down "disk full" and finds "logger" registered: false`,
	`registered names at the end: []`,
}
