package core

import "time"

// CallObserver records how long GenServer calls take: from the moment the
// caller sent the call to the moment the server answered it, by the
// server's behaviour (see Describer). ObserveCall runs on the server's
// goroutine after each answered call, so it must be quick.
type CallObserver interface {
	ObserveCall(behaviour string, d time.Duration)
}

type callObserverH struct{ o CallObserver }

// SetCallObserver makes o record the latency of every call to a
// GenServer of this node; nil stops it. While none is set, a call pays one
// atomic load for it.
func (n *Node) SetCallObserver(o CallObserver) {
	if o == nil {
		n.obs.calls.Store(nil)
		return
	}
	n.obs.calls.Store(&callObserverH{o: o})
}

// CallObserver returns the node's call observer, or nil.
func (n *Node) CallObserver() CallObserver {
	if h := n.obs.calls.Load(); h != nil {
		return h.o
	}
	return nil
}
