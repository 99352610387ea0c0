package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) { testkit.RunExample(t, run, wantLines) }

var wantLines = []string{
	`got Exit from the child: reason "boom"`,
	`worker 3 died: "boom"`,
	`Down for the quiet process: "normal"`,
	`monitoring it again now that it is dead: "noproc"`,
	`after its Down arrived, "worker" is registered: false`,
	`the victim trapped exits but died anyway: "killed"`,
	`a process that exits with Kill itself reports: "kill"`,
	"The end.",
}
