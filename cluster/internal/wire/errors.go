package wire

import (
	"errors"
	"fmt"
	"unsafe"
)

// Reason tags.
const (
	eNil byte = iota
	eSentinel
	eRegistered
	eText
)

// MaxErrorText bounds the text of an error that crosses as text; a longer
// text is cut and marked.
const MaxErrorText = 16 << 10

// RemoteError is an error of a type that was not registered, as it arrives
// from another node: its text, exactly, and the registered errors it
// matched with errors.Is where it was made.
type RemoteError struct {
	Text    string
	matches []error
}

// Error returns the original error's text.
func (e *RemoteError) Error() string { return e.Text }

// Is reports whether the original error matched target, a registered
// error, with errors.Is.
func (e *RemoteError) Is(target error) bool {
	for _, m := range e.matches {
		if m == target {
			return true
		}
	}
	return false
}

// Error appends an error: a registered error value by id, a value of a
// registered error type by its codec, anything else as its text plus the
// registered errors it matches. Error never fails on its own.
func (e *Enc) Error(err error) {
	if err == nil {
		e.Byte(eNil)
		return
	}
	t := current.Load()
	for _, s := range t.sentinels {
		if err == s.err {
			e.Byte(eSentinel)
			e.U64(s.id)
			return
		}
	}
	var v any = err // an error's first word is an itab: take the type from an any
	if x := t.byType[(*eface)(unsafe.Pointer(&v)).typ]; x != nil {
		at := len(e.B)
		e.Byte(eRegistered)
		e.U64(x.ID)
		if e.enter() {
			x.encode(e, err)
			e.leave()
		}
		if e.err == nil {
			return
		}
		// The codec failed: the error still crosses, as its text.
		e.B, e.err = e.B[:at], nil
	}
	text, matches := describe(err, t.sentinels)
	e.Byte(eText)
	e.String(text)
	e.Uvarint(uint64(len(matches)))
	for _, id := range matches {
		e.U64(id)
	}
}

// describe returns err's text and the ids of the registered errors it
// matches, surviving an Error or Is method that panics.
func describe(err error, sentinels []sentinel) (text string, matches []uint64) {
	func() {
		defer func() {
			if v := recover(); v != nil {
				text = fmt.Sprintf("%T (its Error method panicked: %v)", err, v)
			}
		}()
		text = err.Error()
	}()
	if len(text) > MaxErrorText {
		text = text[:MaxErrorText] + "…[cut]"
	}
	for _, s := range sentinels {
		func() {
			defer func() { _ = recover() }()
			if errors.Is(err, s.err) {
				matches = append(matches, s.id)
			}
		}()
	}
	return text, matches
}

// Error reads an error written by Enc.Error.
func (d *Dec) Error() error {
	switch tag := d.Byte(); tag {
	case eNil:
		return nil
	case eSentinel:
		id := d.U64()
		if d.err != nil {
			return nil
		}
		if err, ok := current.Load().sentByID[id]; ok {
			return err
		}
		d.Fail(fmt.Errorf("%w: error id %#x (register it on this node too)", ErrUnknownType, id))
		return nil
	case eRegistered:
		id := d.U64()
		if d.err != nil {
			return nil
		}
		x := current.Load().byID[id]
		if x == nil {
			d.Fail(fmt.Errorf("%w: error type id %#x (register it on this node too)", ErrUnknownType, id))
			d.off = len(d.b)
			return nil
		}
		if !d.enter() {
			return nil
		}
		v := x.decode(d)
		d.leave()
		if d.err != nil {
			return nil
		}
		err, ok := v.(error)
		if !ok || err == nil {
			d.Fail(fmt.Errorf("%w: %s is not an error", ErrMalformed, x.Name))
			return nil
		}
		return err
	case eText:
		text := d.String()
		n := d.Count()
		if n > 0 && n*8 > d.Len() {
			d.short("error matches")
			return nil
		}
		r := &RemoteError{Text: text}
		sent := current.Load().sentByID
		for range n {
			if s, ok := sent[d.U64()]; ok {
				r.matches = append(r.matches, s)
			}
		}
		if d.err != nil {
			return nil
		}
		return r
	default:
		d.Fail(fmt.Errorf("%w: error tag %d", ErrMalformed, tag))
		d.off = len(d.b)
		return nil
	}
}
