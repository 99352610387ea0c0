package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"

	"github.com/spawned-go/spawned/cluster"
	"github.com/spawned-go/spawned/observer"
	"github.com/spawned-go/spawned/process"
)

// The web observer of node a shows node b as well: each node serves its
// observer to the cluster, and a's page fetches b's views through a. Here
// a's API is asked for b's process table, as the page does when b is
// chosen in its node selector.
func ExampleCluster_ServeObserver() {
	ctx := context.Background()
	a := process.NewNode(process.WithLogger(nil))
	b := process.NewNode(process.WithLogger(nil))
	defer a.Stop(ctx)
	defer b.Stop(ctx)
	ca, err := cluster.Join(ctx, a, cluster.Config{Cluster: "example-observer", Name: "a"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ca.Leave(ctx)
	cb, err := cluster.Join(ctx, b, cluster.Config{Cluster: "example-observer", Name: "b"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cb.Leave(ctx)

	// Each node: an observer that knows the cluster, served to it.
	oa := observer.Handler(a, observer.WithPeers(ca.ObserverPeers()))
	defer oa.Close()
	ob := observer.Handler(b, observer.WithPeers(cb.ObserverPeers()))
	defer ob.Close()
	fmt.Println(ca.ServeObserver(ctx, oa), cb.ServeObserver(ctx, ob))

	b.Spawn(func(p *process.Process) error { <-p.Context().Done(); return nil }, process.WithName("worker"))

	rec := httptest.NewRecorder()
	oa.ServeHTTP(rec, httptest.NewRequest("GET", "/api/processes?filter=worker&node="+b.ID().String(), nil))
	var table struct{ Processes []struct{ Name string } }
	json.Unmarshal(rec.Body.Bytes(), &table)
	fmt.Println(rec.Code, table.Processes)
	// Output:
	// <nil> <nil>
	// 200 [{worker}]
}
