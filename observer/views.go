package observer

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spawned-go/spawned/genserver"
	"github.com/spawned-go/spawned/internal/core"
	"github.com/spawned-go/spawned/pid"
	"github.com/spawned-go/spawned/process"
	"github.com/spawned-go/spawned/supervisor"
)

// recentCrash is how long a child's abnormal exit marks it on the tree.
const recentCrash = 15 * time.Second

type switchView struct {
	Name  string `json:"name"`
	Help  string `json:"help"`
	On    bool   `json:"on"`
	Error string `json:"error,omitempty"` // its Get panicked: On is unknown
}

type overview struct {
	Node       string            `json:"node"`
	Title      string            `json:"title"`
	Time       time.Time         `json:"time"`
	Actions    bool              `json:"actions"`
	Switches   []switchView      `json:"switches"`
	Stats      process.Stats     `json:"stats"`
	Exits      map[string]uint64 `json:"exits"`
	PoolSize   int               `json:"poolSize"`
	PoolInUse  int               `json:"poolInUse"`
	Samples    []sample          `json:"samples"`
	SampleSecs float64           `json:"sampleSecs"`
}

func (o *Observer) overview() overview {
	v := overview{Node: o.node.ID().String(), Title: o.cfg.title, Time: time.Now(), Actions: o.cfg.actions,
		Stats: o.node.Stats(), Exits: map[string]uint64{}, Samples: o.sampler.samples(), SampleSecs: o.cfg.every.Seconds()}
	v.PoolSize, v.PoolInUse = o.node.BlockingPool()
	exits := o.cn.ExitCounts()
	for _, c := range core.ExitClasses {
		v.Exits[c.String()] = exits[c]
	}
	for _, s := range o.cfg.switches {
		sv := switchView{Name: s.Name, Help: s.Help}
		var err error
		if sv.On, err = o.getSwitch(s); err != nil {
			sv.Error = err.Error()
		}
		v.Switches = append(v.Switches, sv)
	}
	return v
}

// treeNode is one process of a supervision tree.
type treeNode struct {
	Pid         string      `json:"pid"`
	Name        string      `json:"name,omitempty"`
	ID          string      `json:"id,omitempty"` // its child id under its supervisor
	Behaviour   string      `json:"behaviour,omitempty"`
	Status      string      `json:"status"`
	Type        string      `json:"type,omitempty"`
	Restart     string      `json:"restart,omitempty"`
	Restarts    int         `json:"restarts"`
	LastExit    string      `json:"lastExit,omitempty"`
	LastExitAgo float64     `json:"lastExitAgo,omitempty"` // seconds
	Crashed     bool        `json:"crashed"`               // an abnormal exit within the last seconds
	Supervisor  *supView    `json:"supervisor,omitempty"`
	Children    []*treeNode `json:"children,omitempty"`
}

type supView struct {
	Strategy  string `json:"strategy"`
	Dynamic   bool   `json:"dynamic"`
	Intensity int    `json:"intensity"`
	Period    string `json:"period"`
	InWindow  int    `json:"inWindow"`
}

// tree builds the supervision trees: every supervisor's report, nested
// under the supervisor that has it as a child.
func (o *Observer) tree(ctx context.Context) any {
	reports := map[pid.Pid]supervisor.Report{}
	var order []pid.Pid
	o.cn.Each(func(p core.ProcStat) {
		if b, ok := o.cn.Behaviour(p.Pid); ok && b == supervisor.Behaviour {
			order = append(order, p.Pid)
		}
	})
	for _, p := range order {
		if r, err := supervisor.Inspect(ctx, o.node, p); err == nil {
			reports[p] = r
		}
	}
	child := map[pid.Pid]bool{}
	for _, r := range reports {
		for _, c := range r.Children {
			child[c.Pid] = true
		}
	}
	now := time.Now()
	var build func(p pid.Pid, c *supervisor.ChildReport, depth int) *treeNode
	build = func(p pid.Pid, c *supervisor.ChildReport, depth int) *treeNode {
		n := &treeNode{Pid: pidText(p), Status: "running"}
		if !p.IsZero() {
			n.Name, _ = o.cn.NameOf(p)
			n.Behaviour, _ = o.cn.Behaviour(p)
		}
		if c != nil {
			n.ID, n.Status, n.Type, n.Restart, n.Restarts = c.ID, c.Status.String(), c.Type.String(), c.Restart.String(), c.Restarts
			if c.LastExit != nil {
				n.LastExit = core.Render(c.LastExit)
				n.LastExitAgo = now.Sub(c.LastExitAt).Seconds()
				n.Crashed = !process.IsShutdown(c.LastExit) && now.Sub(c.LastExitAt) < recentCrash
			}
		}
		if r, ok := reports[p]; ok && depth < 64 {
			n.Supervisor = &supView{Strategy: r.Strategy.String(), Dynamic: r.Dynamic, Intensity: r.Intensity,
				Period: r.Period.String(), InWindow: r.Restarts}
			if r.Dynamic {
				n.Supervisor.Strategy = "dynamic"
			}
			for i := range r.Children {
				n.Children = append(n.Children, build(r.Children[i].Pid, &r.Children[i], depth+1))
			}
		}
		return n
	}
	roots := []*treeNode{}
	for _, p := range order {
		if _, ok := reports[p]; ok && !child[p] {
			roots = append(roots, build(p, nil, 0))
		}
	}
	slices.SortFunc(roots, func(a, b *treeNode) int { return cmp.Compare(a.Name+a.Pid, b.Name+b.Pid) })
	return map[string]any{"roots": roots}
}

