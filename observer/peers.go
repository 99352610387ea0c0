package observer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Peers is the other nodes of a cluster, for the page's node selector: a
// list of them and a way to carry one API request to one of them and
// bring its answer back. Package cluster provides one
// (Cluster.ObserverPeers); the node at the other end answers with its own
// observer's ServeAPI.
type Peers interface {
	// Nodes lists the nodes of the cluster, this one included or not.
	Nodes() []Node
	// Forward carries req to the node id and returns its answer. It
	// returns an error when the answer cannot be had: the node is unknown
	// (wrapping ErrUnknownNode), unreachable, does not serve the observer,
	// or did not answer before ctx ended. It must not block past ctx.
	Forward(ctx context.Context, id string, req Request) (Response, error)
}

// Node is a node of a cluster as the selector shows it.
type Node struct {
	ID   string `json:"id"`   // its Pids' node identity, as pid.NodeID prints it
	Name string `json:"name"` // its name in the cluster
	Up   bool   `json:"up"`   // reachable now
}

// Request is one request to the observer API of a node, as Forward
// carries it.
type Request struct {
	Method   string // GET, or POST for an action
	Endpoint string // the part after api/: "processes", "tree", "exit"…
	Query    string // the URL's query, encoded, without the node parameter
	Body     []byte // an action's JSON body
}

// Response is a node's answer to a Request.
type Response struct {
	Status int    // the HTTP status
	Body   []byte // JSON: the endpoint's value, or {"error": "…"}
}

// ErrUnknownNode is what Forward wraps for a node it does not know; the
// API answers 404 for it.
var ErrUnknownNode = errors.New("observer: unknown node")

// DefaultForwardTimeout bounds a request forwarded to another node.
const DefaultForwardTimeout = 5 * time.Second

// WithPeers adds the other nodes of a cluster to the page: api/nodes
// lists them, and every view of the page can show one of them, its
// requests forwarded through p. An action (exit, kill, trace, a switch)
// on another node needs both observers' consent: this handler refuses it
// unless made WithActions(true), and the node shown does it only if its
// own observer was made WithActions(true) too. A read-only page stays
// read-only whatever node it shows.
func WithPeers(p Peers) Option { return func(c *config) { c.peers = p } }

// withForwardTimeout sets the bound of a forwarded request; for tests.
func withForwardTimeout(d time.Duration) Option { return func(c *config) { c.forward = d } }

// nodeView is one entry of api/nodes.
type nodeView struct {
	Node
	Local bool `json:"local"`
}

// nodes lists this node first, then the peers, up ones before down ones.
func (o *Observer) nodes() any {
	self := nodeView{Node: Node{ID: o.node.ID().String(), Up: true}, Local: true}
	var others []nodeView
	if o.cfg.peers != nil {
		for _, n := range o.cfg.peers.Nodes() {
			if n.ID == self.ID {
				self.Name = n.Name
				continue
			}
			if n.ID != "" {
				others = append(others, nodeView{Node: n})
			}
		}
	}
	slices.SortStableFunc(others, func(a, b nodeView) int {
		switch {
		case a.Up != b.Up && a.Up:
			return -1
		case a.Up != b.Up:
			return 1
		case a.Name != b.Name:
			if a.Name < b.Name {
				return -1
			}
			return 1
		}
		return 0
	})
	return map[string]any{"nodes": append([]nodeView{self}, others...)}
}

// forward answers an API request for the node id with that node's
// answer.
func (o *Observer) forward(w http.ResponseWriter, r *http.Request, id, name string) {
	if o.cfg.peers == nil {
		writeError(w, fail(http.StatusNotFound, "unknown node "+id))
		return
	}
	req := Request{Method: r.Method, Endpoint: name}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		// This observer's consent and the page's origin are checked here;
		// the other node's consent, there.
		err := fail(http.StatusForbidden, "actions are not allowed by this observer")
		if o.cfg.actions {
			if err = sameOrigin(r); err == nil {
				req.Body, err = readBody(r)
			}
		}
		if err != nil {
			writeError(w, err)
			return
		}
	default:
		writeError(w, fail(http.StatusMethodNotAllowed, "method not allowed"))
		return
	}
	q := r.URL.Query()
	q.Del("node")
	req.Query = q.Encode()
	ctx, cancel := context.WithTimeout(r.Context(), o.cfg.forward)
	defer cancel()
	resp, err := o.cfg.peers.Forward(ctx, id, req)
	switch {
	case errors.Is(err, ErrUnknownNode):
		writeError(w, fail(http.StatusNotFound, err.Error()))
		return
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, fail(http.StatusGatewayTimeout, fmt.Sprintf("node %s did not answer in %v: %v", id, o.cfg.forward, err)))
		return
	case err != nil:
		writeError(w, fail(http.StatusBadGateway, err.Error()))
		return
	case resp.Status < 100 || resp.Status > 599 || !json.Valid(resp.Body):
		writeError(w, fail(http.StatusBadGateway, "node "+id+" gave a malformed answer"))
		return
	}
	if name == "overview" && !o.cfg.actions {
		resp.Body = readOnly(resp.Body)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(resp.Status)
	w.Write(resp.Body)
}

// readOnly returns another node's overview with its actions switched off,
// as this read-only page shows it.
func readOnly(overview []byte) []byte {
	var o map[string]json.RawMessage
	if json.Unmarshal(overview, &o) != nil || o["actions"] == nil {
		return overview
	}
	o["actions"] = json.RawMessage("false")
	out, err := json.Marshal(o)
	if err != nil {
		return overview
	}
	return out
}

// ServeAPI answers one API request another node forwarded to this one
// (see Peers): the same answer a request for api/<req.Endpoint> on this
// handler gets, except that there is no same-origin check (the forwarding
// node's handler did it) and no forwarding further on. Actions are done
// only if this handler was made WithActions(true). ctx bounds the work.
func (o *Observer) ServeAPI(ctx context.Context, req Request) Response {
	o.sampler.touch()
	if ctx == nil {
		return errorResponse(fail(http.StatusInternalServerError, "observer: serve api: nil context"))
	}
	if o.node == nil {
		return errorResponse(fail(http.StatusServiceUnavailable, "no node"))
	}
	q, err := url.ParseQuery(req.Query)
	if err != nil {
		return errorResponse(fail(http.StatusBadRequest, "bad query: "+err.Error()))
	}
	if id := q.Get("node"); id != "" && id != o.node.ID().String() {
		return errorResponse(fail(http.StatusNotFound, "not this node: "+id))
	}
	if len(req.Body) > maxBody {
		return errorResponse(fail(http.StatusRequestEntityTooLarge, "request body too large"))
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, err := o.answer(ctx, req.Method, req.Endpoint, q, req.Body)
	if err != nil {
		return errorResponse(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return errorResponse(err)
	}
	return Response{Status: http.StatusOK, Body: b}
}

func errorResponse(err error) Response {
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	return Response{Status: statusOf(err), Body: b}
}
