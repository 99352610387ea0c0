// Package observer is a live web view of a node, as Erlang's observer:
// its supervision trees with restarts and recent crashes, a process table
// to sort and filter, a page per process (info, links, monitors, crash
// reports, trace, state), and charts of the node's last minutes.
//
// Handler returns an http.Handler to mount under any prefix:
//
//	http.Handle("/observer/", http.StripPrefix("/observer", observer.Handler(node)))
//
// The page is plain HTML, CSS and JavaScript embedded in the program; it
// polls a small JSON API beside it. Nothing runs until the page is asked
// for: a sampler that keeps the charts' figures and the recent crash
// reports starts with the first request and stops when nobody has asked
// for a while (WithIdle), as net/http/pprof and expvar do nothing until
// asked.
//
// The page only reads, unless the handler is made WithActions: then it
// can kill and stop processes, switch tracing, and flip the switches given
// with WithSwitch, by POST requests from the same origin only.
//
// The JSON API under api/ takes an optional node parameter naming the node
// to show; api/nodes lists them. Alone, a handler shows the node it was
// given; WithPeers adds the other nodes of a cluster, whose data the page
// then shows through the handler, each node answering with its own
// observer (ServeAPI), and choosing for itself whether actions are allowed.
package observer

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/process"
)

//go:embed static
var static embed.FS

// DefaultIdle is how long the sampler runs after the last request.
const DefaultIdle = time.Minute

// Option configures a Handler.
type Option func(*config)

type config struct {
	actions  bool
	idle     time.Duration
	every    time.Duration
	title    string
	switches []*Switch
	peers    Peers
	forward  time.Duration
}

// WithActions allows (on true) the page to change things: exit or kill a
// process, turn its trace on and off, flip switches. Each is a POST
// accepted from the page's own origin only. Off by default.
func WithActions(on bool) Option { return func(c *config) { c.actions = on } }

// WithIdle sets how long the sampler keeps running after the last request
// (DefaultIdle).
func WithIdle(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.idle = d
		}
	}
}

// WithTitle sets the page's title (by default "spawned observer").
func WithTitle(title string) Option { return func(c *config) { c.title = title } }

// withSampleEvery sets the sampler's period (1 s); for tests.
func withSampleEvery(d time.Duration) Option { return func(c *config) { c.every = d } }

// Switch is an on/off control of the program, shown on the page (a chaos
// monkey, a feature flag). Flipping it needs WithActions.
//
// Get and Set are the program's code, run on the request's goroutine. A
// panic in them is recovered and logged with its stack on the node's
// logger; it costs no more than the one switch: the page (api/overview)
// shows that switch with the error instead of on or off and all else as
// usual, and a POST to api/switch that panics is answered 500 with the
// API's JSON error, naming the switch.
type Switch struct {
	Name string        // its label on the page; required
	Help string        // a sentence shown beside it
	Get  func() bool   // reports whether it is on; required
	Set  func(on bool) // turns it on or off; required
}

// WithSwitch adds a switch to the page.
func WithSwitch(s Switch) Option {
	return func(c *config) {
		if s.Name != "" && s.Get != nil && s.Set != nil {
			c.switches = append(c.switches, &s)
		}
	}
}

// Observer is the handler Handler returns.
type Observer struct {
	node    *process.Node
	cn      *core.Node
	cfg     config
	files   http.Handler
	sampler sampler
}

// Handler returns the observer of node, to mount under any prefix. Close
// it to stop its sampler at once rather than after WithIdle.
func Handler(node *process.Node, opts ...Option) *Observer {
	cfg := config{idle: DefaultIdle, every: time.Second, title: "spawned observer", forward: DefaultForwardTimeout}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	sub, _ := fs.Sub(static, "static")
	o := &Observer{node: node, cn: (*core.Node)(node), cfg: cfg, files: http.FileServerFS(sub)}
	o.sampler.init(o)
	return o
}

// Close stops the sampler and waits for it; the handler still serves
// pages afterwards, without charts.
func (o *Observer) Close() { o.sampler.close() }

