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
