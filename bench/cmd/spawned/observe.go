package main

import (
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spawned-go/spawned/metrics"
	"github.com/spawned-go/spawned/process"
)

// observing reads OBSERVE, a comma-separated list of what watches the
// node while it is measured, to show what observation costs (see
// docs/observability.md):
//
//	events   a subscriber reads every event
//	labels   profile labels on
//	metrics  a Prometheus collector with call latency, scraped every second
//	trace    one idle process traced (so every send checks the traced set)
//	all      all of them
var observing = strings.Split(os.Getenv("OBSERVE"), ",")

func observes(what string) bool {
	for _, w := range observing {
		if w == what || w == "all" {
			return true
		}
	}
	return false
}

// observe sets up on node what OBSERVE asks for.
func observe(node *process.Node) {
	if observes("labels") {
		node.SetProfileLabels(true)
	}
	if observes("events") {
		sub := node.Subscribe()
		go func() {
			for range sub.C() {
			}
		}()
	}
	if observes("metrics") {
		c := metrics.New(node, metrics.WithCallLatency())
		go func() {
			ch := make(chan prometheus.Metric, 64)
			go func() {
				for range ch {
				}
			}()
			for range time.Tick(time.Second) {
				c.Collect(ch)
			}
		}()
	}
	if observes("trace") {
		p, err := node.Spawn(func(p *process.Process) error { <-p.Context().Done(); return nil })
		if err == nil {
			node.Trace(p)
		}
	}
	if os.Getenv("OBSERVE") != "" {
		note("observed by %s", os.Getenv("OBSERVE"))
	}
}
