package core

import "testing"

// TestHardening01_TakeHoldsNoLockWhileMatching: take runs the predicate,
// the process's own code, without the senders' lock: a predicate that
// panics leaves the mailbox usable, and one that looks at the mailbox (as
// Info does) or pushes to it does not deadlock. A nested removeAll (a
// DemonitorFlush from the predicate) is seen by the scan.
func TestHardening01_TakeHoldsNoLockWhileMatching(t *testing.T) {
	var m mailbox
	for i := range 6 {
		m.push(i, false)
	}
	locked := func() bool { return m.state.Load()&1 != 0 }

	func() {
		defer func() {
			if recover() == nil {
				t.Error("the predicate's panic did not come out of take")
			}
		}()
		m.take(func(v any) bool {
			if locked() {
				t.Fatal("the predicate runs under the senders' lock")
			}
			panic("predicate")
		})
	}()
	if locked() || m.matching {
		t.Fatalf("after a panicking predicate: locked %v, matching %v", locked(), m.matching)
	}

	msg, ok := m.take(func(v any) bool {
		if queued, _ := m.stats(); v == 0 && queued != 6 {
			t.Errorf("stats from the predicate: %d queued, want 6", queued)
		}
		if v == 1 {
			m.push("pushed while matching", false)
			m.removeAll(func(v any) bool { return v == 2 || v == 3 }) // 3 is what the predicate matches next
		}
		return v == 3 || v == 4
	})
	if !ok || msg != 4 {
		t.Fatalf("take = %v, %v; want 4 (3 was removed while matching)", msg, ok)
	}
	var rest []any
	for {
		v, ok := m.pop()
		if !ok {
			break
		}
		rest = append(rest, v)
	}
	want := []any{0, 1, 5, "pushed while matching"}
	if len(rest) != len(want) {
		t.Fatalf("left %v; want %v", rest, want)
	}
	for i := range want {
		if rest[i] != want[i] {
			t.Fatalf("left %v; want %v", rest, want)
		}
	}
}
