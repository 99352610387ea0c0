package wire

import (
	"fmt"
	"reflect"
	"time"

	"github.com/spawned-go/spawned/pid"
)

// Value tags: the built-in types, then registered ones by id.
const (
	tNil byte = iota
	tString
	tBytes
	tFalse
	tTrue
	tInt
	tInt8
	tInt16
	tInt32
	tInt64
	tUint
	tUint8
	tUint16
	tUint32
	tUint64
	tFloat32
	tFloat64
	tPid
	tRef
	tNode
	tTime
	tError
	tStrings
	tAnys
	tStringMap
	tAnyMap
	tDuration
	tRegistered
)

// Value appends v with its type: a built-in type by tag, a registered type
// by its id. A value of any other type fails with ErrNotRegistered.
func (e *Enc) Value(v any) {
	switch v := v.(type) {
	case nil:
		e.Byte(tNil)
	case string:
		e.Byte(tString)
		e.String(v)
	case []byte:
		e.Byte(tBytes)
		e.Bytes(v)
	case bool:
		if v {
			e.Byte(tTrue)
		} else {
			e.Byte(tFalse)
		}
	case int:
		e.Byte(tInt)
		e.Varint(int64(v))
	case int8:
		e.Byte(tInt8)
		e.Byte(byte(v))
	case int16:
		e.Byte(tInt16)
		e.Varint(int64(v))
	case int32:
		e.Byte(tInt32)
		e.Varint(int64(v))
	case int64:
		e.Byte(tInt64)
		e.Varint(v)
	case uint:
		e.Byte(tUint)
		e.Uvarint(uint64(v))
	case uint8:
		e.Byte(tUint8)
		e.Byte(v)
	case uint16:
		e.Byte(tUint16)
		e.Uvarint(uint64(v))
	case uint32:
		e.Byte(tUint32)
		e.Uvarint(uint64(v))
	case uint64:
		e.Byte(tUint64)
		e.Uvarint(v)
	case float32:
		e.Byte(tFloat32)
		e.Float32(v)
	case float64:
		e.Byte(tFloat64)
		e.Float64(v)
	case pid.Pid:
		e.Byte(tPid)
		e.Pid(v)
	case pid.Ref:
		e.Byte(tRef)
		e.Ref(v)
	case pid.NodeID:
		e.Byte(tNode)
		e.Node(v)
	case time.Duration:
		e.Byte(tDuration)
		e.Varint(int64(v))
	case time.Time:
		e.Byte(tTime)
		e.sized(v.AppendBinary, "time.Time")
	case []string:
		e.Byte(tStrings)
		e.strings(v)
	case []any:
		e.Byte(tAnys)
		e.anys(v)
	case map[string]string:
		e.Byte(tStringMap)
		e.stringMap(v)
	case map[string]any:
		e.Byte(tAnyMap)
		e.anyMap(v)
	default:
		x := entryOf(v)
		if x == nil {
			if err, ok := v.(error); ok {
				e.Byte(tError)
				e.Error(err)
				return
			}
			e.Fail(fmt.Errorf("%w: %T (register it with cluster.Register)", ErrNotRegistered, v))
			return
		}
		e.Byte(tRegistered)
		e.U64(x.ID)
		if e.enter() {
			x.encode(e, v)
			e.leave()
		}
	}
}

func (e *Enc) strings(v []string) {
	if v == nil {
		e.Uvarint(0)
		return
	}
	e.Uvarint(uint64(len(v)) + 1)
	for _, s := range v {
		e.String(s)
	}
}

func (e *Enc) anys(v []any) {
	if v == nil {
		e.Uvarint(0)
		return
	}
	e.Uvarint(uint64(len(v)) + 1)
	if !e.enter() {
		return
	}
	for _, x := range v {
		e.Value(x)
	}
	e.leave()
}

func (e *Enc) stringMap(v map[string]string) {
	if v == nil {
		e.Uvarint(0)
		return
	}
	e.Uvarint(uint64(len(v)) + 1)
	for k, x := range v {
		e.String(k)
		e.String(x)
	}
}

