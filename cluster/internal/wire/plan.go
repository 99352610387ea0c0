package wire

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"time"
	"unsafe"

	"github.com/spawned-go/spawned/pid"
)

// codec encodes and decodes values of one Go type in place, through a
// pointer to the value: no boxing, no reflection per value for the common
// kinds. Plans are compiled once per type, at registration.
type codec struct {
	t   reflect.Type
	enc func(e *Enc, p unsafe.Pointer)
	dec func(d *Dec, p unsafe.Pointer)
}

// The optional methods a type may bring, looked for on its pointer.
type (
	vtMarshaler interface {
		MarshalVT() ([]byte, error)
		UnmarshalVT([]byte) error
	}
	gogoMarshaler interface {
		Marshal() ([]byte, error)
		Unmarshal([]byte) error
	}
)

var (
	binaryAppender    = reflect.TypeFor[encoding.BinaryAppender]()
	binaryMarshaler   = reflect.TypeFor[encoding.BinaryMarshaler]()
	binaryUnmarshaler = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	textAppender      = reflect.TypeFor[encoding.TextAppender]()
	textMarshaler     = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler   = reflect.TypeFor[encoding.TextUnmarshaler]()
	vtType            = reflect.TypeFor[vtMarshaler]()
	gogoType          = reflect.TypeFor[gogoMarshaler]()
	errorType         = reflect.TypeFor[error]()
	anyType           = reflect.TypeFor[any]()
	pidType           = reflect.TypeFor[pid.Pid]()
	refType           = reflect.TypeFor[pid.Ref]()
	nodeType          = reflect.TypeFor[pid.NodeID]()
	timeType          = reflect.TypeFor[time.Time]()
)

// compiler builds codecs, sharing one per type and handling recursive
// types through the entry made before a type's parts are compiled.
type compiler struct {
	done map[reflect.Type]*codec
}

func newCompiler(known map[reflect.Type]*codec) *compiler {
	c := &compiler{done: make(map[reflect.Type]*codec, len(known)+8)}
	for t, k := range known {
		c.done[t] = k
	}
	return c
}

// compile returns the codec of t.
func (c *compiler) compile(t reflect.Type) (*codec, error) {
	if k, ok := c.done[t]; ok {
		return k, nil
	}
	k := &codec{t: t}
	c.done[t] = k
	if err := c.build(k); err != nil {
		delete(c.done, t)
		return nil, err
	}
	return k, nil
}

func (c *compiler) build(k *codec) error {
	t := k.t
	switch t {
	case pidType:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Pid(*(*pid.Pid)(p)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*pid.Pid)(p) = d.Pid() }
		return nil
	case refType:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Ref(*(*pid.Ref)(p)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*pid.Ref)(p) = d.Ref() }
		return nil
	case nodeType:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Node(*(*pid.NodeID)(p)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*pid.NodeID)(p) = d.Node() }
		return nil
	case errorType:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Error(*(*error)(p)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*error)(p) = d.Error() }
		return nil
	case anyType:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Value(*(*any)(p)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*any)(p) = d.Value() }
		return nil
	}
	if t.Kind() != reflect.Interface && t.Kind() != reflect.Pointer {
		if ok := c.methods(k); ok {
			return nil
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Bool(*(*bool)(p)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*bool)(p) = d.Bool() }
	case reflect.Int:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Varint(int64(*(*int)(p))) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*int)(p) = int(d.intN(64)) }
	case reflect.Int8:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Byte(byte(*(*int8)(p))) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*int8)(p) = int8(d.Byte()) }
	case reflect.Int16:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Varint(int64(*(*int16)(p))) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*int16)(p) = int16(d.intN(16)) }
	case reflect.Int32:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Varint(int64(*(*int32)(p))) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*int32)(p) = int32(d.intN(32)) }
	case reflect.Int64:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Varint(*(*int64)(p)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*int64)(p) = d.Varint() }
	case reflect.Uint:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Uvarint(uint64(*(*uint)(p))) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*uint)(p) = uint(d.uintN(64)) }
	case reflect.Uint8:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Byte(*(*uint8)(p)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*uint8)(p) = d.Byte() }
	case reflect.Uint16:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Uvarint(uint64(*(*uint16)(p))) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*uint16)(p) = uint16(d.uintN(16)) }
	case reflect.Uint32:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Uvarint(uint64(*(*uint32)(p))) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*uint32)(p) = uint32(d.uintN(32)) }
	case reflect.Uint64:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Uvarint(*(*uint64)(p)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*uint64)(p) = d.Uvarint() }
	case reflect.Float32:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Float32(*(*float32)(p)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*float32)(p) = d.Float32() }
	case reflect.Float64:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.Float64(*(*float64)(p)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*float64)(p) = d.Float64() }
	case reflect.Complex64:
		k.enc = func(e *Enc, p unsafe.Pointer) {
			v := *(*complex64)(p)
			e.Float32(real(v))
			e.Float32(imag(v))
		}
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*complex64)(p) = complex(d.Float32(), d.Float32()) }
	case reflect.Complex128:
		k.enc = func(e *Enc, p unsafe.Pointer) {
			v := *(*complex128)(p)
			e.Float64(real(v))
			e.Float64(imag(v))
		}
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*complex128)(p) = complex(d.Float64(), d.Float64()) }
	case reflect.String:
		k.enc = func(e *Enc, p unsafe.Pointer) { e.String(*(*string)(p)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { *(*string)(p) = d.String() }
	case reflect.Slice:
		return c.slice(k)
	case reflect.Array:
		return c.array(k)
	case reflect.Map:
		return c.mapOf(k)
	case reflect.Pointer:
		return c.pointer(k)
	case reflect.Struct:
		return c.structOf(k)
	case reflect.Interface:
		c.iface(k)
	default:
		return fmt.Errorf("type %v: a %v cannot cross between nodes", t, t.Kind())
	}
	return nil
}

