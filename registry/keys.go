package registry

import (
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"reflect"
	"runtime"
	"slices"
	"strconv"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
)

// Kind says how many entries a key of a keyed registry may have.
type Kind uint8

// The kinds of keyed registry.
const (
	// Unique: a key has at most one entry, so it names one process, as a
	// dynamic name does.
	Unique Kind = iota + 1
	// Duplicate: a key has any number of entries, from any processes and
	// from one process several times, as the subscribers of a topic.
	Duplicate
)

// String returns "unique" or "duplicate".
func (k Kind) String() string {
	switch k {
	case Unique:
		return "unique"
	case Duplicate:
		return "duplicate"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// MaxPartitions is the largest KeysOptions.Partitions.
const MaxPartitions = 1024

// KeysOptions configures NewKeys.
type KeysOptions struct {
	// Kind is Unique or Duplicate. It has no default: the zero Kind is an
	// error.
	Kind Kind
	// Partitions spreads the keys over this many independently locked
	// parts, so that writers of different keys seldom wait for each other.
	// Lookups take no lock at all, whatever the number. 0 means
	// runtime.GOMAXPROCS(0) at the time of NewKeys; at most MaxPartitions.
	Partitions int
}

// Errors of the keyed registries; test with errors.Is.
var (
	// ErrKeyTaken: a unique key has an entry already. The error is a
	// *KeyTakenError naming the owner.
	ErrKeyTaken = errors.New("key already registered")
	// ErrNotOwner: the process has no entry under the key.
	ErrNotOwner = errors.New("the process has no entry under the key")
	// ErrNotUnique: the operation needs a registry of Unique keys.
	ErrNotUnique = errors.New("the registry's keys are not unique")
	// ErrInvalidOptions: KeysOptions without a valid Kind, or with
	// Partitions out of range.
	ErrInvalidOptions = errors.New("invalid keyed registry options")
	// ErrNilKeys: the *Keys is nil or was not made by NewKeys.
	ErrNilKeys = errors.New("keyed registry not made by NewKeys")
	// ErrUnhashableKey: a key of an interface type holds a value that
	// cannot be a map key (a slice, a map, a function), or a key is not
	// equal to itself (it holds a floating-point NaN).
	ErrUnhashableKey = errors.New("unhashable key")
)

// KeyTakenError reports that a unique Key is registered to Owner. It
// matches ErrKeyTaken under errors.Is.
type KeyTakenError[K comparable] struct {
	Key   K       // the key asked for
	Owner pid.Pid // the process it is registered to
}

// Error names the key and its owner.
func (e *KeyTakenError[K]) Error() string {
	return "register key " + keyString(e.Key) + ": " + ErrKeyTaken.Error() + " to " + e.Owner.String()
}

// Is reports whether target is ErrKeyTaken.
func (e *KeyTakenError[K]) Is(target error) bool { return target == ErrKeyTaken }

// Entry is one registration: the process Pid registered the key with Value.
type Entry[V any] struct {
	Pid   pid.Pid // the registered process
	Value V       // the value it registered with
}

// Keys is a keyed registry, Elixir's Registry made for Go: processes
// register under keys of type K, each entry with a value of type V. In a
// Unique registry a key names at most one process; in a Duplicate one a key
// gathers any number of entries, which suits publish and subscribe. Make
// one with NewKeys; the methods are safe for concurrent use from any
// goroutine.
//
// An entry belongs to a live process and goes when the process exits,
// before anything can observe the exit: once a monitor's Down or a link's
// Exit has arrived, a watch has fired, Alive reports false or the process's
// context is done, no lookup started afterwards returns the entry, and a
// unique key it held can be registered again at once. (Elixir's Registry
// removes them some time after the exit; here a dead entry is never seen.)
// A lookup running while the process dies may still return its entry, as
// any lookup may return a process that dies a moment later.
//
// Lookups (Lookup, Find, Dispatch, Match, Count, CountMatch, All) take no
// lock and do not write shared memory, so they scale with the readers.
// Writes lock the key's partition and the owning process.
//
// A registry needs no closing: it is garbage once nothing refers to it and
// none of its processes is alive with an entry in it.
type Keys[K comparable, V any] struct {
	node  *core.Node
	kind  Kind
	seed  maphash.Seed
	risky bool // hashing a K can panic: it holds an interface
	parts []partition[K, V]
}

// NewKeys makes a keyed registry for the processes of node. The options
// must name a Kind; the registry's kind and partitions are fixed for its
// life. It fails with process.ErrNilNode for a nil node and
// ErrInvalidOptions for a Kind other than Unique and Duplicate or
// Partitions outside 0..MaxPartitions.
func NewKeys[K comparable, V any](node *process.Node, opts KeysOptions) (*Keys[K, V], error) {
	if node == nil {
		return nil, fmt.Errorf("new keyed registry: %w", process.ErrNilNode)
	}
	if opts.Kind != Unique && opts.Kind != Duplicate {
		return nil, fmt.Errorf("new keyed registry: %w: kind %v, want Unique or Duplicate", ErrInvalidOptions, opts.Kind)
	}
	n := opts.Partitions
	if n < 0 || n > MaxPartitions {
		return nil, fmt.Errorf("new keyed registry: %w: %d partitions, want 0 to %d", ErrInvalidOptions, n, MaxPartitions)
	}
	if n == 0 {
		n = min(runtime.GOMAXPROCS(0), MaxPartitions)
	}
	return &Keys[K, V]{
		node:  (*core.Node)(node),
		kind:  opts.Kind,
		seed:  maphash.MakeSeed(),
		risky: hashMayPanic(reflect.TypeFor[K]()),
		parts: make([]partition[K, V], n),
	}, nil
}

// Kind returns the registry's kind.
func (k *Keys[K, V]) Kind() Kind {
	if k == nil {
		return 0
	}
	return k.kind
}

// Partitions returns the number of partitions.
func (k *Keys[K, V]) Partitions() int {
	if k == nil {
		return 0
	}
	return len(k.parts)
}

// Register registers the live process p under key with value. A Unique
// key that has an entry fails with a *KeyTakenError naming its owner, even
// when the owner is p itself; a Duplicate key takes every registration,
// several from one process included. A dead p gives process.NoProc, the
// zero Pid process.ErrZeroPid, a Pid of another node process.NoConnection.
//
// Any goroutine may register any process of the registry's node; Elixir
// only lets a process register itself, and code written that way (passing
// p.Self()) reads the same here.
func (k *Keys[K, V]) Register(key K, p pid.Pid, value V) error {
	return k.register(key, p, value, k.Kind() == Unique)
}

// register is Register; exclusive refuses a key that has any entry, which
// is the rule of a Unique registry and of a name given through Via.
func (k *Keys[K, V]) register(key K, p pid.Pid, value V, exclusive bool) error {
	if !k.valid() {
		return fmt.Errorf("register key %s: %w", keyString(key), ErrNilKeys)
	}
	h, ok := k.hash(key)
	if !ok || key != key { // a NaN could never be found again, not even to remove it
		return fmt.Errorf("register key %s: %w", keyString(key), ErrUnhashableKey)
	}
	part := k.partition(h)
	taken := false
	err := k.node.Tie(p, k, func(t core.Tie) (core.Tie, error) {
		part.mu.Lock()
		holder, refused := part.add(h, key, Entry[V]{Pid: p, Value: value}, exclusive)
		part.mu.Unlock()
		if refused {
			taken = true
			return t, &KeyTakenError[K]{Key: key, Owner: holder}
		}
		o, _ := t.(*owner[K, V])
		if o == nil {
			o = &owner[K, V]{keys: k}
			o.held = o.first[:0]
		}
		o.held = append(o.held, key)
		return o, nil
	})
	if err == nil || taken {
		return err
	}
	return fmt.Errorf("register key %s: %w", keyString(key), err)
}

// Unregister removes every entry of p under key. Like Elixir's, it
// succeeds when there is nothing to remove, p dead included; it fails only
// for bad input: a nil registry, the zero Pid, a Pid of another node.
func (k *Keys[K, V]) Unregister(key K, p pid.Pid) error {
	if !k.valid() {
		return fmt.Errorf("unregister key %s: %w", keyString(key), ErrNilKeys)
	}
	h, ok := k.hash(key)
	if !ok {
		return k.quiet("unregister", key, k.node.Tie(p, k, keep)) // holds nothing under it
	}
	part := k.partition(h)
	err := k.node.Tie(p, k, func(t core.Tie) (core.Tie, error) {
		o, _ := t.(*owner[K, V])
		if o == nil {
			return nil, nil
		}
		part.mu.Lock()
		part.drop(h, key, p, nil)
		part.mu.Unlock()
		o.held = slices.DeleteFunc(o.held, func(held K) bool { return held == key })
		return o.orNil(), nil
	})
	return k.quiet("unregister", key, err)
}

// UnregisterMatch removes the entries of p under key whose value match
// accepts and returns how many it removed. match runs without any lock
// held, on a snapshot; if the key changes meanwhile, it runs again on the
// new entries, so it should only look at the value. It succeeds with 0 when
// p has no such entry, dead p included, and fails for a nil match
// (process.ErrNilFunc) and the bad input Unregister refuses.
func (k *Keys[K, V]) UnregisterMatch(key K, p pid.Pid, match func(value V) bool) (int, error) {
	switch {
	case !k.valid():
		return 0, fmt.Errorf("unregister match key %s: %w", keyString(key), ErrNilKeys)
	case match == nil:
		return 0, fmt.Errorf("unregister match key %s: %w", keyString(key), process.ErrNilFunc)
	}
	h, ok := k.hash(key)
	if !ok {
		return 0, k.quiet("unregister match", key, k.node.Tie(p, k, keep))
	}
	part := k.partition(h)
	for {
		snap := part.load(h, key)
		var gone []bool
		removed := 0
		if snap != nil {
			for i, e := range snap.list {
				if e.Pid == p && match(e.Value) {
					if gone == nil {
						gone = make([]bool, len(snap.list))
					}
					gone[i] = true
					removed++
				}
			}
		}
		if removed == 0 {
			return 0, k.quiet("unregister match", key, k.node.Tie(p, k, keep))
		}
		stale := false
		err := k.node.Tie(p, k, func(t core.Tie) (core.Tie, error) {
			part.mu.Lock()
			defer part.mu.Unlock()
			if part.load(h, key) != snap {
				stale = true
				return t, nil
			}
			o, _ := t.(*owner[K, V])
			if o == nil { // p has entries under key, so it carries its owner
				removed = 0
				return t, nil
			}
			part.drop(h, key, p, gone)
			for range removed {
				if i := slices.Index(o.held, key); i >= 0 {
					o.held = slices.Delete(o.held, i, i+1)
				}
			}
			return o.orNil(), nil
		})
		if stale {
			continue
		}
		if err != nil {
			return 0, k.quiet("unregister match", key, err)
		}
		return removed, nil
	}
}

// keep is a Tie function that changes nothing, for the checks of Tie alone.
func keep(t core.Tie) (core.Tie, error) { return t, nil }

// quiet wraps err for op, except the errors that say p is gone, which
// mean there is nothing left to remove.
func (k *Keys[K, V]) quiet(op string, key K, err error) error {
	if err == nil || errors.Is(err, process.NoProc) || errors.Is(err, process.ErrNodeStopped) {
		return nil
	}
	return fmt.Errorf("%s key %s: %w", op, keyString(key), err)
}

// UpdateValue replaces the value of p's entry under a Unique key with
// fn(old) and returns the new value, as Elixir's update_value/3. fn runs
// without any lock held; if the entry changes meanwhile, it runs again with
// the newer value. It fails with ErrNotOwner when the key has no entry of p
// (or p is dead), ErrNotUnique in a Duplicate registry, process.ErrNilFunc
// for a nil fn and process.ErrZeroPid for the zero Pid.
func (k *Keys[K, V]) UpdateValue(key K, p pid.Pid, fn func(old V) V) (V, error) {
	var zero V
	fail := func(err error) (V, error) {
		return zero, fmt.Errorf("update value of key %s: %w", keyString(key), err)
	}
	switch {
	case !k.valid():
		return fail(ErrNilKeys)
	case k.kind != Unique:
		return fail(ErrNotUnique)
	case fn == nil:
		return fail(process.ErrNilFunc)
	case p.IsZero():
		return fail(process.ErrZeroPid)
	}
	h, ok := k.hash(key)
	if !ok {
		return fail(ErrNotOwner)
	}
	part := k.partition(h)
	for {
		snap := part.load(h, key)
		if snap == nil || snap.list[0].Pid != p {
			return fail(ErrNotOwner)
		}
		v := fn(snap.list[0].Value)
		part.mu.Lock()
		if n := part.load(h, key); n == snap {
			part.replaceSingle(n, Entry[V]{Pid: p, Value: v})
			part.mu.Unlock()
			return v, nil
		}
		part.mu.Unlock()
	}
}

// Lookup returns the entries of key, in the order they were registered, or
// nil. The slice is the caller's.
func (k *Keys[K, V]) Lookup(key K) []Entry[V] {
	if s := k.load(key); s != nil {
		return slices.Clone(s.list)
	}
	return nil
}

// Find returns the entry of a Unique key; in a Duplicate registry, the
// oldest entry of key. It allocates nothing.
func (k *Keys[K, V]) Find(key K) (Entry[V], bool) {
	if s := k.load(key); s != nil {
		return s.list[0], true
	}
	return Entry[V]{}, false
}

// Dispatch calls fn with the entries of key, in the caller's goroutine, as
// Elixir's dispatch/3: the way to publish to every subscriber of a topic.
// fn is not called when key has no entries. The slice is the registry's
// own snapshot, handed over without a copy: fn may keep it and append to
// it, but must not change its elements. It fails only for a nil registry
// or a nil fn (process.ErrNilFunc).
func (k *Keys[K, V]) Dispatch(key K, fn func(entries []Entry[V])) error {
	switch {
	case !k.valid():
		return fmt.Errorf("dispatch key %s: %w", keyString(key), ErrNilKeys)
	case fn == nil:
		return fmt.Errorf("dispatch key %s: %w", keyString(key), process.ErrNilFunc)
	}
	if s := k.load(key); s != nil {
		fn(s.list[:len(s.list):len(s.list)]) // full: an append by fn copies
	}
	return nil
}

// Match returns the entries of key whose value match accepts, in the order
// they were registered. match runs without any lock held. A nil match fails
// with process.ErrNilFunc.
func (k *Keys[K, V]) Match(key K, match func(value V) bool) ([]Entry[V], error) {
	if match == nil {
		return nil, fmt.Errorf("match key %s: %w", keyString(key), process.ErrNilFunc)
	}
	var out []Entry[V]
	if s := k.load(key); s != nil {
		for _, e := range s.list {
			if match(e.Value) {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// Count returns the number of entries of key.
func (k *Keys[K, V]) Count(key K) int {
	if s := k.load(key); s != nil {
		return len(s.list)
	}
	return 0
}

// CountMatch returns the number of entries of key whose value match
// accepts. A nil match fails with process.ErrNilFunc.
func (k *Keys[K, V]) CountMatch(key K, match func(value V) bool) (int, error) {
	if match == nil {
		return 0, fmt.Errorf("count match key %s: %w", keyString(key), process.ErrNilFunc)
	}
	n := 0
	if s := k.load(key); s != nil {
		for _, e := range s.list {
			if match(e.Value) {
				n++
			}
		}
	}
	return n, nil
}

// Len returns the number of entries in the registry, as Elixir's count/1.
func (k *Keys[K, V]) Len() int {
	if !k.valid() {
		return 0
	}
	n := int64(0)
	for i := range k.parts {
		n += k.parts[i].entries.Load()
	}
	return int(n)
}

// Keys returns the keys p is registered under, once per entry: a key p
// registered twice in a Duplicate registry is listed twice. They come in
// no particular order. A dead p has none.
func (k *Keys[K, V]) Keys(p pid.Pid) []K {
	if !k.valid() {
		return nil
	}
	var out []K
	_ = k.node.Tie(p, k, func(t core.Tie) (core.Tie, error) {
		if o, _ := t.(*owner[K, V]); o != nil {
			out = slices.Clone(o.held)
		}
		return t, nil
	})
	return out
}

// All yields every key with each of its entries: Elixir's select/2 with
// Go's iterators. It takes no lock: each key's entries are those it has
// when the iteration reaches it, and a key registered or removed during
// the iteration may or may not be seen. Keys come in no particular order.
func (k *Keys[K, V]) All() iter.Seq2[K, Entry[V]] {
	return func(yield func(K, Entry[V]) bool) {
		if !k.valid() {
			return
		}
		for i := range k.parts {
			t := k.parts[i].table.Load()
			if t == nil {
				continue
			}
			for b := range t.buckets {
				for n := t.buckets[b].Load(); n != nil; n = n.next {
					for _, e := range n.list {
						if !yield(n.key, e) {
							return
						}
					}
				}
			}
		}
	}
}

// valid reports whether k was made by NewKeys.
func (k *Keys[K, V]) valid() bool { return k != nil && k.node != nil }

// load returns the current entries of key, nil when it has none.
func (k *Keys[K, V]) load(key K) *node[K, V] {
	if !k.valid() {
		return nil
	}
	h, ok := k.hash(key)
	if !ok {
		return nil
	}
	return k.partition(h).load(h, key)
}

// hash returns the hash of key; false for a value that cannot be hashed.
func (k *Keys[K, V]) hash(key K) (uint64, bool) {
	if k.risky {
		return k.safeHash(key)
	}
	return maphash.Comparable(k.seed, key), true
}

// safeHash is hash for a K that holds an interface, whose dynamic value may
// be of a type that cannot be hashed: the runtime panics then, as it does
// for such a map key, and the registry reports it instead.
func (k *Keys[K, V]) safeHash(key K) (h uint64, ok bool) {
	defer func() {
		if recover() != nil {
			h, ok = 0, false
		}
	}()
	return maphash.Comparable(k.seed, key), true
}

// partition returns the partition of the key whose hash is h. It uses the
// hash's high bits; the buckets of a partition's table use the low ones.
func (k *Keys[K, V]) partition(h uint64) *partition[K, V] {
	return &k.parts[(h>>32)*uint64(len(k.parts))>>32]
}

// hashMayPanic reports whether hashing a value of type t can panic: when
// it holds an interface, whose dynamic value may be a slice, map or func.
func hashMayPanic(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Array:
		return hashMayPanic(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hashMayPanic(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// keyString formats key for an error: a string quoted, anything else with
// %v.
func keyString[K comparable](key K) string {
	if s, ok := any(key).(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(key)
}

// owner is what a process carries for the registry it has entries in (a
// core.Tie): its keys, one per entry, so that its entries can be found and
// removed when it exits. The process's lock guards held.
type owner[K comparable, V any] struct {
	keys  *Keys[K, V]
	held  []K
	first [1]K // held's array while the process has one entry
}

// Untie removes every entry of the dying process p. It runs under p's
// lock, before p is marked dead.
func (o *owner[K, V]) Untie(p pid.Pid) {
	for i, key := range o.held {
		if i > 0 && o.held[i-1] == key {
			continue // registered twice in a row: one drop removes both
		}
		h, _ := o.keys.hash(key) // it was hashed when registered
		part := o.keys.partition(h)
		part.mu.Lock()
		part.drop(h, key, p, nil)
		part.mu.Unlock()
	}
	o.held = nil
}

// orNil returns o, or nil when it holds no key, so that a process with no
// entries left carries nothing.
func (o *owner[K, V]) orNil() core.Tie {
	if len(o.held) == 0 {
		return nil
	}
	return o
}
