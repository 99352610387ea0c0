package main

import (
	"io"
	"testing"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	testkit.RunExample(t, func(w io.Writer) error { return run(w, 50) }, wantLines)
}

var wantLines = []string{
	"lobby members: 50, groups: [lobby]",
	`"welcome" reached 50 members`,
	"lobby members: 35, lounge members: 5, groups: [lobby lounge]",
	`"still here?" reached 35 members`,
	"the lounge emptied: groups: [lobby]",
	"35 members still in the lobby, 35 live members",
}