// intN reads a signed number that must fit in bits.
func (d *Dec) intN(bits uint) int64 {
	v := d.Varint()
	if bits < 64 && (v < -1<<(bits-1) || v >= 1<<(bits-1)) {
		d.Fail(fmt.Errorf("%w: %d overflows int%d", ErrMalformed, v, bits))
		return 0
	}
	if bits == 64 && (v < math.MinInt || v > math.MaxInt) {
		d.Fail(fmt.Errorf("%w: %d overflows int", ErrMalformed, v))
		return 0
	}
	return v
}

// uintN reads an unsigned number that must fit in bits.
func (d *Dec) uintN(bits uint) uint64 {
	v := d.Uvarint()
	if bits < 64 && v >= 1<<bits || bits == 64 && v > math.MaxUint {
		d.Fail(fmt.Errorf("%w: %d overflows uint%d", ErrMalformed, v, bits))
		return 0
	}
	return v
}

// methods gives k a codec through the type's own marshalling methods, if
// it has a usable pair, and reports whether it did.
func (c *compiler) methods(k *codec) bool {
	t := k.t
	pt := reflect.PointerTo(t)
	ptr := func(p unsafe.Pointer) any { return reflect.NewAt(t, p).Interface() }
	var enc func(b []byte, v any) ([]byte, error)
	var dec func(b []byte, v any) error
	switch {
	case pt.Implements(binaryUnmarshaler) && pt.Implements(binaryAppender):
		enc = func(b []byte, v any) ([]byte, error) { return v.(encoding.BinaryAppender).AppendBinary(b) }
		dec = func(b []byte, v any) error { return v.(encoding.BinaryUnmarshaler).UnmarshalBinary(b) }
	case pt.Implements(binaryUnmarshaler) && pt.Implements(binaryMarshaler):
		enc = func(b []byte, v any) ([]byte, error) {
			m, err := v.(encoding.BinaryMarshaler).MarshalBinary()
			return append(b, m...), err
		}
		dec = func(b []byte, v any) error { return v.(encoding.BinaryUnmarshaler).UnmarshalBinary(b) }
	case pt.Implements(vtType):
		enc = func(b []byte, v any) ([]byte, error) {
			m, err := v.(vtMarshaler).MarshalVT()
			return append(b, m...), err
		}
		dec = func(b []byte, v any) error { return v.(vtMarshaler).UnmarshalVT(b) }
	case pt.Implements(gogoType):
		enc = func(b []byte, v any) ([]byte, error) {
			m, err := v.(gogoMarshaler).Marshal()
			return append(b, m...), err
		}
		dec = func(b []byte, v any) error { return v.(gogoMarshaler).Unmarshal(b) }
	case pt.Implements(textUnmarshaler) && pt.Implements(textAppender):
		enc = func(b []byte, v any) ([]byte, error) { return v.(encoding.TextAppender).AppendText(b) }
		dec = func(b []byte, v any) error { return v.(encoding.TextUnmarshaler).UnmarshalText(b) }
	case pt.Implements(textUnmarshaler) && pt.Implements(textMarshaler):
		enc = func(b []byte, v any) ([]byte, error) {
			m, err := v.(encoding.TextMarshaler).MarshalText()
			return append(b, m...), err
		}
		dec = func(b []byte, v any) error { return v.(encoding.TextUnmarshaler).UnmarshalText(b) }
	default:
		return false
	}
	name := t.String()
	k.enc = func(e *Enc, p unsafe.Pointer) {
		e.sized(func(b []byte) ([]byte, error) { return enc(b, ptr(p)) }, name)
	}
	k.dec = func(d *Dec, p unsafe.Pointer) {
		b := d.sizedBytes()
		if d.err != nil {
			return
		}
		if err := dec(b, ptr(p)); err != nil {
			d.Fail(fmt.Errorf("decode %s: %w", name, err))
		}
	}
	return true
}

