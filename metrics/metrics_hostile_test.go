package metrics_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/metrics"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// hostileCall runs fn and turns a panic into a test failure.
func hostileCall(t *testing.T, fn func()) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("panicked: %v", v)
		}
	}()
	fn()
}

// hostileCollect runs one Collect straight, as code without a registry
// would, and returns how many metrics it sent.
func hostileCollect(t *testing.T, c *metrics.Collector) int {
	t.Helper()
	ch := make(chan prometheus.Metric, 4096)
	hostileCall(t, func() { c.Collect(ch) })
	close(ch)
	n := 0
	for range ch {
		n++
	}
	return n
}

// TestHostile_MetricsBadInput: options Prometheus would refuse, names that
// are not valid label values, nil and closed collectors. Nothing panics:
// not a scrape, not a GenServer call recorded for the latency histogram.
func TestHostile_MetricsBadInput(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, n *process.Node)
	}{
		{"buckets out of order, repeated and NaN: calls and scrapes go on", func(t *testing.T, n *process.Node) {
			c := metrics.New(n, metrics.WithCallLatency(3, 1, 1, math.NaN(), 2))
			defer c.Close()
			ref, err := genserver.Start(spawntest.Context(t), n, &counter{})
			if err != nil {
				t.Fatal(err)
			}
			hostileCall(t, func() {
				if _, err := ref.Call(spawntest.Context(t), 1); err != nil {
					t.Fatalf("call: %v", err)
				}
			})
			got := scrapeOf(t, c)
			if _, ok := got[`spawned_genserver_call_duration_seconds_bucket{server="*metrics_test.counter",le="3"}`]; !ok {
				t.Fatalf("no sorted bucket le=3 in the scrape:\n%v", got)
			}
		}},
		{"a process name that is not UTF-8 fails no scrape", func(t *testing.T, n *process.Node) {
			c := metrics.New(n)
			defer c.Close()
			p := spawntest.SpawnIdle(t, n)
			if err := registry.Of(n).Register("bad\xff\xfename", p); err != nil {
				t.Fatal(err)
			}
			if err := n.Send(p, "queued"); err != nil {
				t.Fatal(err)
			}
			got := scrapeOf(t, c)
			if got["spawned_mailbox_length_top{name=\"bad\ufffdname\",pid=\""+p.String()+"\"}"] != 1 {
				t.Fatalf("no top mailbox series for the process:\n%v", got)
			}
		}},
		{"a supervisor name that is not UTF-8 fails no scrape", func(t *testing.T, n *process.Node) {
			c := metrics.New(n)
			defer c.Close()
			ctx := spawntest.Context(t)
			ref, err := supervisor.Start(ctx, n, supervisor.Spec{Name: "sup\xff", Intensity: 10, Period: time.Hour,
				Children: []supervisor.ChildSpec{{ID: "w", Start: supervisor.Func(spawntest.Idle)}}})
			if err != nil {
				t.Fatal(err)
			}
			old := spawntest.WaitChild(t, ref, "w", pid.Pid{})
			if err := n.Exit(old, process.Kill); err != nil {
				t.Fatal(err)
			}
			spawntest.WaitChild(t, ref, "w", old)
			got := scrapeOf(t, c)
			if got["spawned_supervisor_restarts_total{supervisor=\"sup\ufffd\"}"] != 1 {
				t.Fatalf("no restart series for the supervisor:\n%v", got)
			}
		}},
		{"Collect straight with const labels Prometheus refuses", func(t *testing.T, n *process.Node) {
			c := metrics.New(n, metrics.WithConstLabels(prometheus.Labels{"node": "bad\xff"}), metrics.WithCallLatency())
			defer c.Close()
			if err := prometheus.NewRegistry().Register(c); err == nil {
				t.Fatal("a registry took const labels that are not UTF-8")
			}
			if hostileCollect(t, c) == 0 {
				t.Fatal("Collect sent nothing: want its metrics, invalid ones as errors")
			}
			ref, err := genserver.Start(spawntest.Context(t), n, &counter{})
			if err != nil {
				t.Fatal(err)
			}
			hostileCall(t, func() {
				if _, err := ref.Call(spawntest.Context(t), 1); err != nil {
					t.Fatalf("call: %v", err)
				}
			})
		}},
		{"negative top mailboxes, nil option", func(t *testing.T, n *process.Node) {
			c := metrics.New(n, metrics.WithTopMailboxes(-1), nil)
			defer c.Close()
			scrapeOf(t, c)
		}},
		{"nil node", func(t *testing.T, n *process.Node) {
			c := metrics.New(nil, metrics.WithCallLatency())
			if hostileCollect(t, c) != 0 {
				t.Fatal("metrics of no node")
			}
			c.Close()
		}},
		{"nil and zero Collector", func(t *testing.T, n *process.Node) {
			var nilC *metrics.Collector
			hostileCall(t, nilC.Close)
			hostileCollect(t, nilC)
			var zero metrics.Collector
			hostileCall(t, zero.Close)
			hostileCollect(t, &zero)
			ch := make(chan *prometheus.Desc, 64)
			hostileCall(t, func() { nilC.Describe(ch); zero.Describe(ch) })
		}},
		{"Close twice, Collect after Close and after Node.Stop", func(t *testing.T, n *process.Node) {
			other := process.NewNode(process.WithLogger(nil))
			c := metrics.New(other, metrics.WithCallLatency())
			if err := other.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			hostileCollect(t, c)
			c.Close()
			c.Close()
			hostileCollect(t, c)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := spawntest.NewNode(t)
			c.run(t, n)
		})
	}
}

// scrapeOf registers c alone and scrapes it over HTTP; a collector
// that panics or sends a metric Prometheus refuses fails the scrape.
func scrapeOf(t *testing.T, c *metrics.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("gather: %v", err)
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	got := scrape(t, h)
	for k := range got {
		if strings.Contains(k, "\xff") {
			t.Fatalf("a series with a label that is not UTF-8: %q", k)
		}
	}
	return got
}
