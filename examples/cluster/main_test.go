package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/internal/testkit"
	"github.com/spawned-go/spawned/spawntest"
)

// envDirector makes the test binary run the command itself, for the tests
// that signal the director.
const envDirector = "SPAWNED_DEMO_DIRECTOR"

func TestMain(m *testing.M) {
	// The demo runs its own binary again for its nodes: here, this test
	// binary.
	if name := os.Getenv(envNode); name != "" {
		os.Exit(nodeMain(name))
	}
	if os.Getenv(envDirector) != "" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	got := testkit.RunExample(t, run, wantLines)
	// Within a node's watcher, what the loss releases (the group member, the
	// name) goes before the Down and the NodeDown of the loss.
	for _, node := range survivors {
		at := 0
		for _, want := range []string{
			node + " watcher     | GroupLeft callers: the caller of node-1; members now: node-2, node-3",
			node + " watcher     | Down from greeter@node-1: noconnection",
		} {
			i := strings.Index(got[at:], want)
			if i < 0 {
				t.Errorf("after offset %d, output lacks %q:\n%s", at, want, got)
				break
			}
			at += i + len(want)
		}
	}
	// The name is free when the Down is seen, or already the new greeter's;
	// never the dead one's.
	if strings.Contains(got, "still the dead greeter") {
		t.Errorf("a watcher found the name still held by the dead greeter at its Down:\n%s", got)
	}
	// Every caller on a survivor followed the greeter to node-2, and counted
	// answers from both greeters.
	tallies := regexp.MustCompile(`(node-[23]) caller +\| (\d+) calls: (\d+) answered \((\d+) by greeter@node-1, (\d+) by greeter@node-2\), (none failed|(\d+) failed: .*)`).
		FindAllStringSubmatch(got, -1)
	if len(tallies) != 2 {
		t.Fatalf("want the tallies of the callers of node-2 and node-3:\n%s", got)
	}
	for _, m := range tallies {
		made, answered, failed := atoi(t, m[2]), atoi(t, m[3]), 0
		if m[7] != "" {
			failed = atoi(t, m[7])
		}
		if made != answered+failed || atoi(t, m[4]) == 0 || atoi(t, m[5]) == 0 {
			t.Errorf("%s's tally does not add up: %q", m[1], m[0])
		}
	}
	assertNoNodeLeft(t, got)
}

var wantLines = []string{
	// 1. the stage
	"NATS server embedded in this program at nats://127.0.0.1:",
	"node-1             | joined; reaches node-2, node-3",
	"node-2             | joined; reaches node-1, node-3",
	"node-3             | joined; reaches node-1, node-2",
	// 2. the service
	"node-2 greeter-sup | starts greeter on node-1, the first of node-1, node-2, node-3 it can reach",
	`node-1 greeter     | started; the global name "greeter" is mine: true`,
	// 3. callers and watchers
	"node-1 caller      | 20 answers from greeter@node-1",
	"node-2 caller      | 20 answers from greeter@node-1",
	"node-3 caller      | 20 answers from greeter@node-1",
	"node-2 watcher     | monitors greeter@node-1, every node, and the group callers: node-1, node-2, node-3",
	"node-3 watcher     | monitors greeter@node-1, every node, and the group callers: node-1, node-2, node-3",
	// 4. the kill
	"node-1 ended: signal: killed",
	"node-2 watcher     | NodeDown node-1: noconnection: connection closed",
	"node-3 watcher     | NodeDown node-1: noconnection: connection closed",
	"node-2 greeter-sup | greeter exited: restarts it on node-2 (node-1 unreachable)",
	`node-2 greeter     | started; the global name "greeter" is mine: true`,
	// 5. the callers follow
	"node-2 caller      | answered by greeter@node-2",
	"node-3 caller      | answered by greeter@node-2",
	"node-2 caller      | 20 answers from greeter@node-2",
	"node-3 caller      | 20 answers from greeter@node-2",
	// 6. the tally
	"lost without one: 0;",
	"calls that outlived their deadline: 0; errors of no documented kind: 0.",
	"node-2             | reaches node-3; greeter on node-2; group callers: node-2, node-3",
	"node-3             | reaches node-2; greeter on node-2; group callers: node-2, node-3",
	// 7. curtain
	"node-2 ended: exit status 0",
	"node-3 ended: exit status 0",
	"NATS server shut down",
	"nodes still running: 0",
	"The end.",
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// nodePids are the nodes' OS processes, as the story names them.
func nodePids(t *testing.T, out string) []int {
	t.Helper()
	var pids []int
	for _, m := range regexp.MustCompile(`node-\d: OS process (\d+)`).FindAllStringSubmatch(out, -1) {
		pids = append(pids, atoi(t, m[1]))
	}
	if len(pids) != len(nodeNames) {
		t.Fatalf("want the OS processes of %d nodes, found %v:\n%s", len(nodeNames), pids, out)
	}
	return pids
}

// assertNoNodeLeft checks that the nodes the story started have ended
// and been reaped.
func assertNoNodeLeft(t *testing.T, out string) {
	t.Helper()
	for _, p := range nodePids(t, out) {
		if err := syscall.Kill(p, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("node process %d is still there (kill 0: %v)", p, err)
		}
	}
}

// ended reports whether the process p has ended: gone, or a zombie that
// nobody has reaped yet (its parent, the director, is dead).
func ended(p int) bool {
	if errors.Is(syscall.Kill(p, 0), syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
	if err != nil {
		return true
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestNodesDoNotOutliveTheDirector(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	for _, tc := range []struct {
		name   string
		signal syscall.Signal
	}{
		{"interrupted: it stops its nodes", syscall.SIGINT},
		{"terminated: it stops its nodes", syscall.SIGTERM},
		{"killed: the kernel and the nodes' closed input stop them", syscall.SIGKILL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(self)
			// A director killed leaves its NATS server's store behind: in
			// the test's own directory.
			cmd.Env = append(os.Environ(), envDirector+"=1", "TMPDIR="+t.TempDir())
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			// Read the story until the callers call, then signal the
			// director.
			var out strings.Builder
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				out.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), "node-3 caller") {
					break
				}
			}
			pids := nodePids(t, out.String())
			if err := cmd.Process.Signal(tc.signal); err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, stdout) // until the director is gone
			err = cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the director exited with %v, want a failure; its stderr:\n%s", err, stderr.String())
			}
			t.Logf("the director: %v; its stderr: %s", err, stderr.String())
			for _, p := range pids {
				spawntest.Eventually(t, "node process "+strconv.Itoa(p)+" ended", func() bool { return ended(p) })
			}
		})
	}
}