func pidText(p pid.Pid) string {
	if p.IsZero() {
		return ""
	}
	return p.String()
}

// procRow is one row of the process table.
type procRow struct {
	Pid       string `json:"pid"`
	Name      string `json:"name"`
	Behaviour string `json:"behaviour"`
	Backend   string `json:"backend"`
	Status    string `json:"status"`
	Queue     int    `json:"queue"`
	Handled   uint64 `json:"handled"`
	Received  uint64 `json:"received"`
	Sent      uint64 `json:"sent"`
	Traced    bool   `json:"traced"`
}

// maxRows bounds the rows the table endpoint returns.
const maxRows = 1000

// processes lists the processes matching filter, sorted by sort (desc
// for descending), at most limit of them (maxRows).
func (o *Observer) processes(q url.Values) any {
	filter := strings.ToLower(q.Get("filter"))
	var rows []procRow
	o.cn.Each(func(p core.ProcStat) {
		r := procRow{Pid: p.Pid.String(), Backend: p.Backend.String(), Status: p.Status.String(), Queue: p.Queued,
			Handled: p.Handled, Received: p.Received, Sent: p.Sent}
		r.Name, _ = o.cn.NameOf(p.Pid)
		r.Behaviour, _ = o.cn.Behaviour(p.Pid)
		if filter != "" && !strings.Contains(strings.ToLower(r.Pid+" "+r.Name+" "+r.Behaviour+" "+r.Backend+" "+r.Status), filter) {
			return
		}
		rows = append(rows, r)
	})
	total := len(rows)
	key := q.Get("sort")
	less := func(a, b procRow) int {
		switch key {
		case "name":
			return cmp.Compare(a.Name, b.Name)
		case "behaviour":
			return cmp.Compare(a.Behaviour, b.Behaviour)
		case "backend":
			return cmp.Compare(a.Backend, b.Backend)
		case "status":
			return cmp.Compare(a.Status, b.Status)
		case "queue":
			return cmp.Compare(a.Queue, b.Queue)
		case "handled":
			return cmp.Compare(a.Handled, b.Handled)
		case "received":
			return cmp.Compare(a.Received, b.Received)
		case "sent":
			return cmp.Compare(a.Sent, b.Sent)
		}
		return cmp.Compare(serialOf(a.Pid), serialOf(b.Pid))
	}
	desc := q.Get("desc") == "1"
	slices.SortStableFunc(rows, func(a, b procRow) int {
		if desc {
			return less(b, a)
		}
		return less(a, b)
	})
	limit := maxRows
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 && l < maxRows {
		limit = l
	}
	if len(rows) > limit {
		rows = rows[:limit]
	}
	if rows == nil {
		rows = []procRow{}
	}
	for i := range rows {
		if p, err := pid.Parse(rows[i].Pid); err == nil {
			rows[i].Traced = o.node.Traced(p)
		}
	}
	return map[string]any{"processes": rows, "total": total}
}

func serialOf(s string) uint64 {
	if p, err := pid.Parse(s); err == nil {
		return p.Serial()
	}
	return 0
}

type traceView struct {
	Time string `json:"time"`
	Op   string `json:"op"`
	Peer string `json:"peer,omitempty"`
	Text string `json:"text,omitempty"`
}

