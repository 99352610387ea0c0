package core

import (
	"sync"
	"sync/atomic"
	"time"
)

// maxIdleWorkers bounds the goroutines a node keeps parked for activations.
const maxIdleWorkers = 128

// handoffPatience is how long a process handed to a busy worker may wait
// before the watchdog gives it to another worker: about one to two ticks.
const handoffPatience = 50 * time.Microsecond

// workers runs the activations of Async and Blocking handler processes. A
// process with new messages is handed to a parked worker goroutine when
// there is one, and to a new goroutine otherwise, which parks once done
// (up to maxIdleWorkers) instead of exiting. A worker never waits for a free
// worker, so an activation that blocks cannot starve the others.
//
// A process woken by a handler process that has nothing else queued is not
// handed to another goroutine: it waits in the waking worker's runnext slot
// and runs on the same goroutine as soon as the current activation ends, so
// a message passed from process to process costs no goroutine switch. A
// watchdog moves it to another worker if the current activation is still
// running after handoffPatience (a handler that blocks after sending), so
// a hand-off delays a process by at most that much and never strands it.
//
// A worker whose activation has ended yields its processor before it parks,
// and then spins, yielding, for up to the node's idle spin (see await). A
// process scheduled meanwhile (by a caller that posts a request and yields,
// the sender of an exit signal) is handed to it through an atomic slot: no
// channel, no goroutine to wake, and no idle processor woken to look for
// work.
type workers struct {
	mu      sync.Mutex
	idle    []*worker
	stopped bool
	spin    spinners

	watchMu  sync.Mutex
	watched  []*worker // workers whose runnext may hold a process
	watching bool      // the watchdog goroutine is running
}

type worker struct {
	next     chan *Proc
	handed   atomic.Pointer[Proc] // given while the worker yields before parking: see give
	state    atomic.Uint32        // workerBusy, workerYielding or workerParked
	yieldsOn atomic.Int32         // the processor it yielded on before parking (a hint)
	givenOn  atomic.Int32         // the processor its activation was scheduled from (a hint)
	runnext  atomic.Pointer[Proc] // runs on this worker after the current activation
	handoffs atomic.Uint64        // counts hand-offs into runnext
	listed   atomic.Bool          // in workers.watched
	seen     uint64               // handoffs at the watchdog's last look; watchdog only
}

// The states of an idle worker: it runs activations, yields (and spins)
// before parking, or is parked on its channel.
const (
	workerBusy uint32 = iota
	workerYielding
	workerParked
)

// give hands p (nil: stop) to w, just taken off the idle list: through
// the handed slot while w yields before parking, which it then finds, or
// through its channel once it is parked.
func (w *worker) give(p *Proc) {
	w.handed.Store(p)
	if w.state.CompareAndSwap(workerYielding, workerBusy) {
		return
	}
	w.handed.Store(nil)
	w.next <- p
}

// await waits, on the idle list, for the next process to run (nil: stop).
// It yields its processor first, with yield (Yield; tests hand the
// worker a process in it): whoever runs in between may schedule a process,
// and handing it over then costs an atomic store, where a parked worker
// costs a channel send, a goroutine switch and often an idle processor
// woken. If nothing came, it spins for up to spin's time, yielding in a
// loop, when spin lets it (see spinners.claim), and parks after that.
func (w *worker) await(yield func(), spin *spinners) *Proc {
	here := processor()
	w.yieldsOn.Store(int32(here))
	yield()
	if w.state.Load() == workerYielding && spin.claim(w, here, processor()) {
		start := time.Now()
		for w.state.Load() == workerYielding && time.Since(start) < spin.d {
			w.yieldsOn.Store(int32(processor()))
			yield()
		}
		spin.release(here)
	}
	if w.state.CompareAndSwap(workerYielding, workerParked) {
		return <-w.next
	}
	return w.handed.Swap(nil) // give stored it before claiming the worker
}

// DefaultIdleSpin is how long an idle worker spins, by default, before it
// parks.
const DefaultIdleSpin = 50 * time.Microsecond

