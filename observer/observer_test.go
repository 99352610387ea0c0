package observer_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/observer"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

type counter struct {
	genserver.NoCasts
	n int
}

func (c *counter) HandleCall(_ *genserver.CallCtx[int], add int) (int, error) {
	c.n += add
	return c.n, nil
}

func (c *counter) DebugState() any { return c.n }

// tree starts top (one_for_one) with a counter "w" under it.
func tree(t *testing.T, n *process.Node) supervisor.Ref {
	t.Helper()
	ref, err := supervisor.Start(spawntest.Context(t), n, supervisor.Spec{Name: "top", Intensity: 10, Period: time.Hour,
		Children: []supervisor.ChildSpec{{ID: "w", Start: supervisor.GenServer(func() *counter { return &counter{} }, genserver.WithName("w"))}}})
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// newRequest makes a test request with body (none if empty) and header.
func newRequest(method, target, body string, header map[string]string) *http.Request {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return r
}

// call makes a request to h and decodes its JSON answer into out.
func call(t *testing.T, h http.Handler, method, target string, body string, header map[string]string, out any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest(method, target, body, header))
	if out != nil && rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, target, err, rec.Body)
		}
	}
	return rec.Code
}

type treeNode struct {
	Pid      string      `json:"pid"`
	Name     string      `json:"name"`
	ID       string      `json:"id"`
	Restarts int         `json:"restarts"`
	Crashed  bool        `json:"crashed"`
	LastExit string      `json:"lastExit"`
	Children []*treeNode `json:"children"`
}

// TestHandler_ReadOnly: under any prefix, the page, its files and the API
// answer; changes are refused.
func TestHandler_ReadOnly(t *testing.T) {
	n := spawntest.NewNode(t)
	tree(t, n)
	h := observer.Handler(n, observer.WithTitle("my <node>"))
	defer h.Close()
	const base = "/debug/observer/"

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", base, nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<title>my &lt;node&gt;</title>") {
		t.Fatalf("page: %d %.200s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", base+"app.js", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "function refresh") {
		t.Fatalf("app.js: %d", rec.Code)
	}

	var nodes struct {
		Nodes []struct {
			ID    string `json:"id"`
			Local bool   `json:"local"`
		} `json:"nodes"`
	}
	if call(t, h, "GET", base+"api/nodes", "", nil, &nodes); len(nodes.Nodes) != 1 || nodes.Nodes[0].ID != n.ID().String() || !nodes.Nodes[0].Local {
		t.Fatalf("nodes: %+v", nodes)
	}
	var tr struct{ Roots []*treeNode }
	if code := call(t, h, "GET", base+"api/tree?node="+url.QueryEscape(n.ID().String()), "", nil, &tr); code != 200 ||
		len(tr.Roots) != 1 || tr.Roots[0].Name != "top" || len(tr.Roots[0].Children) != 1 || tr.Roots[0].Children[0].ID != "w" {
		t.Fatalf("tree: %d %+v", code, tr)
	}
	if code := call(t, h, "GET", base+"api/tree?node=elsewhere", "", nil, nil); code != http.StatusNotFound {
		t.Fatalf("tree of an unknown node: %d", code)
	}
	var procs struct {
		Processes []struct{ Pid, Name, Behaviour string }
		Total     int
	}
	call(t, h, "GET", base+"api/processes?filter=counter&sort=name", "", nil, &procs)
	if procs.Total != 1 || procs.Processes[0].Name != "w" || procs.Processes[0].Behaviour != "*observer_test.counter" {
		t.Fatalf("processes: %+v", procs)
	}
	var p struct {
		Name, Behaviour, State string
		Alive                  bool
		Links                  []string
	}
	call(t, h, "GET", base+"api/process?state=1&pid="+url.QueryEscape(procs.Processes[0].Pid), "", nil, &p)
	if !p.Alive || p.Name != "w" || p.State != "0" || len(p.Links) != 1 {
		t.Fatalf("process: %+v", p)
	}
	for _, bad := range []string{"api/process?pid=nope", "api/nothing"} {
		if code := call(t, h, "GET", base+bad, "", nil, nil); code != http.StatusBadRequest && code != http.StatusNotFound {
			t.Errorf("%s: %d", bad, code)
		}
	}
	hdr := map[string]string{"X-Observer": "1"}
	if code := call(t, h, "POST", base+"api/exit", `{"pid":"`+procs.Processes[0].Pid+`","reason":"kill"}`, hdr, nil); code != http.StatusForbidden {
		t.Fatalf("exit with actions off: %d", code)
	}
	if code := call(t, h, "PUT", base+"api/tree", "", nil, nil); code != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", code)
	}
}

