package observer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/spawned-go/spawned/observer"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/supervisor"
)

// The observer mounted under /observer/ of a program's mux. Here its tree
// is read through the JSON API the page polls.
func Example() {
	node := process.NewNode(process.WithLogger(nil))
	defer node.Stop(context.Background())
	supervisor.Start(context.Background(), node, supervisor.Spec{Name: "top", Children: []supervisor.ChildSpec{
		{ID: "worker", Start: supervisor.Func(func(p *process.Process) error { <-p.Context().Done(); return nil })},
	}})

	obs := observer.Handler(node) // read only: WithActions(true) lets the page kill and trace
	defer obs.Close()
	mux := http.NewServeMux()
	mux.Handle("/observer/", obs) // any prefix: the page uses relative links

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/observer/api/tree", nil))
	var tree struct {
		Roots []struct {
			Name     string
			Children []struct{ ID, Status string }
		}
	}
	json.Unmarshal(rec.Body.Bytes(), &tree)
	for _, r := range tree.Roots {
		fmt.Println(r.Name, r.Children)
	}
	// Output:
	// top [{worker running}]
}
