// Package wire is the binary form of what crosses between nodes: frames,
// message values by registered type, and exit reasons. Everything here is
// positional and compact: a value carries a small tag, a registered type an
// 8-byte id derived from its registered name, and a Pid of either node of a
// frame one byte for its node.
//
// Decoding never panics and never allocates more than its input could
// describe: every length is checked against the bytes that remain.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/spawned-go/spawned/pid"
)

// ErrMalformed reports bytes that are not a valid encoding.
var ErrMalformed = errors.New("malformed data")

// MaxDepth bounds the nesting of values (pointers, interfaces, containers):
// deeper or cyclic values fail to encode, and deeper input fails to decode.
const MaxDepth = 64

// Enc appends the wire form of values to B. Sender and Receiver are the two
// nodes of the frame being written: a Pid or Ref of either takes one byte for
// its node. The first error sticks: later appends do nothing.
type Enc struct {
	B        []byte
	Sender   pid.NodeID
	Receiver pid.NodeID
	err      error
	depth    int
}

// Err returns the first error met while encoding.
func (e *Enc) Err() error { return e.err }

// Fail records err unless an error is recorded already.
func (e *Enc) Fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// Reset empties the encoder for a new frame between sender and receiver,
// keeping B's storage.
func (e *Enc) Reset(sender, receiver pid.NodeID) {
	e.B, e.Sender, e.Receiver, e.err, e.depth = e.B[:0], sender, receiver, nil, 0
}

// Byte appends one byte.
func (e *Enc) Byte(b byte) { e.B = append(e.B, b) }

// Uvarint appends v as an unsigned varint.
func (e *Enc) Uvarint(v uint64) { e.B = binary.AppendUvarint(e.B, v) }

// Varint appends v zig-zag encoded.
func (e *Enc) Varint(v int64) { e.B = binary.AppendVarint(e.B, v) }

// U32 appends v as 4 little-endian bytes.
func (e *Enc) U32(v uint32) { e.B = binary.LittleEndian.AppendUint32(e.B, v) }

// U64 appends v as 8 little-endian bytes.
func (e *Enc) U64(v uint64) { e.B = binary.LittleEndian.AppendUint64(e.B, v) }

// Float64 appends the bits of v.
func (e *Enc) Float64(v float64) { e.U64(math.Float64bits(v)) }

// Float32 appends the bits of v.
func (e *Enc) Float32(v float32) { e.U32(math.Float32bits(v)) }

// Bool appends v as a byte.
func (e *Enc) Bool(v bool) {
	if v {
		e.B = append(e.B, 1)
	} else {
		e.B = append(e.B, 0)
	}
}

// String appends the length of s and its bytes.
func (e *Enc) String(s string) {
	e.Uvarint(uint64(len(s)))
	e.B = append(e.B, s...)
}

// Bytes appends the length of b and its bytes; a nil slice stays nil.
func (e *Enc) Bytes(b []byte) {
	if b == nil {
		e.Uvarint(0)
		return
	}
	e.Uvarint(uint64(len(b)) + 1)
	e.B = append(e.B, b...)
}

// Node tags.
const (
	nodeZero     = 0
	nodeSender   = 1
	nodeReceiver = 2
	nodeOther    = 3
)

// Node appends id: one byte for the zero node or either node of the frame,
// 17 otherwise.
func (e *Enc) Node(id pid.NodeID) {
	switch id {
	case pid.NodeID{}:
		e.B = append(e.B, nodeZero)
	case e.Sender:
		e.B = append(e.B, nodeSender)
	case e.Receiver:
		e.B = append(e.B, nodeReceiver)
	default:
		e.B = append(e.B, nodeOther)
		e.B, _ = id.AppendBinary(e.B)
	}
}

// Pid appends p.
func (e *Enc) Pid(p pid.Pid) {
	if p.IsZero() {
		e.B = append(e.B, nodeZero)
		return
	}
	e.Node(p.Node())
	e.Uvarint(p.Serial())
}

// Ref appends r.
func (e *Enc) Ref(r pid.Ref) {
	if r.IsZero() {
		e.B = append(e.B, nodeZero)
		return
	}
	e.Node(r.Node())
	e.Uvarint(r.ID())
}

// enter counts one level of nesting and reports false (with an error
// recorded) past MaxDepth.
func (e *Enc) enter() bool {
	e.depth++
	if e.depth > MaxDepth {
		e.Fail(fmt.Errorf("value nested deeper than %d levels (or cyclic)", MaxDepth))
		return false
	}
	return true
}

func (e *Enc) leave() { e.depth-- }

// Dec reads what Enc wrote. Sender and Receiver must be the frame's nodes
// as they were when it was written. The first error sticks: later reads
// return zero values.
type Dec struct {
	b        []byte
	off      int
	Sender   pid.NodeID
	Receiver pid.NodeID
	err      error
	depth    int
	// Alias makes strings and byte slices share the input's memory instead
	// of copying it: for input that nothing else writes or reuses, small
	// enough that a value keeping all of it alive costs little.
	Alias bool
}