// ServeHTTP serves the page, its files and its API.
func (o *Observer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if i := strings.LastIndex(path, "/api/"); i >= 0 {
		o.api(w, r, path[i+len("/api/"):])
		return
	}
	switch {
	case strings.HasSuffix(path, "/app.js"), strings.HasSuffix(path, "/app.css"):
		w.Header().Set("Cache-Control", "no-cache")
		r2 := new(http.Request)
		*r2 = *r
		r2.URL = &url.URL{Path: path[strings.LastIndex(path, "/"):]}
		o.files.ServeHTTP(w, r2)
	default:
		page, err := static.ReadFile("static/index.html")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write([]byte(strings.ReplaceAll(string(page), "{{title}}", htmlEscape(o.cfg.title))))
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// errStatus is an error with the HTTP status it is answered with.
type errStatus struct {
	code int
	msg  string
}

func (e *errStatus) Error() string { return e.msg }

func fail(code int, msg string) error { return &errStatus{code: code, msg: msg} }

// api serves one JSON endpoint: this node's, or another's through Peers.
func (o *Observer) api(w http.ResponseWriter, r *http.Request, name string) {
	o.sampler.touch()
	if o.node == nil {
		writeError(w, fail(http.StatusServiceUnavailable, "no node"))
		return
	}
	q := r.URL.Query()
	if id := q.Get("node"); id != "" && id != o.node.ID().String() && name != "nodes" {
		o.forward(w, r, id, name)
		return
	}
	var body []byte
	if r.Method == http.MethodPost {
		var err error
		if !o.cfg.actions {
			err = fail(http.StatusForbidden, "actions are not allowed by this observer")
		} else if err = sameOrigin(r); err == nil {
			body, err = readBody(r)
		}
		if err != nil {
			writeError(w, err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	v, err := o.answer(ctx, r.Method, name, q, body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// answer serves one endpoint of this node; a POST must be allowed and
// checked before.
func (o *Observer) answer(ctx context.Context, method, name string, q url.Values, body []byte) (any, error) {
	switch method {
	case http.MethodGet:
		return o.get(ctx, q, name)
	case http.MethodPost:
		return o.post(name, body)
	}
	return nil, fail(http.StatusMethodNotAllowed, "method not allowed")
}

// maxBody bounds the body of an action.
const maxBody = 1 << 16

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return nil, fail(http.StatusBadRequest, "bad request body: "+err.Error())
	}
	return b, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// statusOf is the HTTP status an error is answered with.
func statusOf(err error) int {
	var es *errStatus
	if errors.As(err, &es) {
		return es.code
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), map[string]string{"error": err.Error()})
}

func (o *Observer) get(ctx context.Context, q url.Values, name string) (any, error) {
	switch name {
	case "nodes":
		return o.nodes(), nil
	case "overview":
		return o.overview(), nil
	case "tree":
		return o.tree(ctx), nil
	case "processes":
		return o.processes(q), nil
	case "process":
		return o.process(ctx, q)
	}
	return nil, fail(http.StatusNotFound, "no such endpoint: "+name)
}

func (o *Observer) post(name string, raw []byte) (any, error) {
	if !o.cfg.actions {
		return nil, fail(http.StatusForbidden, "actions are not allowed by this observer")
	}
	var body struct {
		Pid    string `json:"pid"`
		Reason string `json:"reason"`
		On     bool   `json:"on"`
		Name   string `json:"name"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fail(http.StatusBadRequest, "bad request body: "+err.Error())
	}
	switch name {
	case "exit":
		return o.exit(body.Pid, body.Reason)
	case "trace":
		return o.trace(body.Pid, body.On)
	case "switch":
		for _, s := range o.cfg.switches {
			if s.Name == body.Name {
				if err := o.setSwitch(s, body.On); err != nil {
					return nil, err
				}
				on, err := o.getSwitch(s)
				if err != nil {
					return nil, err
				}
				return map[string]bool{"on": on}, nil
			}
		}
		return nil, fail(http.StatusNotFound, "no such switch: "+body.Name)
	}
	return nil, fail(http.StatusNotFound, "no such action: "+name)
}

// getSwitch runs s.Get, turning a panic into an error naming the switch.
func (o *Observer) getSwitch(s *Switch) (on bool, err error) {
	defer o.recoverSwitch(s, "Get", &err)
	return s.Get(), nil
}

// setSwitch runs s.Set, turning a panic into an error naming the switch.
func (o *Observer) setSwitch(s *Switch, on bool) (err error) {
	defer o.recoverSwitch(s, "Set", &err)
	s.Set(on)
	return nil
}

// recoverSwitch, deferred around the switch's code, recovers a panic of
// it, logs it with its stack and sets *err to a 500 naming the switch.
func (o *Observer) recoverSwitch(s *Switch, what string, err *error) {
	v := recover()
	if v == nil {
		return
	}
	if o.cn != nil {
		o.cn.Logger().Error("observer: a switch panicked", zap.String("switch", s.Name), zap.String("func", what),
			zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", debug.Stack()))
	}
	*err = fail(http.StatusInternalServerError, fmt.Sprintf("switch %q: %s panicked: %v", s.Name, what, v))
}

// sameOrigin accepts a request sent by the page itself: it must carry the
// page's header (which another site's form cannot set, and its scripts
// cannot without the browser's leave) and, when the browser names an
// origin, the handler's own.
func sameOrigin(r *http.Request) error {
	if r.Header.Get("X-Observer") != "1" {
		return fail(http.StatusForbidden, "missing X-Observer header")
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return fail(http.StatusForbidden, "cross-site request refused")
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return fail(http.StatusForbidden, "cross-origin request refused")
		}
	}
	return nil
}
