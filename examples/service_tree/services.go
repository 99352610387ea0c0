package main

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/process"
)

// The services of the tree. Each is a GenServer that traps exits in Init,
// so that a supervisor's shutdown signal becomes a call to Terminate (a
// server that does not trap exits just dies of it), and each says in
// Terminate that it stops and why.

// Typed references by name: they look the name up at every use, so they
// follow a service across restarts.
func dbRef(node *process.Node) genserver.Ref[DBOp, string, genserver.Never] {
	return genserver.Named[DBOp, string, genserver.Never](node, "db")
}

func cacheRef(node *process.Node) genserver.Ref[Lookup, Entry, genserver.Never] {
	return genserver.Named[Lookup, Entry, genserver.Never](node, "cache")
}

func metricsRef(node *process.Node) genserver.Ref[Snapshot, map[string]int, Event] {
	return genserver.Named[Snapshot, map[string]int, Event](node, "metrics")
}

func jobRef(node *process.Node, name string) genserver.Ref[Work, string, genserver.Never] {
	return genserver.Named[Work, string, genserver.Never](node, name)
}

// tell casts an event to metrics. A cast never fails: with metrics down,
// the event is dropped, as in OTP.
func tell(node *process.Node, e Event) { metricsRef(node).Cast(e) }

// stopped is every service's Terminate: it says so, and reports a crash to
// metrics.
func stopped(ctx *genserver.Ctx, j *journal, name string, reason error) {
	j.say(name, "Terminate: %v", reason)
	if !process.IsShutdown(reason) {
		tell(ctx.Node(), Event("crash."+name))
	}
}

// ---- db -------------------------------------------------------------------

// disk stands for the database's files: it outlives any one db process, so a
// restarted db finds its rows again.
type disk struct {
	mu   sync.Mutex
	rows map[string]string
}

func (d *disk) load() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.rows)
}

func (d *disk) write(key, value string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rows[key] = value
}

// DB is the key-value store of the storage subtree. It runs on the Thread
// backend, standing for a driver with thread-local state (a cgo library, for
// instance): every one of its callbacks runs on the one OS thread it owns.
type DB struct {
	genserver.NoCasts
	j    *journal
	disk *disk
	rows map[string]string
}

// DBOp is a call to the db. Each kind of request is a type that applies
// itself, so one request type carries several kinds.
type DBOp interface {
	apply(db *DB) (string, error)
}

// Get reads a key.
type Get struct{ Key string }

// Put writes a key.
type Put struct{ Key, Value string }

// Corrupt is an injected fault: the driver panics.
type Corrupt struct{}

var errNotFound = errors.New("not found")

func (g Get) apply(db *DB) (string, error) {
	v, ok := db.rows[g.Key]
	if !ok {
		return "", fmt.Errorf("%q: %w", g.Key, errNotFound)
	}
	return v, nil
}

func (p Put) apply(db *DB) (string, error) {
	db.rows[p.Key] = p.Value
	db.disk.write(p.Key, p.Value)
	return p.Value, nil
}

func (Corrupt) apply(*DB) (string, error) { panic("corrupted page") }

// Init opens the database, on the db's own thread.
func (db *DB) Init(ctx *genserver.Ctx) error {
	ctx.Process().TrapExit(true)
	db.rows = db.disk.load()
	db.j.started(ctx, "db")
	return nil
}

func (db *DB) HandleCall(_ *genserver.CallCtx[string], op DBOp) (string, error) {
	return op.apply(db)
}

func (db *DB) Terminate(ctx *genserver.Ctx, reason error) { stopped(ctx, db.j, "db", reason) }

// ---- cache ----------------------------------------------------------------

// Cache reads through to the db and keeps what it read. What it holds came
// from one db process: that is why storage is rest_for_one, with the cache
// after the db, so that a db restart restarts the cache too.
type Cache struct {
	genserver.NoCasts
	j       *journal
	entries map[string]string
}

// Lookup asks the cache for a key.
type Lookup struct{ Key string }

// Entry is the cache's answer: the value, and whether the cache had it.
type Entry struct {
	Value string
	Hit   bool
}

func (e Entry) String() string {
	if e.Hit {
		return e.Value + " (hit)"
	}
	return e.Value + " (miss, read from db)"
}

func (c *Cache) Init(ctx *genserver.Ctx) error {
	ctx.Process().TrapExit(true)
	c.entries = make(map[string]string)
	c.j.started(ctx, "cache")
	return nil
}

func (c *Cache) HandleCall(ctx *genserver.CallCtx[Entry], l Lookup) (Entry, error) {
	if v, ok := c.entries[l.Key]; ok {
		tell(ctx.Node(), "cache.hit")
		return Entry{Value: v, Hit: true}, nil
	}
	// A server calls another with its own context: a call to itself would
	// fail at once instead of waiting for a timeout.
	v, err := dbRef(ctx.Node()).Call(ctx.Context(), Get{Key: l.Key})
	if err != nil {
		return Entry{}, err
	}
	c.entries[l.Key] = v
	tell(ctx.Node(), "cache.miss")
	return Entry{Value: v}, nil
}

func (c *Cache) Terminate(ctx *genserver.Ctx, reason error) { stopped(ctx, c.j, "cache", reason) }

// ---- jobs -----------------------------------------------------------------

// Job is a worker's start argument: what it works on.
type Job struct {
	ID   int
	Task string
}

// Name is the name the worker is registered under.
func (j Job) Name() string { return fmt.Sprintf("job-%d", j.ID) }

// Worker does batches of its job. It runs on the Blocking backend: its work
// blocks an OS thread, and the Blocking pool bounds how many such handlers
// run at once.
type Worker struct {
	genserver.NoCasts
	j       *journal
	job     Job
	batches int
}

// Work asks for one batch. Crash is an injected fault: the worker panics
// halfway. Last makes the worker stop normally once it has replied.
type Work struct{ Crash, Last bool }

func (w *Worker) Init(ctx *genserver.Ctx) error {
	ctx.Process().TrapExit(true)
	w.j.started(ctx, w.job.Name())
	return nil
}

func (w *Worker) HandleCall(ctx *genserver.CallCtx[string], req Work) (string, error) {
	time.Sleep(time.Millisecond) // stands for a blocking syscall or cgo call
	if req.Crash {
		panic("disk full")
	}
	w.batches++
	tell(ctx.Node(), "job.done")
	if req.Last {
		ctx.Stop(process.Normal) // after the reply is sent
	}
	return fmt.Sprintf("%s, batch %d done", w.job.Task, w.batches), nil
}

func (w *Worker) Terminate(ctx *genserver.Ctx, reason error) {
	stopped(ctx, w.j, w.job.Name(), reason)
}

// ---- metrics --------------------------------------------------------------

// Metrics counts the events the other services cast to it.
type Metrics struct {
	j      *journal
	counts map[string]int
}

// Event is a cast to metrics: one more of that kind.
type Event string

// Snapshot asks metrics for its counts.
type Snapshot struct{}

func (m *Metrics) Init(ctx *genserver.Ctx) error {
	ctx.Process().TrapExit(true)
	m.counts = make(map[string]int)
	m.j.started(ctx, "metrics")
	return nil
}

func (m *Metrics) HandleCast(_ *genserver.Ctx, e Event) { m.counts[string(e)]++ }

func (m *Metrics) HandleCall(*genserver.CallCtx[map[string]int], Snapshot) (map[string]int, error) {
	return maps.Clone(m.counts), nil
}

func (m *Metrics) Terminate(ctx *genserver.Ctx, reason error) { stopped(ctx, m.j, "metrics", reason) }
