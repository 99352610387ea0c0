package pid

import (
	"encoding/binary"
	"fmt"
)

// The binary forms: a NodeID is its UUID's 16 bytes; a Pid or Ref is its
// node's 16 bytes followed by its serial or id as an unsigned varint. The
// zero Pid and zero Ref are 16 zero bytes and a zero.

// AppendBinary appends the 16 bytes of id's UUID to b (encoding.BinaryAppender).
func (id NodeID) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint64(b, id.hi)
	return binary.BigEndian.AppendUint64(b, id.lo), nil
}

// MarshalBinary returns the 16 bytes of id's UUID.
func (id NodeID) MarshalBinary() ([]byte, error) { return id.AppendBinary(make([]byte, 0, 16)) }

// UnmarshalBinary sets id from the 16 bytes of a UUID.
func (id *NodeID) UnmarshalBinary(b []byte) error {
	if len(b) != 16 {
		return fmt.Errorf("%w: node id of %d bytes, want 16", ErrSyntax, len(b))
	}
	*id = NodeID{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
	return nil
}

// AppendBinary appends the binary form of p to b (encoding.BinaryAppender).
func (p Pid) AppendBinary(b []byte) ([]byte, error) {
	b, _ = p.node.AppendBinary(b)
	return binary.AppendUvarint(b, p.serial), nil
}

// MarshalBinary returns the binary form of p.
func (p Pid) MarshalBinary() ([]byte, error) { return p.AppendBinary(make([]byte, 0, 26)) }

// UnmarshalBinary sets p from its binary form.
func (p *Pid) UnmarshalBinary(b []byte) error {
	node, serial, err := unmarshalPair(b, "pid")
	if err != nil {
		return err
	}
	*p = Pid{node: node, serial: serial}
	return nil
}

// AppendBinary appends the binary form of r to b (encoding.BinaryAppender).
func (r Ref) AppendBinary(b []byte) ([]byte, error) {
	b, _ = r.node.AppendBinary(b)
	return binary.AppendUvarint(b, r.id), nil
}

// MarshalBinary returns the binary form of r.
func (r Ref) MarshalBinary() ([]byte, error) { return r.AppendBinary(make([]byte, 0, 26)) }

// UnmarshalBinary sets r from its binary form.
func (r *Ref) UnmarshalBinary(b []byte) error {
	node, id, err := unmarshalPair(b, "ref")
	if err != nil {
		return err
	}
	*r = Ref{node: node, id: id}
	return nil
}

// unmarshalPair decodes a node and a number, and checks that a zero number
// goes with the zero node.
func unmarshalPair(b []byte, what string) (NodeID, uint64, error) {
	if len(b) < 17 {
		return NodeID{}, 0, fmt.Errorf("%w: %s of %d bytes", ErrSyntax, what, len(b))
	}
	var node NodeID
	_ = node.UnmarshalBinary(b[:16])
	n, size := binary.Uvarint(b[16:])
	switch {
	case size <= 0 || 16+size != len(b):
		return NodeID{}, 0, fmt.Errorf("%w: %s with a bad number", ErrSyntax, what)
	case n == 0 && !node.IsZero():
		return NodeID{}, 0, fmt.Errorf("%w: %s numbered 0 on a node", ErrSyntax, what)
	}
	return node, n, nil
}
