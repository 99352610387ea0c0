package registry_test

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/registry"
	"github.com/spawned-go/spawned/spawntest"
)

// TestHostile_KeysCallbacks: the functions given to a keyed registry's
// methods: nil ones fail with ErrNilFunc; ones that call back into the
// registry (on the same key) neither deadlock nor corrupt it; ones that
// panic leave no lock held behind them.
func TestHostile_KeysCallbacks(t *testing.T) {
	type keys = registry.Keys[string, int]
	cases := []struct {
		name string
		kind registry.Kind
		run  func(t *testing.T, n *process.Node, k *keys, p, q pid.Pid)
	}{
		{"nil functions", registry.Unique, func(t *testing.T, _ *process.Node, k *keys, p, _ pid.Pid) {
			_, e1 := k.Match("a", nil)
			_, e2 := k.CountMatch("a", nil)
			e3 := k.Dispatch("a", nil)
			_, e4 := k.UnregisterMatch("a", p, nil)
			_, e5 := k.UpdateValue("a", p, nil)
			for i, err := range []error{e1, e2, e3, e4, e5} {
				if !errors.Is(err, process.ErrNilFunc) {
					t.Errorf("case %d: %v, want ErrNilFunc", i, err)
				}
			}
		}},
		{"Dispatch whose fn registers and unregisters the key", registry.Duplicate, func(t *testing.T, _ *process.Node, k *keys, p, q pid.Pid) {
			err := k.Dispatch("a", func(entries []registry.Entry[int]) {
				if err := k.Register("a", q, 2); err != nil {
					t.Errorf("register inside Dispatch: %v", err)
				}
				if err := k.Unregister("a", p); err != nil {
					t.Errorf("unregister inside Dispatch: %v", err)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if es := k.Lookup("a"); len(es) != 1 || es[0].Pid != q {
				t.Fatalf("entries after: %v, want only q's", es)
			}
		}},
		{"Match and CountMatch whose fn writes the key", registry.Duplicate, func(t *testing.T, _ *process.Node, k *keys, p, q pid.Pid) {
			// They run once on a snapshot (UnregisterMatch and UpdateValue
			// run again when the key changes, so theirs must only look).
			es, err := k.Match("a", func(int) bool { return k.Register("a", q, 5) == nil })
			if err != nil || len(es) != 1 || es[0].Pid != p {
				t.Fatalf("Match = %v, %v; want p's entry of the snapshot", es, err)
			}
			c, err := k.CountMatch("a", func(int) bool { return k.Unregister("a", q) == nil })
			if err != nil || c != 2 {
				t.Fatalf("CountMatch = %d, %v; want 2", c, err)
			}
			if got := k.Count("a"); got != 1 {
				t.Fatalf("Count after = %d, want 1", got)
			}
		}},
		{"UpdateValue whose fn updates the same entry once", registry.Unique, func(t *testing.T, _ *process.Node, k *keys, p, _ pid.Pid) {
			nested := false
			v, err := k.UpdateValue("a", p, func(old int) int {
				if !nested {
					nested = true
					if _, err := k.UpdateValue("a", p, func(o int) int { return o + 10 }); err != nil {
						t.Errorf("nested UpdateValue: %v", err)
					}
				}
				return old + 100
			})
			if err != nil || v != 111 {
				t.Fatalf("UpdateValue = %d, %v; want 111 (the retry sees the nested update)", v, err)
			}
		}},
		{"functions that panic leave no lock held", registry.Unique, func(t *testing.T, _ *process.Node, k *keys, p, q pid.Pid) {
			for _, f := range []func(){
				func() { _, _ = k.Match("a", func(int) bool { panic("match") }) },
				func() { _, _ = k.CountMatch("a", func(int) bool { panic("count") }) },
				func() { _ = k.Dispatch("a", func([]registry.Entry[int]) { panic("dispatch") }) },
				func() { _, _ = k.UnregisterMatch("a", p, func(int) bool { panic("unregister") }) },
				func() { _, _ = k.UpdateValue("a", p, func(int) int { panic("update") }) },
			} {
				func() {
					defer func() { _ = recover() }() // the caller's own function: its panic is the caller's
					f()
				}()
			}
			if err := k.Unregister("a", p); err != nil {
				t.Fatal(err)
			}
			if err := k.Register("a", q, 3); err != nil {
				t.Fatalf("register after the panics: %v", err)
			}
		}},
		{"keys that are not equal to themselves", registry.Unique, func(t *testing.T, n *process.Node, _ *keys, p, _ pid.Pid) {
			kf, err := registry.NewKeys[float64, int](n, registry.KeysOptions{Kind: registry.Unique})
			if err != nil {
				t.Fatal(err)
			}
			if err := kf.Register(math.NaN(), p, 1); !errors.Is(err, registry.ErrUnhashableKey) {
				t.Fatalf("Register(NaN) = %v, want ErrUnhashableKey", err)
			}
			if es := kf.Lookup(math.NaN()); es != nil || kf.Count(math.NaN()) != 0 || kf.Len() != 0 {
				t.Fatal("a NaN key found entries")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := spawntest.NewNode(t)
			k, err := registry.NewKeys[string, int](n, registry.KeysOptions{Kind: c.kind})
			if err != nil {
				t.Fatal(err)
			}
			p, q := spawntest.SpawnIdle(t, n), spawntest.SpawnIdle(t, n)
			if err := k.Register("a", p, 1); err != nil {
				t.Fatal(err)
			}
			spawntest.Bounded(t, c.name, func() error { c.run(t, n, k, p, q); return nil })
		})
	}
}

// TestHostile_NameRegistrationRaces: processes racing to take, drop and
// send to one name while its holders are killed. Every Register fails only
// with a *NameTakenError naming another process, or ErrAlreadyNamed, or
// NoProc for a killed one; every Unregister only with ErrNotRegistered;
// every Send by name only with ErrNotRegistered; and a lookup never
// returns a dead process once its death is known.
func TestHostile_NameRegistrationRaces(t *testing.T) {
	n := spawntest.NewNode(t)
	reg := registry.Of(n)
	const name = "contested"
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				p, err := n.Spawn(spawntest.Idle)
				if err != nil {
					report(err)
					return
				}
				err = reg.Register(name, p)
				var taken *registry.NameTakenError
				switch {
				case err == nil:
				case errors.As(err, &taken):
					if taken.Owner == p || taken.Name != name {
						report(fmt.Errorf("NameTakenError %+v for %v", taken, p))
					}
				default:
					report(fmt.Errorf("register: %w", err))
				}
				switch (g + i) % 3 {
				case 0:
					if err := reg.Unregister(name); err != nil && !errors.Is(err, registry.ErrNotRegistered) {
						report(fmt.Errorf("unregister: %w", err))
					}
				case 1:
					if err := reg.Send(name, i); err != nil && !errors.Is(err, registry.ErrNotRegistered) {
						report(fmt.Errorf("send: %w", err))
					}
				}
				if err := spawntest.ExitAndWait(t, n, p, process.Kill); !errors.Is(err, process.Killed) {
					report(fmt.Errorf("kill: %v", err))
				}
				// p's death is known: the name is not p's any more.
				if holder, ok := reg.WhereIs(name); ok && holder == p {
					report(fmt.Errorf("%v holds the name after its death was seen", p))
				}
				if got, ok := reg.NameOf(p); ok {
					report(fmt.Errorf("dead %v still named %q", p, got))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, ok := reg.WhereIs(name); ok {
		t.Fatal("the name is held after every process died")
	}
}