// TestHandler_Actions: with actions allowed, a kill from the page is
// seen restarted on the tree, a trace switched on records, a switch flips;
// requests from elsewhere are refused.
func TestHandler_Actions(t *testing.T) {
	n := spawntest.NewNode(t)
	tree(t, n)
	var flag atomic.Bool
	h := observer.Handler(n, observer.WithActions(true),
		observer.WithSwitch(observer.Switch{Name: "chaos", Help: "h", Get: flag.Load, Set: flag.Store}))
	defer h.Close()
	w, _ := registryPid(n, "w")
	body := `{"pid":"` + w.String() + `","reason":"kill"}`
	for _, tc := range []struct {
		name   string
		header map[string]string
	}{
		{"no header", nil},
		{"other origin", map[string]string{"X-Observer": "1", "Origin": "http://evil.example"}},
		{"cross site", map[string]string{"X-Observer": "1", "Sec-Fetch-Site": "cross-site"}},
	} {
		if code := call(t, h, "POST", "/api/exit", body, tc.header, nil); code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, code)
		}
	}
	if !n.Alive(w) {
		t.Fatal("a refused kill killed")
	}
	same := map[string]string{"X-Observer": "1", "Origin": "http://example.com", "Sec-Fetch-Site": "same-origin"}
	down := spawntest.WatchExit(t, n, w)
	if code := call(t, h, "POST", "/api/exit", body, same, nil); code != 200 {
		t.Fatalf("kill: %d", code)
	}
	down.Wait()
	var tr struct{ Roots []*treeNode }
	spawntest.Eventually(t, "the restart on the tree", func() bool {
		call(t, h, "GET", "/api/tree", "", nil, &tr)
		c := tr.Roots[0].Children[0]
		return c.Restarts == 1 && c.Crashed && c.LastExit == "killed" && c.Pid != w.String()
	})
	w2, _ := registryPid(n, "w")
	if code := call(t, h, "POST", "/api/trace", `{"pid":"`+w2.String()+`","on":true}`, same, nil); code != 200 || !n.Traced(w2) {
		t.Fatalf("trace on: %d, traced %v", code, n.Traced(w2))
	}
	genserver.Named[int, int, genserver.Never](n, "w").Call(spawntest.Context(t), 5)
	var p struct {
		Traced bool
		Trace  []struct{ Op, Text string }
	}
	call(t, h, "GET", "/api/process?pid="+url.QueryEscape(w2.String()), "", nil, &p)
	if !p.Traced || len(p.Trace) < 2 || p.Trace[0].Text != "call 5" {
		t.Fatalf("traced process: %+v", p)
	}
	if code := call(t, h, "POST", "/api/trace", `{"pid":"`+w2.String()+`","on":false}`, same, nil); code != 200 || n.Traced(w2) {
		t.Fatal("trace off")
	}
	if code := call(t, h, "POST", "/api/switch", `{"name":"chaos","on":true}`, same, nil); code != 200 || !flag.Load() {
		t.Fatalf("switch: %d %v", code, flag.Load())
	}
	for _, bad := range []string{`{"name":"nope","on":true}`, `not json`} {
		if code := call(t, h, "POST", "/api/switch", bad, same, nil); code == 200 {
			t.Errorf("switch %s: 200", bad)
		}
	}
	if code := call(t, h, "POST", "/api/exit", `{"pid":"<0.0>"}`, same, nil); code == 200 {
		t.Error("exit of a bad pid: 200")
	}
}