// spinners lets an idle worker spin before it parks, at most one per
// processor. Waking a parked worker makes the Go scheduler wake an idle
// processor's thread to look for work, when there is one: a system call
// that, on a virtual machine whose other vCPU has gone idle, cost the waker
// 5–15 µs, and the thread woken then often takes the caller or the woken
// process to the other core. A worker that spins keeps its processor busy,
// so the next activation reaches it through its slot and the scheduler
// finds no idle processor to wake. This is the Go scheduler's own trade (a
// thread spins a while before it sleeps) and the BEAM's (its schedulers
// busy-wait before they sleep, +sbwt).
type spinners struct {
	d     time.Duration // how long a worker spins; 0: not at all
	procs []atomic.Bool // procs[i]: a worker spins on processor i
}

// init sets the spin, for procs processors (GOMAXPROCS when the node
// starts). A node started with one processor never spins: there
// is no idle processor to keep the scheduler from waking, and a spinning
// thread would keep its core from the other programs that share it (three
// processes pinned to one core took twice as long for a call between two
// nodes through a NATS server, W9 pinned, when one spun).
func (s *spinners) init(d time.Duration, procs int) {
	if procs < 2 {
		d = 0
	}
	s.d = d
	s.procs = make([]atomic.Bool, procs)
}

// claim reports whether w, which yielded on processor here and runs on now,
// may spin, and if so reserves here for it until release. It may if
// spinning is on, w is still on the processor it yielded on, that is the
// processor its activation was scheduled from, and no other worker spins
// there. A worker that another processor took while it was queued (an idle
// processor looking for work) does not spin: it would only keep that
// processor busy, away from the goroutines that feed it, and the next
// activation, scheduled from their processor, would pass it over (see take).
// Processors added by raising GOMAXPROCS after the node started never spin.
func (s *spinners) claim(w *worker, here, now int) bool {
	return s != nil && s.d > 0 && here == now && here == int(w.givenOn.Load()) &&
		here < len(s.procs) && s.procs[here].CompareAndSwap(false, true)
}

func (s *spinners) release(here int) { s.procs[here].Store(false) }

// schedule runs an activation of p. reserved says the caller already added
// a goroutine to n.goroutines for it.
func (n *Node) schedule(p *Proc, reserved bool) {
	here := processor()
	n.workers.mu.Lock()
	w := n.workers.take(here)
	n.workers.mu.Unlock()
	if w != nil {
		w.givenOn.Store(int32(here))
		w.give(p)
		if reserved {
			n.goroutineDone()
		}
		return
	}
	if !reserved && !n.addGoroutine() {
		return // stopped: p is being killed, and Stop waits for no more
	}
	go n.work(p, here)
}

// handOff puts p, just made runnable by from's activation, in the runnext
// slot of the worker running from, and reports whether it did.
func (n *Node) handOff(from, p *Proc) bool {
	w := from.worker.Load()
	if w == nil || !w.runnext.CompareAndSwap(nil, p) {
		return false
	}
	w.handoffs.Add(1)
	if !w.listed.Load() && w.listed.CompareAndSwap(false, true) {
		n.watch(w)
	}
	return true
}

// work runs activations, the first p's, until it is not wanted as an idle
// worker. p was scheduled from processor givenOn.
func (n *Node) work(p *Proc, givenOn int) {
	w := &worker{next: make(chan *Proc, 1)}
	w.givenOn.Store(int32(givenOn))
	defer func() {
		if p != nil { // runtime.Goexit ended the goroutine during p's activation
			n.workerGoexited(w, p)
		}
		n.goroutineDone()
	}()
	for {
		for p != nil {
			p.worker.Store(w)
			if n.obs.labels.Load() {
				p.activateLabelled() // labels.go
			} else {
				p.activate()
			}
			p.worker.CompareAndSwap(w, nil)
			p = w.runnext.Swap(nil)
		}
		if !n.workers.park(w) {
			return
		}
		if p = w.await(Yield, &n.workers.spin); p == nil {
			return
		}
	}
}

