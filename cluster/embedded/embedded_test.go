package embedded_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/spawned-go/spawned/cluster/embedded"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, opts ...embedded.Option) *embedded.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := embedded.Start(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func shutdown(t *testing.T, s *embedded.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestServer_LoopbackGeneratedCredentialsAndAdvisories(t *testing.T) {
	s := start(t)
	defer shutdown(t, s)
	if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("listens on %s, want loopback", s.ClientURL())
	}
	user, password := s.Credentials()
	if user == "" || len(password) < 32 {
		t.Fatalf("credentials %q / %q", user, password)
	}
	if _, err := nats.Connect(s.ClientURL()); err == nil {
		t.Fatal("connected without credentials")
	}
	if _, err := nats.Connect(s.ClientURL(), nats.UserInfo(user, "wrong")); err == nil {
		t.Fatal("connected with a wrong password")
	}
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(user, password))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("$SYS.ACCOUNT.*.DISCONNECT")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	other, err := nats.Connect(s.ClientURL(), nats.UserInfo(user, password), nats.Name("victim"))
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no disconnect advisory: %v", err)
	}
	if !strings.Contains(string(m.Data), `"name":"victim"`) {
		t.Fatalf("advisory %s", m.Data)
	}
	// JetStream is there for the account.
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(); err != nil {
		t.Fatalf("JetStream: %v", err)
	}
}

func TestServer_Options(t *testing.T) {
	s := start(t, embedded.WithoutJetStream(), embedded.WithCredentials("u", "p"), embedded.WithName("named"))
	defer shutdown(t, s)
	if u, p := s.Credentials(); u != "u" || p != "p" {
		t.Fatalf("credentials %q %q", u, p)
	}
	cfg := s.Config("c")
	if cfg.URL != s.ClientURL() || cfg.User != "u" || cfg.Password != "p" || cfg.Cluster != "c" {
		t.Fatalf("config %+v", cfg)
	}
	if s.NumRoutes() != 0 {
		t.Fatalf("%d routes", s.NumRoutes())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := embedded.Start(ctx, embedded.WithHost("not a host name")); err == nil {
		t.Fatal("started on a bad host")
	}
}

// A server in the program, and the config with which nodes join through
// it; other programs join with the same URL and credentials.
func Example() {
	ctx := context.Background()
	s, err := embedded.Start(ctx, embedded.WithoutJetStream())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Shutdown(ctx)
	cfg := s.Config("billing")
	fmt.Println(cfg.Cluster, strings.HasPrefix(cfg.URL, "nats://127.0.0.1:"), cfg.User != "")
	// Output: billing true true
}

// TestStart_APortInUseFailsAtOnce: a server that cannot listen fails Start
// with the listen error, not with its context's deadline, which is an hour
// away here (the old code waited it out).
func TestStart_APortInUseFailsAtOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	s, err := embedded.Start(ctx, embedded.WithPort(port))
	if err == nil {
		shutdown(t, s)
		t.Fatalf("Start on port %d, which is in use, succeeded", port)
	}
	if ctx.Err() != nil || !strings.Contains(err.Error(), "listening") || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Fatalf("Start on a port in use: %v; want the listen error naming port %d", err, port)
	}
}
