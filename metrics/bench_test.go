package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spawned-go/spawned/metrics"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
)

type idle struct{}

func (idle) HandleMessage(*process.Process, any) error { return nil }

// One scrape of a node with 10,000 idle processes: the price is paid by the
// scraper, once per scrape, and by no process.
func BenchmarkCollect10k(b *testing.B) {
	n := spawntest.NewNode(b)
	for range 10000 {
		if _, err := n.SpawnHandler(idle{}); err != nil {
			b.Fatal(err)
		}
	}
	c := metrics.New(n)
	defer c.Close()
	ch := make(chan prometheus.Metric, 1024)
	b.ReportAllocs()
	for b.Loop() {
		go func() { c.Collect(ch); close(ch) }()
		for range ch {
		}
		ch = make(chan prometheus.Metric, 1024)
	}
}
