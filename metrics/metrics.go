// Package metrics exports a node's figures to Prometheus: a
// prometheus.Collector that reads the runtime's own counters when it is
// scraped, so the processes pay nothing for it between scrapes.
//
//	reg := prometheus.NewRegistry()
//	c := metrics.New(node, metrics.WithCallLatency())
//	defer c.Close()
//	reg.MustRegister(c)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The metrics, all prefixed spawned_:
//
//	processes{backend,status}                   gauge     live processes
//	processes_spawned_total                     counter   processes ever spawned
//	process_exits_total{reason}                 counter   exits by reason class: normal, shutdown,
//	                                                      killed, noproc, noconnection, panic, other
//	messages_received_total                     counter   messages queued for processes
//	messages_handled_total                      counter   messages taken by processes' code
//	messages_sent_total                         counter   messages sent by processes
//	mailbox_length                              histogram queued messages per live process
//	mailbox_length_top{pid,name}                gauge     the longest mailboxes (WithTopMailboxes)
//	supervisor_restarts_total{supervisor}       counter   children restarted
//	supervisor_escalations_total{supervisor}    counter   restart intensity reached: the supervisor gave up
//	supervisor_start_failures_total{supervisor} counter   child starts that failed
//	genserver_call_duration_seconds{server}     histogram call latency by server type (WithCallLatency)
//	stragglers                                  gauge     killed processes whose code still runs
//	blocking_pool_size, blocking_pool_in_use    gauge     the Blocking backend's bound and use
//	registered_names                            gauge     names in the registry
//	events_lost_total                           counter   supervisor events this collector missed
//
// Supervisor series are labelled by the supervisor's registered name (its
// Pid when it has none), so a supervisor restarted by its parent keeps its
// series. They count what happened since the collector was made: it learns
// of restarts from the node's events (see package event), which it reads
// at each scrape.
package metrics

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/process"
)

// DefaultTopMailboxes is how many of the longest mailboxes are exported
// by default.
const DefaultTopMailboxes = 10

// MailboxBuckets are the bounds of the mailbox length histogram.
var MailboxBuckets = []float64{0, 1, 4, 16, 64, 256, 1024, 4096, 16384, 65536}

// LatencyBuckets are the default bounds, in seconds, of the call latency
// histogram: 1 µs to about 4 s.
var LatencyBuckets = prometheus.ExponentialBuckets(1e-6, 4, 12)

// Option configures a Collector.
type Option func(*options)

type options struct {
	latency      bool
	buckets      []float64
	top          int
	constLabels  prometheus.Labels
	eventsBuffer int
}

// WithCallLatency records the latency of every GenServer call on the node
// into a histogram by server type, with buckets (LatencyBuckets if none),
// taken in increasing order, without repeats and NaNs.
// It costs each call two clock reads and a histogram update while the
// collector lives; without it a call pays one atomic load.
func WithCallLatency(buckets ...float64) Option {
	return func(o *options) { o.latency, o.buckets = true, buckets }
}

// WithTopMailboxes sets how many of the longest mailboxes are exported
// with their pid and name (DefaultTopMailboxes; 0 for none).
func WithTopMailboxes(n int) Option { return func(o *options) { o.top = max(n, 0) } }

// WithConstLabels adds labels to every metric, such as the node's name
// when several nodes share a registry.
func WithConstLabels(l prometheus.Labels) Option { return func(o *options) { o.constLabels = l } }

// Collector is a prometheus.Collector of one node's metrics. Close it when
// done with it.
type Collector struct {
	node *process.Node
	cn   *core.Node
	o    options
	sub  *event.Subscription
	lat  *latency

	processes, spawned, exits              *prometheus.Desc
	received, handled, sent                *prometheus.Desc
	mailbox, mailboxTop                    *prometheus.Desc
	restarts, escalations, startFailures   *prometheus.Desc
	stragglers, poolSize, poolInUse, names *prometheus.Desc
	eventsLost                             *prometheus.Desc

	mu          sync.Mutex // guards what follows: Collect may run concurrently
	supRestarts map[string]float64
	supEscalate map[string]float64
	supFailures map[string]float64
	last        core.Totals // the totals last reported: they never go down
}

