package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) { testkit.RunExample(t, run, wantLines) }

var wantLines = []string{
	"start order: [cache db stubborn workers]",
	"1. w2: Terminate(shutdown) ran",
	"2. w1: Terminate(shutdown) ran",
	"3. stubborn: Terminate(shutdown) started",
	"4. stubborn: killed once its 100ms were up: true",
	"5. db: Terminate(shutdown) ran",
	"6. cache: killed at once (brutal kill)",
	"w2       shutdown",
	"w1       shutdown",
	"workers  shutdown",
	"stubborn killed",
	"db       shutdown",
	"cache    killed",
	"top      shutdown",
	"the brutally killed cache ran its Terminate: false",
}
