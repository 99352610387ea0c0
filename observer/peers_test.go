package observer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawned-go/spawned/observer"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// fakePeers is a cluster of nodes in one test: each remote node is
// another observer, reached by calling its ServeAPI.
type fakePeers struct {
	mu     sync.Mutex
	nodes  []observer.Node
	remote map[string]*observer.Observer
	down   map[string]bool
	hang   map[string]bool
	last   observer.Request
	sent   int
}

func (f *fakePeers) Nodes() []observer.Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]observer.Node(nil), f.nodes...)
}

func (f *fakePeers) Forward(ctx context.Context, id string, req observer.Request) (observer.Response, error) {
	f.mu.Lock()
	o, ok := f.remote[id]
	down, hang := f.down[id], f.hang[id]
	f.last = req
	f.sent++
	f.mu.Unlock()
	switch {
	case hang:
		<-ctx.Done()
		return observer.Response{}, fmt.Errorf("forward to %s: %w", id, ctx.Err())
	case down:
		return observer.Response{}, fmt.Errorf("node %s is not reachable", id)
	case !ok:
		return observer.Response{}, fmt.Errorf("%w %s", observer.ErrUnknownNode, id)
	}
	return o.ServeAPI(ctx, req), nil
}

func (f *fakePeers) lastRequest() (observer.Request, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last, f.sent
}

// twoNodes returns the observer of a local node with a fake cluster of
// one remote node, whose observer is made with remoteOpts, and the remote
// node.
func twoNodes(t *testing.T, localOpts []observer.Option, remoteOpts ...observer.Option) (*observer.Observer, *fakePeers, *process.Node) {
	t.Helper()
	local, remote := spawntest.NewNode(t), spawntest.NewNode(t)
	ro := observer.Handler(remote, remoteOpts...)
	t.Cleanup(ro.Close)
	f := &fakePeers{
		nodes: []observer.Node{
			{ID: local.ID().String(), Name: "a", Up: true},
			{ID: "gone-node", Name: "c", Up: false},
			{ID: remote.ID().String(), Name: "b", Up: true},
		},
		remote: map[string]*observer.Observer{remote.ID().String(): ro},
		down:   map[string]bool{"gone-node": true},
		hang:   map[string]bool{},
	}
	lo := observer.Handler(local, append(localOpts, observer.WithPeers(f), observer.WithForwardTimeout(200*time.Millisecond))...)
	t.Cleanup(lo.Close)
	return lo, f, remote
}

var pageHeader = map[string]string{"X-Observer": "1", "Content-Type": "application/json"}

// TestPeers_Nodes: api/nodes lists this node first, with its name from
// the peers, then the up nodes, then the down ones.
func TestPeers_Nodes(t *testing.T) {
	h, _, remote := twoNodes(t, nil)
	var got struct {
		Nodes []struct {
			ID, Name  string
			Up, Local bool
		}
	}
	if code := call(t, h, "GET", "/api/nodes", "", nil, &got); code != 200 {
		t.Fatalf("nodes: %d", code)
	}
	want := []string{"a local up", "b up", "c"}
	if len(got.Nodes) != len(want) {
		t.Fatalf("nodes: %+v", got.Nodes)
	}
	for i, n := range got.Nodes {
		s := n.Name
		if n.Local {
			s += " local"
		}
		if n.Up {
			s += " up"
		}
		if s != want[i] {
			t.Errorf("node %d: %q, want %q", i, s, want[i])
		}
	}
	if got.Nodes[1].ID != remote.ID().String() {
		t.Errorf("b's id: %s", got.Nodes[1].ID)
	}
	// api/nodes is always this node's list, whatever node is shown.
	if code := call(t, h, "GET", "/api/nodes?node="+remote.ID().String(), "", nil, &got); code != 200 || len(got.Nodes) != 3 {
		t.Fatalf("nodes with a node: %d %+v", code, got.Nodes)
	}
}

