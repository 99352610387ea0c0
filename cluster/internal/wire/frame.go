package wire

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/spawned-go/spawned/pid"
)

// Magic opens every frame: the format's version.
const Magic = 0xB1

// MagicBatch opens a NATS message that carries several frames, each
// preceded by its length as an unsigned varint.
const MagicBatch = 0xB2

// SplitBatch calls f with each frame of a batch (the message without its
// MagicBatch byte), in order, and reports a malformed batch; f returning
// false stops it.
func SplitBatch(b []byte, f func(frame []byte) bool) error {
	for len(b) > 0 {
		n, size := binary.Uvarint(b)
		if size <= 0 || n == 0 || n > uint64(len(b)-size) {
			return fmt.Errorf("%w: batch with a bad frame length", ErrMalformed)
		}
		b = b[size:]
		if !f(b[:n:n]) {
			return nil
		}
		b = b[n:]
	}
	return nil
}

// Kind says what a frame carries.
type Kind byte

// The kinds of frame.
const (
	KMsg       Kind = iota + 1 // a message for a process (by Pid or name)
	KCast                      // a cast for a server
	KStop                      // a stop request for a server
	KCall                      // a call for a server, answered by KReply or KCallFail
	KReply                     // a call's reply and error
	KCallFail                  // a call that no server will answer, and why
	KSignal                    // a link, monitor or exit signal
	KCredit                    // flow control: the receiver took this many bytes
	KHeartbeat                 // liveness, and the sender's session and connection
	KHello                     // a node announces itself to the whole cluster
	KWelcome                   // a node answers a Hello, directly
	KBye                       // a node leaves the cluster
	KSys                       // the cluster's own business: names, groups, spawns
	kLast
)

