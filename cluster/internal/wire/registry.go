package wire

import (
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// ErrNotRegistered reports a value of a type that has no registered codec:
// it cannot cross between nodes.
var ErrNotRegistered = errors.New("type not registered")

// ErrUnknownType reports a type id in the input that this program has not
// registered.
var ErrUnknownType = errors.New("unknown type")

// Entry is a registered type.
type Entry struct {
	Name string
	ID   uint64
	Type reflect.Type

	typ    unsafe.Pointer // the type word of an interface holding a Type
	direct bool           // a Type is stored in an interface's data word
	k      *codec         // the default codec or the type's own methods
	enc    func(b []byte, v any) ([]byte, error)
	dec    func(b []byte) (any, error)
}

// sentinel is a registered error value, recognised by identity.
type sentinel struct {
	name string
	id   uint64
	err  error
}

// table is an immutable snapshot of the registry; registration copies it.
type table struct {
	byType    map[unsafe.Pointer]*Entry
	byID      map[uint64]*Entry
	byName    map[string]*Entry
	codecs    map[reflect.Type]*codec
	sentinels []sentinel
	sentByID  map[uint64]error
}

var (
	regMu   sync.Mutex
	current atomic.Pointer[table]
)

func init() {
	current.Store(&table{
		byType:   map[unsafe.Pointer]*Entry{},
		byID:     map[uint64]*Entry{},
		byName:   map[string]*Entry{},
		codecs:   map[reflect.Type]*codec{},
		sentByID: map[uint64]error{},
	})
}

func (t *table) clone() *table {
	n := &table{
		byType:    make(map[unsafe.Pointer]*Entry, len(t.byType)+1),
		byID:      make(map[uint64]*Entry, len(t.byID)+1),
		byName:    make(map[string]*Entry, len(t.byName)+1),
		codecs:    make(map[reflect.Type]*codec, len(t.codecs)+4),
		sentinels: append([]sentinel(nil), t.sentinels...),
		sentByID:  make(map[uint64]error, len(t.sentByID)+1),
	}
	for k, v := range t.byType {
		n.byType[k] = v
	}
	for k, v := range t.byID {
		n.byID[k] = v
	}
	for k, v := range t.byName {
		n.byName[k] = v
	}
	for k, v := range t.codecs {
		n.codecs[k] = v
	}
	for k, v := range t.sentByID {
		n.sentByID[k] = v
	}
	return n
}

// TypeID returns the wire id of a registered name.
func TypeID(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// builtin reports whether values of t cross without registration.
func builtin(t reflect.Type) bool {
	switch t {
	case reflect.TypeFor[string](), reflect.TypeFor[[]byte](), reflect.TypeFor[bool](),
		reflect.TypeFor[int](), reflect.TypeFor[int8](), reflect.TypeFor[int16](), reflect.TypeFor[int32](), reflect.TypeFor[int64](),
		reflect.TypeFor[uint](), reflect.TypeFor[uint8](), reflect.TypeFor[uint16](), reflect.TypeFor[uint32](), reflect.TypeFor[uint64](),
		reflect.TypeFor[float32](), reflect.TypeFor[float64](), pidType, refType, nodeType, timeType, reflect.TypeFor[time.Duration](),
		reflect.TypeFor[[]string](), reflect.TypeFor[[]any](), reflect.TypeFor[map[string]string](), reflect.TypeFor[map[string]any]():
		return true
	}
	return false
}

// typeWord returns the type word of an interface holding a t, and whether
// a t sits in the interface's data word itself.
func typeWord(t reflect.Type) (unsafe.Pointer, bool) {
	v := reflect.New(t).Elem().Interface()
	return (*eface)(unsafe.Pointer(&v)).typ, directIface(t)
}

type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// directIface reports whether an interface stores a t in its data word
// (pointer-shaped types), following the compiler's rule.
func directIface(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Struct:
		return t.NumField() == 1 && directIface(t.Field(0).Type)
	case reflect.Array:
		return t.Len() == 1 && directIface(t.Elem())
	}
	return false
}

// Register registers t under name with the default codec, or with the
// type's own marshalling methods when it has them.
func Register(name string, t reflect.Type) error {
	return register(name, t, nil, nil)
}

// RegisterFuncs registers t under name with a codec of the caller's: enc
// appends the form of a t (given as an any holding a t), dec reads one.
func RegisterFuncs(name string, t reflect.Type, enc func(b []byte, v any) ([]byte, error), dec func(b []byte) (any, error)) error {
	if enc == nil || dec == nil {
		return fmt.Errorf("register %q: nil codec function", name)
	}
	return register(name, t, enc, dec)
}

func register(name string, t reflect.Type, enc func([]byte, any) ([]byte, error), dec func([]byte) (any, error)) error {
	switch {
	case name == "":
		return errors.New("register: empty type name")
	case t == nil:
		return fmt.Errorf("register %q: nil type", name)
	case t.Kind() == reflect.Interface:
		return fmt.Errorf("register %q: %v is an interface; register its concrete types", name, t)
	case builtin(t):
		return fmt.Errorf("register %q: %v crosses between nodes without registration", name, t)
	}
	regMu.Lock()
	defer regMu.Unlock()
	cur := current.Load()
	id := TypeID(name)
	if e, ok := cur.byName[name]; ok {
		if e.Type == t {
			return nil
		}
		return fmt.Errorf("register %q: the name is taken by %v", name, e.Type)
	}
	if e, ok := cur.byID[id]; ok {
		return fmt.Errorf("register %q: its id collides with %q's; choose another name", name, e.Name)
	}
	if _, ok := cur.sentByID[id]; ok {
		return fmt.Errorf("register %q: its id collides with an error's; choose another name", name)
	}
	typ, direct := typeWord(t)
	if e, ok := cur.byType[typ]; ok {
		return fmt.Errorf("register %q: %v is registered already as %q", name, t, e.Name)
	}
	e := &Entry{Name: name, ID: id, Type: t, typ: typ, direct: direct, enc: enc, dec: dec}
	next := cur.clone()
	if enc == nil {
		c := newCompiler(cur.codecs)
		k, err := c.compile(t)
		if err != nil {
			return fmt.Errorf("register %q: %w", name, err)
		}
		e.k = k
		for t, k := range c.done {
			next.codecs[t] = k
		}
	}
	next.byType[typ] = e
	next.byID[id] = e
	next.byName[name] = e
	current.Store(next)
	return nil
}

// RegisterError registers a sentinel error value under name, so that
// errors.Is still recognises it after it crossed.
func RegisterError(name string, err error) error {
	switch {
	case name == "":
		return errors.New("register error: empty name")
	case err == nil:
		return fmt.Errorf("register error %q: nil error", name)
	case !reflect.TypeOf(err).Comparable():
		return fmt.Errorf("register error %q: a %T cannot be compared, so it cannot be recognised", name, err)
	}
	regMu.Lock()
	defer regMu.Unlock()
	cur := current.Load()
	id := TypeID(name)
	for _, s := range cur.sentinels {
		switch {
		case s.name == name && s.err == err:
			return nil
		case s.name == name:
			return fmt.Errorf("register error %q: the name is taken", name)
		case s.err == err:
			return fmt.Errorf("register error %q: registered already as %q", name, s.name)
		}
	}
	if e, ok := cur.byID[id]; ok {
		return fmt.Errorf("register error %q: its id collides with type %q's", name, e.Name)
	}
	if _, ok := cur.sentByID[id]; ok {
		return fmt.Errorf("register error %q: its id collides with another error's", name)
	}
	next := cur.clone()
	next.sentinels = append(next.sentinels, sentinel{name: name, id: id, err: err})
	next.sentByID[id] = err
	current.Store(next)
	return nil
}

// Lookup returns the entry registered under name.
func Lookup(name string) (*Entry, bool) {
	e, ok := current.Load().byName[name]
	return e, ok
}

// entryOf returns the entry of v's dynamic type.
func entryOf(v any) *Entry {
	return current.Load().byType[(*eface)(unsafe.Pointer(&v)).typ]
}

// Registered reports whether values of t can cross: built in or registered.
func Registered(t reflect.Type) bool {
	if builtin(t) {
		return true
	}
	typ, _ := typeWord(t)
	_, ok := current.Load().byType[typ]
	return ok
}

// encode appends v's registered form.
func (x *Entry) encode(e *Enc, v any) {
	if x.enc != nil {
		e.sized(func(b []byte) ([]byte, error) { return x.enc(b, v) }, x.Name)
		return
	}
	ef := (*eface)(unsafe.Pointer(&v))
	if x.direct {
		w := ef.data
		x.k.enc(e, unsafe.Pointer(&w))
		return
	}
	x.k.enc(e, ef.data)
}

// decode reads a value of the entry's type.
func (x *Entry) decode(d *Dec) any {
	if x.dec != nil {
		b := d.sizedBytes()
		if d.err != nil {
			return nil
		}
		v, err := x.dec(b)
		if err != nil {
			d.Fail(fmt.Errorf("decode %s: %w", x.Name, err))
			return nil
		}
		if v == nil || reflect.TypeOf(v) != x.Type {
			d.Fail(fmt.Errorf("decode %s: the codec returned a %T", x.Name, v))
			return nil
		}
		return v
	}
	var v any
	ef := (*eface)(unsafe.Pointer(&v))
	if x.direct {
		var w unsafe.Pointer
		x.k.dec(d, unsafe.Pointer(&w))
		if d.err != nil {
			return nil
		}
		ef.typ, ef.data = x.typ, w
		return v
	}
	p := reflect.New(x.Type).UnsafePointer()
	x.k.dec(d, p)
	if d.err != nil {
		return nil
	}
	ef.typ, ef.data = x.typ, p
	return v
}
