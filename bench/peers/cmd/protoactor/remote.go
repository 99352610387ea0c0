package main

// The distribution workloads W9..W11 with protoactor-go's remote (gRPC
// streams between the actor systems of two OS processes on 127.0.0.1). The
// messages are protobuf well-known types, which its default serializer
// takes as they are: Int64Value for a call and its reply, BytesValue for a
// cast, Empty to ask for the count of casts. protoactor's remote has no
// cluster-wide names (its cluster package is a virtual-actor system over an
// external membership provider), so W12 and W13 are skipped.

import (
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	bu "github.com/spawned-go/spawned/bench/peers/internal/benchutil"
)

// serverName is the peer's server actor.
const serverName = "server"

const readyTimeout = 30 * time.Second

// startRemote starts an actor system with its remote on a free port of
// 127.0.0.1.
func startRemote() (*actor.ActorSystem, *remote.Remote) {
	as := newSystem()
	r := remote.NewRemote(as, remote.Configure("127.0.0.1", 0))
	r.Start()
	return as, r
}

// remoteServer answers calls with v+1 and counts casts; Empty asks for the
// count, which it resets.
type remoteServer struct{ n int64 }

func (s *remoteServer) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *wrapperspb.Int64Value:
		ctx.Respond(wrapperspb.Int64(m.Value + 1))
	case *wrapperspb.BytesValue:
		s.n++
	case *emptypb.Empty:
		ctx.Respond(wrapperspb.Int64(s.n))
		s.n = 0
	}
}

// peer is the process at the other end: an actor system with its remote
// and the named server, until its standard input closes.
func peer() {
	as, r := startRemote()
	if _, err := as.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &remoteServer{} }), serverName); err != nil {
		bu.Fatal(system, "peer", "spawn server: %v", err)
	}
	bu.PeerReady(as.ProcessRegistry.Address)
	bu.PeerWait()
	r.Shutdown(false)
	as.Shutdown()
}

// startPeer starts the peer process and returns it with its server's PID.
func startPeer(w string) (*bu.Peer, *actor.PID) {
	p, err := bu.StartPeer("server", w)
	if err != nil {
		bu.Fatal(system, w, "%v", err)
	}
	f, err := p.ReadyFields(readyTimeout)
	if err != nil || len(f) != 1 {
		bu.Fatal(system, w, "peer not ready: %v %q", err, f)
	}
	return p, actor.NewPID(f[0], serverName)
}

// remoteCall sends v to the remote server and checks the answer v+1.
func remoteCall(w string, as *actor.ActorSystem, pid *actor.PID, v int64) {
	r, err := as.Root.RequestFuture(pid, wrapperspb.Int64(v), callTimeout).Result()
	if err != nil {
		bu.Fatal(system, w, "call: %v", err)
	}
	if a, ok := r.(*wrapperspb.Int64Value); !ok || a.Value != v+1 {
		bu.Fatal(system, w, "call %d answered %v", v, r)
	}
}

// W9: RequestFuture round trips to the remote server, each timed.
func w9(p bu.Placement) {
	warm, calls := bu.N(1_000), bu.N(100_000)
	as, r := startRemote()
	defer as.Shutdown()
	defer r.Shutdown(false)
	pr, srv := startPeer("W9")
	defer pr.Stop()
	for i := range warm {
		remoteCall("W9", as, srv, int64(i))
	}
	ts := make([]time.Duration, calls)
	for i := range ts {
		t0 := time.Now()
		remoteCall("W9", as, srv, int64(i))
		ts[i] = time.Since(t0)
	}
	slices.Sort(ts)
	bu.Result(system, p.Figure("W9p50"), float64(bu.Percentile(ts, 50).Nanoseconds())/1e3, "us/call")
	bu.Result(system, p.Figure("W9p99"), float64(bu.Percentile(ts, 99).Nanoseconds())/1e3, "us/call")
}