// New returns a Collector of node's metrics.
func New(node *process.Node, opts ...Option) *Collector {
	o := options{top: DefaultTopMailboxes, eventsBuffer: 4096}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	c := &Collector{node: node, cn: (*core.Node)(node), o: o,
		supRestarts: map[string]float64{}, supEscalate: map[string]float64{}, supFailures: map[string]float64{}}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("spawned_"+name, help, labels, o.constLabels)
	}
	c.processes = d("processes", "Live processes by backend and status.", "backend", "status")
	c.spawned = d("processes_spawned_total", "Processes ever spawned.")
	c.exits = d("process_exits_total", "Process exits by reason class.", "reason")
	c.received = d("messages_received_total", "Messages queued for processes.")
	c.handled = d("messages_handled_total", "Messages taken by processes' code.")
	c.sent = d("messages_sent_total", "Messages sent by processes.")
	c.mailbox = d("mailbox_length", "Queued messages per live process.")
	c.mailboxTop = d("mailbox_length_top", "The longest mailboxes.", "pid", "name")
	c.restarts = d("supervisor_restarts_total", "Children restarted, by supervisor.", "supervisor")
	c.escalations = d("supervisor_escalations_total", "Times a supervisor reached its restart intensity and gave up.", "supervisor")
	c.startFailures = d("supervisor_start_failures_total", "Child starts that failed, by supervisor.", "supervisor")
	c.stragglers = d("stragglers", "Killed processes whose code still runs.")
	c.poolSize = d("blocking_pool_size", "The bound on Blocking handlers running at once.")
	c.poolInUse = d("blocking_pool_in_use", "Blocking handlers running now.")
	c.names = d("registered_names", "Names in the node's registry.")
	c.eventsLost = d("events_lost_total", "Supervisor events this collector missed because it was not scraped in time.")
	if node == nil {
		return c
	}
	c.sub = node.Subscribe(event.Buffer(o.eventsBuffer),
		event.Kinds(event.KindChildRestarted, event.KindIntensityReached, event.KindChildStartFailed))
	if o.latency {
		c.lat = newLatency(o)
		c.cn.SetCallObserver(c.lat)
	}
	return c
}

// Close stops the collector's subscription and call latency recording.
func (c *Collector) Close() {
	if c == nil {
		return
	}
	if c.sub != nil {
		c.sub.Close()
	}
	if c.lat != nil && c.cn.CallObserver() == c.lat {
		c.cn.SetCallObserver(nil)
	}
}

// Describe sends the descriptions of the collector's metrics.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	if c == nil || c.processes == nil {
		return // not made by New: it has nothing to describe
	}
	for _, d := range []*prometheus.Desc{c.processes, c.spawned, c.exits, c.received, c.handled, c.sent,
		c.mailbox, c.mailboxTop, c.restarts, c.escalations, c.startFailures, c.stragglers, c.poolSize,
		c.poolInUse, c.names, c.eventsLost} {
		ch <- d
	}
	if c.lat != nil {
		c.lat.vec.Describe(ch)
	}
}

// Collect reads the node's counters and sends the metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c == nil || c.node == nil {
		return
	}
	cn := c.cn
	st := cn.Stats()

	// One pass over the process table, taking no process's lock.
	type key struct {
		b process.Backend
		s process.Status
	}
	counts := map[key]int{}
	live := core.Totals{}
	buckets := make([]uint64, len(MailboxBuckets))
	var queuedSum float64
	var count uint64
	var top []core.ProcStat
	cn.Each(func(p core.ProcStat) {
		counts[key{process.Backend(p.Backend), process.Status(p.Status)}]++
		live.Received += p.Received
		live.Handled += p.Handled
		live.Sent += p.Sent
		count++
		queuedSum += float64(p.Queued)
		for i, b := range MailboxBuckets {
			if float64(p.Queued) <= b {
				buckets[i]++
			}
		}
		if c.o.top > 0 && p.Queued > 0 {
			top = keepTop(top, p, c.o.top)
		}
	})
	for _, b := range []process.Backend{process.Async, process.Blocking, process.Thread} {
		for _, s := range []process.Status{process.Waiting, process.Runnable, process.Running} {
			ch <- constMetric(c.processes, prometheus.GaugeValue, float64(counts[key{b, s}]), b.String(), s.String())
		}
	}
	ch <- constMetric(c.spawned, prometheus.CounterValue, float64(st.Spawned))
	exits := cn.ExitCounts()
	for _, class := range core.ExitClasses {
		ch <- constMetric(c.exits, prometheus.CounterValue, float64(exits[class]), class.String())
	}

	gone := cn.ExitedTotals()
	c.mu.Lock()
	// A process that exits during the pass may be missed by both sums for
	// this scrape; a counter must not go down for that.
	c.last.Received = max(c.last.Received, gone.Received+live.Received)
	c.last.Handled = max(c.last.Handled, gone.Handled+live.Handled)
	c.last.Sent = max(c.last.Sent, gone.Sent+live.Sent)
	totals := c.last
	c.drain()
	restarts, escalations, failures := clone(c.supRestarts), clone(c.supEscalate), clone(c.supFailures)
	c.mu.Unlock()
	ch <- constMetric(c.received, prometheus.CounterValue, float64(totals.Received))
	ch <- constMetric(c.handled, prometheus.CounterValue, float64(totals.Handled))
	ch <- constMetric(c.sent, prometheus.CounterValue, float64(totals.Sent))

	hb := make(map[float64]uint64, len(MailboxBuckets))
	for i, b := range MailboxBuckets {
		hb[b] = buckets[i]
	}
	ch <- constHistogram(c.mailbox, count, queuedSum, hb)
	for _, p := range top {
		name, _ := cn.NameOf(p.Pid)
		ch <- constMetric(c.mailboxTop, prometheus.GaugeValue, float64(p.Queued), p.Pid.String(), labelValue(name))
	}

	for sup, v := range restarts {
		ch <- constMetric(c.restarts, prometheus.CounterValue, v, sup)
	}
	for sup, v := range escalations {
		ch <- constMetric(c.escalations, prometheus.CounterValue, v, sup)
	}
	for sup, v := range failures {
		ch <- constMetric(c.startFailures, prometheus.CounterValue, v, sup)
	}
	ch <- constMetric(c.stragglers, prometheus.GaugeValue, float64(st.Stragglers))
	ch <- constMetric(c.poolSize, prometheus.GaugeValue, float64(cn.BlockingPool()))
	ch <- constMetric(c.poolInUse, prometheus.GaugeValue, float64(cn.BlockingInUse()))
	ch <- constMetric(c.names, prometheus.GaugeValue, float64(st.Names))
	ch <- constMetric(c.eventsLost, prometheus.CounterValue, float64(c.sub.Dropped()))
	if c.lat != nil {
		c.lat.vec.Collect(ch)
	}
}

