package core

import (
	"errors"
	"strings"
	"testing"

	"github.com/spawned-go/spawned/pid"
)

// loud's String must never be called by Render.
type loud struct{ N int }

func (loud) String() string { panic("String called") }

type wrapped struct {
	Name  string
	Inner *loud
	Tags  []string
	Meta  map[string]int
	Ch    chan int
	Bytes []byte
	Who   pid.Pid
	Err   error
	next  *wrapped
}

func TestRender(t *testing.T) {
	p := pid.New(pid.NodeID{}, 7)
	long := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, "nil"},
		{42, "42"},
		{"hi", `"hi"`},
		{loud{3}, "core.loud{N:3}"},
		{&loud{3}, "&core.loud{N:3}"},
		{errors.New("boom"), "boom"},
		{p, p.String()},
		{[]int{1, 2, 3}, "[1 2 3]"},
		{[]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, "[1 2 3 4 5 6 7 8 …(10)]"},
		{map[string]int{"a": 1}, "map[\"a\":1]"},
		{wrapped{Name: "w", Inner: &loud{1}, Tags: []string{"t"}, Ch: make(chan int), Bytes: []byte("abc"), Who: p, Err: errors.New("e")},
			`core.wrapped{Name:"w" Inner:&core.loud{N:1} Tags:["t"] Meta:map[] Ch:chan int Bytes:[3 bytes] Who:` + p.String() + ` Err:e …}`}, // 8 fields at most
		{ExitMsg{From: p, Reason: Killed}, "core.ExitMsg{From:" + p.String() + " Reason:killed}"},
		{&PanicError{Value: "x"}, "panic: x"},
		{1.5, "1.5"},
		{true, "true"},
	} {
		if got := Render(tc.v); got != tc.want {
			t.Errorf("Render(%T) = %q, want %q", tc.v, got, tc.want)
		}
	}
	if got := Render(long); len(got) > renderMax+len("…")+2 {
		t.Errorf("Render of a long string is %d bytes", len(got))
	}
	w := &wrapped{}
	w.next = w // a cycle stops at the depth bound
	if got := Render(w); !strings.Contains(got, "…") || len(got) > renderMax+len("…") {
		t.Errorf("Render of a cycle = %q", got)
	}
}