func (k Kind) String() string {
	names := [...]string{"", "msg", "cast", "stop", "call", "reply", "callfail", "signal", "credit", "heartbeat", "hello", "welcome", "bye", "sys"}
	if k > 0 && k < kLast {
		return names[k]
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// ClusterTag returns the 32-bit tag of a cluster name that frames carry.
func ClusterTag(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()
}

// HeaderSize is the size of a frame's fixed header, before the session.
const HeaderSize = 1 + 1 + 4 + 16

// Conn identifies a node's connection to NATS: the server it is connected
// to and its client id there, as the server's disconnect advisories name it.
type Conn struct {
	Server string
	Client uint64
}

// Frame is any frame, decoded; which fields are set depends on Kind.
type Frame struct {
	Kind    Kind
	Cluster uint32
	Sender  pid.NodeID
	Session uint64

	From   pid.Pid // KMsg, KCast, KStop, KCall, KSignal
	To     pid.Pid // KMsg, KCast, KStop, KCall, KSignal
	Name   string  // by-name target (KMsg..KCall, KSignal); the node name (KHello, KWelcome)
	Ref    pid.Ref // KCall, KReply, KCallFail, KSignal
	Signal byte    // KSignal: the signal's kind
	Value  any     // KMsg, KCast: the message; KCall: the request; KReply: the reply; KSys: the business
	Reason error   // KStop, KReply, KCallFail, KSignal
	Credit uint64  // KCredit
	Conn   Conn    // KHeartbeat, KHello, KWelcome
}

// AppendHeader starts a frame.
func (e *Enc) AppendHeader(k Kind, cluster uint32, session uint64) {
	e.B = append(e.B, Magic, byte(k), byte(cluster), byte(cluster>>8), byte(cluster>>16), byte(cluster>>24))
	e.B, _ = e.Sender.AppendBinary(e.B)
	e.Uvarint(session)
}

// target appends a by-Pid or by-name target.
func (e *Enc) target(to pid.Pid, name string) {
	if name != "" && to.IsZero() {
		e.Byte(1)
		e.String(name)
		return
	}
	e.Byte(0)
	e.Pid(to)
}

func (d *Dec) target(f *Frame) {
	switch d.Byte() {
	case 0:
		f.To = d.Pid()
	case 1:
		f.Name = d.String()
		if f.Name == "" {
			d.Fail(fmt.Errorf("%w: empty target name", ErrMalformed))
		}
	default:
		d.Fail(fmt.Errorf("%w: bad target tag", ErrMalformed))
	}
}

// AppendFrame appends f, whole. The encoder's Sender must be f.Sender.
func (e *Enc) AppendFrame(f *Frame) {
	e.AppendHeader(f.Kind, f.Cluster, f.Session)
	e.AppendBody(f)
}

// AppendBody appends what follows the header of f.
func (e *Enc) AppendBody(f *Frame) {
	switch f.Kind {
	case KMsg, KCast:
		e.Pid(f.From)
		e.target(f.To, f.Name)
		e.Value(f.Value)
	case KStop:
		e.Pid(f.From)
		e.target(f.To, f.Name)
		e.Error(f.Reason)
	case KCall:
		e.Pid(f.From)
		e.target(f.To, f.Name)
		e.Uvarint(f.Ref.ID())
		e.Value(f.Value)
	case KReply:
		e.Uvarint(f.Ref.ID())
		e.Value(f.Value)
		e.Error(f.Reason)
	case KCallFail:
		e.Uvarint(f.Ref.ID())
		e.Error(f.Reason)
	case KSignal:
		e.Byte(f.Signal)
		e.Pid(f.From)
		e.Pid(f.To)
		e.String(f.Name)
		e.Ref(f.Ref)
		e.Error(f.Reason)
	case KCredit:
		e.Uvarint(f.Credit)
	case KHeartbeat, KHello, KWelcome:
		e.String(f.Name)
		e.String(f.Conn.Server)
		e.Uvarint(f.Conn.Client)
	case KBye:
	case KSys:
		e.Value(f.Value)
	default:
		e.Fail(fmt.Errorf("frame of kind %v", f.Kind))
	}
}

// DecodeHeader reads a frame's header into f and returns the decoder
// positioned at its body. receiver is the node reading it.
func DecodeHeader(b []byte, receiver pid.NodeID, f *Frame, d *Dec) error {
	if len(b) < HeaderSize+1 {
		return fmt.Errorf("%w: frame of %d bytes", ErrMalformed, len(b))
	}
	if b[0] != Magic {
		return fmt.Errorf("%w: frame version %#x", ErrMalformed, b[0])
	}
	f.Kind = Kind(b[1])
	if f.Kind == 0 || f.Kind >= kLast {
		return fmt.Errorf("%w: frame kind %d", ErrMalformed, b[1])
	}
	f.Cluster = uint32(b[2]) | uint32(b[3])<<8 | uint32(b[4])<<16 | uint32(b[5])<<24
	_ = f.Sender.UnmarshalBinary(b[6:HeaderSize])
	if f.Sender.IsZero() {
		return fmt.Errorf("%w: frame from no node", ErrMalformed)
	}
	d.Reset(b[HeaderSize:], f.Sender, receiver)
	f.Session = d.Uvarint()
	return d.err
}

// DecodeBody reads the rest of the frame whose header DecodeHeader read.
func (d *Dec) DecodeBody(f *Frame) error {
	switch f.Kind {
	case KMsg, KCast:
		f.From = d.Pid()
		d.target(f)
		f.Value = d.Value()
	case KStop:
		f.From = d.Pid()
		d.target(f)
		f.Reason = d.Error()
	case KCall:
		f.From = d.Pid()
		d.target(f)
		f.Ref = d.localRef(d.Sender)
		f.Value = d.Value()
	case KReply:
		f.Ref = d.localRef(d.Receiver)
		f.Value = d.Value()
		f.Reason = d.Error()
	case KCallFail:
		f.Ref = d.localRef(d.Receiver)
		f.Reason = d.Error()
	case KSignal:
		f.Signal = d.Byte()
		f.From = d.Pid()
		f.To = d.Pid()
		f.Name = d.String()
		f.Ref = d.Ref()
		f.Reason = d.Error()
	case KCredit:
		f.Credit = d.Uvarint()
	case KHeartbeat, KHello, KWelcome:
		f.Name = d.String()
		f.Conn.Server = d.String()
		f.Conn.Client = d.Uvarint()
	case KBye:
	case KSys:
		f.Value = d.Value()
	}
	return d.Done()
}

// localRef reads a call reference made by node.
func (d *Dec) localRef(node pid.NodeID) pid.Ref {
	id := d.Uvarint()
	if id == 0 {
		d.Fail(fmt.Errorf("%w: call ref 0", ErrMalformed))
	}
	return pid.NewRef(node, id)
}

// DecodeFrame decodes a whole frame.
func DecodeFrame(b []byte, receiver pid.NodeID) (Frame, error) {
	var f Frame
	var d Dec
	if err := DecodeHeader(b, receiver, &f, &d); err != nil {
		return f, err
	}
	err := d.DecodeBody(&f)
	return f, err
}
