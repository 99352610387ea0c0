package cluster

import (
	"context"
	"errors"
	"sync"
)

// EmbeddedServer is a NATS server that runs inside the program. Package
// embedded provides one and registers it with RegisterEmbedded.
type EmbeddedServer interface {
	// ClientURL is where clients connect.
	ClientURL() string
	// Credentials are the user and password clients authenticate with.
	Credentials() (user, password string)
	// Shutdown stops the server and waits until it has stopped.
	Shutdown(ctx context.Context) error
}

var embeddedState struct {
	sync.Mutex
	start func(context.Context) (EmbeddedServer, error)
	srv   EmbeddedServer
	refs  int
}

// RegisterEmbedded makes start the way Join with no URL gets a server:
// package embedded calls it when it is linked. The server it starts is
// shared by every node of the program that joins without a URL, and shut
// down when the last of them leaves.
func RegisterEmbedded(start func(context.Context) (EmbeddedServer, error)) {
	embeddedState.Lock()
	embeddedState.start = start
	embeddedState.Unlock()
}

// acquireEmbedded returns the program's shared embedded server, starting
// it if needed.
func acquireEmbedded(ctx context.Context) (EmbeddedServer, error) {
	s := &embeddedState
	s.Lock()
	defer s.Unlock()
	if s.srv == nil {
		if s.start == nil {
			return nil, ErrNoServer
		}
		srv, err := s.start(ctx)
		if err != nil {
			return nil, err
		}
		if srv == nil {
			return nil, errors.New("cluster: the embedded server's start returned none")
		}
		s.srv = srv
	}
	s.refs++
	return s.srv, nil
}

// releaseEmbedded drops a reference to the shared server and shuts it down
// after the last.
func releaseEmbedded(ctx context.Context) error {
	s := &embeddedState
	s.Lock()
	defer s.Unlock()
	s.refs--
	if s.refs > 0 || s.srv == nil {
		return nil
	}
	srv := s.srv
	s.srv = nil
	return srv.Shutdown(ctx)
}
