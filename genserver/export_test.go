package genserver

import "reflect"

// TakePooledCall takes a call from the pool of calls of request type Req
// and reply type Rep (see callPool), and reports whether there was one and
// whether it was cleared.
func TakePooledCall[Req, Rep any]() (found, cleared bool) {
	c, ok := callPool[Req, Rep]().Get().(*call[Req, Rep])
	if !ok {
		return false, false
	}
	return true, reflect.ValueOf(&c.req).Elem().IsZero() && reflect.ValueOf(&c.res).Elem().IsZero() &&
		!c.kept && c.remote == nil && c.done == nil && c.state.Load() == answerPending && !c.settled.Load()
}