// sized appends a 4-byte length and what appendTo appends after it.
func (e *Enc) sized(appendTo func([]byte) ([]byte, error), name string) {
	if e.err != nil {
		return
	}
	at := len(e.B)
	e.B = append(e.B, 0, 0, 0, 0)
	b, err := appendTo(e.B)
	if err != nil {
		e.B = e.B[:at]
		e.Fail(fmt.Errorf("encode %s: %w", name, err))
		return
	}
	n := len(b) - at - 4
	if uint64(n) > math.MaxUint32 {
		e.Fail(fmt.Errorf("encode %s: %d bytes", name, n))
		return
	}
	b[at], b[at+1], b[at+2], b[at+3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	e.B = b
}

// sizedBytes reads what sized wrote, aliasing the input.
func (d *Dec) sizedBytes() []byte {
	n := d.U32()
	return d.raw(int(n))
}

type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

func (c *compiler) slice(k *codec) error {
	t := k.t
	et := t.Elem()
	if et.Kind() == reflect.Uint8 {
		if et == reflect.TypeFor[byte]() || !hasMethods(et) {
			k.enc = func(e *Enc, p unsafe.Pointer) { e.Bytes(*(*[]byte)(p)) }
			k.dec = func(d *Dec, p unsafe.Pointer) { *(*[]byte)(p) = d.Bytes() }
			return nil
		}
	}
	ek, err := c.compile(et)
	if err != nil {
		return err
	}
	size := et.Size()
	k.enc = func(e *Enc, p unsafe.Pointer) {
		h := (*sliceHeader)(p)
		if h.data == nil {
			e.Uvarint(0)
			return
		}
		e.Uvarint(uint64(h.len) + 1)
		if !e.enter() {
			return
		}
		for i := range h.len {
			ek.enc(e, unsafe.Add(h.data, uintptr(i)*size))
		}
		e.leave()
	}
	k.dec = func(d *Dec, p unsafe.Pointer) {
		n := d.Uvarint()
		if n == 0 || d.err != nil {
			*(*sliceHeader)(p) = sliceHeader{}
			return
		}
		n--
		if n > uint64(d.Len()) {
			d.short("slice")
			return
		}
		if !d.enter() {
			return
		}
		s := reflect.MakeSlice(t, int(n), int(n))
		data := s.UnsafePointer()
		for i := range int(n) {
			ek.dec(d, unsafe.Add(data, uintptr(i)*size))
		}
		d.leave()
		*(*sliceHeader)(p) = sliceHeader{data: data, len: int(n), cap: int(n)}
	}
	return nil
}

// hasMethods reports whether t's pointer has the marshalling methods that
// methods would pick.
func hasMethods(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	for _, i := range []reflect.Type{binaryUnmarshaler, vtType, gogoType, textUnmarshaler} {
		if pt.Implements(i) {
			return true
		}
	}
	return false
}

func (c *compiler) array(k *codec) error {
	t := k.t
	ek, err := c.compile(t.Elem())
	if err != nil {
		return err
	}
	n, size := t.Len(), t.Elem().Size()
	k.enc = func(e *Enc, p unsafe.Pointer) {
		for i := range n {
			ek.enc(e, unsafe.Add(p, uintptr(i)*size))
		}
	}
	k.dec = func(d *Dec, p unsafe.Pointer) {
		for i := range n {
			ek.dec(d, unsafe.Add(p, uintptr(i)*size))
		}
	}
	return nil
}

func (c *compiler) mapOf(k *codec) error {
	t := k.t
	kk, err := c.compile(t.Key())
	if err != nil {
		return err
	}
	vk, err := c.compile(t.Elem())
	if err != nil {
		return err
	}
	k.enc = func(e *Enc, p unsafe.Pointer) {
		m := reflect.NewAt(t, p).Elem()
		if m.IsNil() {
			e.Uvarint(0)
			return
		}
		e.Uvarint(uint64(m.Len()) + 1)
		if !e.enter() {
			return
		}
		key := reflect.New(t.Key()).Elem()
		val := reflect.New(t.Elem()).Elem()
		for it := m.MapRange(); it.Next(); {
			key.SetIterKey(it)
			val.SetIterValue(it)
			kk.enc(e, key.Addr().UnsafePointer())
			vk.enc(e, val.Addr().UnsafePointer())
		}
		e.leave()
	}
	k.dec = func(d *Dec, p unsafe.Pointer) {
		m := reflect.NewAt(t, p).Elem()
		n := d.Uvarint()
		if n == 0 || d.err != nil {
			m.SetZero()
			return
		}
		n--
		if n > uint64(d.Len()) {
			d.short("map")
			return
		}
		if !d.enter() {
			return
		}
		mv := reflect.MakeMapWithSize(t, int(n))
		for range int(n) {
			key := reflect.New(t.Key())
			val := reflect.New(t.Elem())
			kk.dec(d, key.UnsafePointer())
			vk.dec(d, val.UnsafePointer())
			if d.err != nil {
				break
			}
			mv.SetMapIndex(key.Elem(), val.Elem())
		}
		d.leave()
		m.Set(mv)
	}
	return nil
}

func (c *compiler) pointer(k *codec) error {
	et := k.t.Elem()
	ek, err := c.compile(et)
	if err != nil {
		return err
	}
	k.enc = func(e *Enc, p unsafe.Pointer) {
		q := *(*unsafe.Pointer)(p)
		if q == nil {
			e.Byte(0)
			return
		}
		e.Byte(1)
		if e.enter() {
			ek.enc(e, q)
			e.leave()
		}
	}
	k.dec = func(d *Dec, p unsafe.Pointer) {
		switch d.Byte() {
		case 0:
			*(*unsafe.Pointer)(p) = nil
		case 1:
			if !d.enter() {
				return
			}
			q := reflect.New(et).UnsafePointer()
			ek.dec(d, q)
			d.leave()
			*(*unsafe.Pointer)(p) = q
		default:
			d.Fail(fmt.Errorf("%w: bad pointer tag", ErrMalformed))
		}
	}
	return nil
}

type fieldCodec struct {
	off uintptr
	k   *codec
}

func (c *compiler) structOf(k *codec) error {
	t := k.t
	var fields []fieldCodec
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == "_" {
			continue
		}
		if !f.IsExported() {
			return fmt.Errorf("type %v has the unexported field %s: give the type MarshalBinary and UnmarshalBinary methods, or register a codec for it", t, f.Name)
		}
		fk, err := c.compile(f.Type)
		if err != nil {
			return fmt.Errorf("type %v, field %s: %w", t, f.Name, err)
		}
		fields = append(fields, fieldCodec{off: f.Offset, k: fk})
	}
	switch len(fields) {
	case 1:
		f := fields[0]
		k.enc = func(e *Enc, p unsafe.Pointer) { f.k.enc(e, unsafe.Add(p, f.off)) }
		k.dec = func(d *Dec, p unsafe.Pointer) { f.k.dec(d, unsafe.Add(p, f.off)) }
	default:
		k.enc = func(e *Enc, p unsafe.Pointer) {
			for _, f := range fields {
				f.k.enc(e, unsafe.Add(p, f.off))
			}
		}
		k.dec = func(d *Dec, p unsafe.Pointer) {
			for _, f := range fields {
				f.k.dec(d, unsafe.Add(p, f.off))
			}
		}
	}
	return nil
}

// iface handles an interface type other than any and error: the dynamic
// value crosses as a value, and must implement the interface on arrival.
func (c *compiler) iface(k *codec) {
	t := k.t
	k.enc = func(e *Enc, p unsafe.Pointer) {
		v := reflect.NewAt(t, p).Elem()
		if v.IsNil() {
			e.Value(nil)
			return
		}
		e.Value(v.Interface())
	}
	k.dec = func(d *Dec, p unsafe.Pointer) {
		v := d.Value()
		slot := reflect.NewAt(t, p).Elem()
		if v == nil {
			slot.SetZero()
			return
		}
		rv := reflect.ValueOf(v)
		if !rv.Type().Implements(t) {
			d.Fail(fmt.Errorf("%w: a %v is not a %v", ErrMalformed, rv.Type(), t))
			return
		}
		slot.Set(rv)
	}
}
