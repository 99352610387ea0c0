package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/spawned-go/spawned/cluster/internal/wire"
	"github.com/spawned-go/spawned/observer"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// The web observer across a cluster: a node's observer (package observer)
// shows the other nodes through Peers, which carries each request of the
// page for node B to B as a NATS request on B's observer subject,
// <prefix>.<cluster>.observe.<B's id>, and B's answer back. B answers
// there only once it serves its own observer (ServeObserver), and only to
// nodes it knows as members of the cluster, up now.

// ErrNotObserved: the node asked does not serve its observer to the
// cluster (Cluster.ServeObserver was not called there, or it left).
var ErrNotObserved = errors.New("cluster: the node does not serve its observer")

// The bounds of the observer's requests across nodes.
const (
	// maxObserveRequest bounds a request frame (an action's body is
	// bounded to 64 KiB by the observer).
	maxObserveRequest = 128 << 10
	// maxObserveTimeout bounds the work for one request.
	maxObserveTimeout = 10 * time.Second
	// observeWorkers bounds the requests served at once; more are
	// answered "busy". A page asks for 3 or 4 views a second.
	observeWorkers = 16
)

// The values of the observer's frames: KSys frames, on the observer
// subjects rather than the ordered stream.
type (
	sysObserveReq struct {
		Method   string
		Endpoint string
		Query    string
		Body     []byte
		Timeout  time.Duration // what the asker waits, at most
	}
	sysObserveRep struct {
		Status int
		Body   []byte
	}
)

func init() {
	MustRegister[sysObserveReq]("spawned.cluster.observeReq")
	MustRegister[sysObserveRep]("spawned.cluster.observeRep")
}

// observing is the node's serving of its observer: at most one at a time.
type observing struct {
	mu  sync.Mutex
	cur *observeServer
}

// observeServer serves one observer on the node's observer subject.
type observeServer struct {
	c      *Cluster
	h      *observer.Observer
	sub    *nats.Subscription
	ctx    context.Context // ends with stop
	cancel context.CancelFunc
	sem    chan struct{}

	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup // the requests being served
}

// observeSubject is the observer subject of the node id.
func (c *Cluster) observeSubject(id pid.NodeID) string {
	b, _ := id.MarshalBinary()
	return c.prefix + "observe." + base64.RawURLEncoding.EncodeToString(b)
}

// ServeObserver makes this node answer, with h, the observer requests
// that other nodes of the cluster forward to it (see ObserverPeers): their
// pages can then show this node. Only nodes this one knows as members of
// the cluster, up now, are answered; whether actions (exit, kill, trace,
// switches) are done is h's to decide (observer.WithActions). A second
// call replaces h; a nil h stops serving. Serving stops when the node
// leaves the cluster, after the requests being served are answered. ctx bounds the wait for the server to know of the
// subscription: once ServeObserver returns, the other nodes are answered.
func (c *Cluster) ServeObserver(ctx context.Context, h *observer.Observer) error {
	if ctx == nil {
		return fmt.Errorf("cluster: serve observer: %w", process.ErrNilContext)
	}
	c.observing.mu.Lock()
	defer c.observing.mu.Unlock()
	if old := c.observing.cur; old != nil {
		c.observing.cur = nil
		old.stop()
	}
	if h == nil {
		if c.leaving.Load() {
			return nil
		}
		return c.flushObserving(ctx)
	}
	if c.leaving.Load() {
		return fmt.Errorf("cluster: serve observer: %w", ErrLeft)
	}
	s := &observeServer{c: c, h: h, sem: make(chan struct{}, observeWorkers)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	sub, err := c.nc.Subscribe(c.observeSubject(c.self), s.onRequest)
	if err != nil {
		s.cancel()
		return fmt.Errorf("cluster: serve observer: subscribe: %w", err)
	}
	s.sub = sub
	c.observing.cur = s
	return c.flushObserving(ctx)
}

// flushObserving waits until the server has the subscriptions made or
// ended before.
func (c *Cluster) flushObserving(ctx context.Context) error {
	fctx, cancel := withDeadline(ctx, 30*time.Second)
	defer cancel()
	if err := c.nc.FlushWithContext(fctx); err != nil {
		return fmt.Errorf("cluster: serve observer: %w", err)
	}
	return nil
}

// stopObserving stops serving the observer and waits for the requests
// being served; for Leave.
func (c *Cluster) stopObserving() {
	c.observing.mu.Lock()
	defer c.observing.mu.Unlock()
	if s := c.observing.cur; s != nil {
		c.observing.cur = nil
		s.stop()
	}
}

func (s *observeServer) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	_ = s.sub.Unsubscribe()
	s.cancel()
	s.wg.Wait()
}

