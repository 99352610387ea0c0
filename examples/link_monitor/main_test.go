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
	`got Exit from the child: reason "boom"`,
	`worker 3 died: "boom"`,
	`Down for the quiet process: "normal"`,
	`monitoring it again now that it is dead: "noproc"`,
	`after its Down arrived, "worker" is registered: false`,
	`the victim trapped exits but died anyway: "killed"`,
	`a process that exits with Kill itself reports: "kill"`,
	"The end.",
}
