package registry

import "github.com/spawned-go/spawned/pid"

// ViaRegistrar names servers in a keyed registry with string keys: it is a
// genserver.Registrar, for genserver.WithVia and genserver.NamedVia
// (Elixir's {:via, Registry, {registry, key}}). Make one with Via.
type ViaRegistrar[V any] struct {
	keys  *Keys[string, V]
	value V
}

// Via returns the Registrar of k. A server started with
// genserver.WithVia(registry.Via(k), name) registers under the key name
// before its Init runs, with the zero value (see WithValue); a second start
// under a name that has an entry fails with genserver's
// *AlreadyStartedError naming the holder, and the name goes with the
// server's process, before its exit can be observed. Via is meant for a
// Unique registry; in a Duplicate one it still gives a name only when the
// key has no entry. A nil or zero k refuses every name.
func Via[V any](k *Keys[string, V]) ViaRegistrar[V] { return ViaRegistrar[V]{keys: k} }

// WithValue returns a copy of v that registers names with value, as
// Elixir's {:via, Registry, {registry, key, value}}.
func (v ViaRegistrar[V]) WithValue(value V) ViaRegistrar[V] {
	v.value = value
	return v
}

// RegisterName registers the live process p under name with v's value and
// reports false when the name has an entry (or p is dead).
func (v ViaRegistrar[V]) RegisterName(name string, p pid.Pid) bool {
	return v.keys.register(name, p, v.value, true) == nil
}

// UnregisterName does nothing. A genserver calls it as it exits, but a
// process's entries go as it dies, before anyone can observe the exit, so
// by then the name is free already, or registered again by a successor,
// which keeps it. To take a name from a live process, use Keys.Unregister
// with its Pid.
func (v ViaRegistrar[V]) UnregisterName(name string) {}

// WhereIsName returns the process registered as name.
func (v ViaRegistrar[V]) WhereIsName(name string) (pid.Pid, bool) {
	e, ok := v.keys.Find(name)
	return e.Pid, ok
}