// workerGoexited ends p, whose code or callback called runtime.Goexit on
// worker w, as the worker's goroutine unwinds: p exits with reason Goexit
// and gives back its pool slot, and a process waiting in w's runnext slot
// goes to another worker.
func (n *Node) workerGoexited(w *worker, p *Proc) {
	p.goexited()
	p.worker.CompareAndSwap(w, nil)
	if q := w.runnext.Swap(nil); q != nil {
		n.schedule(q, false)
	}
}

// watch makes the watchdog look after w's runnext slot.
func (n *Node) watch(w *worker) {
	ws := &n.workers
	ws.watchMu.Lock()
	ws.watched = append(ws.watched, w)
	start := !ws.watching
	ws.watching = true
	ws.watchMu.Unlock()
	if start && n.addGoroutine() { // once stopped, the slot's own worker runs it
		go n.watchdog()
	}
}

// watchdog runs while some worker's runnext may hold a process. Each tick
// it takes away a process that has waited a whole tick in the same slot and
// schedules it on another worker; it forgets workers with empty slots and
// ends when none is left.
func (n *Node) watchdog() {
	defer n.goroutineDone()
	ws := &n.workers
	var stolen []*Proc
	for {
		time.Sleep(handoffPatience)
		ws.watchMu.Lock()
		kept := ws.watched[:0]
		for _, w := range ws.watched {
			if p := w.runnext.Load(); p != nil {
				if h := w.handoffs.Load(); h != w.seen {
					w.seen = h // a new hand-off: give it a tick
				} else if w.runnext.CompareAndSwap(p, nil) {
					stolen = append(stolen, p)
				}
				kept = append(kept, w)
				continue
			}
			w.listed.Store(false)
			if w.runnext.Load() != nil && w.listed.CompareAndSwap(false, true) {
				kept = append(kept, w) // handed to again meanwhile
			}
		}
		clear(ws.watched[len(kept):])
		ws.watched = kept
		done := len(kept) == 0
		if done {
			ws.watching = false
		}
		ws.watchMu.Unlock()
		for i, p := range stolen {
			n.schedule(p, false)
			stolen[i] = nil
		}
		stolen = stolen[:0]
		if done {
			return
		}
	}
}

// take takes an idle worker off the list, or returns nil for the caller to
// start a new one: the worker that went idle last, unless it is yielding
// (or spinning) on another processor than here, the caller's, and then the
// one before it. A yielding worker runs what it is given where it
// yielded, behind whatever that processor runs now, while a channel wakes a
// parked worker, and a new one starts, on the caller's processor: passing
// it over keeps a caller and the processes it wakes on one core, each
// hand-off not crossing between two, and never leaves a process waiting on
// a processor that another goroutine keeps busy. Caller holds ws.mu.
func (ws *workers) take(here int) *worker {
	k := len(ws.idle)
	if k == 0 {
		return nil
	}
	i := k - 1
	if w := ws.idle[i]; w.state.Load() == workerYielding && int(w.yieldsOn.Load()) != here {
		if k == 1 {
			return nil // it parks soon, and stays for the next activation
		}
		i = k - 2
	}
	w := ws.idle[i]
	ws.idle[i] = ws.idle[k-1]
	ws.idle[k-1] = nil
	ws.idle = ws.idle[:k-1]
	return w
}

// park adds w to the idle workers and reports whether it is wanted.
func (ws *workers) park(w *worker) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.stopped || len(ws.idle) >= maxIdleWorkers {
		return false
	}
	w.state.Store(workerYielding)
	ws.idle = append(ws.idle, w)
	return true
}

func (ws *workers) parked() int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return len(ws.idle)
}

// stop releases the idle workers and keeps any more from parking.
func (ws *workers) stop() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.stopped = true
	for _, w := range ws.idle {
		w.give(nil)
	}
	ws.idle = nil
}
