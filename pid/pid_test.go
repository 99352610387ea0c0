package pid_test

import (
	"encoding"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/spawned-go/spawned/pid"
)

var (
	_ encoding.TextMarshaler   = pid.Pid{}
	_ encoding.TextUnmarshaler = (*pid.Pid)(nil)
	_ encoding.TextMarshaler   = pid.Ref{}
	_ encoding.TextUnmarshaler = (*pid.Ref)(nil)
)

const testNode = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

func mustNode(t *testing.T, s string) pid.NodeID {
	t.Helper()
	id, err := pid.ParseNodeID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPid_StringParseRoundTrip(t *testing.T) {
	t.Parallel()
	node := mustNode(t, testNode)
	for _, serial := range []uint64{1, 2, 42, 1 << 32, math.MaxUint64} {
		p := pid.New(node, serial)
		s := p.String()
		q, err := pid.Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if q != p || q.Node() != node || q.Serial() != serial {
			t.Errorf("Parse(%q) = %v, want %v", s, q, p)
		}
	}
	if got := pid.New(node, 42).String(); got != "<"+testNode+".42>" {
		t.Errorf("String = %q", got)
	}
	// Fresh node ids round-trip too.
	for range 50 {
		p := pid.New(pid.NewNodeID(), 7)
		q, err := pid.Parse(p.String())
		if err != nil || q != p {
			t.Fatalf("round trip of %v: %v, %v", p, q, err)
		}
	}
}

func TestPid_ZeroValues(t *testing.T) {
	t.Parallel()
	var p pid.Pid
	if !p.IsZero() || p.String() != "<0>" || p.Serial() != 0 || !p.Node().IsZero() {
		t.Errorf("zero Pid: %v %q", p.IsZero(), p.String())
	}
	if q := pid.New(pid.NewNodeID(), 0); q != (pid.Pid{}) || !q.IsZero() {
		t.Errorf("New(node, 0) = %#v, want the zero Pid", q)
	}
	if q, err := pid.Parse("<0>"); err != nil || q != p {
		t.Errorf(`Parse("<0>") = %v, %v`, q, err)
	}
	var r pid.Ref
	if !r.IsZero() || r.String() != "#Ref<0>" || r.ID() != 0 || !r.Node().IsZero() {
		t.Errorf("zero Ref: %v %q", r.IsZero(), r.String())
	}
	if q := pid.NewRef(pid.NewNodeID(), 0); q != (pid.Ref{}) {
		t.Errorf("NewRef(node, 0) = %#v, want the zero Ref", q)
	}
	if q, err := pid.ParseRef("#Ref<0>"); err != nil || q != r {
		t.Errorf(`ParseRef("#Ref<0>") = %v, %v`, q, err)
	}
	var id pid.NodeID
	if !id.IsZero() || id.String() != "00000000-0000-0000-0000-000000000000" {
		t.Errorf("zero NodeID: %q", id.String())
	}
	if pid.NewNodeID().IsZero() {
		t.Error("NewNodeID is zero")
	}
	if pid.NewNodeID() == pid.NewNodeID() {
		t.Error("NewNodeID repeats")
	}
}

func TestPid_Comparable(t *testing.T) {
	t.Parallel()
	a, b := pid.NewNodeID(), pid.NewNodeID()
	m := map[pid.Pid]int{pid.New(a, 1): 1, pid.New(a, 2): 2, pid.New(b, 1): 3}
	if len(m) != 3 || m[pid.New(a, 2)] != 2 || m[pid.New(b, 1)] != 3 {
		t.Errorf("Pid as map key: %v", m)
	}
	if pid.New(a, 1) == pid.New(b, 1) {
		t.Error("Pids of different nodes compare equal")
	}
	refs := map[pid.Ref]bool{pid.NewRef(a, 1): true}
	if !refs[pid.NewRef(a, 1)] || refs[pid.NewRef(b, 1)] {
		t.Error("Ref as map key")
	}
}

func TestPid_ParseRef(t *testing.T) {
	t.Parallel()
	node := mustNode(t, testNode)
	for _, id := range []uint64{1, 99, math.MaxUint64} {
		r := pid.NewRef(node, id)
		s := r.String()
		if !strings.HasPrefix(s, "#Ref<"+testNode+".") {
			t.Errorf("String = %q", s)
		}
		q, err := pid.ParseRef(s)
		if err != nil || q != r || q.ID() != id || q.Node() != node {
			t.Errorf("ParseRef(%q) = %v, %v; want %v", s, q, err, r)
		}
	}
	// A Pid is not a Ref and a Ref is not a Pid.
	p := pid.New(node, 5)
	if _, err := pid.ParseRef(p.String()); !errors.Is(err, pid.ErrSyntax) {
		t.Errorf("ParseRef of a Pid: %v", err)
	}
	if _, err := pid.Parse(pid.NewRef(node, 5).String()); !errors.Is(err, pid.ErrSyntax) {
		t.Errorf("Parse of a Ref: %v", err)
	}
}

func TestPid_NodeID(t *testing.T) {
	t.Parallel()
	id := pid.NewNodeID()
	got, err := pid.ParseNodeID(id.String())
	if err != nil || got != id {
		t.Errorf("ParseNodeID round trip: %v, %v", got, err)
	}
	for _, s := range []string{
		"", "x", testNode[:35], testNode + "0",
		"6ba7b810-9dad-11d1-80b4-00c04fd430cg",
		"{6ba7b810-9dad-11d1-80b4-00c04fd430c8}",
		"urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
		"6ba7b8109dad11d180b400c04fd430c8",
		"6ba7b810x9dad-11d1-80b4-00c04fd430c8",
	} {
		if _, err := pid.ParseNodeID(s); !errors.Is(err, pid.ErrSyntax) {
			t.Errorf("ParseNodeID(%q): %v, want ErrSyntax", s, err)
		}
	}
}

func TestPid_TextMarshalling(t *testing.T) {
	t.Parallel()
	node := mustNode(t, testNode)
	p, r := pid.New(node, 12), pid.NewRef(node, 34)

	b, err := p.MarshalText()
	if err != nil || string(b) != p.String() {
		t.Fatalf("MarshalText = %q, %v", b, err)
	}
	var p2 pid.Pid
	if err := p2.UnmarshalText(b); err != nil || p2 != p {
		t.Errorf("UnmarshalText = %v, %v", p2, err)
	}
	b, err = r.MarshalText()
	if err != nil || string(b) != r.String() {
		t.Fatalf("Ref MarshalText = %q, %v", b, err)
	}
	var r2 pid.Ref
	if err := r2.UnmarshalText(b); err != nil || r2 != r {
		t.Errorf("Ref UnmarshalText = %v, %v", r2, err)
	}

	// Through encoding/json, also as map keys.
	type doc struct {
		P    pid.Pid
		R    pid.Ref
		Z    pid.Pid
		ByID map[pid.Pid]string
	}
	in := doc{P: p, R: r, ByID: map[pid.Pid]string{p: "a"}}
	js, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out doc
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatalf("Unmarshal %s: %v", js, err)
	}
	if out.P != p || out.R != r || !out.Z.IsZero() || out.ByID[p] != "a" {
		t.Errorf("JSON round trip: %s -> %+v", js, out)
	}

	// A failed unmarshal leaves the value alone.
	keep := p
	if err := keep.UnmarshalText([]byte("<bad>")); !errors.Is(err, pid.ErrSyntax) || keep != p {
		t.Errorf("UnmarshalText(bad) = %v, value %v", err, keep)
	}
	keepRef := r
	if err := keepRef.UnmarshalText([]byte("#Ref<bad>")); !errors.Is(err, pid.ErrSyntax) || keepRef != r {
		t.Errorf("Ref UnmarshalText(bad) = %v, value %v", err, keepRef)
	}
}

