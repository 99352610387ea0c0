package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spawned-go/spawned/pid"
)

type inner struct {
	N    int
	Tags []string
}

type sample struct {
	A   int
	B   string
	C   []byte
	D   float64
	E   bool
	F   *inner
	G   map[string]int
	H   [3]uint16
	I   any
	J   error
	K   pid.Pid
	L   pid.Ref
	M   time.Time
	N   []inner
	O   int8
	P   complex128
	Q   time.Duration
	R   fmt.Stringer
	S   *sample
	T   uint32
	Nil []int
}

type named string

func (n named) String() string { return string(n) }

type onePtr struct{ P *int }

type withBinary struct{ secret int }

func (w withBinary) MarshalBinary() ([]byte, error) { return []byte{byte(w.secret)}, nil }
func (w *withBinary) UnmarshalBinary(b []byte) error {
	if len(b) != 1 {
		return errors.New("want one byte")
	}
	w.secret = int(b[0])
	return nil
}

type vt struct{ x string }

func (v *vt) MarshalVT() ([]byte, error) { return []byte(v.x), nil }
func (v *vt) UnmarshalVT(b []byte) error { v.x = string(b); return nil }

type customErr struct{ Code int }

func (e *customErr) Error() string { return fmt.Sprintf("code %d", e.Code) }

var (
	errSentinel = errors.New("a sentinel")
	nodeA       = pid.NewNodeID()
	nodeB       = pid.NewNodeID()
)

func init() {
	for name, t := range map[string]reflect.Type{
		"test.sample":     reflect.TypeFor[sample](),
		"test.samplePtr":  reflect.TypeFor[*sample](),
		"test.inner":      reflect.TypeFor[inner](),
		"test.named":      reflect.TypeFor[named](),
		"test.onePtr":     reflect.TypeFor[onePtr](),
		"test.withBinary": reflect.TypeFor[withBinary](),
		"test.vt":         reflect.TypeFor[*vt](),
		"test.customErr":  reflect.TypeFor[*customErr](),
	} {
		if err := Register(name, t); err != nil {
			panic(err)
		}
	}
	if err := RegisterError("test.sentinel", errSentinel); err != nil {
		panic(err)
	}
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	e := &Enc{Sender: nodeA, Receiver: nodeB}
	e.Value(v)
	if err := e.Err(); err != nil {
		t.Fatalf("encode %T: %v", v, err)
	}
	d := NewDec(e.B, nodeA, nodeB)
	got := d.Value()
	if err := d.Done(); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
	return got
}

func TestValue_RoundTrip(t *testing.T) {
	seven := 7
	full := sample{
		A: -5, B: "héllo", C: []byte{1, 2}, D: math.Pi, E: true,
		F: &inner{N: 3, Tags: []string{"x", ""}}, G: map[string]int{"a": 1, "b": 2},
		H: [3]uint16{1, 2, 65535}, I: named("dyn"), J: errSentinel,
		K: pid.New(nodeA, 9), L: pid.NewRef(pid.NewNodeID(), 4),
		M: time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600)),
		N: []inner{{N: 1}, {N: 2, Tags: []string{}}}, O: -128, P: complex(1, -2),
		Q: time.Second, R: named("stringer"), S: &sample{A: 1}, T: math.MaxUint32,
	}
	for _, v := range []any{
		nil, "", "text", []byte{}, []byte(nil), []byte("b"), true, false,
		0, -1, math.MaxInt64, math.MinInt64, int8(-3), int16(300), int32(-70000), int64(1 << 40),
		uint(7), uint8(255), uint16(65535), uint32(1 << 31), uint64(math.MaxUint64),
		float32(1.5), math.Inf(-1), pid.New(nodeB, 1), pid.Pid{}, pid.NewRef(nodeA, 3), nodeA,
		time.Unix(100, 5).UTC(), time.Minute, []string{"a", "b"}, []any{1, "x", nil}, map[string]string{"k": "v"},
		map[string]any{"k": 1.5}, full, &full, inner{}, named("n"), onePtr{P: &seven}, onePtr{},
		withBinary{secret: 42}, &vt{x: "proto"}, &customErr{Code: 7},
	} {
		got := roundTrip(t, v)
		if !reflect.DeepEqual(got, v) {
			if tm, ok := v.(time.Time); ok && tm.Equal(got.(time.Time)) {
				continue
			}
			if s, ok := v.(sample); ok {
				g := got.(sample)
				if s.M.Equal(g.M) {
					g.M = s.M
					if reflect.DeepEqual(g, s) {
						continue
					}
				}
			}
			if s, ok := v.(*sample); ok {
				g := *got.(*sample)
				if s.M.Equal(g.M) {
					g.M = s.M
					if reflect.DeepEqual(g, *s) {
						continue
					}
				}
			}
			t.Errorf("%T: got %#v, want %#v", v, got, v)
		}
	}
}