// NewDec returns a decoder of b.
func NewDec(b []byte, sender, receiver pid.NodeID) *Dec {
	return &Dec{b: b, Sender: sender, Receiver: receiver}
}

// Reset makes d decode b (and stop aliasing it).
func (d *Dec) Reset(b []byte, sender, receiver pid.NodeID) {
	*d = Dec{b: b, Sender: sender, Receiver: receiver}
}

// Err returns the first error met while decoding.
func (d *Dec) Err() error { return d.err }

// Fail records err unless an error is recorded already.
func (d *Dec) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Len returns how many bytes remain.
func (d *Dec) Len() int { return len(d.b) - d.off }

// Done reports an error unless every byte was read.
func (d *Dec) Done() error {
	if d.err == nil && d.off != len(d.b) {
		d.Fail(fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b)-d.off))
	}
	return d.err
}

func (d *Dec) short(what string) {
	d.Fail(fmt.Errorf("%w: %s cut short", ErrMalformed, what))
	d.off = len(d.b)
}

// Byte reads one byte.
func (d *Dec) Byte() byte {
	if d.off >= len(d.b) {
		d.short("byte")
		return 0
	}
	b := d.b[d.off]
	d.off++
	return b
}

// Uvarint reads an unsigned varint.
func (d *Dec) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.short("number")
		return 0
	}
	d.off += n
	return v
}

// Varint reads a zig-zag varint.
func (d *Dec) Varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.short("number")
		return 0
	}
	d.off += n
	return v
}

// U32 reads 4 little-endian bytes.
func (d *Dec) U32() uint32 {
	if d.Len() < 4 {
		d.short("u32")
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

// U64 reads 8 little-endian bytes.
func (d *Dec) U64() uint64 {
	if d.Len() < 8 {
		d.short("u64")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

// Float64 reads a float64.
func (d *Dec) Float64() float64 { return math.Float64frombits(d.U64()) }

// Float32 reads a float32.
func (d *Dec) Float32() float32 { return math.Float32frombits(d.U32()) }

// Bool reads a bool.
func (d *Dec) Bool() bool {
	switch d.Byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.Fail(fmt.Errorf("%w: bad bool", ErrMalformed))
	return false
}

// Count reads a length and checks that at least that many bytes remain
// (every element takes a byte at least, as far as a decoder must believe).
func (d *Dec) Count() int {
	n := d.Uvarint()
	if n > uint64(d.Len()) {
		d.short("sequence")
		return 0
	}
	return int(n)
}

// raw returns the next n bytes, aliasing the input.
func (d *Dec) raw(n int) []byte {
	if n > d.Len() {
		d.short("bytes")
		return nil
	}
	b := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

// String reads a string.
func (d *Dec) String() string {
	n := d.Count()
	b := d.raw(n)
	if d.Alias && len(b) > 0 {
		return unsafe.String(&b[0], len(b))
	}
	return string(b)
}

// Bytes reads a byte slice (a copy); nil stays nil.
func (d *Dec) Bytes() []byte {
	n := d.Uvarint()
	if n == 0 {
		return nil
	}
	n--
	if n > uint64(d.Len()) {
		d.short("bytes")
		return nil
	}
	if d.Alias {
		return d.raw(int(n))
	}
	out := make([]byte, n)
	copy(out, d.raw(int(n)))
	return out
}

// Node reads a node.
func (d *Dec) Node() pid.NodeID {
	switch d.Byte() {
	case nodeZero:
		return pid.NodeID{}
	case nodeSender:
		return d.Sender
	case nodeReceiver:
		return d.Receiver
	case nodeOther:
		var id pid.NodeID
		if b := d.raw(16); b != nil {
			_ = id.UnmarshalBinary(b)
		}
		return id
	}
	d.Fail(fmt.Errorf("%w: bad node tag", ErrMalformed))
	return pid.NodeID{}
}

// Pid reads a Pid.
func (d *Dec) Pid() pid.Pid {
	node := d.Node()
	if node.IsZero() {
		return pid.Pid{}
	}
	serial := d.Uvarint()
	if serial == 0 {
		d.Fail(fmt.Errorf("%w: pid numbered 0", ErrMalformed))
	}
	return pid.New(node, serial)
}

// Ref reads a Ref.
func (d *Dec) Ref() pid.Ref {
	node := d.Node()
	if node.IsZero() {
		return pid.Ref{}
	}
	id := d.Uvarint()
	if id == 0 {
		d.Fail(fmt.Errorf("%w: ref numbered 0", ErrMalformed))
	}
	return pid.NewRef(node, id)
}

func (d *Dec) enter() bool {
	d.depth++
	if d.depth > MaxDepth {
		d.Fail(fmt.Errorf("%w: nested deeper than %d levels", ErrMalformed, MaxDepth))
		d.off = len(d.b)
		return false
	}
	return true
}

func (d *Dec) leave() { d.depth-- }