func TestPid_ParseRejects(t *testing.T) {
	t.Parallel()
	n := testNode
	bad := []string{
		"",
		"<",
		">",
		"<>",
		"0",
		"<0",
		"0>",
		"< 0>",
		"<00>",
		"<1>",
		"<" + n + ">",
		"<" + n + ".>",
		"<" + n + ".0>",
		"<" + n + ".00>",
		"<" + n + ".01>",
		"<" + n + ".-1>",
		"<" + n + ".+1>",
		"<" + n + ". 1>",
		"<" + n + ".1 >",
		"<" + n + ".1",
		"<" + n + ".1>>",
		"<" + n + ".1> ",
		" <" + n + ".1>",
		"<" + n + "..1>",
		"<" + n + ".1.2>",
		"<" + n + ".1a>",
		"<" + n + ".0x1>",
		"<" + n + ".18446744073709551616>", // overflows uint64
		"<" + n + ".99999999999999999999999>",
		"<" + n[:35] + ".1>",
		"<" + n + "0.1>",
		"<" + strings.ToUpper(n) + "x.1>",
		"<" + strings.ReplaceAll(n, "-", "") + ".1>",
		"<{" + n + "}.1>",
		"<6ba7b810-9dad-11d1-80b4-00c04fd430cz.1>",
		"<" + n + ":1>",
		"#Ref<" + n + ".1>",
		"<" + n + ".1>\x00",
		"<" + n + ".１>", // a non-ASCII digit
	}
	for _, s := range bad {
		if p, err := pid.Parse(s); !errors.Is(err, pid.ErrSyntax) {
			t.Errorf("Parse(%q) = %v, %v; want ErrSyntax", s, p, err)
		}
		r := "#Ref" + s
		if strings.HasPrefix(s, "#Ref") {
			r = "<" + n + ".1>" // a Pid is not a Ref
		}
		if q, err := pid.ParseRef(r); !errors.Is(err, pid.ErrSyntax) {
			t.Errorf("ParseRef(%q) = %v, %v; want ErrSyntax", r, q, err)
		}
	}
	for _, s := range []string{"#Ref<>", "#ref<" + n + ".1>", "#Ref" + n + ".1>", "Ref<" + n + ".1>", "#Ref<00>"} {
		if q, err := pid.ParseRef(s); !errors.Is(err, pid.ErrSyntax) {
			t.Errorf("ParseRef(%q) = %v, %v; want ErrSyntax", s, q, err)
		}
	}
}