func TestValue_Unregistered(t *testing.T) {
	type local struct{ X int }
	e := &Enc{Sender: nodeA, Receiver: nodeB}
	e.Value(local{})
	if !errors.Is(e.Err(), ErrNotRegistered) {
		t.Fatalf("err = %v, want ErrNotRegistered", e.Err())
	}
	if !strings.Contains(e.Err().Error(), "wire.local") {
		t.Errorf("error does not name the type: %v", e.Err())
	}
}

func TestRegister_Errors(t *testing.T) {
	type unexported struct{ x int }
	type withChan struct{ C chan int }
	for name, tc := range map[string]struct {
		name string
		t    reflect.Type
		want string
	}{
		"empty name":  {"", reflect.TypeFor[inner](), "empty"},
		"nil type":    {"x.nil", nil, "nil type"},
		"interface":   {"x.iface", reflect.TypeFor[fmt.Stringer](), "interface"},
		"builtin":     {"x.string", reflect.TypeFor[string](), "without registration"},
		"unexported":  {"x.unexported", reflect.TypeFor[unexported](), "unexported field x"},
		"chan field":  {"x.chan", reflect.TypeFor[withChan](), "cannot cross"},
		"name taken":  {"test.inner", reflect.TypeFor[sample](), "taken"},
		"type taken":  {"x.again", reflect.TypeFor[inner](), "registered already"},
		"func":        {"x.func", reflect.TypeFor[func()](), "cannot cross"},
		"pid builtin": {"x.pid", reflect.TypeFor[pid.Pid](), "without registration"},
	} {
		err := Register(tc.name, tc.t)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, tc.want)
		}
	}
	if err := Register("test.inner", reflect.TypeFor[inner]()); err != nil {
		t.Errorf("registering again the same way: %v", err)
	}
	if err := RegisterError("x.uncomparable", uncomparable{}); err == nil {
		t.Error("an uncomparable error value was accepted")
	}
}

type uncomparable struct{ s []int }

func (uncomparable) Error() string { return "u" }

func TestError_RoundTrip(t *testing.T) {
	wrapped := fmt.Errorf("while doing x: %w", errSentinel)
	for _, tc := range []struct {
		err  error
		is   []error
		text string
	}{
		{nil, nil, ""},
		{errSentinel, []error{errSentinel}, "a sentinel"},
		{wrapped, []error{errSentinel}, wrapped.Error()},
		{errors.New("plain"), nil, "plain"},
		{&customErr{Code: 3}, nil, "code 3"},
	} {
		e := &Enc{Sender: nodeA, Receiver: nodeB}
		e.Error(tc.err)
		d := NewDec(e.B, nodeA, nodeB)
		got := d.Error()
		if err := d.Done(); err != nil {
			t.Fatalf("%v: %v", tc.err, err)
		}
		if tc.err == nil {
			if got != nil {
				t.Errorf("nil became %v", got)
			}
			continue
		}
		if got.Error() != tc.text {
			t.Errorf("text %q, want %q", got.Error(), tc.text)
		}
		for _, s := range tc.is {
			if !errors.Is(got, s) {
				t.Errorf("%v: errors.Is(%v) is false after crossing", tc.err, s)
			}
		}
	}
	var ce *customErr
	e := &Enc{}
	e.Error(&customErr{Code: 9})
	if got := NewDec(e.B, nodeA, nodeB).Error(); !errors.As(got, &ce) || ce.Code != 9 {
		t.Errorf("registered error type: got %#v", got)
	}
}

type panicky struct{}

func (panicky) Error() string { panic("boom") }

func TestError_PanickingErrorMethod(t *testing.T) {
	e := &Enc{}
	e.Error(panicky{})
	got := NewDec(e.B, nodeA, nodeB).Error()
	if got == nil || !strings.Contains(got.Error(), "panicked") {
		t.Errorf("got %v", got)
	}
}

func TestValue_DepthAndCycles(t *testing.T) {
	s := &sample{}
	s.S = s
	e := &Enc{}
	e.Value(s)
	if e.Err() == nil || !strings.Contains(e.Err().Error(), "cyclic") {
		t.Errorf("cyclic value: err = %v", e.Err())
	}
}

