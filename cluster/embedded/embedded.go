// Package embedded runs a NATS server inside the program, for clusters
// that need nothing installed: tests, examples, a single binary, or the
// first node of a small cluster whose other nodes connect to it.
//
// Linking this package makes cluster.Join with no URL use a server of its
// own, shared by every node of the program that joins that way and shut
// down when the last of them leaves; a blank import is enough:
//
//	import _ "github.com/spawned-go/spawned/cluster/embedded"
//
// A program that joins an external NATS cluster does not import it, and
// so does not link the NATS server.
//
// The server listens on 127.0.0.1 (and a random port) unless told
// otherwise, accepts only the user and password it generated (or was
// given), has JetStream enabled in a temporary directory, and gives its
// application account the server's client-disconnect advisories, so that
// a node that crashes is known to be lost within milliseconds.
package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/spawned-go/spawned/cluster"
)

func init() {
	cluster.RegisterEmbedded(func(ctx context.Context) (cluster.EmbeddedServer, error) {
		return Start(ctx)
	})
}

// Account is the name of the account the nodes use on an embedded server.
const Account = "SPAWNED"

// Server is a running embedded NATS server.
type Server struct {
	srv      *server.Server
	user     string
	password string
	storeDir string
}

// Option configures Start.
type Option func(*options)

type options struct {
	host, user, password, name string
	port                       int
	jetStream                  bool
	storeDir                   string
	routeListen                string
	routeCluster               string
	routes                     []string
	maxPending                 int64
}

// WithHost makes the server listen on host instead of 127.0.0.1. Other
// machines can then reach it: give it TLS through a real NATS deployment
// rather than rely on the generated password over plain TCP.
func WithHost(host string) Option { return func(o *options) { o.host = host } }

// WithPort makes the server listen on port instead of a random free one,
// so that a restarted server is found where its clients left it.
func WithPort(port int) Option { return func(o *options) { o.port = port } }

// WithCredentials sets the user and password instead of generated ones:
// servers of one NATS cluster, and nodes in other processes, share them.
func WithCredentials(user, password string) Option {
	return func(o *options) { o.user, o.password = user, password }
}

// WithName names the server (default: generated).
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithoutJetStream starts the server without JetStream.
func WithoutJetStream() Option { return func(o *options) { o.jetStream = false } }

// WithStoreDir keeps JetStream's data in dir instead of a temporary
// directory removed at Shutdown.
func WithStoreDir(dir string) Option { return func(o *options) { o.storeDir = dir } }

// WithRoutes makes the server one of a NATS cluster named name: it
// listens for other servers on listen ("127.0.0.1:6222") and connects to
// routes ("nats://127.0.0.1:6223", ...). Meant for tests of a cluster of
// servers on one machine; routes carry no authentication.
func WithRoutes(name, listen string, routes ...string) Option {
	return func(o *options) { o.routeCluster, o.routeListen, o.routes = name, listen, routes }
}

// WithMaxPending bounds the bytes the server buffers for one client
// (default 256 MiB): a client further behind is cut as a slow consumer.
// It must exceed the cluster's flow-control window times the number of
// nodes.
func WithMaxPending(n int64) Option { return func(o *options) { o.maxPending = n } }

// Start starts a server and returns once it accepts connections. It fails
// when ctx is done first (without a deadline, after 10 s), and at once,
// with the server's error, when the server cannot start: a port it must
// listen on is in use, say.
func Start(ctx context.Context, opts ...Option) (*Server, error) {
	o := options{host: "127.0.0.1", port: -1, jetStream: true, user: "spawned", maxPending: 256 << 20}
	for _, opt := range opts {
		opt(&o)
	}
	if o.password == "" {
		var b [24]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("embedded: generate a password: %w", err)
		}
		o.password = hex.EncodeToString(b[:])
	}
	s := &Server{user: o.user, password: o.password}
	if o.jetStream && o.storeDir == "" {
		dir, err := os.MkdirTemp("", "spawned-nats-*")
		if err != nil {
			return nil, fmt.Errorf("embedded: %w", err)
		}
		o.storeDir, s.storeDir = dir, dir
	}
	sopts := &server.Options{}
	if err := sopts.ProcessConfigString(config(o)); err != nil {
		s.removeStore()
		return nil, fmt.Errorf("embedded: configure: %w", err)
	}
	sopts.NoLog, sopts.NoSigs = true, true
	srv, err := server.NewServer(sopts)
	if err != nil {
		s.removeStore()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	s.srv = srv
	fatal := &fatalCatcher{err: make(chan error, 1)}
	srv.SetLogger(fatal, false, false)
	srv.Start()
	wait := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	end := time.Now().Add(wait)
	for !srv.ReadyForConnections(readyPoll) {
		var err error
		select {
		case err = <-fatal.err:
		default:
			switch {
			case ctx.Err() != nil:
				err = ctx.Err()
			case time.Now().After(end):
				err = errors.New("the server did not start in time")
			}
		}
		if err != nil {
			_ = s.Shutdown(context.Background())
			return nil, fmt.Errorf("embedded: start: %w", err)
		}
	}
	return s, nil
}

