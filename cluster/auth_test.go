package cluster_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/require"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/spawntest"
)

// selfSigned makes a certificate for 127.0.0.1, and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "spawned test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// TestJoin_TLSAndNKeys joins through a server that wants TLS and an NKey.
func TestJoin_TLSAndNKeys(t *testing.T) {
	user, err := nkeys.CreateUser()
	require.NoError(t, err)
	pub, err := user.PublicKey()
	require.NoError(t, err)
	seed, err := user.Seed()
	require.NoError(t, err)
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	require.NoError(t, os.WriteFile(seedFile, seed, 0o600))
	cert, pool := selfSigned(t)

	opts := &server.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		Nkeys:     []*server.NkeyUser{{Nkey: pub}},
		TLS:       true,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}
	s, err := server.NewServer(opts)
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	require.True(t, s.ReadyForConnections(spawntest.Timeout))

	cfg := cluster.Config{
		Cluster: clusterName(t), URL: s.ClientURL(), NKeySeedFile: seedFile,
		TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}
	a, _ := joinNode(t, cfg, "a")
	b, _ := joinNode(t, cfg, "b")
	srv, err := genserver.Start(spawntest.Context(t), b, echo{})
	require.NoError(t, err)
	rep, err := genserver.At[any, any, any](a, srv.Pid()).Call(spawntest.Context(t), "over TLS")
	require.NoError(t, err)
	require.Equal(t, "over TLS", rep)

	// Without the seed, or without trusting the server, no join.
	bad := cfg
	bad.NKeySeedFile = ""
	_, err = cluster.Join(spawntest.Context(t), spawntest.NewNode(t), bad)
	require.Error(t, err)
	bad = cfg
	bad.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	_, err = cluster.Join(spawntest.Context(t), spawntest.NewNode(t), bad)
	require.Error(t, err)
	bad = cfg
	bad.NKeySeedFile = filepath.Join(t.TempDir(), "missing.nk")
	_, err = cluster.Join(spawntest.Context(t), spawntest.NewNode(t), bad)
	require.ErrorContains(t, err, "nkey")
}
