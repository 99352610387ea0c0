package cluster

import (
	"errors"
	"fmt"

	"github.com/spawned-go/spawned/cluster/internal/wire"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/process"
)

// Errors of the cluster's operations; test with errors.Is.
var (
	// ErrPeerBusy: a message or cast was not sent because the peer node
	// has not yet taken what was sent to it before (the flow-control
	// window, Config.Window, is full). Send again later, or use SendWait,
	// which waits for room.
	ErrPeerBusy = core.ErrPeerBusy
	// ErrTooLarge: the message does not fit in a frame (Config.MaxPayload).
	ErrTooLarge = errors.New("cluster: message too large")
	// ErrNotRegistered: the message's type has no codec; register it with
	// Register on every node.
	ErrNotRegistered = wire.ErrNotRegistered
	// ErrNoServer: Join was given no URL and the program does not link
	// the embedded server.
	ErrNoServer = errors.New(`cluster: no NATS URL given and no embedded server linked (add: import _ "github.com/spawned-go/spawned/cluster/embedded")`)
	// ErrJoined: the node is in a cluster already.
	ErrJoined = errors.New("cluster: the node has joined a cluster already")
	// ErrNodeNameTaken: Join was refused because a live node of the
	// cluster holds Config.Name already (two nodes given one name). The
	// error names the name and the holder.
	ErrNodeNameTaken = errors.New("cluster: join: node name in use")
	// ErrLeft: the cluster was left.
	ErrLeft = errors.New("cluster: left")
)

// The reasons a peer node is lost, as NodeDown reports them. Each wraps
// process.NoConnection, the reason every link, monitor and call across the
// pair gets: errors.Is(reason, process.NoConnection) holds for all of them.
var (
	// ErrConnectionClosed: the peer's connection to NATS closed (its
	// program exited or was killed), as the server's advisory told.
	ErrConnectionClosed = fmt.Errorf("%w: connection closed", process.NoConnection)
	// ErrHeartbeatTimeout: nothing was heard from the peer within the
	// heartbeat bound: it hangs, or it is cut off.
	ErrHeartbeatTimeout = fmt.Errorf("%w: heartbeat timeout", process.NoConnection)
	// ErrDisconnected: Disconnect cut the pair, on this side or the other.
	ErrDisconnected = fmt.Errorf("%w: disconnected", process.NoConnection)
	// ErrServerLost: this node lost its own connection to NATS, and every
	// peer with it.
	ErrServerLost = fmt.Errorf("%w: connection to NATS lost", process.NoConnection)
	// ErrConnectionReset: the peer lost this node (for one of the reasons
	// above, on its side) and told it so.
	ErrConnectionReset = fmt.Errorf("%w: connection reset by the peer", process.NoConnection)
	// ErrPaused: this node was paused (stopped, or starved of CPU) for
	// longer than the heartbeat bound, so its peers have lost it.
	ErrPaused = fmt.Errorf("%w: this node was paused past the heartbeat bound", process.NoConnection)
	// ErrNodeLeft: the peer left the cluster (Leave), or this node did.
	ErrNodeLeft = fmt.Errorf("%w: left the cluster", process.NoConnection)
	// ErrSuperseded: a node of the same name joined: the peer restarted,
	// and its old Pids are dead (NoProc).
	ErrSuperseded = fmt.Errorf("%w: superseded by a node of the same name", process.NoConnection)
)

// RemoteError is an error of an unregistered type after it crossed from
// another node: its text, exactly, and errors.Is still matches the
// registered errors (the runtime's exit reasons, genserver's errors, those
// given to RegisterError) that the original matched.
type RemoteError = wire.RemoteError