// W10: Sends of 16, 256 and 4096 B to the remote server, confirmed by a
// request for its count.
func w10(p bu.Placement) {
	as, r := startRemote()
	defer as.Shutdown()
	defer r.Shutdown(false)
	pr, srv := startPeer("W10")
	defer pr.Stop()
	count := func() int64 {
		a, err := as.Root.RequestFuture(srv, &emptypb.Empty{}, time.Minute).Result()
		if err != nil {
			bu.Fatal(system, "W10", "count: %v", err)
		}
		return a.(*wrapperspb.Int64Value).Value
	}
	if n := count(); n != 0 {
		bu.Fatal(system, "W10", "server counted %d before the first cast", n)
	}
	for _, sz := range []struct{ size, n int }{{16, 1_000_000}, {256, 200_000}, {4096, 50_000}} {
		n := bu.N(sz.n)
		payload := make([]byte, sz.size)
		for i := range payload {
			payload[i] = 'x'
		}
		msg := wrapperspb.Bytes(payload)
		t0 := time.Now()
		for range n {
			as.Root.Send(srv, msg)
		}
		got := count()
		el := time.Since(t0)
		if got != int64(n) {
			bu.Fatal(system, "W10", "server counted %d of %d casts of %d B", got, n, sz.size)
		}
		bu.Result(system, p.Figure("W10s"+strconv.Itoa(sz.size)), bu.Rate(el, n), "msgs/s")
	}
}

// watcher watches one remote actor and reports its Terminated, with the
// time it arrived.
type watcher struct {
	who     *actor.PID
	watched chan struct{}
	down    chan terminated
}

type terminated struct {
	why actor.TerminatedReason
	at  time.Time
}

func (w *watcher) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ctx.Watch(w.who)
		close(w.watched)
	case *actor.Terminated:
		w.down <- terminated{m.Why, time.Now()}
	}
}

// W11: an actor on A watches the server on B; B's OS process is killed;
// the time until the watcher's Terminated (AddressTerminated, sent when
// the gRPC stream to B breaks).
func w11() {
	as, r := startRemote()
	defer as.Shutdown()
	defer r.Shutdown(false)
	ms := make([]float64, bu.Reps())
	for k := range ms {
		pr, srv := startPeer("W11")
		remoteCall("W11", as, srv, 1) // connected
		w := &watcher{who: srv, watched: make(chan struct{}), down: make(chan terminated, 1)}
		wpid := as.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return w }))
		<-w.watched
		// The watch travels through A's endpoint watcher to B; a call made
		// after it and a pause let it settle before the kill.
		remoteCall("W11", as, srv, 2)
		time.Sleep(20 * time.Millisecond)
		t0, err := pr.Kill()
		if err != nil {
			bu.Fatal(system, "W11", "kill: %v", err)
		}
		select {
		case d := <-w.down:
			if d.why != actor.TerminatedReason_AddressTerminated {
				bu.Fatal(system, "W11", "Terminated with %v, want AddressTerminated", d.why)
			}
			ms[k] = bu.Millis(d.at.Sub(t0))
		case <-time.After(readyTimeout):
			bu.Fatal(system, "W11", "no Terminated %v after the kill", readyTimeout)
		}
		pr.Stop()
		as.Root.Stop(wpid)
	}
	bu.Note("NOTE %s W11 ms per repetition: %s", system, bu.Floats(ms))
	bu.Result(system, "W11", bu.Median(ms), "ms")
}

// distMain runs a distribution workload, or the peer.
func distMain() {
	if _, ok := bu.PeerRole(); ok {
		peer()
		return
	}
	bu.DistMain(system, map[string]func(bu.Placement){
		"W9": w9, "W10": w10, "W11": func(bu.Placement) { w11() },
	}, func(string) string {
		return "no cluster-wide names in its remote (its cluster package is virtual actors over an external provider)"
	})
}

// isDist reports whether this run is of a distribution workload or a peer.
func isDist() bool {
	if _, ok := bu.PeerRole(); ok {
		return true
	}
	return len(os.Args) == 2 && bu.IsDist(os.Args[1])
}