// onRequest answers one request: at once when it is refused, from a
// goroutine of its own when it is served.
func (s *observeServer) onRequest(m *nats.Msg) {
	c := s.c
	if m.Reply == "" {
		return
	}
	if len(m.Data) > maxObserveRequest {
		s.respond(m, pid.NodeID{}, http.StatusRequestEntityTooLarge, "request too large")
		return
	}
	f, err := wire.DecodeFrame(m.Data, c.self)
	if err != nil || f.Kind != wire.KSys || f.Cluster != c.tag || f.Sender == c.self {
		c.log.Warn("cluster: dropped a malformed observer request", zap.Error(err))
		return
	}
	req, ok := f.Value.(sysObserveReq)
	if !ok {
		c.log.Warn("cluster: dropped an observer request of an unknown type")
		return
	}
	if _, up := c.Node(f.Sender); !up {
		s.respond(m, f.Sender, http.StatusForbidden, "node "+c.cfg.Name+" does not know node "+f.Sender.String()+" as a member of the cluster")
		return
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		s.respond(m, f.Sender, http.StatusServiceUnavailable, "node "+c.cfg.Name+" stops serving its observer")
		return
	}
	select {
	case s.sem <- struct{}{}:
	default:
		s.mu.Unlock()
		s.respond(m, f.Sender, http.StatusServiceUnavailable, "node "+c.cfg.Name+" is busy with other observer requests")
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		d := req.Timeout
		if d <= 0 || d > maxObserveTimeout {
			d = maxObserveTimeout
		}
		ctx, cancel := context.WithTimeout(s.ctx, d)
		defer cancel()
		r := s.h.ServeAPI(ctx, observer.Request{Method: req.Method, Endpoint: req.Endpoint, Query: req.Query, Body: req.Body})
		s.reply(m, f.Sender, sysObserveRep{Status: r.Status, Body: r.Body})
	}()
}

// respond answers m with an error.
func (s *observeServer) respond(m *nats.Msg, to pid.NodeID, status int, text string) {
	b, _ := json.Marshal(map[string]string{"error": text})
	s.reply(m, to, sysObserveRep{Status: status, Body: b})
}

// reply answers m with rep, or with an error when rep does not fit.
func (s *observeServer) reply(m *nats.Msg, to pid.NodeID, rep sysObserveRep) {
	c := s.c
	e := c.encoder(to)
	defer c.release(e)
	e.AppendFrame(&wire.Frame{Kind: wire.KSys, Cluster: c.tag, Value: rep})
	if e.Err() == nil && len(e.B) <= c.maxPayload {
		if err := m.Respond(e.B); err == nil || !errors.Is(err, nats.ErrMaxPayload) {
			return
		}
	}
	b, _ := json.Marshal(map[string]string{"error": fmt.Sprintf("node %s: the answer does not fit in a message (%d bytes)", c.cfg.Name, len(rep.Body))})
	e.Reset(c.self, to)
	e.AppendFrame(&wire.Frame{Kind: wire.KSys, Cluster: c.tag, Value: sysObserveRep{Status: http.StatusBadGateway, Body: b}})
	_ = m.Respond(e.B)
}

