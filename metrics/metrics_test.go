package metrics_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/metrics"
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

// scrape serves one scrape of h and returns each series' value by its
// name and labels, as the text format writes them.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestCollector_AfterAKnownSequence scrapes the handler after spawns,
// crashes, kills, restarts, a failed start, calls and a backlog, and checks
// what each metric says.
func TestCollector_AfterAKnownSequence(t *testing.T) {
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	c := metrics.New(n, metrics.WithCallLatency(), metrics.WithTopMailboxes(2))
	defer c.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})

	// A backlog: a process that never receives, six messages queued, one
	// of them sent by a process.
	stuck, err := n.Spawn(spawntest.Idle, process.WithName("stuck"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		n.Send(stuck, i)
	}
	sender, err := n.Spawn(func(p *process.Process) error { return p.Send(stuck, "from a process") })
	if err != nil {
		t.Fatal(err)
	}
	spawntest.WaitExit(t, n, sender)
	// Exits of each class.
	for _, fn := range []process.Func{
		func(*process.Process) error { return nil },
		func(*process.Process) error { panic("boom") },
		func(*process.Process) error { return process.ShutdownWith(nil) },
	} {
		p, err := n.Spawn(fn)
		if err != nil {
			t.Fatal(err)
		}
		spawntest.WaitExit(t, n, p)
	}
	spawntest.ExitAndWait(t, n, spawntest.SpawnIdle(t, n, process.WithBackend(process.Blocking)), process.Kill)

	// A supervised server: three calls, two crashes, a failed start.
	sub := n.Subscribe(event.Kinds(event.KindChildRestarted))
	defer sub.Close()
	sup, err := supervisor.Start(ctx, n, supervisor.Spec{Name: "msup", Intensity: 5, Period: time.Hour,
		Children: []supervisor.ChildSpec{{ID: "w", Start: supervisor.GenServer(func() *counter { return &counter{} }, genserver.WithName("w"))}}})
	if err != nil {
		t.Fatal(err)
	}
	w := genserver.Named[int, int, genserver.Never](n, "w")
	for range 3 {
		if _, err := w.Call(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("boom")
	for range 2 {
		cur, err := supervisor.Inspect(ctx, n, sup.Pid())
		if err != nil {
			t.Fatal(err)
		}
		n.Exit(cur.Children[0].Pid, boom)
		<-sub.C()
	}
	if _, err := sup.StartChild(ctx, supervisor.ChildSpec{ID: "bad", Start: func(context.Context, *process.Process) (pid.Pid, error) {
		return pid.Pid{}, boom
	}}); err == nil {
		t.Fatal("a failing start succeeded")
	}

	m := scrape(t, h)
	st := n.Stats()
	bound, _ := n.BlockingPool()
	for series, want := range map[string]float64{
		`spawned_processes_spawned_total`:                                                          float64(st.Spawned),
		`spawned_process_exits_total{reason="panic"}`:                                              1,
		`spawned_process_exits_total{reason="shutdown"}`:                                           1,
		`spawned_process_exits_total{reason="killed"}`:                                             1,
		`spawned_process_exits_total{reason="other"}`:                                              2,
		`spawned_process_exits_total{reason="normal"}`:                                             2,
		`spawned_mailbox_length_top{name="stuck",pid="` + stuck.String() + `"}`:                    6,
		`spawned_supervisor_restarts_total{supervisor="msup"}`:                                     2,
		`spawned_supervisor_start_failures_total{supervisor="msup"}`:                               1,
		`spawned_genserver_call_duration_seconds_count{server="*metrics_test.counter"}`:            3,
		`spawned_blocking_pool_size`:                                                               float64(bound),
		`spawned_stragglers`:                                                                       0,
		`spawned_registered_names`:                                                                 float64(st.Names),
		`spawned_events_lost_total`:                                                                0,
		`spawned_mailbox_length_bucket{le="4"}`:                                                    float64(st.Processes - 1),
		`spawned_mailbox_length_bucket{le="16"}`:                                                   float64(st.Processes),
		`spawned_mailbox_length_count`:                                                             float64(st.Processes),
		`spawned_mailbox_length_sum`:                                                               6,
		`spawned_process_exits_total{reason="noproc"}`:                                             0,
		`spawned_genserver_call_duration_seconds_bucket{server="*metrics_test.counter",le="+Inf"}`: 3,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if _, ok := m[`spawned_supervisor_escalations_total{supervisor="msup"}`]; ok {
		t.Error("an escalation that did not happen")
	}
	var live float64
	for k, v := range m {
		if strings.HasPrefix(k, "spawned_processes{") {
			live += v
		}
	}
	if live != float64(st.Processes) {
		t.Errorf("processes by backend and status add up to %v, want %d", live, st.Processes)
	}
	handled, received := m["spawned_messages_handled_total"], m["spawned_messages_received_total"]
	if handled < 3 || received < handled+6 || m["spawned_messages_sent_total"] != 1 {
		t.Errorf("messages: received %v handled %v sent %v", received, handled, m["spawned_messages_sent_total"])
	}

	// The stuck process goes: its messages stay counted.
	spawntest.ExitAndWait(t, n, stuck, process.Kill)
	m2 := scrape(t, h)
	if m2["spawned_messages_received_total"] < received || m2["spawned_messages_handled_total"] < handled {
		t.Errorf("totals went down: received %v -> %v, handled %v -> %v", received, m2["spawned_messages_received_total"],
			handled, m2["spawned_messages_handled_total"])
	}
	if _, ok := m2[`spawned_mailbox_length_top{name="stuck",pid="`+stuck.String()+`"}`]; ok {
		t.Error("a dead process is still among the longest mailboxes")
	}
}

// TestCollector_Escalation counts a supervisor that gives up, and a
// collector without a node or closed twice is harmless.
func TestCollector_Escalation(t *testing.T) {
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	c := metrics.New(n, metrics.WithConstLabels(prometheus.Labels{"node": "a"}))
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	sup, err := supervisor.Start(ctx, n, supervisor.Spec{Intensity: 1, Period: time.Hour,
		Children: []supervisor.ChildSpec{{ID: "w", Start: supervisor.Func(spawntest.Idle)}}})
	if err != nil {
		t.Fatal(err)
	}
	down := spawntest.WatchExit(t, n, sup.Pid())
	crash := func() {
		r, err := sup.Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n.Exit(r.Children[0].Pid, errors.New("crash"))
	}
	crash()
	spawntest.Eventually(t, "a restart", func() bool {
		r, err := sup.Inspect(ctx)
		return err == nil && r.Children[0].Restarts == 1
	})
	crash() // the second in the hour: the supervisor gives up
	down.Wait()
	m := scrape(t, h)
	label := `{node="a",supervisor="` + sup.Pid().String() + `"}`
	if m["spawned_supervisor_escalations_total"+label] != 1 || m["spawned_supervisor_restarts_total"+label] != 1 {
		t.Errorf("escalations %v restarts %v", m["spawned_supervisor_escalations_total"+label], m["spawned_supervisor_restarts_total"+label])
	}
	c.Close()
	c.Close()
	empty := metrics.New(nil)
	empty.Close()
	reg2 := prometheus.NewRegistry()
	reg2.MustRegister(empty)
	if got := scrape(t, promhttp.HandlerFor(reg2, promhttp.HandlerOpts{})); len(got) != 0 {
		t.Errorf("a collector without a node exports %v", got)
	}
}

// TestCollector_ScrapeAfterStop: the node's stop closes the collector's
// subscription; a scrape after it still counts the supervisor events that
// came before, returns, and Close stays harmless.
func TestCollector_ScrapeAfterStop(t *testing.T) {
	n := spawntest.NewNode(t)
	ctx := spawntest.Context(t)
	c := metrics.New(n)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	sub := n.Subscribe(event.Kinds(event.KindChildRestarted))
	defer sub.Close()
	sup, err := supervisor.Start(ctx, n, supervisor.Spec{Intensity: 5, Period: time.Hour,
		Children: []supervisor.ChildSpec{{ID: "w", Start: supervisor.Func(spawntest.Idle)}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := sup.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n.Exit(r.Children[0].Pid, errors.New("crash"))
	if _, ok := spawntest.Recv(t, sub.C()).(event.ChildRestarted); !ok {
		t.Fatal("no restart")
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	m := scrape(t, h)
	if got := m[`spawned_supervisor_restarts_total{supervisor="`+sup.Pid().String()+`"}`]; got != 1 {
		t.Errorf("restarts after Stop: %v, want 1", got)
	}
	c.Close()
	c.Close()
}