// readyPoll is how long each look for a starting server's listeners
// waits, between looks for a fatal error.
const readyPoll = 50 * time.Millisecond

// fatalCatcher is a starting server's logger: it keeps the first fatal
// error (a port in use, say), which ends Start at once instead of at its
// deadline, and drops everything else, as the server logs nothing.
type fatalCatcher struct {
	once sync.Once
	err  chan error // buffered: the first fatal error
}

func (f *fatalCatcher) Fatalf(format string, v ...any) {
	f.once.Do(func() { f.err <- fmt.Errorf(format, v...) })
}

func (*fatalCatcher) Noticef(string, ...any) {}
func (*fatalCatcher) Warnf(string, ...any)   {}
func (*fatalCatcher) Errorf(string, ...any)  {}
func (*fatalCatcher) Debugf(string, ...any)  {}
func (*fatalCatcher) Tracef(string, ...any)  {}

// config writes the server's configuration: a system account, and the
// nodes' account, which imports the system account's disconnect
// advisories about itself.
func config(o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\n", strconv.Quote(hostPort(o.host, o.port)))
	if o.name != "" {
		fmt.Fprintf(&b, "server_name: %s\n", strconv.Quote(o.name))
	}
	fmt.Fprintf(&b, "max_pending: %d\n", o.maxPending)
	sysPass := o.password + "-sys"
	fmt.Fprintf(&b, `accounts {
  SYS {
    users: [{user: %s, password: %s}]
    exports: [{stream: "$SYS.ACCOUNT.%s.>"}]
  }
  %s {
    users: [{user: %s, password: %s}]
    imports: [{stream: {account: SYS, subject: "$SYS.ACCOUNT.%s.DISCONNECT"}}]
`, strconv.Quote(o.user+"-sys"), strconv.Quote(sysPass), Account, Account, strconv.Quote(o.user), strconv.Quote(o.password), Account)
	if o.jetStream {
		b.WriteString("    jetstream: enabled\n")
	}
	b.WriteString("  }\n}\nsystem_account: SYS\n")
	if o.jetStream {
		fmt.Fprintf(&b, "jetstream {\n  store_dir: %s\n  max_memory_store: 268435456\n  max_file_store: 1073741824\n}\n", strconv.Quote(o.storeDir))
	}
	if o.routeListen != "" {
		fmt.Fprintf(&b, "cluster {\n  name: %s\n  listen: %s\n", strconv.Quote(o.routeCluster), strconv.Quote(o.routeListen))
		if len(o.routes) > 0 {
			quoted := make([]string, len(o.routes))
			for i, r := range o.routes {
				quoted[i] = strconv.Quote(r)
			}
			fmt.Fprintf(&b, "  routes: [%s]\n", strings.Join(quoted, ", "))
		}
		b.WriteString("}\n")
	}
	return b.String()
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// ClientURL returns the URL clients connect to.
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// Credentials returns the user and password of the nodes' account.
func (s *Server) Credentials() (user, password string) { return s.user, s.password }

// Config returns a cluster.Config that joins the cluster named name
// through this server.
func (s *Server) Config(name string) cluster.Config {
	return cluster.Config{Cluster: name, URL: s.ClientURL(), User: s.user, Password: s.password}
}

// NumRoutes returns how many other servers of its NATS cluster the server
// is connected to.
func (s *Server) NumRoutes() int { return s.srv.NumRoutes() }

// Shutdown stops the server, closing every client connection, and waits
// until it has stopped or ctx is done; a temporary JetStream directory is
// removed.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("embedded: shutdown: %w", ctx.Err())
	}
	s.removeStore()
	return nil
}

func (s *Server) removeStore() {
	if s.storeDir != "" {
		_ = os.RemoveAll(s.storeDir)
	}
}
