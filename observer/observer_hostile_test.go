package observer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/observer"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// hostileServe serves one request with h and returns its status, failing
// the test on a panic or if the answer takes longer than the deadline.
func hostileServe(t *testing.T, h http.Handler, method, target, body string, header map[string]string) int {
	t.Helper()
	done := make(chan int, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				t.Errorf("%s %s panicked: %v", method, target, v)
				done <- -1
			}
		}()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, newRequest(method, target, body, header))
		done <- rec.Code
	}()
	select {
	case code := <-done:
		return code
	case <-time.After(spawntest.Timeout):
		t.Fatalf("%s %s hung", method, target)
		return 0
	}
}

var hostilePost = map[string]string{"X-Observer": "1"}

// slowState is a server whose DebugState takes longer than the API waits.
type slowState struct {
	genserver.NoCasts
	release chan struct{}
}

func (s *slowState) HandleCall(*genserver.CallCtx[int], int) (int, error) { return 0, nil }
func (s *slowState) DebugState() any                                      { <-s.release; return 1 }

// TestHostile_ObserverBadRequests: requests a page never makes, to a live
// node, a stopped one and none. Each is answered, with the documented
// status, by the deadline; none panics.
func TestHostile_ObserverBadRequests(t *testing.T) {
	n := spawntest.NewNode(t)
	tree(t, n)
	stopped := process.NewNode(process.WithLogger(nil))
	stoppedPid := spawntest.SpawnIdle(t, stopped)
	if err := stopped.Stop(spawntest.Context(t)); err != nil {
		t.Fatal(err)
	}
	slow := &slowState{release: make(chan struct{})}
	slowRef, err := genserver.Start(spawntest.Context(t), n, slow)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(slow.release) })
	foreign := pid.New(pid.NewNodeID(), 1).String()
	cases := []struct {
		name    string
		h       *observer.Observer
		method  string
		target  string
		body    string
		header  map[string]string
		want    int
		atLeast bool // want is the lowest status accepted (an error status)
	}{
		{"no node: api", observer.Handler(nil), "GET", "/api/overview", "", nil, http.StatusServiceUnavailable, false},
		{"no node: page", observer.Handler(nil), "GET", "/", "", nil, http.StatusOK, false},
		{"unknown endpoint", observer.Handler(n), "GET", "/api/nothing", "", nil, http.StatusNotFound, false},
		{"method PUT", observer.Handler(n), "PUT", "/api/overview", "", nil, http.StatusMethodNotAllowed, false},
		{"process: bad pid", observer.Handler(n), "GET", "/api/process?pid=%3Cnope%3E", "", nil, http.StatusBadRequest, false},
		{"process: zero pid", observer.Handler(n), "GET", "/api/process?pid=%3C0%3E", "", nil, http.StatusBadRequest, false},
		{"process: foreign pid", observer.Handler(n), "GET", "/api/process?pid=" + foreign, "", nil, http.StatusNotFound, false},
		{"process: state that takes too long", observer.Handler(n), "GET", "/api/process?state=1&pid=" + slowRef.Pid().String(), "", nil, http.StatusOK, false},
		{"processes: nonsense filters", observer.Handler(n), "GET", "/api/processes?sort=%00&limit=-5&q=%ff", "", nil, http.StatusOK, false},
		{"bad query encoding", observer.Handler(n), "GET", "/api/overview?%zz", "", nil, http.StatusOK, false},
		{"unknown node, no peers", observer.Handler(n), "GET", "/api/overview?node=nope", "", nil, http.StatusNotFound, false},
		{"action refused without actions", observer.Handler(n), "POST", "/api/exit", `{"pid":"` + foreign + `"}`, hostilePost, http.StatusForbidden, false},
		{"action: bad json", observer.Handler(n, observer.WithActions(true)), "POST", "/api/exit", `{`, hostilePost, http.StatusBadRequest, false},
		{"action: body too large", observer.Handler(n, observer.WithActions(true)), "POST", "/api/exit", `{"pid":"` + strings.Repeat("x", 1<<17) + `"}`, hostilePost, http.StatusBadRequest, false},
		{"action: exit of a foreign pid", observer.Handler(n, observer.WithActions(true)), "POST", "/api/exit", `{"pid":"` + foreign + `","reason":"kill"}`, hostilePost, http.StatusNotFound, false},
		{"action: trace of the zero pid", observer.Handler(n, observer.WithActions(true)), "POST", "/api/trace", `{"pid":"<0>","on":true}`, hostilePost, http.StatusBadRequest, false},
		{"action: unknown switch", observer.Handler(n, observer.WithActions(true)), "POST", "/api/switch", `{"name":"nope","on":true}`, hostilePost, http.StatusNotFound, false},
		{"action: unknown action", observer.Handler(n, observer.WithActions(true)), "POST", "/api/nothing", `{}`, hostilePost, http.StatusNotFound, false},
		{"action: cross-site", observer.Handler(n, observer.WithActions(true)), "POST", "/api/exit", `{}`, map[string]string{"X-Observer": "1", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, false},
		{"stopped node: overview", observer.Handler(stopped), "GET", "/api/overview", "", nil, http.StatusOK, true},
		{"stopped node: tree", observer.Handler(stopped), "GET", "/api/tree", "", nil, http.StatusOK, true},
		{"stopped node: processes", observer.Handler(stopped), "GET", "/api/processes", "", nil, http.StatusOK, true},
		{"stopped node: process", observer.Handler(stopped), "GET", "/api/process?pid=" + stoppedPid.String(), "", nil, http.StatusNotFound, false},
		{"stopped node: exit", observer.Handler(stopped, observer.WithActions(true)), "POST", "/api/exit", `{"pid":"` + stoppedPid.String() + `"}`, hostilePost, http.StatusNotFound, false},
		{"stopped node: trace", observer.Handler(stopped, observer.WithActions(true)), "POST", "/api/trace", `{"pid":"` + stoppedPid.String() + `","on":true}`, hostilePost, http.StatusNotFound, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer c.h.Close()
			got := hostileServe(t, c.h, c.method, c.target, c.body, c.header)
			if got != c.want && !(c.atLeast && got >= c.want) {
				t.Fatalf("status %d, want %d", got, c.want)
			}
		})
	}
}

