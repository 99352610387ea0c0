package core

import (
	"slices"
	"testing"

	"github.com/spawned-go/spawned/pid"
)

func TestLinkSet(t *testing.T) {
	node := pid.NewNodeID()
	p := func(i uint64) pid.Pid { return pid.New(node, i) }
	cases := []struct {
		name   string
		add    []uint64
		remove []uint64
		want   []uint64
	}{
		{"empty", nil, nil, nil},
		{"one", []uint64{1}, nil, []uint64{1}},
		{"duplicate add", []uint64{1, 1}, nil, []uint64{1}},
		{"inline full", []uint64{1, 2}, nil, []uint64{1, 2}},
		{"grows past inline", []uint64{1, 2, 3, 4, 5}, nil, []uint64{1, 2, 3, 4, 5}},
		{"duplicate after growing", []uint64{1, 2, 3, 3, 1}, nil, []uint64{1, 2, 3}},
		{"remove first of two", []uint64{1, 2}, []uint64{1}, []uint64{2}},
		{"remove absent", []uint64{1}, []uint64{9}, []uint64{1}},
		{"remove all inline", []uint64{1, 2}, []uint64{2, 1}, nil},
		{"remove from map", []uint64{1, 2, 3}, []uint64{2}, []uint64{1, 3}},
		{"remove all from map", []uint64{1, 2, 3}, []uint64{1, 2, 3}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s *linkSet
			if s.has(p(1)) || s.len() != 0 || s.remove(p(1)) || len(slices.Collect(s.all())) != 0 {
				t.Fatal("a nil set is not empty")
			}
			for _, i := range c.add {
				addTo(&s, p(i))
			}
			for _, i := range c.remove {
				was := slices.Contains(c.add, i)
				if got := s.remove(p(i)); got != was {
					t.Fatalf("remove(%d) = %v, want %v", i, got, was)
				}
				if s.has(p(i)) {
					t.Fatalf("%d still in the set after remove", i)
				}
			}
			var got []uint64
			for q := range s.all() {
				got = append(got, q.Serial())
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) || s.len() != len(c.want) {
				t.Fatalf("set %v (len %d), want %v", got, s.len(), c.want)
			}
			for _, i := range c.want {
				if !s.has(p(i)) {
					t.Fatalf("has(%d) = false", i)
				}
			}
		})
	}
}

// TestLinkSet_Release: a released small set comes back from newLinkSet
// holding only the new link, whatever it held before; a set that grew a map
// is never reused, so nothing it holds leaks into another process's links.
func TestLinkSet_Release(t *testing.T) {
	node := pid.NewNodeID()
	p := func(i uint64) pid.Pid { return pid.New(node, i) }
	for _, tc := range []struct {
		name string
		held []uint64
	}{
		{"one link", []uint64{1}},
		{"full inline", []uint64{1, 2}},
		{"grown into a map", []uint64{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s *linkSet
			for _, i := range tc.held {
				addTo(&s, p(i))
			}
			big := s.big != nil
			s.release()
			if big && s.len() != len(tc.held) {
				t.Fatalf("a released map set was emptied for reuse: %d links left", s.len())
			}
			for range 100 { // whatever set comes back must be clean
				got := newLinkSet(p(9))
				if ps := slices.Collect(got.all()); !slices.Equal(ps, []pid.Pid{p(9)}) {
					t.Fatalf("newLinkSet(9) holds %v; want only 9", ps)
				}
				if got == s && big {
					t.Fatal("newLinkSet reused a set that had a map")
				}
				got.release()
			}
			var none *linkSet
			none.release() // a process without links releases nothing
		})
	}
}
