package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/observer"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

// observe returns the observer of n with the nodes of c, served to the
// cluster.
func observe(t *testing.T, n *process.Node, c *cluster.Cluster, opts ...observer.Option) *observer.Observer {
	t.Helper()
	h := observer.Handler(n, append(opts, observer.WithPeers(c.ObserverPeers()))...)
	if err := c.ServeObserver(spawntest.Context(t), h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// get asks h for target as the page does and decodes the answer into out;
// it returns the status and, for an error, its text.
func get(t *testing.T, h http.Handler, method, target, body string, out any) (int, string) {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if method == "POST" {
		r.Header.Set("X-Observer", "1")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return rec.Code, e.Error
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, target, err, rec.Body)
		}
	}
	return rec.Code, ""
}

type procTable struct {
	Processes []struct{ Pid, Name string }
	Total     int
}

// TestObserver_Nodes: a node's observer lists the other nodes of its
// cluster by name, itself first.
func TestObserver_Nodes(t *testing.T) {
	a, ca, b, cb := pair(t)
	ha := observe(t, a, ca)
	observe(t, b, cb)
	var got struct {
		Nodes []struct {
			ID, Name  string
			Up, Local bool
		}
	}
	if code, msg := get(t, ha, "GET", "/api/nodes", "", &got); code != 200 {
		t.Fatalf("nodes: %d %s", code, msg)
	}
	want := []string{fmt.Sprintf("a %s local up", a.ID()), fmt.Sprintf("b %s up", b.ID())}
	var have []string
	for _, n := range got.Nodes {
		s := n.Name + " " + n.ID
		if n.Local {
			s += " local"
		}
		if n.Up {
			s += " up"
		}
		have = append(have, s)
	}
	if strings.Join(have, "\n") != strings.Join(want, "\n") {
		t.Fatalf("nodes:\n%s\nwant:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
}

// TestObserver_ForwardsViews: A's page shows B's processes, tree, stats
// and process pages, fetched from B.
func TestObserver_ForwardsViews(t *testing.T) {
	a, ca, b, cb := pair(t)
	ha := observe(t, a, ca)
	observe(t, b, cb)
	onB := spawntest.SpawnIdle(t, b, process.WithName("only-on-b"))
	node := "node=" + b.ID().String()

	var table procTable
	if code, msg := get(t, ha, "GET", "/observer/api/processes?filter=only-on-b&"+node, "", &table); code != 200 {
		t.Fatalf("processes of b: %d %s", code, msg)
	}
	if table.Total != 1 || table.Processes[0].Name != "only-on-b" || table.Processes[0].Pid != onB.String() {
		t.Fatalf("processes of b: %+v", table)
	}
	if code, msg := get(t, ha, "GET", "/observer/api/processes?filter=only-on-b", "", &table); code != 200 || table.Total != 0 {
		t.Fatalf("processes of a: %d %s %+v", code, msg, table)
	}
	var ov struct{ Node string }
	if code, msg := get(t, ha, "GET", "/observer/api/overview?"+node, "", &ov); code != 200 || ov.Node != b.ID().String() {
		t.Fatalf("overview of b: %d %s %+v", code, msg, ov)
	}
	var proc struct {
		Name  string
		Alive bool
	}
	if code, msg := get(t, ha, "GET", "/observer/api/process?pid="+onB.String()+"&"+node, "", &proc); code != 200 || !proc.Alive || proc.Name != "only-on-b" {
		t.Fatalf("process of b: %d %s %+v", code, msg, proc)
	}
	if code, msg := get(t, ha, "GET", "/observer/api/tree?"+node, "", nil); code != 200 {
		t.Fatalf("tree of b: %d %s", code, msg)
	}
}

// TestObserver_Actions: an action for B from A's page is done only when
// both observers allow actions.
func TestObserver_Actions(t *testing.T) {
	tests := []struct {
		name    string
		a, b    bool // WithActions
		want    int
		errText string
	}{
		{"b read only", true, false, http.StatusForbidden, "not allowed"},
		{"a read only", false, true, http.StatusForbidden, "not allowed"},
		{"both allow", true, true, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ca, b, cb := pair(t)
			ha := observe(t, a, ca, observer.WithActions(tt.a))
			observe(t, b, cb, observer.WithActions(tt.b))
			victim := spawntest.SpawnIdle(t, b, process.WithName("victim"))
			down := spawntest.WatchExit(t, b, victim)
			code, msg := get(t, ha, "POST", "/api/exit?node="+b.ID().String(), fmt.Sprintf(`{"pid":%q,"reason":"kill"}`, victim), nil)
			if code != tt.want || !strings.Contains(msg, tt.errText) {
				t.Fatalf("kill on b: %d %q, want %d %q", code, msg, tt.want, tt.errText)
			}
			if tt.want == http.StatusOK {
				if err := down.Wait(); !errors.Is(err, process.Killed) {
					t.Fatalf("victim exited with %v", err)
				}
			} else if !b.Alive(victim) {
				t.Fatal("a refused kill killed")
			}
		})
	}
}

// TestObserver_NotServing: a node that does not serve its observer, or
// no longer, or that is gone, gives a clear error at once.
func TestObserver_NotServing(t *testing.T) {
	cfg := testConfig(clusterName(t))
	a, ca := joinNode(t, cfg, "a")
	b, cb := joinNode(t, cfg, "b")
	waitUp(t, ca, b.ID())
	ha := observe(t, a, ca)
	node := "?node=" + b.ID().String()

	if code, msg := get(t, ha, "GET", "/api/tree"+node, "", nil); code != http.StatusBadGateway || !strings.Contains(msg, "does not serve its observer") {
		t.Fatalf("b not serving: %d %q", code, msg)
	}
	hb := observer.Handler(b)
	defer hb.Close()
	if err := cb.ServeObserver(spawntest.Context(t), hb); err != nil {
		t.Fatal(err)
	}
	if code, msg := get(t, ha, "GET", "/api/tree"+node, "", nil); code != 200 {
		t.Fatalf("b serving: %d %q", code, msg)
	}
	if err := cb.ServeObserver(spawntest.Context(t), nil); err != nil {
		t.Fatal(err)
	}
	if code, msg := get(t, ha, "GET", "/api/tree"+node, "", nil); code != http.StatusBadGateway || !strings.Contains(msg, "does not serve its observer") {
		t.Fatalf("b stopped serving: %d %q", code, msg)
	}
	if err := cb.ServeObserver(spawntest.Context(t), hb); err != nil {
		t.Fatal(err)
	}
	if err := cb.Leave(spawntest.Context(t)); err != nil {
		t.Fatal(err)
	}
	if err := cb.ServeObserver(spawntest.Context(t), hb); !errors.Is(err, cluster.ErrLeft) {
		t.Fatalf("serve after leave: %v", err)
	}
	spawntest.Eventually(t, "a loses b", func() bool { _, up := ca.Node(b.ID()); return !up })
	if code, msg := get(t, ha, "GET", "/api/tree"+node, "", nil); code != http.StatusBadGateway || !strings.Contains(msg, "not reachable") {
		t.Fatalf("b left: %d %q", code, msg)
	}
	if code, msg := get(t, ha, "GET", "/api/tree?node="+pid.NewNodeID().String(), "", nil); code != http.StatusNotFound {
		t.Fatalf("unknown node: %d %q", code, msg)
	}
}

// TestObserver_OnlyMembers: a node answers only nodes it knows as members
// of its cluster.
func TestObserver_OnlyMembers(t *testing.T) {
	a, ca, b, cb := pair(t)
	observe(t, b, cb)
	ctx, cancel := context.WithTimeout(spawntest.Context(t), spawntest.Timeout)
	defer cancel()
	req := observer.Request{Method: "GET", Endpoint: "overview"}
	r, err := ca.ObserveAs(ctx, a.ID(), b.ID(), req)
	if err != nil || r.Status != 200 {
		t.Fatalf("a member: %v %d %s", err, r.Status, r.Body)
	}
	r, err = ca.ObserveAs(ctx, pid.NewNodeID(), b.ID(), req)
	if err != nil || r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "as a member") {
		t.Fatalf("a stranger: %v %d %s", err, r.Status, r.Body)
	}
}

// TestObserver_AnswerTooLarge: an answer that does not fit in a message
// of the serving node is an error naming it, not a lost request.
func TestObserver_AnswerTooLarge(t *testing.T) {
	cfg := testConfig(clusterName(t))
	a, ca := joinNode(t, cfg, "a")
	cfg.MaxPayload = 2048
	b, cb := joinNode(t, cfg, "b")
	waitUp(t, ca, b.ID())
	waitUp(t, cb, a.ID())
	ha := observe(t, a, ca)
	observe(t, b, cb)
	for i := range 40 {
		spawntest.SpawnIdle(t, b, process.WithName(fmt.Sprintf("filler-%02d", i)))
	}
	node := "node=" + b.ID().String()
	if code, msg := get(t, ha, "GET", "/api/processes?"+node, "", nil); code != http.StatusBadGateway || !strings.Contains(msg, "does not fit") {
		t.Fatalf("40 processes of b: %d %q", code, msg)
	}
	var table procTable
	if code, msg := get(t, ha, "GET", "/api/processes?limit=3&"+node, "", &table); code != 200 || len(table.Processes) != 3 {
		t.Fatalf("3 processes of b: %d %q %+v", code, msg, table)
	}
}