// TestHostile_ObserverServeAPI: ServeAPI, which another node's observer
// calls, given what no observer forwards. Each answer is an error response
// with the documented status, by the deadline.
func TestHostile_ObserverServeAPI(t *testing.T) {
	n := spawntest.NewNode(t)
	o := observer.Handler(n, observer.WithActions(true))
	defer o.Close()
	cases := []struct {
		name string
		ctx  context.Context
		req  observer.Request
		want int
	}{
		{"nil context", nil, observer.Request{Method: "GET", Endpoint: "overview"}, http.StatusInternalServerError},
		{"cancelled context", hostileCancelled(), observer.Request{Method: "GET", Endpoint: "overview"}, http.StatusOK},
		{"empty request", context.Background(), observer.Request{}, http.StatusMethodNotAllowed},
		{"bad query", context.Background(), observer.Request{Method: "GET", Endpoint: "overview", Query: "%zz"}, http.StatusBadRequest},
		{"another node", context.Background(), observer.Request{Method: "GET", Endpoint: "overview", Query: "node=other"}, http.StatusNotFound},
		{"body too large", context.Background(), observer.Request{Method: "POST", Endpoint: "exit", Body: make([]byte, 1<<17)}, http.StatusRequestEntityTooLarge},
		{"bad body", context.Background(), observer.Request{Method: "POST", Endpoint: "exit", Body: []byte("{")}, http.StatusBadRequest},
		{"nil body", context.Background(), observer.Request{Method: "POST", Endpoint: "exit"}, http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan observer.Response, 1)
			go func() {
				defer func() {
					if v := recover(); v != nil {
						t.Errorf("panicked: %v", v)
						done <- observer.Response{}
					}
				}()
				done <- o.ServeAPI(c.ctx, c.req)
			}()
			if r := spawntest.Recv(t, done); r.Status != c.want { // bounded: a hang fails
				t.Fatalf("status %d (%s), want %d", r.Status, r.Body, c.want)
			}
		})
	}
	o.Close()
	o.Close()
}

func hostileCancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
