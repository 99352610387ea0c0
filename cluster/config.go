package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Defaults of Config.
const (
	DefaultCluster           = "default"
	DefaultSubjectPrefix     = "spawned"
	DefaultHeartbeatInterval = time.Second
	DefaultHeartbeatMisses   = 3
	DefaultMaxPayload        = 1 << 20
	DefaultWindow            = 4 << 20
	DefaultDiscoveryTimeout  = time.Second
	DefaultAdvisorySubject   = "$SYS.ACCOUNT.*.DISCONNECT"
)

// Config says how a node joins a cluster. The zero Config joins the
// cluster "default" through an embedded NATS server (see package
// embedded), on 127.0.0.1, with generated credentials.
type Config struct {
	// Cluster names the cluster. Nodes talk only with nodes of the same
	// cluster: every subject is namespaced by it, and every frame carries
	// its tag. Default "default". Letters, digits, '-' and '_' only.
	Cluster string
	// Name is the node's name for people: logs, Nodes, NodeUp and
	// NodeDown. It must be unique in the cluster and should be stable
	// across restarts of the program ("billing-1"): when a node joins
	// under the name of a node that is down, that older node is gone for
	// good and its Pids answer NoProc (DIST-15). Join refuses a name that a
	// live node of the cluster holds, with ErrNodeNameTaken: it asks
	// before the node announces itself, and a node answers for its name
	// from Join to Leave. A holder that does not answer within the longer
	// of DiscoveryTimeout and HeartbeatInterval (crashed, hung, cut off
	// from NATS) is taken to be down. The check is no lock: two nodes
	// joining under one name at the same moment may both get in, and then
	// each takes the other for its restart. Default: the host name and the
	// first eight hex digits of the node's id.
	Name string

	// URL lists the NATS servers to connect to, comma-separated
	// ("nats://10.0.0.1:4222,nats://10.0.0.2:4222"). Empty: use the
	// program's embedded server, started on first use, which needs the
	// package github.com/spawned-go/spawned/cluster/embedded to be linked
	// (a blank import is enough).
	URL string
	// User and Password authenticate with a user name and password.
	User, Password string
	// Token authenticates with a token.
	Token string
	// CredsFile is a NATS credentials file (a user JWT and its NKey seed),
	// for servers with decentralised JWT authentication.
	CredsFile string
	// NKeySeedFile is a file holding a user's NKey seed.
	NKeySeedFile string
	// TLS, when set, makes the connection use TLS with this configuration
	// (server verification and, with Certificates, client certificates).
	TLS *tls.Config
	// NATSOptions are applied last to the NATS connection; the cluster's
	// own handlers (disconnect, reconnect, errors) must not be replaced.
	NATSOptions []nats.Option

	// SubjectPrefix is the first token of every subject the cluster uses.
	// Default "spawned". Subjects are <prefix>.<cluster>.<node id> (a
	// node's inbox; the id's 16 bytes in base64url),
	// <prefix>.<cluster>.hello (discovery),
	// <prefix>.<cluster>.name.<hash> (where a node answers for its Name;
	// the name's SHA-256 in base64url) and
	// <prefix>.<cluster>.observe.<node id> (the web observer, for a node
	// that serves it: Cluster.ServeObserver).
	SubjectPrefix string
	// AdvisorySubject is where the server's client-disconnect advisories
	// are read, so that a crashed node is known to be lost within
	// milliseconds instead of after the heartbeat bound. Default
	// "$SYS.ACCOUNT.*.DISCONNECT", which the embedded server provides; an
	// external server must export them to the cluster's account (see
	// docs/distribution.md). "-" turns them off.
	AdvisorySubject string

	// HeartbeatInterval is how often a node tells each peer it is alive.
	// Default 1 s.
	HeartbeatInterval time.Duration
	// HeartbeatMisses is how many intervals without a word from a peer
	// make it lost (NoConnection): a hung or partitioned node is noticed
	// after Interval × Misses, and at most one interval more. Default 3.
	HeartbeatMisses int
	// MaxPayload bounds a frame (a message and a few dozen bytes): a
	// larger message is refused at the sender with ErrTooLarge. Default
	// 1 MiB, and never more than the server's max_payload.
	MaxPayload int
	// Window is the flow-control window, in bytes, for messages and casts
	// to one peer that the peer has not yet taken: past it, Send refuses
	// with ErrPeerBusy (and SendWait waits). Default 4 MiB; a smaller one
	// than twice MaxPayload is raised to that. The server's
	// max_pending for a client must exceed Window times the number of
	// peers.
	Window int
	// DiscoveryTimeout bounds how long Join waits to hear from every node
	// of the cluster. Default 1 s; Join usually returns within a round
	// trip or two.
	DiscoveryTimeout time.Duration

	// NameReplicas is the number of replicas of the key-value bucket of
	// global names (JetStream), made when the first node joins: 1 on a
	// single server (the embedded one), 3 on a real NATS cluster. Default
	// 1.
	NameReplicas int

	// Logger receives the cluster's log. Default: the node's logger.
	Logger *zap.Logger
	// ConnectionHandler, when set, is told of changes of the connection to
	// NATS. It must not block.
	ConnectionHandler func(ConnState, error)
}