// TestPeers_Views: every view of another node is that node's, fetched
// through Forward with the node parameter taken out.
func TestPeers_Views(t *testing.T) {
	h, f, remote := twoNodes(t, nil)
	spawn(t, remote, "on-b")
	node := "node=" + remote.ID().String()

	var ov struct{ Node string }
	if code := call(t, h, "GET", "/x/api/overview?"+node, "", nil, &ov); code != 200 || ov.Node != remote.ID().String() {
		t.Fatalf("overview: %d %+v", code, ov)
	}
	var table struct {
		Processes []struct{ Pid, Name string }
		Total     int
	}
	if code := call(t, h, "GET", "/x/api/processes?filter=on-b&"+node, "", nil, &table); code != 200 || table.Total != 1 || table.Processes[0].Name != "on-b" {
		t.Fatalf("processes: %d %+v", code, table)
	}
	req, _ := f.lastRequest()
	if req.Method != "GET" || req.Endpoint != "processes" || req.Query != "filter=on-b" {
		t.Errorf("forwarded %+v", req)
	}
	var proc struct {
		Name  string
		Alive bool
	}
	if code := call(t, h, "GET", "/x/api/process?pid="+table.Processes[0].Pid+"&"+node, "", nil, &proc); code != 200 || proc.Name != "on-b" || !proc.Alive {
		t.Fatalf("process: %d %+v", code, proc)
	}
	var tr struct{ Roots []any }
	if code := call(t, h, "GET", "/x/api/tree?"+node, "", nil, &tr); code != 200 {
		t.Fatalf("tree: %d", code)
	}
	// The local node's table does not have it.
	if code := call(t, h, "GET", "/x/api/processes?filter=on-b", "", nil, &table); code != 200 || table.Total != 0 {
		t.Fatalf("local processes: %d %+v", code, table)
	}
}

