// Command nats measures the floor under the distribution workloads W9..W11
// of BENCHMARKS.md (system "nats"): bare NATS between two OS processes,
// through a nats-server embedded in the measuring process and listening on
// 127.0.0.1, with generated credentials. No runtime on top: what the
// cluster package pays for its transport.
//
//	go run ./cmd/nats W9        # QUICK=1 divides every N by 10
//
// W9: a publish with a reply subject to the peer, which echoes it on the
// measuring process's inbox subscription; each round trip timed, p50 and p99
// (us/call). W10: publishes of 16, 256 and 4096 B to the peer's
// subscription, then a request answered with the count once the peer has
// handled every message (msgs/s). W9 and W10 run unpinned and pinned to one
// core (figures with the suffix "pinned"). W11: the peer's OS process is
// killed (SIGKILL); the time until the server's client-disconnect advisory
// ($SYS.ACCOUNT.<account>.DISCONNECT) naming the peer reaches a system
// account subscriber of the measuring process (ms, median of 20). A bare
// transport has no names: W12 and W13 are skipped.
package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	bu "github.com/spawned-go/spawned/bench/peers/internal/benchutil"
)

const system = "nats"

const (
	appAccount  = "APP"
	callSubject = "bench.call"
	castSubject = "bench.cast"
	timeout     = 10 * time.Second
)

func main() {
	if role, ok := bu.PeerRole(); ok {
		peer(role, os.Args[1:])
		return
	}
	bu.DistMain(system, map[string]func(bu.Placement){
		"W9": w9, "W10": w10, "W11": func(bu.Placement) { w11() },
	}, func(string) string { return "a bare transport has no names" })
}

// ---------------------------------------------------------------------------
// The embedded server, in the measuring process.

// floor is the embedded server and the measuring process's connections.
type floor struct {
	srv      *server.Server
	url      string
	user, pw string // the application account's user, for both sides
	nc       *nats.Conn
	sys      *nats.Conn // in the system account, for advisories (W11)
}

func secret() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// start runs an embedded server on 127.0.0.1 (a free port) with an
// application account and the system account, each with a generated
// password, and connects to it.
func start(w string, withSys bool) *floor {
	app := server.NewAccount(appAccount)
	sys := server.NewAccount("SYS")
	f := &floor{user: "bench", pw: secret()}
	sysPw := secret()
	opts := &server.Options{
		Host:          "127.0.0.1",
		Port:          -1, // a free port
		NoLog:         true,
		NoSigs:        true,
		Accounts:      []*server.Account{app, sys},
		SystemAccount: "SYS",
		Users: []*server.User{
			{Username: f.user, Password: f.pw, Account: app},
			{Username: "sys", Password: sysPw, Account: sys},
		},
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		bu.Fatal(system, w, "embedded server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(timeout) {
		bu.Fatal(system, w, "embedded server not ready after %v", timeout)
	}
	f.srv, f.url = srv, srv.ClientURL()
	f.nc = connect(w, f.url, f.user, f.pw, "bench-a")
	if withSys {
		f.sys = connect(w, f.url, "sys", sysPw, "bench-a-sys")
	}
	return f
}

func connect(w, url, user, pw, name string) *nats.Conn {
	nc, err := nats.Connect(url, nats.UserInfo(user, pw), nats.Name(name),
		nats.NoReconnect(), nats.Timeout(timeout))
	if err != nil {
		bu.Fatal(system, w, "connect %s: %v", name, err)
	}
	return nc
}

// startPeer starts the peer process in role, connected as name, and waits
// until it serves.
func (f *floor) startPeer(w, role, name string) *bu.Peer {
	p, err := bu.StartPeer(role, f.url, f.user, f.pw, name)
	if err != nil {
		bu.Fatal(system, w, "%v", err)
	}
	if _, err := p.ReadyFields(timeout); err != nil {
		bu.Fatal(system, w, "%v", err)
	}
	return p
}

func (f *floor) close() {
	f.nc.Close()
	if f.sys != nil {
		f.sys.Close()
	}
	f.srv.Shutdown()
	f.srv.WaitForShutdown()
}

// ---------------------------------------------------------------------------
// The peer process.

// peer connects to the measuring process's server and serves role until
// its standard input closes.
func peer(role string, args []string) {
	w := "peer " + role
	if len(args) != 4 {
		bu.Fatal(system, w, "want url, user, password, name; got %d arguments", len(args))
	}
	nc := connect(w, args[0], args[1], args[2], args[3])
	switch role {
	case "server":
		// W9: echo every call to its reply subject.
		if _, err := nc.Subscribe(callSubject, func(m *nats.Msg) {
			if err := m.Respond(m.Data); err != nil {
				bu.Fatal(system, w, "respond: %v", err)
			}
		}); err != nil {
			bu.Fatal(system, w, "subscribe: %v", err)
		}
		// W10: count the casts; a message with a reply subject asks for the
		// count (and resets it).
		var n uint64
		sub, err := nc.Subscribe(castSubject, func(m *nats.Msg) {
			if m.Reply == "" {
				n++
				return
			}
			if err := m.Respond(binary.LittleEndian.AppendUint64(nil, n)); err != nil {
				bu.Fatal(system, w, "respond: %v", err)
			}
			n = 0
		})
		if err != nil {
			bu.Fatal(system, w, "subscribe: %v", err)
		}
		// The floor has no flow control of its own: the client buffers
		// whatever the server delivers.
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			bu.Fatal(system, w, "pending limits: %v", err)
		}
	case "idle":
	default:
		bu.Fatal(system, w, "unknown role")
	}
	if err := nc.Flush(); err != nil {
		bu.Fatal(system, w, "flush: %v", err)
	}
	bu.PeerReady()
	bu.PeerWait()
	nc.Close()
}

