package observer

import (
	"errors"
	"sync"
	"time"

	"github.com/spawned-go/spawned/event"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// keptSamples is how many samples the charts show: five minutes at the
// default period.
const keptSamples = 300

// keptCrashes bounds the crash reports kept.
const keptCrashes = 100

// sample is one point of the charts.
type sample struct {
	T         int64   `json:"t"` // Unix milliseconds
	Processes int     `json:"processes"`
	Msgs      float64 `json:"msgs"`     // messages handled per second since the last sample
	Restarts  int     `json:"restarts"` // children restarted since the last sample
	Crashes   int     `json:"crashes"`  // abnormal exits since the last sample
}

// crashReport is an abnormal exit the sampler saw.
type crashReport struct {
	Time   string `json:"time"`
	Pid    string `json:"pid"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason"`
	Stack  string `json:"stack,omitempty"`
}

// sampler keeps the charts' figures and the recent crash reports. It runs
// only between a request and WithIdle after the last one.
type sampler struct {
	o       *Observer
	mu      sync.Mutex
	last    time.Time // the last request
	running bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}
	points  []sample
	crashes []crashReport
	prev    uint64 // messages handled at the last sample
	prevAt  time.Time
}

func (s *sampler) init(o *Observer) { s.o = o }

// touch records a request and starts the sampler if it is not running.
func (s *sampler) touch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = time.Now()
	if s.running || s.closed || s.o.node == nil || (*core.Node)(s.o.node).Stopped() {
		return
	}
	s.running = true
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	sub := s.o.node.Subscribe(event.Kinds(event.KindExited, event.KindChildRestarted))
	go s.run(sub, s.stop, s.done)
}

func (s *sampler) close() {
	s.mu.Lock()
	s.closed = true
	running, stop, done := s.running, s.stop, s.done
	if running {
		close(stop)
		s.running = false
	}
	s.mu.Unlock()
	if running {
		<-done
	}
}

func (s *sampler) run(sub *event.Subscription, stop, done chan struct{}) {
	defer close(done)
	defer sub.Close()
	t := time.NewTicker(s.o.cfg.every)
	defer t.Stop()
	s.take(sub)
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		s.take(sub)
		s.mu.Lock()
		idle := time.Since(s.last) > s.o.cfg.idle || (*core.Node)(s.o.node).Stopped()
		if idle && s.running && s.stop == stop {
			s.running = false
		}
		s.mu.Unlock()
		if idle {
			return
		}
	}
}

// take reads the events that came and the node's figures, and adds a
// sample.
func (s *sampler) take(sub *event.Subscription) {
	var restarts, crashes int
	var reports []crashReport
	for more := true; more; {
		select {
		case e, ok := <-sub.C():
			if !ok { // the node stopped as the subscription was made
				more = false
				continue
			}
			switch e := e.(type) {
			case event.ChildRestarted:
				restarts++
			case event.Exited:
				if process.IsShutdown(e.Reason) {
					continue
				}
				crashes++
				r := crashReport{Time: e.Time.Format("15:04:05.000"), Pid: e.Pid.String(), Name: e.Name, Reason: core.Render(e.Reason)}
				var pe *process.PanicError
				if errors.As(e.Reason, &pe) {
					r.Stack = string(pe.Stack)
				}
				reports = append(reports, r)
			}
		default:
			more = false
		}
	}
	cn := (*core.Node)(s.o.node)
	handled := cn.ExitedTotals().Handled
	cn.Each(func(p core.ProcStat) { handled += p.Handled })
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	pt := sample{T: now.UnixMilli(), Processes: cn.Stats().Processes, Restarts: restarts, Crashes: crashes}
	if !s.prevAt.IsZero() && handled >= s.prev {
		pt.Msgs = float64(handled-s.prev) / now.Sub(s.prevAt).Seconds()
	}
	s.prev, s.prevAt = handled, now
	s.points = append(s.points, pt)
	if len(s.points) > keptSamples {
		s.points = append(s.points[:0], s.points[len(s.points)-keptSamples:]...)
	}
	s.crashes = append(s.crashes, reports...)
	if len(s.crashes) > keptCrashes {
		s.crashes = append(s.crashes[:0], s.crashes[len(s.crashes)-keptCrashes:]...)
	}
}

func (s *sampler) samples() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]sample, len(s.points))
	copy(out, s.points)
	return out
}

// crashesOf returns the crash reports of p, or of any process that held
// name: a supervised process's predecessors.
func (s *sampler) crashesOf(p pid.Pid, name string) []crashReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []crashReport{}
	for i := len(s.crashes) - 1; i >= 0; i-- {
		c := s.crashes[i]
		if c.Pid == p.String() || name != "" && c.Name == name {
			out = append(out, c)
		}
	}
	return out
}
