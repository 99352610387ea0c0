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
type workers struct {
	mu      sync.Mutex
	idle    []*worker
	stopped bool

	watchMu  sync.Mutex
	watched  []*worker // workers whose runnext may hold a process
	watching bool      // the watchdog goroutine is running
}

type worker struct {
	next     chan *Proc
	runnext  atomic.Pointer[Proc] // runs on this worker after the current activation
	handoffs atomic.Uint64        // counts hand-offs into runnext
	listed   atomic.Bool          // in workers.watched
	seen     uint64               // handoffs at the watchdog's last look; watchdog only
}

// schedule runs an activation of p. reserved says the caller already added
// a goroutine to n.goroutines for it.
func (n *Node) schedule(p *Proc, reserved bool) {
	n.workers.mu.Lock()
	var w *worker
	if k := len(n.workers.idle); k > 0 {
		w = n.workers.idle[k-1]
		n.workers.idle[k-1] = nil
		n.workers.idle = n.workers.idle[:k-1]
	}
	n.workers.mu.Unlock()
	if w != nil {
		w.next <- p
		if reserved {
			n.goroutineDone()
		}
		return
	}
	if !reserved && !n.addGoroutine() {
		return // stopped: p is being killed, and Stop waits for no more
	}
	go n.work(p)
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

// work runs activations until it is not wanted as an idle worker.
func (n *Node) work(p *Proc) {
	w := &worker{next: make(chan *Proc, 1)}
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
		if p = <-w.next; p == nil {
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

// park adds w to the idle workers and reports whether it is wanted.
func (ws *workers) park(w *worker) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.stopped || len(ws.idle) >= maxIdleWorkers {
		return false
	}
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
		w.next <- nil
	}
	ws.idle = nil
}