// ---------------------------------------------------------------------------
// W9: publish/reply round trips, each timed.

func w9(p bu.Placement) {
	warm, calls := bu.N(1_000), bu.N(100_000)
	f := start("W9", false)
	defer f.close()
	pr := f.startPeer("W9", "server", "bench-b")
	defer pr.Stop()

	inbox := f.nc.NewInbox()
	sub, err := f.nc.SubscribeSync(inbox)
	if err != nil {
		bu.Fatal(system, "W9", "subscribe: %v", err)
	}
	call := func(i uint64) time.Duration {
		t0 := time.Now()
		if err := f.nc.PublishRequest(callSubject, inbox, binary.LittleEndian.AppendUint64(nil, i)); err != nil {
			bu.Fatal(system, "W9", "publish: %v", err)
		}
		m, err := sub.NextMsg(timeout)
		el := time.Since(t0)
		if err != nil {
			bu.Fatal(system, "W9", "reply: %v", err)
		}
		if len(m.Data) != 8 || binary.LittleEndian.Uint64(m.Data) != i {
			bu.Fatal(system, "W9", "call %d answered %x", i, m.Data)
		}
		return el
	}
	for i := range warm {
		call(uint64(i))
	}
	ts := make([]time.Duration, calls)
	for i := range ts {
		ts[i] = call(uint64(i))
	}
	slices.Sort(ts)
	bu.Result(system, p.Figure("W9p50"), float64(bu.Percentile(ts, 50).Nanoseconds())/1e3, "us/call")
	bu.Result(system, p.Figure("W9p99"), float64(bu.Percentile(ts, 99).Nanoseconds())/1e3, "us/call")
}

// ---------------------------------------------------------------------------
// W10: publishes of three sizes, confirmed by a request for the count.

func w10(p bu.Placement) {
	f := start("W10", false)
	defer f.close()
	pr := f.startPeer("W10", "server", "bench-b")
	defer pr.Stop()

	inbox := f.nc.NewInbox()
	sub, err := f.nc.SubscribeSync(inbox)
	if err != nil {
		bu.Fatal(system, "W10", "subscribe: %v", err)
	}
	count := func() uint64 {
		if err := f.nc.PublishRequest(castSubject, inbox, nil); err != nil {
			bu.Fatal(system, "W10", "publish: %v", err)
		}
		m, err := sub.NextMsg(time.Minute)
		if err != nil {
			bu.Fatal(system, "W10", "count: %v", err)
		}
		return binary.LittleEndian.Uint64(m.Data)
	}
	if n := count(); n != 0 {
		bu.Fatal(system, "W10", "peer counted %d before the first cast", n)
	}
	for _, sz := range []struct{ size, n int }{{16, 1_000_000}, {256, 200_000}, {4096, 50_000}} {
		n := bu.N(sz.n)
		payload := make([]byte, sz.size)
		for i := range payload {
			payload[i] = 'x'
		}
		t0 := time.Now()
		for range n {
			if err := f.nc.Publish(castSubject, payload); err != nil {
				bu.Fatal(system, "W10", "publish: %v", err)
			}
		}
		got := count()
		el := time.Since(t0)
		if got != uint64(n) {
			bu.Fatal(system, "W10", "peer counted %d of %d casts of %d B", got, n, sz.size)
		}
		bu.Result(system, p.Figure("W10s"+strconv.Itoa(sz.size)), bu.Rate(el, n), "msgs/s")
	}
}

// ---------------------------------------------------------------------------
// W11: kill -9 of the peer to the server's disconnect advisory.

// disconnect is the part of the server's client-disconnect advisory read
// here.
type disconnect struct {
	Client struct {
		Name string `json:"name"`
	} `json:"client"`
}

func w11() {
	f := start("W11", true)
	defer f.close()
	// gone receives the name of each disconnected client and when the
	// advisory arrived.
	type event struct {
		name string
		at   time.Time
	}
	gone := make(chan event, 16)
	var bad atomic.Int64
	if _, err := f.sys.Subscribe(fmt.Sprintf("$SYS.ACCOUNT.%s.DISCONNECT", appAccount), func(m *nats.Msg) {
		at := time.Now()
		var d disconnect
		if err := json.Unmarshal(m.Data, &d); err != nil {
			bad.Add(1)
			return
		}
		gone <- event{d.Client.Name, at}
	}); err != nil {
		bu.Fatal(system, "W11", "subscribe to advisories: %v", err)
	}
	if err := f.sys.Flush(); err != nil {
		bu.Fatal(system, "W11", "flush: %v", err)
	}
	ms := make([]float64, bu.Reps())
	for k := range ms {
		name := "bench-b" + strconv.Itoa(k+1)
		pr := f.startPeer("W11", "idle", name)
		t0, err := pr.Kill()
		if err != nil {
			bu.Fatal(system, "W11", "kill: %v", err)
		}
		deadline := time.After(timeout)
	wait:
		for {
			select {
			case e := <-gone:
				if e.name == name {
					ms[k] = bu.Millis(e.at.Sub(t0))
					break wait
				}
			case <-deadline:
				bu.Fatal(system, "W11", "no disconnect advisory for %s after %v", name, timeout)
			}
		}
		pr.Stop()
	}
	if n := bad.Load(); n > 0 {
		bu.Note("NOTE %s W11 %d advisories not understood", system, n)
	}
	bu.Note("NOTE %s W11 ms per repetition: %s", system, bu.Floats(ms))
	bu.Result(system, "W11", bu.Median(ms), "ms")
}
