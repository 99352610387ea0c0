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
	if err := run(&out, 3); err != nil {
		t.Fatal(err)
	}
	for _, want := range wantLines {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

var wantLines = []string{
	"ponger (thread) got ping 1",
	"pinger (async) got pong 3",
	"ponger exited: shutdown",
}
