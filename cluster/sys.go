package cluster

import (
	"time"

	"github.com/spawned-go/spawned/cluster/internal/wire"
	"github.com/spawned-go/spawned/pid"
)

// The cluster's own business travels between nodes as KSys frames, on the
// same ordered stream as the frames of processes: a name released or a
// group left as a process dies is told before that process's exit and
// Downs, which follow it on the stream.

// The values a KSys frame carries.
type (
	// nameGone: the process Owner, which held the global name Name, is
	// dying (or its node released the name).
	sysNameGone struct {
		Name  string
		Owner pid.Pid
	}
	// groupJoin and groupLeave: members of the sender's node joined or
	// left Group (once per element; duplicates allowed).
	sysGroupJoin struct {
		Group   string
		Members []pid.Pid
	}
	sysGroupLeave struct {
		Group   string
		Members []pid.Pid
	}
	// nameSync: the global names the sender's processes hold, with the
	// revisions of their entries in the store, at the start of a session.
	sysNameSync struct {
		Names map[string]sysNameHeld
	}
	sysNameHeld struct {
		Owner pid.Pid
		Rev   uint64
	}
	// groupSync: every member the sender's node has, by group, at the
	// start of a session: it replaces what the receiver knew of them.
	sysGroupSync struct {
		Groups map[string][]pid.Pid
	}
	// spawnReq asks for a process from the factory Factory with Arg.
	// Parent is the asking process (zero for a plain spawn), Link and
	// Monitor (under Ref, made by the asking node) what it holds on the
	// new process. ID identifies the request on the asking node.
	sysSpawnReq struct {
		ID      uint64
		Factory string
		Arg     any
		Parent  pid.Pid
		Link    bool
		Monitor bool
		Ref     pid.Ref
		Timeout time.Duration // what the asker waits, at most
	}
	// spawnRep answers a spawnReq: the new process (its relations
	// recorded on the spawning node before it runs), or why there is
	// none. Final is false for a server's first answer, sent before its
	// Init runs; the final one follows when Init is done.
	sysSpawnRep struct {
		ID    uint64
		Pid   pid.Pid
		Final bool
		Err   error
	}
)

func init() {
	MustRegister[sysNameGone]("spawned.cluster.nameGone")
	MustRegister[sysNameSync]("spawned.cluster.nameSync")
	MustRegister[sysGroupJoin]("spawned.cluster.groupJoin")
	MustRegister[sysGroupLeave]("spawned.cluster.groupLeave")
	MustRegister[sysGroupSync]("spawned.cluster.groupSync")
	MustRegister[sysSpawnReq]("spawned.cluster.spawnReq")
	MustRegister[sysSpawnRep]("spawned.cluster.spawnRep")
}

// sendSys sends v to p in session s, in order with everything else sent to
// p. Like a signal, it counts against the window but is never refused. It
// reports whether it went out.
func (c *Cluster) sendSys(p *peer, s uint64, v any) bool {
	e := c.encoder(p.id)
	defer c.release(e)
	e.AppendFrame(&wire.Frame{Kind: wire.KSys, Cluster: c.tag, Session: s, Value: v})
	if err := e.Err(); err != nil {
		c.log.Error("cluster: cannot encode the cluster's own frame: " + err.Error())
		return false
	}
	p.inflight.Add(int64(len(e.B)))
	return c.publish(p, e.B) == nil
}

// sendSysTo sends v to the node id if it is reachable now.
func (c *Cluster) sendSysTo(id pid.NodeID, v any) bool {
	p, s, err := (*remote)(c).reach(id)
	if err != nil {
		return false
	}
	return c.sendSys(p, s, v)
}

// broadcastSys sends v to every node reachable now.
func (c *Cluster) broadcastSys(v any) {
	for _, p := range c.peers.all() {
		if st, s := p.load(); st == stUp {
			c.sendSys(p, s, v)
		}
	}
}

// onSys acts on a KSys frame of the current session of p, with p.recvMu
// held.
func (c *Cluster) onSys(p *peer, session uint64, v any) {
	switch m := v.(type) {
	case sysNameGone:
		c.names.gone(p.id, m)
	case sysNameSync:
		c.names.remoteSync(p.id, m)
	case sysGroupJoin:
		c.groups.remoteJoin(p.id, m.Group, m.Members)
	case sysGroupLeave:
		c.groups.remoteLeave(p.id, m.Group, m.Members)
	case sysGroupSync:
		c.groups.remoteSync(p.id, m.Groups)
	case sysSpawnReq:
		c.spawns.serve(p, session, m)
	case sysSpawnRep:
		c.spawns.answer(p, m)
	default:
		c.log.Warn("cluster: dropped a frame of the cluster's own of an unknown type")
	}
}

// peerUp is told, with p.recvMu held, that p has come up in session s.
func (c *Cluster) peerUp(p *peer, s uint64) {
	c.names.syncTo(p, s)
	c.groups.syncTo(p, s)
}

// peerLost is told, with p.recvMu held, that p is lost, before any link,
// monitor or node monitor fires: what p's processes held (global names,
// group memberships) is gone before anyone can observe the loss.
func (c *Cluster) peerLost(p *peer) {
	c.names.nodeLost(p.id)
	c.groups.nodeLost(p.id)
	c.spawns.nodeLost(p.id)
}