func (e *Enc) anyMap(v map[string]any) {
	if v == nil {
		e.Uvarint(0)
		return
	}
	e.Uvarint(uint64(len(v)) + 1)
	if !e.enter() {
		return
	}
	for k, x := range v {
		e.String(k)
		e.Value(x)
	}
	e.leave()
}

// Value reads a value written by Enc.Value.
func (d *Dec) Value() any {
	tag := d.Byte()
	if d.err != nil {
		return nil
	}
	switch tag {
	case tNil:
		return nil
	case tString:
		return d.String()
	case tBytes:
		return d.Bytes()
	case tFalse:
		return false
	case tTrue:
		return true
	case tInt:
		return int(d.intN(64))
	case tInt8:
		return int8(d.Byte())
	case tInt16:
		return int16(d.intN(16))
	case tInt32:
		return int32(d.intN(32))
	case tInt64:
		return d.Varint()
	case tUint:
		return uint(d.uintN(64))
	case tUint8:
		return d.Byte()
	case tUint16:
		return uint16(d.uintN(16))
	case tUint32:
		return uint32(d.uintN(32))
	case tUint64:
		return d.Uvarint()
	case tFloat32:
		return d.Float32()
	case tFloat64:
		return d.Float64()
	case tPid:
		return d.Pid()
	case tRef:
		return d.Ref()
	case tNode:
		return d.Node()
	case tDuration:
		return time.Duration(d.Varint())
	case tTime:
		var t time.Time
		if b := d.sizedBytes(); d.err == nil {
			if err := t.UnmarshalBinary(b); err != nil {
				d.Fail(fmt.Errorf("%w: time: %v", ErrMalformed, err))
			}
		}
		return t
	case tError:
		return d.Error()
	case tStrings:
		return d.strings()
	case tAnys:
		return d.anys()
	case tStringMap:
		return d.stringMap()
	case tAnyMap:
		return d.anyMap()
	case tRegistered:
		id := d.U64()
		if d.err != nil {
			return nil
		}
		x := current.Load().byID[id]
		if x == nil {
			d.Fail(fmt.Errorf("%w: id %#x (register the type on this node too)", ErrUnknownType, id))
			d.off = len(d.b)
			return nil
		}
		if !d.enter() {
			return nil
		}
		v := x.decode(d)
		d.leave()
		return v
	}
	d.Fail(fmt.Errorf("%w: value tag %d", ErrMalformed, tag))
	d.off = len(d.b)
	return nil
}

func (d *Dec) strings() []string {
	n := d.Uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	n--
	if n > uint64(d.Len()) {
		d.short("strings")
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.String()
	}
	return out
}

func (d *Dec) anys() []any {
	n := d.Uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	n--
	if n > uint64(d.Len()) {
		d.short("values")
		return nil
	}
	if !d.enter() {
		return nil
	}
	out := make([]any, n)
	for i := range out {
		out[i] = d.Value()
	}
	d.leave()
	return out
}

func (d *Dec) stringMap() map[string]string {
	n := d.Uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	n--
	if n > uint64(d.Len()) {
		d.short("map")
		return nil
	}
	out := make(map[string]string, n)
	for range n {
		k := d.String()
		out[k] = d.String()
	}
	return out
}

func (d *Dec) anyMap() map[string]any {
	n := d.Uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	n--
	if n > uint64(d.Len()) {
		d.short("map")
		return nil
	}
	if !d.enter() {
		return nil
	}
	out := make(map[string]any, n)
	for range n {
		k := d.String()
		out[k] = d.Value()
	}
	d.leave()
	return out
}

// Encodable reports, without encoding it, whether v's type can cross.
func Encodable(v any) bool {
	if v == nil {
		return true
	}
	t := reflect.TypeOf(v)
	if builtin(t) || entryOf(v) != nil {
		return true
	}
	_, isErr := v.(error)
	return isErr
}