// spawn starts a process registered as name on n, until the test ends.
func spawn(t *testing.T, n *process.Node, name string) pid.Pid {
	t.Helper()
	p, err := n.Spawn(func(p *process.Process) error { <-p.Context().Done(); return nil }, process.WithName(name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPeers_Actions: an action on another node needs both observers'
// consent; this one's, and the page's same-origin check, are made here,
// before anything is carried.
func TestPeers_Actions(t *testing.T) {
	tests := []struct {
		name          string
		local, remote bool // WithActions
		header        map[string]string
		want          int
		forwarded     bool
	}{
		{"remote read only", true, false, pageHeader, http.StatusForbidden, true},
		{"both allow", true, true, pageHeader, http.StatusOK, true},
		{"local read only", false, true, pageHeader, http.StatusForbidden, false},
		{"not from the page", true, true, map[string]string{"Content-Type": "application/json"}, http.StatusForbidden, false},
		{"cross site", true, true, map[string]string{"X-Observer": "1", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, f, remote := twoNodes(t, []observer.Option{observer.WithActions(tt.local)}, observer.WithActions(tt.remote))
			victim := spawn(t, remote, "victim")
			down := spawntest.WatchExit(t, remote, victim)
			body := fmt.Sprintf(`{"pid":%q,"reason":"kill"}`, victim)
			rec := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/api/exit?node="+remote.ID().String(), strings.NewReader(body))
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			h.ServeHTTP(rec, r)
			if rec.Code != tt.want {
				t.Fatalf("exit: %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			req, sent := f.lastRequest()
			if (sent > 0) != tt.forwarded {
				t.Fatalf("forwarded %d requests, want forwarded=%v", sent, tt.forwarded)
			}
			if tt.forwarded && (req.Method != "POST" || req.Endpoint != "exit" || string(req.Body) != body) {
				t.Errorf("forwarded %+v", req)
			}
			if tt.want == http.StatusOK {
				down.Wait()
			} else if !remote.Alive(victim) {
				t.Fatal("the victim died")
			}
		})
	}
}

// TestPeers_Errors: a node that cannot be reached, that is not known or
// that does not answer gives an error naming it, with a status to match,
// within the forward timeout.
func TestPeers_Errors(t *testing.T) {
	h, f, _ := twoNodes(t, nil)
	f.mu.Lock()
	f.nodes = append(f.nodes, observer.Node{ID: "slow-node", Name: "d", Up: true})
	f.hang["slow-node"] = true
	f.mu.Unlock()
	tests := []struct {
		node string
		want int
		text string
	}{
		{"gone-node", http.StatusBadGateway, "not reachable"},
		{"nowhere", http.StatusNotFound, "unknown node"},
		{"slow-node", http.StatusGatewayTimeout, "did not answer"},
	}
	for _, tt := range tests {
		t.Run(tt.node, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/overview?node="+tt.node, nil))
			var body struct{ Error string }
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tt.want || !strings.Contains(body.Error, tt.text) {
				t.Fatalf("%d %q, want %d %q", rec.Code, body.Error, tt.want, tt.text)
			}
		})
	}
}

// badPeers answers with what it is given.
type badPeers struct{ resp observer.Response }

func (b badPeers) Nodes() []observer.Node { return nil }
func (b badPeers) Forward(context.Context, string, observer.Request) (observer.Response, error) {
	return b.resp, nil
}

// TestPeers_MalformedAnswer: an answer that is not JSON, or has no
// status, is not passed on to the page.
func TestPeers_MalformedAnswer(t *testing.T) {
	for _, resp := range []observer.Response{{Status: 200, Body: []byte("<script>")}, {Status: 0, Body: []byte("{}")}} {
		h := observer.Handler(spawntest.NewNode(t), observer.WithPeers(badPeers{resp}))
		if code := call(t, h, "GET", "/api/tree?node=x", "", nil, nil); code != http.StatusBadGateway {
			t.Errorf("%+v: %d", resp, code)
		}
		h.Close()
	}
}

// TestServeAPI: a forwarded request is answered as the handler answers
// the page, and is not forwarded further.
func TestServeAPI(t *testing.T) {
	n := spawntest.NewNode(t)
	spawn(t, n, "here")
	ro := observer.Handler(n)
	defer ro.Close()
	other := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	tests := []struct {
		name string
		req  observer.Request
		want int
		text string
	}{
		{"processes", observer.Request{Method: "GET", Endpoint: "processes", Query: "filter=here"}, 200, `"name":"here"`},
		{"own node", observer.Request{Method: "GET", Endpoint: "overview", Query: "node=" + n.ID().String()}, 200, n.ID().String()},
		{"another node", observer.Request{Method: "GET", Endpoint: "overview", Query: "node=" + other.ID().String()}, 404, "not this node"},
		{"read only", observer.Request{Method: "POST", Endpoint: "exit", Body: []byte(`{}`)}, 403, "not allowed"},
		{"bad query", observer.Request{Method: "GET", Endpoint: "tree", Query: "%zz"}, 400, "bad query"},
		{"no endpoint", observer.Request{Method: "GET", Endpoint: "nope"}, 404, "no such endpoint"},
		{"bad method", observer.Request{Method: "DELETE", Endpoint: "tree"}, 405, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ro.ServeAPI(ctx, tt.req)
			if r.Status != tt.want || !strings.Contains(string(r.Body), tt.text) || !json.Valid(r.Body) {
				t.Fatalf("%d %s, want %d with %q", r.Status, r.Body, tt.want, tt.text)
			}
		})
	}
	var noCtx context.Context // bad input: an error, not a panic
	if r := ro.ServeAPI(noCtx, observer.Request{Method: "GET", Endpoint: "tree"}); r.Status != 500 || !strings.Contains(string(r.Body), "nil context") {
		t.Fatalf("nil context: %d %s", r.Status, r.Body)
	}
}
