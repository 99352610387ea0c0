// Package reliability holds the runtime's reliability suites: seeded tests
// that put the runtime under load while processes crash, are killed and are
// restarted, and check the guarantees that must hold throughout (a call
// always returns, with a reply or a documented error; a name never points to
// a dead process; links, monitors and names are race-free; supervision trees
// heal; a stopped node leaves no process and no goroutine behind).
//
// The directory holds tests only. Each suite has a quick mode, the default,
// sized for CI (the whole directory runs well under a minute with
// go test -race), and a long mode for local runs, enabled with SPAWNED_LONG=1.
// Every suite logs its seed; SPAWNED_SEED=<seed> replays it. Each suite also
// logs one line starting with "FIGURES <suite>:" with what it did and found
// (operations, processes killed, calls and their outcomes by kind, leaks), to
// be copied into docs/RELIABILITY.md:
//
//	go test -race -v ./internal/reliability/ | grep FIGURES
//	SPAWNED_LONG=1 go test -race -v -timeout 30m ./internal/reliability/ | grep FIGURES
package reliability
