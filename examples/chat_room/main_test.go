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
	if err := run(&out, 50); err != nil {
		t.Fatal(err)
	}
	for _, want := range wantLines {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

var wantLines = []string{
	"lobby members: 50, groups: [lobby]",
	`"welcome" reached 50 members`,
	"lobby members: 35, lounge members: 5, groups: [lobby lounge]",
	`"still here?" reached 35 members`,
	"the lounge emptied: groups: [lobby]",
	"35 members still in the lobby, 35 live members",
}
