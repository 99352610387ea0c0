// Package pid defines the identities of the runtime: the [Pid] of a process,
// the [NodeID] of the node that owns it, and unique references ([Ref]) used
// for monitors, timers and calls.
//
// All three are small comparable values: use them as map keys, compare them
// with ==, print them and parse them back. The zero value of each means
// "none": the zero Pid names no process and the zero Ref no reference.
//
// A NodeID is a random UUID chosen when a node starts, so a Pid stays unique
// across restarts of the program and, later, across machines.
package pid

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// ErrSyntax reports text that is not a Pid, Ref or NodeID.
var ErrSyntax = errors.New("pid: invalid syntax")

// NodeID identifies one incarnation of a node. The zero NodeID names no node.
// It holds a UUID as two machine words, so that a Pid is three words the
// compiler keeps in registers instead of copying through memory.
type NodeID struct{ hi, lo uint64 }

// NewNodeID returns a fresh random NodeID.
func NewNodeID() NodeID { return nodeID(uuid.New()) }

// nodeID converts a UUID to a NodeID.
func nodeID(u uuid.UUID) NodeID {
	return NodeID{hi: binary.BigEndian.Uint64(u[:8]), lo: binary.BigEndian.Uint64(u[8:])}
}

// IsZero reports whether id is the zero NodeID.
func (id NodeID) IsZero() bool { return id == NodeID{} }

// String returns the canonical UUID text of id.
func (id NodeID) String() string {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[:8], id.hi)
	binary.BigEndian.PutUint64(u[8:], id.lo)
	return u.String()
}

// ParseNodeID parses the canonical UUID text produced by [NodeID.String].
func ParseNodeID(s string) (NodeID, error) {
	if len(s) != 36 {
		return NodeID{}, fmt.Errorf("%w: node id %q", ErrSyntax, s)
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return NodeID{}, fmt.Errorf("%w: node id %q", ErrSyntax, s)
	}
	return nodeID(u), nil
}

// Pid identifies a process: the node that runs it and a serial number that
// the node never reuses. The zero Pid names no process.
type Pid struct {
	node   NodeID
	serial uint64
}

// New returns the Pid with the given node and serial. Serial 0 is reserved
// for the zero Pid, so New(node, 0) returns the zero Pid.
func New(node NodeID, serial uint64) Pid {
	if serial == 0 {
		return Pid{}
	}
	return Pid{node: node, serial: serial}
}

// Node returns the node that owns p.
func (p Pid) Node() NodeID { return p.node }

// Serial returns p's serial number within its node.
func (p Pid) Serial() uint64 { return p.serial }

// IsZero reports whether p is the zero Pid, which names no process.
func (p Pid) IsZero() bool { return p.serial == 0 }

// String formats p as <node.serial>, for example
// <6ba7b810-9dad-11d1-80b4-00c04fd430c8.42>; the zero Pid prints as <0>.
// [Parse] reads the text back.
func (p Pid) String() string {
	if p.IsZero() {
		return "<0>"
	}
	return format("<", p.node, p.serial)
}

// Short formats p for people reading logs: <6ba7b810.42>, the first eight
// hex digits of its node and its serial. It is a quarter of String's length
// and still tells the nodes of a cluster apart (two nodes share a prefix once
// in about four billion pairs); use String where the text must be parsed
// back or must be unique for certain. The zero Pid prints as <0>.
func (p Pid) Short() string {
	if p.IsZero() {
		return "<0>"
	}
	return "<" + p.node.String()[:8] + "." + strconv.FormatUint(p.serial, 10) + ">"
}

// MarshalText implements [encoding.TextMarshaler].
func (p Pid) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (p *Pid) UnmarshalText(b []byte) error {
	q, err := Parse(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// Parse reads a Pid in the form printed by [Pid.String].
func Parse(s string) (Pid, error) {
	if s == "<0>" {
		return Pid{}, nil
	}
	node, serial, err := parse(s, "<")
	if err != nil {
		return Pid{}, err
	}
	return Pid{node: node, serial: serial}, nil
}

// Ref is a reference unique within the node that made it: monitors, timers
// and calls are named by Refs. The zero Ref names nothing.
type Ref struct {
	node NodeID
	id   uint64
}

// NewRef returns the Ref with the given node and number. Number 0 is
// reserved for the zero Ref.
func NewRef(node NodeID, id uint64) Ref {
	if id == 0 {
		return Ref{}
	}
	return Ref{node: node, id: id}
}

// Node returns the node that made r.
func (r Ref) Node() NodeID { return r.node }

// ID returns r's number within its node.
func (r Ref) ID() uint64 { return r.id }

// IsZero reports whether r is the zero Ref.
func (r Ref) IsZero() bool { return r.id == 0 }

// String formats r as #Ref<node.id>; the zero Ref prints as #Ref<0>.
// [ParseRef] reads the text back.
func (r Ref) String() string {
	if r.IsZero() {
		return "#Ref<0>"
	}
	return format("#Ref<", r.node, r.id)
}

// MarshalText implements [encoding.TextMarshaler].
func (r Ref) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (r *Ref) UnmarshalText(b []byte) error {
	q, err := ParseRef(string(b))
	if err != nil {
		return err
	}
	*r = q
	return nil
}

// ParseRef reads a Ref in the form printed by [Ref.String].
func ParseRef(s string) (Ref, error) {
	if s == "#Ref<0>" {
		return Ref{}, nil
	}
	node, id, err := parse(s, "#Ref<")
	if err != nil {
		return Ref{}, err
	}
	return Ref{node: node, id: id}, nil
}

func format(prefix string, node NodeID, n uint64) string {
	var b strings.Builder
	b.Grow(len(prefix) + 36 + 1 + 20 + 1)
	b.WriteString(prefix)
	b.WriteString(node.String())
	b.WriteByte('.')
	b.WriteString(strconv.FormatUint(n, 10))
	b.WriteByte('>')
	return b.String()
}

// parse reads prefix + uuid + "." + decimal + ">" with a non-zero decimal.
func parse(s, prefix string) (NodeID, uint64, error) {
	bad := func() (NodeID, uint64, error) {
		return NodeID{}, 0, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	body, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return bad()
	}
	body, ok = strings.CutSuffix(body, ">")
	if !ok || len(body) < 38 || body[36] != '.' {
		return bad()
	}
	node, err := ParseNodeID(body[:36])
	if err != nil {
		return bad()
	}
	digits := body[37:]
	if digits[0] < '1' || digits[0] > '9' { // no sign, no leading zero, not zero
		return bad()
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return bad()
	}
	return node, n, nil
}
