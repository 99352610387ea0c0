package genserver

import (
	"context"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
)

// Name is a server's registered name declared once with the server's
// request, reply and cast types, so that neither the code that starts the
// server nor the code that calls it repeats them:
//
//	var Queue = genserver.NewName[Job, Result, genserver.Never]("queue")
//
//	ref, err := Queue.Start(ctx, node, &QueueServer{}) // a server of other types does not compile
//	res, err := Queue.Ref(node).Call(ctx, job)         // res is a Result
//
// A Name is a value: declare it at package level and share it. Its Ref
// looks the name up at every use, so it follows the server across restarts
// by a supervisor (supervisor.NamedGenServer starts a child under a Name).
// Via gives the same name in a Registrar instead of the node's registry.
// The zero Name, or one made with the empty string, names no server: a
// start under it fails with registry.ErrEmptyName and its Refs with
// ErrZeroRef.
type Name[Req, Rep, Msg any] struct {
	name string
	via  Registrar
}

// NewName declares name as the name of a server of types Req, Rep and Msg.
func NewName[Req, Rep, Msg any](name string) Name[Req, Rep, Msg] {
	return Name[Req, Rep, Msg]{name: name}
}

// String returns the name.
func (n Name[Req, Rep, Msg]) String() string { return n.name }

// Via returns the same name registered in r instead of the node's registry
// (OTP's {via, Module, Name}): Start registers the server there and Ref
// looks it up there. A nil r gives back the name in the node's registry.
func (n Name[Req, Rep, Msg]) Via(r Registrar) Name[Req, Rep, Msg] {
	n.via = r
	return n
}

// Registrar returns the Registrar the name lives in, or nil for the node's
// registry.
func (n Name[Req, Rep, Msg]) Registrar() Registrar { return n.via }

// option is the start option that registers a server under the name.
func (n Name[Req, Rep, Msg]) option() Option {
	if n.via != nil {
		return WithVia(n.via, n.name)
	}
	return WithName(n.name)
}

// Start starts s on node registered under the name, as Start with
// WithName (or WithVia for a name made by Via). A WithName or WithVia among
// opts is overridden by the name. It fails with registry.ErrEmptyName for
// an empty name, and otherwise as Start does.
func (n Name[Req, Rep, Msg]) Start(ctx context.Context, node *process.Node, s Behaviour[Req, Rep, Msg], opts ...Option) (Ref[Req, Rep, Msg], error) {
	if n.name == "" {
		return Ref[Req, Rep, Msg]{}, registry.ErrEmptyName
	}
	return Start(ctx, node, s, append(opts[:len(opts):len(opts)], n.option())...)
}

// StartLink is Start with the server linked to parent, as StartLink: the
// form a supervisor's start function uses (see supervisor.NamedGenServer).
func (n Name[Req, Rep, Msg]) StartLink(ctx context.Context, parent *process.Process, s Behaviour[Req, Rep, Msg], opts ...Option) (Ref[Req, Rep, Msg], error) {
	if n.name == "" {
		return Ref[Req, Rep, Msg]{}, registry.ErrEmptyName
	}
	return StartLink(ctx, parent, s, append(opts[:len(opts):len(opts)], n.option())...)
}

// Ref returns a Ref to the server registered under the name, reached from
// node and looked up at every use (Named, or NamedVia for a name made by
// Via).
func (n Name[Req, Rep, Msg]) Ref(node *process.Node) Ref[Req, Rep, Msg] {
	if n.via != nil {
		return NamedVia[Req, Rep, Msg](node, n.via, n.name)
	}
	return Named[Req, Rep, Msg](node, n.name)
}

// RefOn returns a Ref to the server registered under the name on the node
// at, reached from node (NamedOn: Erlang's {Name, Node}). The name is looked
// up in at's registry by every call, cast and stop; a Registrar is a value
// of one program, so a name made by Via is looked up there only when at is
// node itself (or zero), as Ref does.
func (n Name[Req, Rep, Msg]) RefOn(node *process.Node, at pid.NodeID) Ref[Req, Rep, Msg] {
	if node != nil && (at.IsZero() || at == node.ID()) {
		return n.Ref(node)
	}
	return NamedOn[Req, Rep, Msg](node, at, n.name)
}
