package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/observer"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/supervisor"
)

// demo keeps the tree running for the observer: a light load of calls,
// and, while chaos is on, a crash somewhere in the tree every interval.
type demo struct {
	node     *process.Node
	story    *story
	Observer *observer.Observer
	chaos    atomic.Bool
	every    time.Duration
	stop     chan struct{}
	wg       sync.WaitGroup
}

// startDemo starts the tree on a fresh node, its two jobs, the load, the
// chaos loop (off until switched on) and an observer with actions allowed.
func startDemo(w io.Writer, chaos bool, every time.Duration) (*demo, error) {
	node := process.NewNode(process.WithLogger(nil))
	d := &demo{node: node, every: every, stop: make(chan struct{})}
	d.chaos.Store(chaos)
	d.story = &story{ctx: context.Background(), node: node, reg: registry.Of(node), j: newJournal(w), live: true}
	d.Observer = observer.Handler(node, observer.WithActions(true), observer.WithTitle("service_tree"),
		observer.WithSwitch(observer.Switch{Name: "chaos", Help: "crash a random service every " + every.String(),
			Get: d.chaos.Load, Set: d.chaos.Store}))
	if err := d.startTree(); err != nil {
		d.Close()
		return nil, err
	}
	d.wg.Add(3)
	go d.drainStarts()
	go d.load()
	go d.monkey()
	return d, nil
}

// startTree starts top and the two jobs; run again if top gives up.
func (d *demo) startTree() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	top, err := supervisor.Start(ctx, d.node, d.story.spec())
	if err != nil {
		return err
	}
	d.story.top = top
	for _, job := range []Job{{ID: 1, Task: "resize photos"}, {ID: 2, Task: "send newsletters"}} {
		if _, err := d.story.jobs.Load().StartChild(ctx, job); err != nil {
			return err
		}
	}
	_, err = link.Watch(d.node, top.Pid(), func(link.Down) {
		select {
		case <-d.stop:
		default:
			go d.startTree() // the whole tree gave up: start it again
		}
	})
	return err
}

// drainStarts consumes the services' start announcements, which the
// story waits on and the demo does not.
func (d *demo) drainStarts() {
	defer d.wg.Done()
	for {
		select {
		case <-d.story.j.starts:
		case <-d.stop:
			return
		}
	}
}

// load calls the services now and then, so that messages move.
func (d *demo) load() {
	defer d.wg.Done()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-t.C:
		case <-d.stop:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		key := fmt.Sprintf("user:%d", i%50)
		if i%5 == 0 {
			dbRef(d.node).Call(ctx, Put{Key: key, Value: "v"})
		}
		cacheRef(d.node).Call(ctx, Lookup{Key: key})
		if i%10 == 0 {
			jobRef(d.node, fmt.Sprintf("job-%d", 1+i/10%2)).Call(ctx, Work{})
		}
		cancel()
	}
}

// monkey crashes a random service every interval while chaos is on.
func (d *demo) monkey() {
	defer d.wg.Done()
	t := time.NewTicker(d.every)
	defer t.Stop()
	victims := []string{"db", "cache", "metrics", "job-1", "job-2"}
	for {
		select {
		case <-t.C:
		case <-d.stop:
			return
		}
		if !d.chaos.Load() {
			continue
		}
		name := victims[rand.IntN(len(victims))]
		p, ok := d.story.reg.WhereIs(name)
		if !ok {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		switch rand.IntN(3) {
		case 0: // a panic inside the service
			switch name {
			case "db":
				dbRef(d.node).Call(ctx, Corrupt{})
			case "job-1", "job-2":
				jobRef(d.node, name).Call(ctx, Work{Crash: true})
			default:
				d.node.Exit(p, errChaos)
			}
		case 1:
			d.node.Exit(p, process.Kill)
		default:
			d.node.Exit(p, errChaos)
		}
		cancel()
	}
}

var errChaos = errors.New("chaos monkey")

// Close stops the demo, the tree and the node.
func (d *demo) Close() {
	close(d.stop)
	d.wg.Wait()
	d.Observer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if d.story.top.Pid().IsZero() {
		d.node.Stop(ctx)
		return
	}
	d.story.top.Stop(ctx)
	d.node.Stop(ctx)
}

// serve runs the demo with the observer at addr until ctx is done.
func serve(ctx context.Context, addr string, chaos bool, w io.Writer) error {
	d, err := startDemo(w, chaos, 1500*time.Millisecond)
	if err != nil {
		return err
	}
	defer d.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", d.Observer)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(w, "service_tree: the tree is running; watch it at http://%s/ (chaos %v; Ctrl-C to stop)\n", ln.Addr(), chaos)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