type processView struct {
	Pid         string              `json:"pid"`
	Alive       bool                `json:"alive"`
	Name        string              `json:"name"`
	Behaviour   string              `json:"behaviour"`
	Backend     string              `json:"backend"`
	Status      string              `json:"status"`
	TrapExit    bool                `json:"trapExit"`
	Queue       int                 `json:"queue"`
	Waiting     int                 `json:"waitingSenders"`
	Received    uint64              `json:"received"`
	Handled     uint64              `json:"handled"`
	Sent        uint64              `json:"sent"`
	Links       []string            `json:"links"`
	Monitors    []string            `json:"monitors"`
	MonitoredBy []string            `json:"monitoredBy"`
	Groups      []string            `json:"groups"`
	Traced      bool                `json:"traced"`
	Trace       []traceView         `json:"trace"`
	Crashes     []crashReport       `json:"crashes"`
	State       string              `json:"state,omitempty"`
	StateError  string              `json:"stateError,omitempty"`
	Children    []map[string]string `json:"children,omitempty"`
}

// process describes one process; a dead one by its trace and crashes only.
func (o *Observer) process(ctx context.Context, q url.Values) (any, error) {
	p, err := pid.Parse(q.Get("pid"))
	if err != nil || p.IsZero() {
		return nil, fail(http.StatusBadRequest, "bad pid: "+q.Get("pid"))
	}
	v := processView{Pid: p.String(), Links: []string{}, Monitors: []string{}, MonitoredBy: []string{}, Groups: []string{}}
	in, err := o.node.Info(p)
	if err == nil {
		v.Alive = true
		v.Name, v.Behaviour, v.Backend, v.Status = in.Name, in.Behaviour, in.Backend.String(), in.Status.String()
		v.TrapExit, v.Queue, v.Waiting = in.TrapExit, in.MessageQueueLen, in.WaitingSenders
		v.Received, v.Handled, v.Sent = in.Received, in.Handled, in.Sent
		for _, l := range in.Links {
			v.Links = append(v.Links, l.String())
		}
		for _, m := range in.Monitors {
			s := m.Pid.String()
			if m.Name != "" {
				s = m.Name + " " + s
			}
			v.Monitors = append(v.Monitors, s)
		}
		for _, m := range in.MonitoredBy {
			if m.IsZero() {
				v.MonitoredBy = append(v.MonitoredBy, "(a watch)")
			} else {
				v.MonitoredBy = append(v.MonitoredBy, m.String())
			}
		}
		v.Groups = append(v.Groups, in.Groups...)
		v.Traced = o.node.Traced(p)
		if q.Get("state") == "1" && in.Behaviour != "func" {
			st, err := genserver.StateOf(ctx, o.node, p)
			switch {
			case errors.Is(err, genserver.ErrNoState):
			case err != nil:
				v.StateError = err.Error()
			default:
				v.State = core.Render(st)
			}
		}
		if in.Behaviour == supervisor.Behaviour {
			if r, err := supervisor.Inspect(ctx, o.node, p); err == nil {
				for _, c := range r.Children {
					v.Children = append(v.Children, map[string]string{"id": c.ID, "pid": pidText(c.Pid), "status": c.Status.String(),
						"restarts": strconv.Itoa(c.Restarts)})
				}
			}
		}
	}
	if log, err := o.node.TraceLog(p); err == nil {
		for _, e := range log {
			v.Trace = append(v.Trace, traceView{Time: e.Time.Format("15:04:05.000000"), Op: e.Op.String(), Peer: pidText(e.Peer), Text: e.Text})
		}
	}
	v.Crashes = o.sampler.crashesOf(p, v.Name)
	if !v.Alive && v.Trace == nil && len(v.Crashes) == 0 {
		return nil, fail(http.StatusNotFound, "no such process: "+p.String())
	}
	return v, nil
}

func (o *Observer) exit(p string, reason string) (any, error) {
	target, err := pid.Parse(p)
	if err != nil || target.IsZero() {
		return nil, fail(http.StatusBadRequest, "bad pid: "+p)
	}
	var r error
	switch reason {
	case "kill":
		r = process.Kill
	case "", "shutdown":
		r = process.Shutdown
	case "normal":
		r = process.Normal
	default:
		r = errors.New(reason)
	}
	if !o.node.Alive(target) {
		return nil, fail(http.StatusNotFound, "no such process: "+p)
	}
	if err := o.node.Exit(target, r); err != nil {
		return nil, err
	}
	return map[string]string{"sent": r.Error()}, nil
}

func (o *Observer) trace(p string, on bool) (any, error) {
	target, err := pid.Parse(p)
	if err != nil || target.IsZero() {
		return nil, fail(http.StatusBadRequest, "bad pid: "+p)
	}
	if on {
		if err := o.node.Trace(target); err != nil {
			return nil, fail(http.StatusNotFound, err.Error())
		}
	} else {
		o.node.Untrace(target)
	}
	return map[string]bool{"traced": o.node.Traced(target)}, nil
}