// Upper-case hex is a valid node id; the canonical text is lower case.
func TestPid_ParseAcceptsUpperCaseNode(t *testing.T) {
	t.Parallel()
	p, err := pid.Parse("<" + strings.ToUpper(testNode) + ".3>")
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != "<"+testNode+".3>" {
		t.Errorf("String = %q", p.String())
	}
}

func FuzzParsePid(f *testing.F) {
	f.Add("<0>")
	f.Add("<" + testNode + ".1>")
	f.Add("<" + testNode + ".18446744073709551615>")
	f.Add("<" + testNode + ".0>")
	f.Add("#Ref<" + testNode + ".1>")
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := checkParse[pid.Pid](t, "Parse", pid.Parse, s)
		if ok && p.IsZero() != (p.String() == "<0>") {
			t.Fatalf("zero mismatch for %v", p)
		}
	})
}

func FuzzParseRef(f *testing.F) {
	f.Add("#Ref<0>")
	f.Add("#Ref<" + testNode + ".1>")
	f.Add("#Ref<" + testNode + ".18446744073709551615>")
	f.Add("#Ref<" + testNode + ".01>")
	f.Add("<" + testNode + ".1>")
	f.Fuzz(func(t *testing.T, s string) { checkParse[pid.Ref](t, "ParseRef", pid.ParseRef, s) })
}

// parsed is what the fuzz targets parse: a Pid or a Ref.
type parsed interface {
	comparable
	String() string
	IsZero() bool
}

