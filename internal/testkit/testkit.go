// Package testkit holds the few helpers that the runtime's own tests share
// and that the public test kit, package spawntest, leaves out on purpose:
// they check the runtime itself rather than code built on it.
//
//   - Linked, Monitored and SpawnTarget serve the tests of links and
//     monitors between two nodes (internal/loopback's and the cluster's),
//     which watch how a request reaches the other node's bookkeeping. A
//     program's tests see a remote link by its effects, with spawntest.
//   - NoPanic, Try and ExpectError serve the hardening and bad-input tests,
//     which check that bad input or a panicking callback never panics out
//     of the runtime, nor hangs.
//   - RunExample serves the tests of the example programs, which check the
//     lines a program prints.
//
// Everything else a test needs is in spawntest.
package testkit

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// Linked links the probe pr to r on another node, rn, and waits until rn
// has recorded the link too (a link request travels like a message).
func Linked(t testing.TB, pr *spawntest.Probe, rn *process.Node, r pid.Pid) {
	t.Helper()
	pr.Link(r)
	spawntest.Eventually(t, "the link recorded on the remote node", func() bool {
		info, err := rn.Info(r)
		return err == nil && slices.Contains(info.Links, pr.Pid())
	})
}

// Monitored waits until r's node, rn, has recorded n monitors on r.
func Monitored(t testing.TB, rn *process.Node, r pid.Pid, n int) {
	t.Helper()
	spawntest.Eventually(t, "the monitor recorded on the remote node", func() bool {
		info, err := rn.Info(r)
		return err == nil && len(info.MonitoredBy) == n
	})
}

// SpawnTarget starts a process on n, with opts, that waits until it is
// sent an error and exits with it as its reason: a target that a test on
// another node ends with a message.
func SpawnTarget(t testing.TB, n *process.Node, opts ...process.SpawnOption) pid.Pid {
	t.Helper()
	p, err := n.Spawn(func(p *process.Process) error {
		m, err := p.ReceiveMatch(p.Context(), func(m any) bool { _, ok := m.(error); return ok })
		if err != nil {
			return err
		}
		return m.(error)
	}, opts...)
	if err != nil {
		t.Fatalf("testkit: SpawnTarget: %v", err)
	}
	return p
}

// NoPanic runs f and fails the test (without stopping it) if a panic comes
// out of f; what names the call.
func NoPanic(t testing.TB, what string, f func()) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("%s panicked: %v", what, v)
		}
	}()
	f()
}

// ExpectError runs call as a subtest of t named name and fails it unless
// the call returns an error wrapping want, without a panic: one case of a
// table of bad input.
func ExpectError(t *testing.T, name string, want error, call func() error) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Helper()
		var err error
		NoPanic(t, name, func() { err = call() })
		if !errors.Is(err, want) {
			t.Errorf("%s = %v; want %v", name, err, want)
		}
	})
}

// Outcome is what came of a call that Try made.
type Outcome struct {
	Err      error // what the call returned
	Panicked any   // the value it panicked with, if it did
	Hung     bool  // it had not returned within the limit
}

// Try calls f on a goroutine of its own, turning a panic into a value, and
// waits at most limit for it to return.
func Try(f func() error, limit time.Duration) Outcome {
	ch := make(chan Outcome, 1)
	go func() {
		var o Outcome
		defer func() {
			o.Panicked = recover()
			ch <- o
		}()
		o.Err = f()
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case o := <-ch:
		return o
	case <-timer.C:
		return Outcome{Hung: true}
	}
}

// RunExample runs an example program's run function and fails the test
// unless it succeeds and its output holds each of want. It returns the
// output, for checks of its own.
func RunExample(t testing.TB, run func(w io.Writer) error, want []string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
	return got
}