// forwardObserve carries req to the observer of the node id.
func (c *Cluster) forwardObserve(ctx context.Context, id string, req observer.Request) (observer.Response, error) {
	if ctx == nil {
		return observer.Response{}, fmt.Errorf("cluster: observe: %w", process.ErrNilContext)
	}
	node, err := pid.ParseNodeID(id)
	if err != nil || node.IsZero() {
		return observer.Response{}, fmt.Errorf("cluster: observe: %w %q", observer.ErrUnknownNode, id)
	}
	info, up := c.Node(node)
	op := "cluster: observe node " + id
	if info.Name != "" {
		op = fmt.Sprintf("cluster: observe node %s (%s)", info.Name, id)
	}
	switch {
	case c.leaving.Load():
		return observer.Response{}, fmt.Errorf("%s: %w", op, ErrLeft)
	case node == c.self:
		c.observing.mu.Lock()
		s := c.observing.cur
		c.observing.mu.Unlock()
		if s == nil {
			return observer.Response{}, fmt.Errorf("%s: %w", op, ErrNotObserved)
		}
		r := s.h.ServeAPI(ctx, req)
		return r, nil
	case c.peers.get(node) == nil:
		return observer.Response{}, fmt.Errorf("%s: %w", op, observer.ErrUnknownNode)
	case !up:
		return observer.Response{}, fmt.Errorf("%s: the node is not reachable now", op)
	}
	ask := sysObserveReq{Method: req.Method, Endpoint: req.Endpoint, Query: req.Query, Body: req.Body, Timeout: maxObserveTimeout}
	if d, ok := ctx.Deadline(); ok {
		ask.Timeout = time.Until(d)
	}
	e := c.encoder(node)
	e.AppendFrame(&wire.Frame{Kind: wire.KSys, Cluster: c.tag, Value: ask})
	if err := e.Err(); err != nil {
		c.release(e)
		return observer.Response{}, fmt.Errorf("%s: %w", op, err)
	}
	if len(e.B) > maxObserveRequest {
		c.release(e)
		return observer.Response{}, fmt.Errorf("%s: request too large", op)
	}
	ctx, cancel := withDeadline(ctx, maxObserveTimeout)
	defer cancel()
	m, err := c.nc.RequestWithContext(ctx, c.observeSubject(node), e.B)
	c.release(e)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return observer.Response{}, fmt.Errorf("%s: %w", op, ErrNotObserved)
	case err != nil && ctx.Err() != nil:
		return observer.Response{}, fmt.Errorf("%s: %w", op, ctx.Err())
	case err != nil:
		return observer.Response{}, fmt.Errorf("%s: %w", op, err)
	}
	f, err := wire.DecodeFrame(m.Data, c.self)
	if err != nil {
		return observer.Response{}, fmt.Errorf("%s: malformed answer: %w", op, err)
	}
	rep, ok := f.Value.(sysObserveRep)
	if f.Kind != wire.KSys || f.Cluster != c.tag || f.Sender != node || !ok {
		return observer.Response{}, fmt.Errorf("%s: malformed answer", op)
	}
	return observer.Response{Status: rep.Status, Body: rep.Body}, nil
}

// ObserverPeers returns the other nodes of the cluster for a web observer
// (observer.WithPeers): the nodes this one knows, up or down, and a way
// to ask one of them for what its page shows. A node answers only once it
// serves its own observer (ServeObserver); otherwise its page shows
// ErrNotObserved.
//
//	obs := observer.Handler(node, observer.WithPeers(c.ObserverPeers()))
//	err := c.ServeObserver(ctx, obs)
func (c *Cluster) ObserverPeers() observer.Peers { return observerPeers{c} }

// observerPeers is a cluster as observer.Peers.
type observerPeers struct{ c *Cluster }

// Nodes lists this node and every other one it knows but those superseded
// by a restart.
func (o observerPeers) Nodes() []observer.Node {
	c := o.c
	out := []observer.Node{{ID: c.self.String(), Name: c.cfg.Name, Up: !c.leaving.Load()}}
	for _, p := range c.peers.all() {
		st, _ := p.load()
		if st == stGone {
			continue
		}
		out = append(out, observer.Node{ID: p.id.String(), Name: p.Name(), Up: st == stUp})
	}
	return out
}

// Forward carries req to the node id's observer.
func (o observerPeers) Forward(ctx context.Context, id string, req observer.Request) (observer.Response, error) {
	return o.c.forwardObserve(ctx, id, req)
}
