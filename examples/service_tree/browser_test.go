package main

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spawned-go/spawned/pid"
)

// browser finds a Chromium to drive, or skips the test saying why.
func browser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium installed (Debian: apt-get install chromium): the observer's browser test cannot run")
	return ""
}

// TestObserverInABrowser drives the observer's page in headless Chromium
// over the running tree: it sees the tree, kills the cache from the page,
// sees the restart appear, turns the chaos monkey on from the page, and
// saves a screenshot (to $SPAWNED_SCREENSHOT when set, as docs/observer.png
// is made).
func TestObserverInABrowser(t *testing.T) {
	exe := browser(t)
	d, err := startDemo(io.Discard, false, 1200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ts := httptest.NewServer(d.Observer)
	defer ts.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	)
	defer cancelAlloc()
	page, closePage := chromedp.NewContext(alloc)
	defer closePage()

	const cache = `li.tree-node[data-name="cache"]`
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	// press presses the element sel once it is there. The page redraws
	// every second, so the element is found and pressed in one step.
	press := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](`(() => { const e = document.querySelector(`+strconv.Quote(sel)+`);
				if (!e || e.disabled) return false;
				e.dispatchEvent(new PointerEvent("pointerdown", { bubbles: true, button: 0 }));
				return true; })()`, chromedp.WithPollingTimeout(30*time.Second))(ctx, tg)
			return err
		})
	}
	// failf fails the test with what the page shows.
	failf := func(format string, args ...any) {
		t.Helper()
		text, _ := chromedp.Run(page, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf(format+"\npage:\n%s", append(args, text)...)
	}
	attr := func(sel, name string) string {
		t.Helper()
		r, err := chromedp.Run(page, chromedp.AttributeValue(css(sel), name))
		if err != nil || !r.Exists {
			failf("%s[%s]: %v", sel, name, err)
		}
		return r.Value
	}
	// The tree is drawn, with the cache under storage.
	if err := chromedp.Do(page,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(css(`li.tree-node[data-name="storage"] `+cache)),
	); err != nil {
		failf("the page never showed the tree: %v", err)
	}
	oldPid := attr(cache, "data-pid")
	if r := attr(cache, "data-restarts"); oldPid == "" || r != "0" {
		t.Fatalf("cache pid %q restarts %q", oldPid, r)
	}
	// Kill it from its page; the supervisor restarts it, and the tree says so.
	if err := chromedp.Do(page,
		press(cache+` > .row`),
		press(`#btn-kill`),
		chromedp.WaitVisible(css(cache+`[data-restarts="1"]`)),
	); err != nil {
		failf("kill from the page: %v", err)
	}
	if newPid := attr(cache, "data-pid"); newPid == oldPid || newPid == "" {
		t.Fatalf("cache pid %q after the kill, was %q", newPid, oldPid)
	}
	if d.node.Alive(mustParse(t, oldPid)) {
		t.Fatal("the killed cache is alive")
	}
	// Chaos from the page: more restarts and crashes appear; then the
	// screenshot, with the db's page open.
	if err := chromedp.Do(page,
		chromedp.Click(css(`#close`)),
		press(`button[data-switch="chaos"]`),
		chromedp.WaitVisible(css(`button[data-switch="chaos"].on`)),
	); err != nil {
		failf("chaos from the page: %v", err)
	}
	if _, err := chromedp.Run(page, chromedp.Poll[bool](
		`document.querySelectorAll(".badge.restarts").length >= 3 && document.querySelector(".badge.crash") !== null`,
		chromedp.WithPollingTimeout(time.Minute))); err != nil {
		failf("no restarts appeared under chaos: %v", err)
	}
	if !d.chaos.Load() {
		t.Fatal("the page's switch did not turn chaos on")
	}
	// The charts have drawn a few seconds (a sample a second) when the
	// screenshot is taken.
	if _, err := chromedp.Run(page, chromedp.Poll[bool](`state.overview && state.overview.samples.length >= 12`,
		chromedp.WithPollingTimeout(time.Minute))); err != nil {
		failf("the charts never filled: %v", err)
	}
	shot, err := chromedp.Run(page, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	// A process's page shows what it is. Under chaos the db may die between
	// the click and the page's fetch (its page then shows an exited
	// process), so chaos goes off and the row is clicked again until the
	// page shows a live db.
	d.chaos.Store(false)
	if _, err := chromedp.Run(page, chromedp.Poll[bool](`(() => {
		const detail = document.querySelector("#detail");
		if (detail && detail.textContent.includes("*main.DB")) return true;
		const row = document.querySelector('li.tree-node[data-name="db"] > .row');
		if (row) row.dispatchEvent(new PointerEvent("pointerdown", { bubbles: true, button: 0 }));
		return false;
	})()`, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(500*time.Millisecond))); err != nil {
		failf("the db's page does not say what it runs: %v", err)
	}
	path := os.Getenv("SPAWNED_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "observer.png")
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func mustParse(t *testing.T, s string) pid.Pid {
	t.Helper()
	p, err := pid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