func TestFrame_RoundTrip(t *testing.T) {
	frames := []Frame{
		{Kind: KMsg, From: pid.New(nodeA, 1), To: pid.New(nodeB, 2), Value: "hi"},
		{Kind: KCast, From: pid.New(nodeA, 1), Name: "srv", Value: inner{N: 1}},
		{Kind: KStop, Name: "srv", Reason: errSentinel},
		{Kind: KCall, From: pid.New(nodeA, 1), To: pid.New(nodeB, 2), Ref: pid.NewRef(nodeA, 5), Value: 3},
		{Kind: KReply, Ref: pid.NewRef(nodeB, 5), Value: "r", Reason: errors.New("x")},
		{Kind: KCallFail, Ref: pid.NewRef(nodeB, 6), Reason: errSentinel},
		{Kind: KSignal, Signal: 5, From: pid.New(nodeA, 1), Name: "n", Ref: pid.NewRef(nodeA, 9), Reason: nil},
		{Kind: KCredit, Credit: 1 << 20},
		{Kind: KHeartbeat, Name: "a", Conn: Conn{Server: "S", Client: 7}},
		{Kind: KHello, Name: "node a", Conn: Conn{Server: "NX", Client: 1}},
		{Kind: KWelcome, Name: "b"},
		{Kind: KBye},
		{Kind: KSys, Value: inner{N: 2}},
	}
	for _, f := range frames {
		f.Cluster, f.Sender, f.Session = ClusterTag("c"), nodeA, 3
		e := &Enc{Sender: nodeA, Receiver: nodeB}
		e.AppendFrame(&f)
		if e.Err() != nil {
			t.Fatal(e.Err())
		}
		got, err := DecodeFrame(e.B, nodeB)
		if err != nil {
			t.Fatalf("%v: %v", f.Kind, err)
		}
		if f.Reason != nil {
			if got.Reason == nil || got.Reason.Error() != f.Reason.Error() {
				t.Errorf("%v: reason %v, want %v", f.Kind, got.Reason, f.Reason)
			}
			got.Reason, f.Reason = nil, nil
		}
		if !reflect.DeepEqual(got, f) {
			t.Errorf("%v: got %+v, want %+v", f.Kind, got, f)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	e := &Enc{Sender: nodeA, Receiver: nodeB}
	fr := Frame{Kind: KMsg, Cluster: 1, Sender: nodeA, Session: 1, From: pid.New(nodeA, 1), To: pid.New(nodeB, 1),
		Value: sample{A: 1, B: "x", F: &inner{Tags: []string{"t"}}, G: map[string]int{"k": 1}, I: []any{1, "a"}, J: errSentinel}}
	e.AppendFrame(&fr)
	f.Add(append([]byte(nil), e.B...))
	e.Reset(nodeA, nodeB)
	fr = Frame{Kind: KSignal, Sender: nodeA, Signal: 1, From: pid.New(nodeA, 3), Reason: fmt.Errorf("w: %w", errSentinel)}
	e.AppendFrame(&fr)
	f.Add(append([]byte(nil), e.B...))
	f.Add([]byte{Magic, byte(KCall)})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Aliasing decodes the same as copying.
		var af Frame
		var ad Dec
		aliasErr := DecodeHeader(b, nodeB, &af, &ad)
		if aliasErr == nil {
			ad.Alias = true
			aliasErr = ad.DecodeBody(&af)
		}
		fr, err := DecodeFrame(b, nodeB)
		if (err == nil) != (aliasErr == nil) {
			t.Fatalf("decoding with and without aliasing disagree: %v, %v", err, aliasErr)
		}
		if err != nil {
			return
		}
		// What decodes must encode again, and decode to the same thing.
		e := &Enc{Sender: fr.Sender, Receiver: nodeB}
		e.AppendFrame(&fr)
		if e.Err() != nil {
			return // e.g. a value nested past MaxDepth
		}
		again, err := DecodeFrame(e.B, nodeB)
		if err != nil {
			t.Fatalf("re-decoding %x: %v", e.B, err)
		}
		e2 := &Enc{Sender: fr.Sender, Receiver: nodeB}
		e2.AppendFrame(&again)
		if !bytes.Equal(e.B, e2.B) && !hasMap(fr.Value) {
			t.Fatalf("encoding is not stable:\n%x\n%x", e.B, e2.B)
		}
	})
}

// hasMap reports whether v may hold a map, whose order is not stable.
func hasMap(v any) bool {
	switch v.(type) {
	case sample, *sample, map[string]string, map[string]any, []any:
		return true
	}
	return false
}

func TestDec_AliasSharesTheInput(t *testing.T) {
	e := &Enc{Sender: nodeA, Receiver: nodeB}
	e.Value(sample{B: "text", C: []byte{1, 2, 3}})
	in := append([]byte(nil), e.B...)
	d := NewDec(in, nodeA, nodeB)
	d.Alias = true
	got := d.Value().(sample)
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
	if got.B != "text" || !bytes.Equal(got.C, []byte{1, 2, 3}) {
		t.Fatalf("got %#v", got)
	}
	if cap(got.C) != len(got.C) {
		t.Errorf("an aliased slice has room to grow into the input: cap %d, len %d", cap(got.C), len(got.C))
	}
	for i := range in {
		in[i] = 0
	}
	if got.C[0] != 0 {
		t.Error("the slice does not share the input")
	}
}
