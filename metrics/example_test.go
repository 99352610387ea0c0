package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/metrics"
	"github.com/spawned-go/spawned/process"
)

// A node's metrics served to Prometheus. Here the handler is scraped in
// place, and a few of its lines are printed.
func Example() {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())

	c := metrics.New(node, metrics.WithCallLatency())
	defer c.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	handler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) // mount it: http.Handle("/metrics", handler)

	p, _ := node.Spawn(func(*process.Process) error { panic("oops") })
	done := make(chan struct{})
	link.Watch(node, p, func(link.Down) { close(done) })
	<-done

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "spawned_process_exits_total{reason=\"panic\"}") ||
			strings.HasPrefix(line, "spawned_processes_spawned_total") {
			fmt.Println(line)
		}
	}
	// Output:
	// spawned_process_exits_total{reason="panic"} 1
	// spawned_processes_spawned_total 1
}