// checkParse checks what both fuzz targets check of parse on s: it fails
// only with an error wrapping ErrSyntax, and then returns the zero value;
// what it parses prints as text that parses back to it, and UnmarshalText
// of s agrees with it. name names parse in failures; ok is whether s
// parsed.
func checkParse[T parsed, PT interface {
	*T
	encoding.TextUnmarshaler
}](t *testing.T, name string, parse func(string) (T, error), s string) (v T, ok bool) {
	t.Helper()
	v, err := parse(s)
	if err != nil {
		if !errors.Is(err, pid.ErrSyntax) {
			t.Fatalf("%s(%q): error %v does not wrap ErrSyntax", name, s, err)
		}
		if !v.IsZero() {
			t.Fatalf("%s(%q) failed but returned %v", name, s, v)
		}
		return v, false
	}
	q, err := parse(v.String())
	if err != nil || q != v {
		t.Fatalf("%s(%q) = %v, but %s(%q) = %v, %v", name, s, v, name, v.String(), q, err)
	}
	var u T
	if err := PT(&u).UnmarshalText([]byte(s)); err != nil || u != v {
		t.Fatalf("UnmarshalText(%q) = %v, %v; %s gave %v", s, u, err, name, v)
	}
	return v, true
}

func TestPidShort(t *testing.T) {
	node, err := pid.ParseNodeID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pid  pid.Pid
		want string
	}{
		{pid.Pid{}, "<0>"},
		{pid.New(node, 42), "<6ba7b810.42>"},
		{pid.New(node, 1<<40), "<6ba7b810.1099511627776>"},
	} {
		if got := tc.pid.Short(); got != tc.want {
			t.Errorf("%v.Short() = %q, want %q", tc.pid, got, tc.want)
		}
	}
}

func TestBinary_RoundTrip(t *testing.T) {
	t.Parallel()
	node := mustNode(t, testNode)
	for _, p := range []pid.Pid{{}, pid.New(node, 1), pid.New(node, math.MaxUint64), pid.New(pid.NewNodeID(), 300)} {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var q pid.Pid
		if err := q.UnmarshalBinary(b); err != nil || q != p {
			t.Errorf("Pid %v: round trip gave %v, %v", p, q, err)
		}
		r := pid.NewRef(p.Node(), p.Serial())
		b, _ = r.MarshalBinary()
		var s pid.Ref
		if err := s.UnmarshalBinary(b); err != nil || s != r {
			t.Errorf("Ref %v: round trip gave %v, %v", r, s, err)
		}
	}
	b, _ := node.MarshalBinary()
	var id pid.NodeID
	if err := id.UnmarshalBinary(b); err != nil || id != node || len(b) != 16 {
		t.Errorf("NodeID round trip: %v %v %d", id, err, len(b))
	}
}

func TestBinary_BadInput(t *testing.T) {
	t.Parallel()
	node := mustNode(t, testNode)
	good, _ := pid.New(node, 5).MarshalBinary()
	zeroSerial, _ := node.AppendBinary(nil)
	zeroSerial = append(zeroSerial, 0)
	for name, b := range map[string][]byte{
		"empty":          nil,
		"short":          good[:10],
		"no serial":      good[:16],
		"trailing":       append(append([]byte{}, good...), 1),
		"overlong":       append(append([]byte{}, good[:16]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		"serial 0, node": zeroSerial,
	} {
		var p pid.Pid
		if err := p.UnmarshalBinary(b); !errors.Is(err, pid.ErrSyntax) {
			t.Errorf("%s: err = %v, want ErrSyntax", name, err)
		}
		var r pid.Ref
		if err := r.UnmarshalBinary(b); !errors.Is(err, pid.ErrSyntax) {
			t.Errorf("%s: Ref err = %v, want ErrSyntax", name, err)
		}
	}
	var id pid.NodeID
	if err := id.UnmarshalBinary(good); !errors.Is(err, pid.ErrSyntax) {
		t.Errorf("NodeID of %d bytes: %v", len(good), err)
	}
}