// ConnState is a state of a node's connection to NATS.
type ConnState int

// The connection states reported to Config.ConnectionHandler.
const (
	// Disconnected: the connection to NATS is lost; every peer is lost
	// with it (NoConnection) and the node keeps reconnecting.
	Disconnected ConnState = iota + 1
	// Reconnected: the node is back and rejoins every peer in a new
	// session.
	Reconnected
	// Closed: the connection is closed for good (Leave, or a server that
	// refuses the node).
	Closed
)

// String names the state.
func (s ConnState) String() string {
	switch s {
	case Disconnected:
		return "disconnected"
	case Reconnected:
		return "reconnected"
	case Closed:
		return "closed"
	}
	return fmt.Sprintf("ConnState(%d)", int(s))
}

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("cluster: invalid config")

// normalise fills in the defaults and checks cfg.
func (cfg Config) normalise(nodeID string) (Config, error) {
	if cfg.Cluster == "" {
		cfg.Cluster = DefaultCluster
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = DefaultSubjectPrefix
	}
	for what, s := range map[string]string{"cluster name": cfg.Cluster, "subject prefix": cfg.SubjectPrefix} {
		if !validToken(s) {
			return cfg, fmt.Errorf("%w: %s %q: use letters, digits, '-' and '_'", ErrConfig, what, s)
		}
	}
	if cfg.Name == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "node"
		}
		cfg.Name = host + "-" + strings.ReplaceAll(nodeID, "-", "")[:8]
	}
	if cfg.AdvisorySubject == "" {
		cfg.AdvisorySubject = DefaultAdvisorySubject
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.HeartbeatMisses == 0 {
		cfg.HeartbeatMisses = DefaultHeartbeatMisses
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = DefaultMaxPayload
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.NameReplicas == 0 {
		cfg.NameReplicas = 1
	}
	if cfg.DiscoveryTimeout == 0 {
		cfg.DiscoveryTimeout = DefaultDiscoveryTimeout
	}
	switch {
	case cfg.HeartbeatInterval < time.Millisecond:
		return cfg, fmt.Errorf("%w: heartbeat interval %v is below 1ms", ErrConfig, cfg.HeartbeatInterval)
	case cfg.HeartbeatMisses < 1:
		return cfg, fmt.Errorf("%w: heartbeat misses %d", ErrConfig, cfg.HeartbeatMisses)
	case cfg.MaxPayload < 1024:
		return cfg, fmt.Errorf("%w: max payload %d is below 1 KiB", ErrConfig, cfg.MaxPayload)
	case cfg.Window < 0:
		return cfg, fmt.Errorf("%w: negative window", ErrConfig)
	case cfg.NameReplicas < 0 || cfg.NameReplicas > 5:
		return cfg, fmt.Errorf("%w: name replicas %d: 1 to 5", ErrConfig, cfg.NameReplicas)
	case cfg.DiscoveryTimeout < 0:
		return cfg, fmt.Errorf("%w: negative discovery timeout", ErrConfig)
	}
	return cfg, nil
}

// validToken reports whether s is one safe token of a NATS subject.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}