// TestSampler_RunsOnlyWhenAsked: nothing runs before a request; the
// sampler keeps samples and crash reports while asked, and stops when
// nobody asks.
func TestSampler_RunsOnlyWhenAsked(t *testing.T) {
	n := spawntest.NewNode(t)
	h := observer.Handler(n, observer.WithIdle(50*time.Millisecond), observer.WithSampleEvery(5*time.Millisecond))
	defer h.Close()
	if h.SamplerRunning() {
		t.Fatal("the sampler runs before any request")
	}
	var ov struct{ Samples []struct{ Processes int } }
	call(t, h, "GET", "/api/overview", "", nil, &ov)
	if !h.SamplerRunning() {
		t.Fatal("a request did not start the sampler")
	}
	p, _ := n.Spawn(func(*process.Process) error { panic("observed") }, process.WithName("doomed"))
	spawntest.WaitExit(t, n, p)
	var dead struct {
		Alive   bool
		Crashes []struct{ Reason, Stack, Name string }
	}
	spawntest.Eventually(t, "the crash report", func() bool {
		return call(t, h, "GET", "/api/process?pid="+url.QueryEscape(p.String()), "", nil, &dead) == 200 && len(dead.Crashes) == 1
	})
	if dead.Alive || dead.Crashes[0].Reason != "panic: observed" || dead.Crashes[0].Name != "doomed" || !strings.Contains(dead.Crashes[0].Stack, "goroutine") {
		t.Fatalf("crash report: %+v", dead)
	}
	call(t, h, "GET", "/api/overview", "", nil, &ov)
	if len(ov.Samples) == 0 {
		t.Fatal("no samples")
	}
	spawntest.Eventually(t, "the sampler to stop when idle", func() bool { return !h.SamplerRunning() })
}

func registryPid(n *process.Node, name string) (pid.Pid, bool) {
	for _, p := range n.Processes() {
		if in, err := n.Info(p); err == nil && in.Name == name {
			return p, true
		}
	}
	return pid.Pid{}, false
}

// A sample taken with a closed subscription (the node stopped as the
// sampler subscribed) ends instead of reading the closed channel for ever.
func TestSampleWithAClosedSubscriptionEnds(t *testing.T) {
	n := spawntest.NewNode(t)
	o := observer.Handler(n)
	if err := n.Stop(spawntest.Context(t)); err != nil {
		t.Fatal(err)
	}
	sub := n.Subscribe() // closed: the node is stopped
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.TakeSample(sub)
	}()
	spawntest.Recv(t, done)
}

// TestSampler_EndsWhenTheNodeStops: the node's stop closes the sampler's
// subscription; a sample taken then reads the events that came before the
// close and returns, and the running sampler stops.
func TestSampler_EndsWhenTheNodeStops(t *testing.T) {
	n := spawntest.NewNode(t)
	h := observer.Handler(n, observer.WithIdle(time.Hour), observer.WithSampleEvery(5*time.Millisecond))
	defer h.Close()
	call(t, h, "GET", "/api/overview", "", nil, nil)
	if !h.SamplerRunning() {
		t.Fatal("a request did not start the sampler")
	}
	sub := n.Subscribe()
	p, _ := n.Spawn(func(*process.Process) error { panic("before the stop") }, process.WithName("doomed"))
	spawntest.WaitExit(t, n, p)
	if err := n.Stop(spawntest.Context(t)); err != nil {
		t.Fatal(err)
	}
	spawntest.Bounded(t, "a sample from a subscription the stop closed", func() error {
		h.TakeSample(sub)
		return nil
	})
	if _, open := <-sub.C(); open {
		t.Fatal("the sample left events in the closed subscription")
	}
	spawntest.Eventually(t, "the sampler to stop with the node", func() bool { return !h.SamplerRunning() })
}
