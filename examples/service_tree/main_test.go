package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	got := testkit.RunExample(t, run, wantLines)
	// Some lines must come in a fixed order: a crash and what it sets off,
	// and the shutdown in reverse start order.
	for _, seq := range wantInOrder {
		at := 0
		for _, want := range seq {
			i := strings.Index(got[at:], want)
			if i < 0 {
				t.Errorf("after offset %d, output lacks %q (want the order %q):\n%s", at, want, seq, got)
				break
			}
			at += i + len(want)
		}
	}
}

var wantLines = []string{
	// 1. the tree starts
	"started, in order: db (thread), cache (async), metrics (async)",
	"each with its own Job: job-1 (blocking), job-2 (blocking)",
	"cache lookups: ada (miss, read from db), then ada (hit)",
	"job-1: resize photos, batch 1 done",
	"job-2: send newsletters, batch 1 done",
	// 2. transient jobs, a link
	"job-1   | Terminate: normal",
	`job-1 replied "resize photos, batch 2 done" and exited "normal"`,
	"job-2   | Terminate: panic: disk full",
	"auditor | link.Exit from job-2: panic: disk full",
	`a *process.PanicError, value "disk full"`,
	"jobs restarted: job-2 (blocking); job-2 same pid: false",
	"jobs has 1 active child",
	`job-2 called by name right after its restart: "send newsletters, batch 1 done"`,
	// 3. the db crashes: rest_for_one, a monitor
	"db      | Terminate: panic: corrupted page",
	"cache   | Terminate: shutdown",
	"watcher | Down from cache: shutdown",
	`the db call failed with the crash, value "corrupted page"`,
	"restarted, in order: db (thread), cache (async)",
	"storage same pid: true, db same pid: false, cache same pid: false, metrics same pid: true",
	"cache lookup by name right after the restart: ada (miss, read from db); the new db reopened its data",
	// 4. kill vs killed
	"watcher | Down from cache: killed",
	`sent "kill", seen "killed"`,
	"restarted: cache (async)",
	"db same pid: true, cache same pid: false",
	// 5. nothing escalated
	"storage same pid: true, jobs same pid: true, metrics same pid: true",
	"cache.hit=1 cache.miss=3 crash.db=1 crash.job-2=1 job.done=4",
	// 6. shutdown
	"top has stopped",
	"processes left on the node: 0",
	"The end.",
}

var wantInOrder = [][]string{
	{
		"3. The db crashes",
		"db      | Terminate: panic: corrupted page",
		"cache   | Terminate: shutdown",
		"watcher | Down from cache: shutdown",
		"restarted, in order: db (thread), cache (async)",
	},
	{
		"6. Stop top",
		"metrics | Terminate: shutdown",
		"job-2   | Terminate: shutdown",
		"cache   | Terminate: shutdown",
		"db      | Terminate: shutdown",
		"top has stopped",
	},
}
