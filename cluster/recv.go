package cluster

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/spawned-go/spawned/cluster/internal/wire"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
)

// aliasLimit is the largest frame whose strings and byte slices share its
// memory once decoded: a value kept alive keeps at most that much.
const aliasLimit = 16 << 10

// rxState is what the inbox subscription's goroutine reuses per frame.
type rxState struct {
	f    wire.Frame
	d    wire.Dec
	last *peer
}

// onFrame handles a message from the node's inbox: the one subscription
// that carries everything other nodes send it, in the order each sent it.
// A message is one frame, or a batch of frames from one sender.
func (c *Cluster) onFrame(m *nats.Msg) {
	if c.leaving.Load() {
		return // every peer is cut, or being cut: nothing more is delivered
	}
	if len(m.Data) > 0 && m.Data[0] == wire.MagicBatch {
		alias := len(m.Data) <= aliasLimit
		err := wire.SplitBatch(m.Data[1:], func(frame []byte) bool {
			c.frame(frame, alias)
			return true
		})
		if err != nil {
			c.log.Warn("cluster: dropped a malformed batch", zap.Error(err))
		}
		return
	}
	c.frame(m.Data, len(m.Data) <= aliasLimit)
}

// frame handles one frame; alias says whether what is decoded may share
// its memory (the client copies every message it hands over).
func (c *Cluster) frame(data []byte, alias bool) {
	rx := &c.rx
	f := &rx.f
	*f = wire.Frame{}
	if err := wire.DecodeHeader(data, c.self, f, &rx.d); err != nil {
		c.log.Warn("cluster: dropped a malformed frame", zap.Error(err))
		return
	}
	if f.Cluster != c.tag || f.Sender == c.self {
		c.log.Warn("cluster: dropped a frame of another cluster", zap.Stringer("from", f.Sender))
		return
	}
	p := rx.last
	if p == nil || p.id != f.Sender {
		p = c.peerOf(f.Sender)
		rx.last = p
	}
	var err error
	control := f.Kind == wire.KHeartbeat || f.Kind == wire.KWelcome
	if control {
		// Who the peer is comes before whether it is up.
		if err = rx.d.DecodeBody(f); err == nil {
			p.setName(f.Name)
			p.setConn(f.Conn)
		}
	}
	h := c.hooks.Load() // nil but in tests
	if h != nil && h.received != nil {
		h.received(p.id, f.Kind)
	}
	p.recvMu.Lock()
	up, ok := c.admit(p, f)
	if !ok {
		p.recvMu.Unlock()
		return
	}
	p.heard.Add(1)
	if h != nil {
		h.delivered(p.id, f.Session, f.Kind)
	}
	if !control {
		rx.d.Alias = alias
		err = rx.d.DecodeBody(f)
	}
	c.dispatch(p, f, err, len(data))
	p.recvMu.Unlock()
	if up {
		c.supersede(p)
	}
}

// admit decides, with p.recvMu held, whether a frame of session f.Session
// is delivered; it moves the pair to a newer session first when the peer
// is in one. up reports that the peer has just come up.
func (c *Cluster) admit(p *peer, f *wire.Frame) (up, ok bool) {
	st, s := p.load()
	t := f.Session
	switch {
	case st == stGone || c.leaving.Load():
		return false, false
	case t < s || t < c.base:
		// A frame of a session this node has cut: drop it, and tell the
		// peer the session it is in, once per stale session.
		if p.answered != t {
			p.answered = t
			c.sendControl(p, wire.KHeartbeat, max(s, c.base))
		}
		return false, false
	case t > s && st == stUp:
		why := ErrConnectionReset
		if f.Kind == wire.KBye {
			why = ErrNodeLeft
		}
		c.cutLocked(p, why, t)
		fallthrough
	case st != stUp:
		if f.Kind == wire.KBye {
			p.store(stDown, t+1)
			return false, false
		}
		up = c.upLocked(p, t)
		if up {
			// The peer may be waiting for a word of this session from
			// this node to come up too.
			c.sendControl(p, wire.KHeartbeat, t)
		}
		return up, true
	}
	if f.Kind == wire.KBye {
		c.cutLocked(p, ErrNodeLeft, t+1)
		return false, false
	}
	return false, true
}

// dispatch acts on a frame of the current session, with p.recvMu held.
func (c *Cluster) dispatch(p *peer, f *wire.Frame, err error, size int) {
	switch f.Kind {
	case wire.KMsg, wire.KCast, wire.KStop, wire.KCall, wire.KReply, wire.KCallFail, wire.KSignal, wire.KSys:
		c.took(p, size)
	}
	if err != nil {
		c.undecodable(p, f, err)
		return
	}
	switch f.Kind {
	case wire.KMsg:
		if t, ok := c.target(f); ok {
			c.core.RemoteDeliver(t, f.Value)
		}
	case wire.KCast:
		if t, ok := c.target(f); ok {
			c.core.RemoteDeliver(t, core.CastMsg{Msg: f.Value})
		}
	case wire.KStop:
		if t, ok := c.target(f); ok {
			c.core.RemoteDeliver(t, core.StopMsg{Reason: f.Reason})
		}
	case wire.KCall:
		_, s := p.load()
		in := &incoming{answer: answer{c: c, p: p, ref: f.Ref, session: s}}
		t, ok := c.target(f)
		if !ok {
			in.answer.Undelivered(core.NoProc)
			return
		}
		in.call = core.IncomingCall{From: f.From, Req: f.Value, Answer: &in.answer}
		c.core.RemoteDeliver(t, &in.call)
	case wire.KReply:
		if a, ok := c.calls.take(f.Ref.ID()); ok {
			a.Reply(f.Value, f.Reason)
		}
	case wire.KCallFail:
		if a, ok := c.calls.take(f.Ref.ID()); ok {
			a.Undelivered(f.Reason)
		}
	case wire.KSignal:
		s := core.Signal{Kind: core.SignalKind(f.Signal), From: f.From, To: f.To, Name: f.Name, Ref: f.Ref, Reason: f.Reason}
		if s.Name != "" {
			s.Node = c.self
		}
		if s.Kind < core.SigExit || s.Kind > core.SigDown {
			c.log.Warn("cluster: dropped a signal of an unknown kind", zap.Uint8("kind", f.Signal))
			return
		}
		c.core.RemoteSignal(s)
	case wire.KCredit:
		p.credit(int64(f.Credit))
	case wire.KSys:
		c.onSys(p, f.Session, f.Value)
	}
}

