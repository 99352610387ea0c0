package core

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/spawned-go/spawned/pid"
)

// renderMax bounds the text Render returns, in bytes.
const renderMax = 240

// TraceStringer may be implemented by a message type that renders itself
// for traces (the runtime's own call and cast messages do). TraceString
// must be quick and must not call into the runtime.
type TraceStringer interface {
	TraceString() string
}

// Render formats v as bounded text for traces and the observer. It walks
// the value with reflection and calls none of its methods, so a message's
// String cannot block or panic inside the runtime: the exceptions are an
// error's Error, Pids and Refs, and TraceString. Nothing of v is kept.
func Render(v any) (s string) {
	defer func() {
		if recover() != nil {
			s = "<unprintable>"
		}
	}()
	r := renderer{}
	r.value(reflect.ValueOf(v), 0)
	return r.String()
}

type renderer struct {
	strings.Builder
	cut bool
}

const renderDepth = 4
const renderItems = 8

var (
	pidType = reflect.TypeFor[pid.Pid]()
	refType = reflect.TypeFor[pid.Ref]()
	errType = reflect.TypeFor[error]()
	tsType  = reflect.TypeFor[TraceStringer]()
)

func (r *renderer) write(s string) {
	if r.cut {
		return
	}
	if room := renderMax - r.Len(); len(s) > room {
		r.WriteString(s[:max(room, 0)])
		r.WriteString("…")
		r.cut = true
		return
	}
	r.WriteString(s)
}

func (r *renderer) value(v reflect.Value, depth int) {
	if r.cut {
		return
	}
	if !v.IsValid() {
		r.write("nil")
		return
	}
	t := v.Type()
	if v.CanInterface() && (v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface || !v.IsNil()) {
		switch {
		case t == pidType:
			r.write(v.Interface().(pid.Pid).String())
			return
		case t == refType:
			r.write(v.Interface().(pid.Ref).String())
			return
		case t.Implements(tsType):
			r.write(v.Interface().(TraceStringer).TraceString())
			return
		case t.Implements(errType):
			r.write(v.Interface().(error).Error())
			return
		}
	}
	if depth > renderDepth {
		r.write("…")
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		r.write(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		r.write(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		r.write(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		r.write(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case reflect.Complex64, reflect.Complex128:
		r.write(strconv.FormatComplex(v.Complex(), 'g', -1, 128))
	case reflect.String:
		s := v.String()
		if len(s) > renderMax {
			s = s[:renderMax]
		}
		r.write(strconv.Quote(s))
	case reflect.Pointer:
		if v.IsNil() {
			r.write("nil")
			return
		}
		r.write("&")
		r.value(v.Elem(), depth+1)
	case reflect.Interface:
		r.value(v.Elem(), depth)
	case reflect.Struct:
		if t == pidType || t == refType { // unexported: no String to call
			r.write("<" + t.Name() + ">")
			return
		}
		r.write(t.String() + "{")
		for i := range v.NumField() {
			if i > 0 {
				r.write(" ")
			}
			if i == renderItems {
				r.write("…")
				break
			}
			r.write(t.Field(i).Name + ":")
			r.value(v.Field(i), depth+1)
		}
		r.write("}")
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			r.write("[]")
			return
		}
		if t.Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice {
			r.write("[" + strconv.Itoa(v.Len()) + " bytes]")
			return
		}
		r.write("[")
		for i := range v.Len() {
			if i > 0 {
				r.write(" ")
			}
			if i == renderItems {
				r.write("…(" + strconv.Itoa(v.Len()) + ")")
				break
			}
			r.value(v.Index(i), depth+1)
		}
		r.write("]")
	case reflect.Map:
		r.write("map[")
		it := v.MapRange()
		for i := 0; it.Next(); i++ {
			if i > 0 {
				r.write(" ")
			}
			if i == renderItems {
				r.write("…(" + strconv.Itoa(v.Len()) + ")")
				break
			}
			r.value(it.Key(), depth+1)
			r.write(":")
			r.value(it.Value(), depth+1)
		}
		r.write("]")
	default: // chan, func, unsafe pointer
		r.write(t.String())
	}
}
