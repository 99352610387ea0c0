package cluster

import (
	"context"

	"github.com/spawned-go/spawned/cluster/internal/wire"
	"github.com/spawned-go/spawned/observer"
	"github.com/spawned-go/spawned/pid"
)

// ObserveAs sends req to the observer of the node to as the node from
// would (a node this one's peers may not know), and returns the answer.
func (c *Cluster) ObserveAs(ctx context.Context, from, to pid.NodeID, req observer.Request) (observer.Response, error) {
	var e wire.Enc
	e.Reset(from, to)
	e.AppendFrame(&wire.Frame{Kind: wire.KSys, Cluster: c.tag, Value: sysObserveReq{Method: req.Method, Endpoint: req.Endpoint, Query: req.Query}})
	m, err := c.nc.RequestWithContext(ctx, c.observeSubject(to), e.B)
	if err != nil {
		return observer.Response{}, err
	}
	f, err := wire.DecodeFrame(m.Data, from)
	if err != nil {
		return observer.Response{}, err
	}
	rep := f.Value.(sysObserveRep)
	return observer.Response{Status: rep.Status, Body: rep.Body}, nil
}
