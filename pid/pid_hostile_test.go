package pid_test

import (
	"errors"
	"math"
	"testing"

	"github.com/spawned-go/spawned/pid"
)

// TestHostile_PidText: text that is almost a Pid or a Ref fails with
// ErrSyntax and the zero value; the extremes round-trip. No input panics.
func TestHostile_PidText(t *testing.T) {
	id := pid.NewNodeID().String()
	bad := []string{"", "<", ">", "<>", "<0", "0>", "< 0>", "<" + id + ">", "<" + id + ".>", "<" + id + ".0>",
		"<" + id + ".-1>", "<" + id + ".+1>", "<" + id + ".18446744073709551616>", "<" + id + ".1.2>",
		"<" + id + "x.1>", "<" + id[:8] + ".1>", "<" + id + ".1> ", " <" + id + ".1>", "<" + id + ".0x1>",
		"<" + id + ".1_0>", "<" + id + ".１>", "<\x00>", "#Ref<" + id + ".1>"}
	for _, s := range bad {
		p, err := pid.Parse(s)
		if !errors.Is(err, pid.ErrSyntax) || !p.IsZero() {
			t.Errorf("Parse(%q) = %v, %v; want the zero Pid and ErrSyntax", s, p, err)
		}
		var u pid.Pid
		if err := u.UnmarshalText([]byte(s)); !errors.Is(err, pid.ErrSyntax) {
			t.Errorf("UnmarshalText(%q) = %v; want ErrSyntax", s, err)
		}
		if s == "" || s[0] == '<' {
			r, err := pid.ParseRef("#Ref" + s)
			if !errors.Is(err, pid.ErrSyntax) || !r.IsZero() {
				t.Errorf("ParseRef(%q) = %v, %v; want the zero Ref and ErrSyntax", "#Ref"+s, r, err)
			}
		}
	}
	node, _ := pid.ParseNodeID(id)
	for _, p := range []pid.Pid{{}, pid.New(node, 1), pid.New(node, math.MaxUint64), pid.New(pid.NodeID{}, 5)} {
		back, err := pid.Parse(p.String())
		if err != nil || back != p {
			t.Errorf("Parse(%v.String()) = %v, %v", p, back, err)
		}
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var fromBin pid.Pid
		if err := fromBin.UnmarshalBinary(b); err != nil || fromBin != p {
			t.Errorf("binary round trip of %v = %v, %v", p, fromBin, err)
		}
	}
}

// TestHostile_PidBinary: binary forms of every wrong length fail with
// ErrSyntax and leave the zero value.
func TestHostile_PidBinary(t *testing.T) {
	for _, n := range []int{0, 1, 15, 17, 23, 24, 25, 31, 33, 100} {
		b := make([]byte, n)
		for i := range b {
			b[i] = 0xff
		}
		var p pid.Pid
		errP := p.UnmarshalBinary(b)
		var r pid.Ref
		errR := r.UnmarshalBinary(b)
		if !errors.Is(errP, pid.ErrSyntax) || !p.IsZero() {
			t.Errorf("Pid.UnmarshalBinary(%d bytes) = %v, %v", n, p, errP)
		}
		if !errors.Is(errR, pid.ErrSyntax) || !r.IsZero() {
			t.Errorf("Ref.UnmarshalBinary(%d bytes) = %v, %v", n, r, errR)
		}
		if n != 16 {
			var id pid.NodeID
			if err := id.UnmarshalBinary(b); !errors.Is(err, pid.ErrSyntax) || !id.IsZero() {
				t.Errorf("NodeID.UnmarshalBinary(%d bytes) = %v, %v", n, id, err)
			}
		}
	}
}