// target returns the local process a frame is for.
func (c *Cluster) target(f *wire.Frame) (core.Target, bool) {
	if f.Name != "" {
		return core.Target{Node: c.self, Name: f.Name}, true
	}
	if f.To.Node() != c.self {
		return core.Target{}, false
	}
	return core.Target{Pid: f.To}, true
}

// took counts bytes the peer sent that this node has taken, and gives the
// peer its window back in quarters.
func (c *Cluster) took(p *peer, size int) {
	p.taken += int64(size)
	if p.taken < c.window/4 {
		return
	}
	_, s := p.load()
	e := c.encoder(p.id)
	e.AppendFrame(&wire.Frame{Kind: wire.KCredit, Cluster: c.tag, Session: s, Credit: uint64(p.taken)})
	_ = c.publish(p, e.B)
	c.release(e)
	p.taken = 0
}

// undecodable handles a frame whose body could not be read: a call is
// answered with the error, anything else is logged and dropped.
func (c *Cluster) undecodable(p *peer, f *wire.Frame, err error) {
	if f.Kind == wire.KCall && !f.Ref.IsZero() {
		_, s := p.load()
		a := &answer{c: c, p: p, ref: f.Ref, session: s}
		a.Undelivered(fmt.Errorf("cluster: node %s could not read the call: %w", c.cfg.Name, err))
		return
	}
	if (f.Kind == wire.KReply || f.Kind == wire.KCallFail) && !f.Ref.IsZero() {
		if a, ok := c.calls.take(f.Ref.ID()); ok {
			a.Undelivered(fmt.Errorf("cluster: could not read the answer from node %s: %w", p.Name(), err))
			return
		}
	}
	c.log.Error("cluster: dropped a frame that could not be read", zap.String("peer", p.Name()),
		zap.Stringer("kind", f.Kind), zap.Error(err))
}

// onHello handles another node's announcement: it is up, and hears back
// from this node directly; a request is answered with how many nodes this
// one knows, so that a joining node knows how many to wait for.
func (c *Cluster) onHello(m *nats.Msg) {
	f, err := wire.DecodeFrame(m.Data, c.self)
	if err != nil || f.Kind != wire.KHello || f.Cluster != c.tag || f.Sender == c.self || c.leaving.Load() {
		return
	}
	if h := c.hooks.Load(); h != nil && h.hello != nil && h.hello(f.Sender) {
		return
	}
	p := c.peerOf(f.Sender)
	p.setName(f.Name)
	p.setConn(f.Conn)
	p.recvMu.Lock()
	st, s := p.load()
	up := false
	if st == stDown && !c.leaving.Load() {
		s = max(s, c.base)
		up = c.upLocked(p, s)
	}
	p.recvMu.Unlock()
	if st == stGone {
		return
	}
	c.sendControl(p, wire.KWelcome, s)
	if up {
		c.supersede(p)
	}
	if m.Reply != "" {
		known := 1 // this node
		for _, q := range c.peers.all() {
			if st, _ := q.load(); st == stUp && q != p {
				known++
			}
		}
		_ = m.Respond(binary.AppendUvarint(nil, uint64(known)))
	}
}

// advisory is the part of a server's client-disconnect advisory that
// names the connection.
type advisory struct {
	Server struct {
		ID string `json:"id"`
	} `json:"server"`
	Client struct {
		ID   uint64 `json:"id"`
		Name string `json:"name"`
	} `json:"client"`
}

// onAdvisory loses a peer whose connection to NATS closed: its program
// exited or was killed.
func (c *Cluster) onAdvisory(m *nats.Msg) {
	prefix := "spawned/" + c.cfg.Cluster + "/"
	if !strings.Contains(string(m.Data), prefix) {
		return
	}
	var a advisory
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return
	}
	rest, ok := strings.CutPrefix(a.Client.Name, prefix)
	if !ok {
		return
	}
	id, err := pid.ParseNodeID(rest)
	if err != nil || id == c.self {
		return
	}
	p := c.peers.get(id)
	if p == nil {
		return
	}
	// Only the connection the peer uses now: an advisory about one it has
	// replaced since is old news.
	if conn := p.conn.Load(); conn == nil || conn.Server != a.Server.ID || conn.Client != a.Client.ID {
		return
	}
	if h := c.hooks.Load(); h != nil && h.advised != nil {
		h.advised(id)
	}
	// The server sent this node everything the peer sent before its
	// connection closed, its goodbye included, ahead of the advisory; but
	// the inbox's goroutine may not have handled it yet. A barrier runs the
	// cut once every subscription has handled what came before it, so a
	// peer that left is reported as having left (ErrNodeLeft) and only one
	// that went without a word as closed.
	if err := c.nc.Barrier(func() { c.cut(p, ErrConnectionClosed) }); err != nil {
		c.cut(p, ErrConnectionClosed)
	}
}
