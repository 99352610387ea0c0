package core

import "sync"

// maxIdleWorkers bounds the goroutines a node keeps parked for activations.
const maxIdleWorkers = 128

// workers runs the activations of Async and Blocking handler processes. A
// process with new messages is handed to a parked worker goroutine when
// there is one, and to a new goroutine otherwise, which parks once done
// (up to maxIdleWorkers) instead of exiting. A worker never waits for a free
// worker, so an activation that blocks cannot starve the others.
type workers struct {
	mu      sync.Mutex
	idle    []*worker
	stopped bool
}

type worker struct{ next chan *Proc }

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
			n.goroutines.Done()
		}
		return
	}
	if !reserved {
		n.goroutines.Add(1)
	}
	go n.work(p)
}

// work runs activations until it is not wanted as an idle worker.
func (n *Node) work(p *Proc) {
	defer n.goroutines.Done()
	var w *worker
	for {
		p.activate()
		if w == nil {
			w = &worker{next: make(chan *Proc, 1)}
		}
		if !n.workers.park(w) {
			return
		}
		if p = <-w.next; p == nil {
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
