package observer_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

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

// TestHostile_ObserverSwitchPanics: a switch whose Get or Set panics costs
// that switch only. A POST to it is answered 500 with the JSON error naming
// it, through the handler and through ServeAPI; the overview shows it with
// the error and everything else as usual; the panic is logged.
func TestHostile_ObserverSwitchPanics(t *testing.T) {
	logs := spawntest.NewLogs(zapcore.ErrorLevel)
	n := spawntest.NewNode(t, process.WithLogger(logs.Logger()))
	var good atomic.Bool
	good.Store(true)
	fine := func() bool { return true }
	setFine := func(bool) {}
	boom := errors.New("boom")
	o := observer.Handler(n, observer.WithActions(true),
		observer.WithSwitch(observer.Switch{Name: "good", Get: good.Load, Set: good.Store}),
		observer.WithSwitch(observer.Switch{Name: "bad get", Get: func() bool { panic("get failed") }, Set: setFine}),
		observer.WithSwitch(observer.Switch{Name: "bad set", Get: fine, Set: func(bool) { panic(boom) }}),
		observer.WithSwitch(observer.Switch{Name: "nil panic", Get: fine, Set: func(bool) { panic(nil) }}))
	defer o.Close()

	// serve answers one request through the handler or ServeAPI; a panic
	// or a hang fails the test.
	serve := func(t *testing.T, viaAPI bool, method, endpoint, body string) (int, []byte) {
		t.Helper()
		var code int
		var out []byte
		spawntest.Bounded(t, method+" "+endpoint, func() error {
			if viaAPI {
				r := o.ServeAPI(context.Background(), observer.Request{Method: method, Endpoint: endpoint, Body: []byte(body)})
				code, out = r.Status, r.Body
				return nil
			}
			rec := httptest.NewRecorder()
			o.ServeHTTP(rec, newRequest(method, "/api/"+endpoint, body, hostilePost))
			code, out = rec.Code, rec.Body.Bytes()
			return nil
		})
		return code, out
	}

	for _, via := range []struct {
		name string
		api  bool
	}{{"handler", false}, {"ServeAPI", true}} {
		t.Run(via.name, func(t *testing.T) {
			for _, c := range []struct {
				name, body string
				want       int
				error      string // what the JSON error holds; "" for none
			}{
				{"Set panics", `{"name":"bad set","on":true}`, http.StatusInternalServerError, `switch "bad set": Set panicked: boom`},
				{"Set panics with nil", `{"name":"nil panic","on":true}`, http.StatusInternalServerError, `switch "nil panic": Set panicked: panic called with nil`},
				{"Get panics after Set", `{"name":"bad get","on":true}`, http.StatusInternalServerError, `switch "bad get": Get panicked: get failed`},
				{"a good switch still flips", `{"name":"good","on":false}`, http.StatusOK, ""},
			} {
				t.Run(c.name, func(t *testing.T) {
					code, body := serve(t, via.api, "POST", "switch", c.body)
					var out struct {
						Error string `json:"error"`
						On    *bool  `json:"on"`
					}
					if err := json.Unmarshal(body, &out); err != nil {
						t.Fatalf("status %d, body %q: %v", code, body, err)
					}
					if code != c.want || !strings.Contains(out.Error, c.error) || (c.error == "") != (out.Error == "") {
						t.Fatalf("status %d error %q; want %d with %q", code, out.Error, c.want, c.error)
					}
					if c.error == "" && (out.On == nil || *out.On) {
						t.Fatalf("the good switch answered %s", body)
					}
				})
			}

			code, body := serve(t, via.api, "GET", "overview", "")
			var ov struct {
				Node     string
				Switches []struct {
					Name  string
					On    bool
					Error string
				}
			}
			if err := json.Unmarshal(body, &ov); err != nil || code != http.StatusOK || ov.Node == "" {
				t.Fatalf("overview: status %d, %v: %s", code, err, body)
			}
			type shown struct {
				on    bool
				error string
			}
			want := map[string]shown{"good": {false, ""}, "bad get": {false, `switch "bad get": Get panicked: get failed`},
				"bad set": {true, ""}, "nil panic": {true, ""}}
			if len(ov.Switches) != len(want) {
				t.Fatalf("overview shows %d switches, want %d: %s", len(ov.Switches), len(want), body)
			}
			for _, s := range ov.Switches {
				if w := want[s.Name]; s.On != w.on || s.Error != w.error {
					t.Errorf("overview shows %+v, want %+v", s, w)
				}
			}
		})
	}
	logs.Expect(t, "observer: a switch panicked", zap.String("switch", "bad set"), zap.String("func", "Set"))
	logs.Expect(t, "observer: a switch panicked", zap.String("switch", "bad get"), zap.String("func", "Get"))
}
