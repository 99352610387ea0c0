// Package cluster connects nodes in several OS processes or machines, so
// that their processes address each other by Pid as they do locally, with
// Erlang's distribution semantics, over NATS.
//
// A node joins a cluster with Join and leaves it with Leave. From then on
// the ordinary API works across nodes: process.Send and SendWait,
// Process.Exit, link.Link, Unlink, Monitor and Demonitor, link.Watch,
// link.MonitorNameOn, registry SendOn, and genserver's Call, Cast and Stop
// (through genserver.At with a Pid of another node, or genserver.NamedOn).
// Messages between a pair of processes stay in order, exits and Downs
// included.
//
// With no Config.URL, Join uses a NATS server embedded in the program:
// import package embedded (a blank import is enough). With URLs it joins an
// external NATS cluster, with TLS and NKey or JWT credentials.
//
// A message crosses by the codec of its type, registered on every node
// under one name: Register (a fast default codec for plain structs, or the
// type's own marshalling methods), RegisterCodec, RegisterError. Built-in
// types and the runtime's own messages and exit reasons need nothing.
//
// When a node is lost (its program crashed: noticed in milliseconds through
// the server's advisories; it hangs or is cut off: after the heartbeat
// bound; Disconnect; this node's own loss of NATS), every link, monitor and
// call across the pair fires or fails with process.NoConnection on both
// sides, node monitors (MonitorNode, MonitorNodes) get a NodeDown, and
// nothing sent before the cut is delivered after it. A live node meets its
// peers again in a new session; a restarted program is a new node with new
// Pids.
//
// Names (Cluster.Names) are global names in a JetStream key-value bucket,
// one winner per name, looked up from a local cache and released before
// their owner's death or node loss can be observed; a *Names is a
// genserver.Registrar. ProcessGroups (Cluster.Groups) are Erlang's pg
// across nodes. Factory and ServerFactory start processes on other nodes
// from factories those nodes registered, linked or monitored atomically.
//
// Sends to a node that takes too little are pushed back (ErrPeerBusy,
// SendWait, WaitRoom) rather than buffered without bound.
//
// docs/distribution.md in the repository is the guide: set-up, codecs,
// failure semantics, flow control, security and permissions.
package cluster
