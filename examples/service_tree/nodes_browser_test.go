package main

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spawned-go/spawned/observer"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/spawntest"
	"github.com/spawned-go/spawned/supervisor"
)

// twoPeers is a cluster of two nodes in one program, for the selector:
// a request for the other node is answered by its observer directly (a
// real cluster carries it over NATS: package cluster).
type twoPeers struct {
	nodes []observer.Node
	other *observer.Observer
}

func (p *twoPeers) Nodes() []observer.Node { return p.nodes }

func (p *twoPeers) Forward(ctx context.Context, id string, req observer.Request) (observer.Response, error) {
	if id != p.nodes[1].ID {
		return observer.Response{}, observer.ErrUnknownNode
	}
	return p.other.ServeAPI(ctx, req), nil
}

// TestObserverNodeSelectorInABrowser: the page of node a switches to node
// b in its selector, shows b's tree, and kills b's worker from the page,
// which both observers allow.
func TestObserverNodeSelectorInABrowser(t *testing.T) {
	exe := browser(t)
	a, b := spawntest.NewNode(t), spawntest.NewNode(t)
	idle := func(p *process.Process) error { <-p.Context().Done(); return nil }
	for n, name := range map[*process.Node]string{a: "a", b: "b"} {
		if _, err := supervisor.Start(spawntest.Context(t), n, supervisor.Spec{Name: name + "-top", Intensity: 10, Period: time.Hour,
			Children: []supervisor.ChildSpec{{ID: name + "-worker", Start: supervisor.Func(idle)}}}); err != nil {
			t.Fatal(err)
		}
	}
	ob := observer.Handler(b, observer.WithActions(true))
	defer ob.Close()
	peers := &twoPeers{other: ob, nodes: []observer.Node{{ID: a.ID().String(), Name: "a", Up: true}, {ID: b.ID().String(), Name: "b", Up: true}}}
	oa := observer.Handler(a, observer.WithPeers(peers), observer.WithActions(true))
	defer oa.Close()
	ts := httptest.NewServer(oa)
	defer ts.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 900))
	defer cancelAlloc()
	page, closePage := chromedp.NewContext(alloc)
	defer closePage()
	failf := func(format string, args ...any) {
		t.Helper()
		text, _ := chromedp.Run(page, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf(format+"\npage:\n%s", append(args, text)...)
	}
	poll := func(js string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](js, chromedp.WithPollingTimeout(30*time.Second))(ctx, tg)
			return err
		})
	}
	press := func(sel string) chromedp.Action[chromedp.Void] {
		return poll(`(() => { const e = document.querySelector(` + strconv.Quote(sel) + `);
			if (!e || e.disabled) return false;
			e.dispatchEvent(new PointerEvent("pointerdown", { bubbles: true, button: 0 }));
			return true; })()`)
	}
	const worker = `li.tree-node[data-name="b-worker"]`
	if err := chromedp.Do(page,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`li.tree-node[data-name="a-top"]`)),
		poll(`document.querySelectorAll("#node option").length === 2 && document.querySelector("#mode").textContent === "actions allowed"`),
	); err != nil {
		failf("node a's page: %v", err)
	}
	// Node b in the selector: its tree replaces a's, and its observer's
	// "actions allowed" shows.
	if err := chromedp.Do(page,
		poll(`(() => { const s = document.querySelector("#node");
			s.value = s.options[1].value; s.dispatchEvent(new Event("change")); return true; })()`),
		chromedp.WaitVisible(chromedp.CSS(worker)),
		poll(`!document.querySelector('li.tree-node[data-name="a-top"]') && document.querySelector("#mode").textContent === "actions allowed"`),
	); err != nil {
		failf("node b in the selector: %v", err)
	}
	// Kill b's worker from the page: b restarts it, and the tree says so.
	if err := chromedp.Do(page,
		press(worker+` > .row`),
		press(`#btn-kill`),
		chromedp.WaitVisible(chromedp.CSS(worker+`[data-restarts="1"]`)),
	); err != nil {
		failf("kill on node b from a's page: %v", err)
	}
}