// drain counts the supervisor events that arrived since the last scrape.
// Caller holds c.mu.
func (c *Collector) drain() {
	for {
		select {
		case e, ok := <-c.sub.C():
			if !ok {
				return
			}
			switch e := e.(type) {
			case event.ChildRestarted:
				c.supRestarts[supLabel(e.SupervisorName, e.Supervisor.String())]++
			case event.IntensityReached:
				c.supEscalate[supLabel(e.SupervisorName, e.Supervisor.String())]++
			case event.ChildStartFailed:
				c.supFailures[supLabel(e.SupervisorName, e.Supervisor.String())]++
			}
		default:
			return
		}
	}
}

func supLabel(name, pid string) string {
	if name != "" {
		return labelValue(name)
	}
	return pid
}

// labelValue makes s a valid label value: a name is any string, but
// Prometheus takes only UTF-8, and a metric it refuses would fail the scrape.
func labelValue(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// constMetric is prometheus.MustNewConstMetric without the panic: a metric
// that cannot be made (const labels Prometheus refuses) is reported to the
// registry as an invalid metric, which fails the scrape with that error.
func constMetric(desc *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(desc, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}

// constHistogram is constMetric for a histogram.
func constHistogram(desc *prometheus.Desc, count uint64, sum float64, buckets map[float64]uint64) prometheus.Metric {
	m, err := prometheus.NewConstHistogram(desc, count, sum, buckets)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}

func clone(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// keepTop adds p to top, which holds at most n entries, longest first.
func keepTop(top []core.ProcStat, p core.ProcStat, n int) []core.ProcStat {
	if len(top) == n && top[n-1].Queued >= p.Queued {
		return top
	}
	i, _ := slices.BinarySearchFunc(top, p.Queued, func(q core.ProcStat, queued int) int { return cmp.Compare(queued, q.Queued) })
	top = slices.Insert(top, i, p)
	if len(top) > n {
		top = top[:n]
	}
	return top
}

// latency is the call latency histogram, by server type.
type latency struct {
	vec       *prometheus.HistogramVec
	observers sync.Map // behaviour -> prometheus.Observer
}

func newLatency(o options) *latency {
	// Prometheus wants the bounds increasing, and would panic in the
	// first call otherwise: sort them, dropping repeats and NaNs.
	b := slices.DeleteFunc(slices.Clone(o.buckets), math.IsNaN)
	slices.Sort(b)
	b = slices.Compact(b)
	if len(b) == 0 {
		b = LatencyBuckets
	}
	return &latency{vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "spawned_genserver_call_duration_seconds", Help: "GenServer call latency, from the call to its answer, by server type.",
		Buckets: b, ConstLabels: o.constLabels,
	}, []string{"server"})}
}

// ObserveCall records one call (core.CallObserver).
func (l *latency) ObserveCall(behaviour string, d time.Duration) {
	o, ok := l.observers.Load(behaviour)
	if !ok {
		// This runs in a server's call: a histogram Prometheus refuses
		// (const labels it rejects) records nothing rather than panic;
		// the registry reports the collector's error at registration.
		var obs prometheus.Observer = noObserver{}
		if h, err := l.vec.GetMetricWithLabelValues(labelValue(behaviour)); err == nil {
			obs = h
		}
		o, _ = l.observers.LoadOrStore(behaviour, obs)
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

// noObserver records nothing.
type noObserver struct{}

func (noObserver) Observe(float64) {}
