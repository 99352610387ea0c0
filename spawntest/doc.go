// Package spawntest helps test code built on spawned's processes, GenServers
// and supervisors, as net/http/httptest does for HTTP handlers.
//
// It gives each test its own node (NewNode), stopped when the test ends; a
// Probe, a process the test drives step by step and whose mailbox it reads;
// an Idle process, a target that waits to be linked to, monitored or killed;
// waits for what a test needs to see happen (an exit and its reason with
// WatchExit and WaitExit, a name taken again after a restart with
// WaitReregistered, a supervisor's child restarted with WaitChild); a fake
// Clock for supervisor intensity windows; a Gate to hold code under test at
// a point of the test's choosing; and Logs, which records crash reports for
// assertions.
//
// # Bounded waits
//
// No function of the package hangs. Every wait gives up after Timeout (10 s
// unless a test changes it) and fails the test with a message that says what
// it waited for and what it saw instead. A wait returns as soon as what it
// waits for happens, so a generous Timeout costs nothing in a passing test.
// The one wait that lasts its whole duration is Probe.ExpectNothing, whose
// point is that nothing arrives within it.
//
// # Failing the test
//
// Every function that can fail takes the testing.TB to fail (or, for a
// Probe's methods, uses the one it was created with) and calls t.Helper, so a
// failure points at the test's line. Like t.Fatal, they must be called from
// the goroutine running the test, not from a process or another goroutine.
//
// # Leaks
//
// A test that makes its nodes with NewNode leaves no goroutine of the runtime
// behind: each node is stopped, with a bounded wait, before the test ends, and
// a stop that cannot finish (a process whose code ignores its context) fails
// the test. Check the rest with go.uber.org/goleak in TestMain:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
package spawntest
