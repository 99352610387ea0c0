package cluster

import (
	"context"
	"fmt"
	"reflect"

	"github.com/spawned-go/spawned/cluster/internal/wire"
	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/link"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Register registers the message type T under name, so that values of T
// cross between nodes: every node registers it under the same name (the
// wire carries a 64-bit hash of the name, not the Go type). Register it
// once, before it is sent, typically in an init function.
//
// T's codec is picked in this order: the type's own methods on *T
// (encoding.BinaryAppender or BinaryMarshaler with BinaryUnmarshaler;
// MarshalVT/UnmarshalVT or Marshal/Unmarshal, as gogo- and vtprotobuf
// generate; TextAppender or TextMarshaler with TextUnmarshaler), else the
// default codec: a compact positional form compiled once per type, for
// structs of exported fields, slices, arrays, maps, pointers, the basic
// kinds, pid.Pid, pid.Ref, pid.NodeID, time.Time, errors and interfaces
// (whose dynamic types must be registered or built in). Both nodes must
// have the same definition of T: change a type's fields under a new name.
//
// Built in, needing no registration: nil, string, []byte, bool, the sized
// and unsized ints and uints, float32, float64, pid.Pid, pid.Ref,
// pid.NodeID, time.Time, time.Duration, []string, []any, map[string]string,
// map[string]any, errors (see RegisterError), and the runtime's messages
// and reasons (link.Exit, link.Down, NodeUp, NodeDown, process.PanicError,
// process.ShutdownError, genserver.CallError...).
func Register[T any](name string) error {
	if err := wire.Register(name, reflect.TypeFor[T]()); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// MustRegister is Register for package initialisation: it panics if the
// type cannot be registered.
func MustRegister[T any](name string) {
	if err := Register[T](name); err != nil {
		panic(err)
	}
}

// RegisterCodec registers the message type T under name with a codec of
// the caller's: appendTo appends the encoding of v to b, decode reads one
// back. Use it for types the default codec cannot handle, or for protobuf
// messages:
//
//	cluster.RegisterCodec("billing.Invoice",
//		func(b []byte, m *pb.Invoice) ([]byte, error) {
//			return proto.MarshalOptions{}.MarshalAppend(b, m)
//		},
//		func(b []byte) (*pb.Invoice, error) {
//			m := new(pb.Invoice)
//			return m, proto.Unmarshal(b, m)
//		})
func RegisterCodec[T any](name string, appendTo func(b []byte, v T) ([]byte, error), decode func(b []byte) (T, error)) error {
	if appendTo == nil || decode == nil {
		return fmt.Errorf("cluster: register %q: nil codec function", name)
	}
	enc := func(b []byte, v any) ([]byte, error) { return appendTo(b, v.(T)) }
	dec := func(b []byte) (any, error) {
		v, err := decode(b)
		return v, err
	}
	if err := wire.RegisterFuncs(name, reflect.TypeFor[T](), enc, dec); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// RegisterError registers a sentinel error value under name, so that
// errors.Is(err, value) still holds after err crossed from another node,
// as it does for the runtime's own reasons. An error value that is not
// registered crosses as a RemoteError that keeps its text.
func RegisterError(name string, err error) error {
	if e := wire.RegisterError(name, err); e != nil {
		return fmt.Errorf("cluster: %w", e)
	}
	return nil
}

// maxStack bounds the stack of a PanicError that crosses.
const maxStack = 16 << 10

func init() {
	for name, err := range map[string]error{
		"spawned.Normal":                      process.Normal,
		"spawned.Shutdown":                    process.Shutdown,
		"spawned.Kill":                        process.Kill,
		"spawned.Killed":                      process.Killed,
		"spawned.NoProc":                      process.NoProc,
		"spawned.NoConnection":                process.NoConnection,
		"spawned.ErrMailboxFull":              process.ErrMailboxFull,
		"spawned.ErrNodeStopped":              process.ErrNodeStopped,
		"spawned.ErrCallerExited":             process.ErrCallerExited,
		"spawned.ErrZeroPid":                  process.ErrZeroPid,
		"spawned.ErrPeerBusy":                 core.ErrPeerBusy,
		"spawned.genserver.ErrTimeout":        genserver.ErrTimeout,
		"spawned.genserver.ErrCallingSelf":    genserver.ErrCallingSelf,
		"spawned.genserver.ErrWrongServer":    genserver.ErrWrongServer,
		"spawned.genserver.ErrAlreadyStarted": genserver.ErrAlreadyStarted,
		"spawned.genserver.ErrIgnored":        genserver.ErrIgnored,
		"spawned.genserver.ErrZeroRef":        genserver.ErrZeroRef,
		"spawned.genserver.ErrNilServer":      genserver.ErrNilServer,
		"context.Canceled":                    context.Canceled,
		"context.DeadlineExceeded":            context.DeadlineExceeded,
		"spawned.cluster.ErrTooLarge":         ErrTooLarge,
		"spawned.cluster.ErrNotRegistered":    ErrNotRegistered,
		"spawned.cluster.ErrConnectionClosed": ErrConnectionClosed,
		"spawned.cluster.ErrHeartbeatTimeout": ErrHeartbeatTimeout,
		"spawned.cluster.ErrDisconnected":     ErrDisconnected,
		"spawned.cluster.ErrServerLost":       ErrServerLost,
		"spawned.cluster.ErrConnectionReset":  ErrConnectionReset,
		"spawned.cluster.ErrPaused":           ErrPaused,
		"spawned.cluster.ErrNodeLeft":         ErrNodeLeft,
		"spawned.cluster.ErrSuperseded":       ErrSuperseded,
		"spawned.cluster.ErrLeft":             ErrLeft,
	} {
		if e := wire.RegisterError(name, err); e != nil {
			panic(e)
		}
	}
	MustRegister[*process.ShutdownError]("spawned.ShutdownError")
	MustRegister[*core.UnreachableError]("spawned.UnreachableError")
	MustRegister[*link.Error]("spawned.link.Error")
	MustRegister[*genserver.CallError]("spawned.genserver.CallError")
	MustRegister[*genserver.StartError]("spawned.genserver.StartError")
	MustRegister[*genserver.AlreadyStartedError]("spawned.genserver.AlreadyStartedError")
	MustRegister[link.Exit]("spawned.link.Exit")
	MustRegister[link.Down]("spawned.link.Down")
	MustRegister[NodeUp]("spawned.cluster.NodeUp")
	MustRegister[NodeDown]("spawned.cluster.NodeDown")
	MustRegister[NodeInfo]("spawned.cluster.NodeInfo")
	// A panic's value crosses as its text, with the stack.
	err := RegisterCodec("spawned.PanicError",
		func(b []byte, e *process.PanicError) ([]byte, error) {
			enc := wire.Enc{B: b}
			enc.String(clip(fmt.Sprint(e.Value), wire.MaxErrorText))
			stack := e.Stack
			if len(stack) > maxStack {
				stack = stack[:maxStack]
			}
			enc.Bytes(stack)
			return enc.B, enc.Err()
		},
		func(b []byte) (*process.PanicError, error) {
			d := wire.NewDec(b, pid.NodeID{}, pid.NodeID{})
			e := &process.PanicError{Value: d.String(), Stack: d.Bytes()}
			return e, d.Done()
		})
	if err != nil {
		panic(err)
	}
}
