// The observer's page: it polls the JSON API beside it (relative URLs, so
// the handler can be mounted under any prefix) and draws what it gets.
// It redraws every second, so its controls act when pressed ("onpress"):
// an element redrawn between press and release would lose its click.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { node: "", sort: "queue", desc: true, filter: "", open: null, collapsed: new Set(), overview: null };

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "onpress") e.addEventListener("pointerdown", (ev) => { if (ev.button === 0) v(ev); });
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k.nodeType ? k : String(k));
  return e;
}

function q(params) {
  const p = new URLSearchParams(params);
  if (p.get("node") === "") p.delete("node");
  else if (state.node) p.set("node", state.node);
  const s = p.toString();
  return s ? "?" + s : "";
}

async function get(path, params) {
  const r = await fetch("api/" + path + q(params || {}), { cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

async function post(path, body) {
  const r = await fetch("api/" + path + q({}), {
    method: "POST", headers: { "Content-Type": "application/json", "X-Observer": "1" }, body: JSON.stringify(body),
  });
  const out = await r.json();
  if (!r.ok) throw new Error(out.error || r.statusText);
  return out;
}

function fmt(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(1) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return String(Math.round(n * 10) / 10);
}

// shortPid drops a Pid's node identity, the same for every process of a node.
function shortPid(p) { return (p || "").replace(/^<[0-9a-f-]+\./, "<…"); }

function ago(s) {
  if (s < 60) return Math.round(s) + "s ago";
  if (s < 3600) return Math.round(s / 60) + "m ago";
  return Math.round(s / 3600) + "h ago";
}

// ---- header, cards and charts ---------------------------------------------

// loadNodes fills the node selector: this node, then the other nodes of
// its cluster (WithPeers), whose data the handler fetches from them.
async function loadNodes() {
  const { nodes } = await get("nodes", { node: "" });
  const sel = $("#node");
  const label = (n) => (n.name || n.id) + (n.local ? " (local)" : n.up ? "" : " (down)");
  const opts = nodes.map((n) => el("option", { value: n.id, title: n.id, "data-up": n.up ? "1" : "0" }, label(n)));
  if (state.node && !nodes.some((n) => n.id === state.node)) opts.push(el("option", { value: state.node, title: state.node }, state.node + " (gone)"));
  sel.replaceChildren(...opts);
  if (!state.node && nodes.length) state.node = nodes[0].id;
  sel.value = state.node;
  sel.onchange = () => selectNode(sel.value);
}

// selectNode shows another node: every view is redrawn from its data.
function selectNode(id) {
  if (id === state.node) return;
  state.node = id;
  state.open = null;
  $("#panel").hidden = true;
  state.collapsed.clear();
  lastTree = null;
  $("#tree").replaceChildren(el("p", { class: "empty" }, "loading…"));
  $("#table tbody").replaceChildren();
  $("#cards").replaceChildren();
  for (const id of ["#c-procs", "#c-msgs", "#c-rest"]) $(id).replaceChildren();
  for (const id of ["#v-procs", "#v-msgs", "#v-rest", "#count"]) $(id).textContent = "";
  setHash();
  refresh();
}

// setHash keeps the node and the open process in the address, for a reload.
function setHash() {
  const p = new URLSearchParams();
  if (state.node) p.set("node", state.node);
  if (state.open) p.set("pid", state.open);
  history.replaceState(null, "", location.pathname + location.search + (p.toString() ? "#" + p.toString() : ""));
}

function drawChart(svg, values, color, values2, color2) {
  const w = 300, h = 70, pad = 4;
  const all = values.concat(values2 || []);
  const max = Math.max(1, ...all);
  const line = (vs) => vs.map((v, i) => {
    const x = vs.length < 2 ? w : (i / (vs.length - 1)) * w;
    const y = h - pad - (v / max) * (h - 2 * pad);
    return x.toFixed(1) + "," + y.toFixed(1);
  }).join(" ");
  const kids = [];
  if (values.length) {
    kids.push(`<polyline points="0,${h} ${line(values)} ${w},${h}" fill="${color}" fill-opacity="0.12" stroke="none"/>`);
    kids.push(`<polyline points="${line(values)}" fill="none" stroke="${color}" stroke-width="1.6" vector-effect="non-scaling-stroke"/>`);
  }
  if (values2 && values2.some((v) => v > 0)) {
    kids.push(`<polyline points="${line(values2)}" fill="none" stroke="${color2}" stroke-width="1.4" vector-effect="non-scaling-stroke"/>`);
  }
  svg.innerHTML = kids.join("");
}

function drawOverview(o) {
  state.overview = o;
  $("#mode").textContent = o.actions ? "actions allowed" : "read only";
  $("#mode").classList.toggle("on", o.actions);
  $("#mode").title = "decided by the observer of the node shown";
  const s = o.stats;
  const exitsAbnormal = Object.entries(o.exits).filter(([k]) => k !== "normal" && k !== "shutdown").reduce((a, [, v]) => a + v, 0);
  const cards = [
    ["processes", s.Processes], ["spawned", s.Spawned], ["exited", s.Exited], ["crashed", exitsAbnormal],
    ["names", s.Names], ["stragglers", s.Stragglers], ["blocking pool", o.poolInUse + " / " + o.poolSize],
  ];
  $("#cards").replaceChildren(...cards.map(([k, v]) => el("div", { class: "card", "data-card": k }, el("b", {}, typeof v === "number" ? fmt(v) : v), el("span", {}, k))));
  const sw = $("#switches");
  sw.replaceChildren(...(o.switches || []).map((x) => el("button", {
    class: "toggle small" + (x.error ? " err" : x.on ? " on" : ""), title: x.error || x.help, "data-switch": x.name, disabled: !o.actions,
    onpress: async () => { try { await post("switch", { name: x.name, on: !x.on }); refresh(); } catch (e) { status(e.message); } },
  }, x.name + (x.error ? ": error" : x.on ? ": on" : ": off"))));
  const pts = o.samples || [];
  const procs = pts.map((p) => p.processes), msgs = pts.map((p) => p.msgs);
  const rest = pts.map((p) => p.restarts), crashes = pts.map((p) => p.crashes);
  drawChart($("#c-procs"), procs, "#2f6fdd");
  drawChart($("#c-msgs"), msgs, "#1f9d55");
  drawChart($("#c-rest"), rest, "#c77c02", crashes, "#d64545");
  const last = pts[pts.length - 1] || {};
  $("#v-procs").textContent = last.processes !== undefined ? fmt(last.processes) : "";
  $("#v-msgs").textContent = last.msgs !== undefined ? fmt(last.msgs) : "";
  $("#v-rest").textContent = pts.length ? fmt(rest.reduce((a, b) => a + b, 0)) + " / " + fmt(crashes.reduce((a, b) => a + b, 0)) : "";
}

function status(msg, err) {
  $("#status").textContent = msg;
  $("#status").classList.toggle("err", !!err);
}

// ---- supervision trees -----------------------------------------------------

function nodeKey(path) { return path.join("/"); }

function drawTree(node, path) {
  const key = nodeKey(path);
  const kids = node.children || [];
  const hasKids = kids.length > 0;
  const collapsed = hasKids && state.collapsed.has(key);
  const label = node.name || node.id || node.pid;
  const row = el("div", { class: "row", onpress: (e) => {
    if (e.target.classList.contains("twisty") && hasKids) {
      if (state.collapsed.has(key)) state.collapsed.delete(key); else state.collapsed.add(key);
      refreshTree();
      return;
    }
    if (node.pid) openProcess(node.pid);
  } },
    el("span", { class: "twisty" }, hasKids ? (collapsed ? "▸" : "▾") : ""),
    el("span", { class: "dot " + node.status }),
    el("span", { class: "tname" }, label),
    node.id && node.name && node.id !== node.name ? el("span", { class: "tid" }, "(" + node.id + ")") : null,
    node.supervisor ? el("span", { class: "badge sup" }, node.supervisor.strategy) : el("span", { class: "tbeh" }, node.behaviour || ""),
    node.restarts > 0 ? el("span", { class: "badge restarts", title: "restarts", "data-restarts": node.restarts }, "↻ " + node.restarts) : null,
    node.crashed ? el("span", { class: "badge crash", title: node.lastExit + " (" + ago(node.lastExitAgo) + ")" }, "crashed") : null,
    !node.pid ? el("span", { class: "badge down" }, node.status) : null,
    el("span", { class: "tpid", title: node.pid || "" }, shortPid(node.pid)),
  );
  const li = el("li", { class: "tree-node" + (collapsed ? " collapsed" : "") + (node.crashed ? " crashed" : ""),
    "data-pid": node.pid, "data-name": label, "data-restarts": node.restarts }, row);
  if (hasKids) li.append(el("ul", { class: "tree" }, kids.map((k) => drawTree(k, path.concat(k.id || k.name || k.pid)))));
  return li;
}

let lastTree = null;
function refreshTree() {
  if (!lastTree) return;
  const roots = lastTree.roots || [];
  $("#tree").replaceChildren(roots.length
    ? el("ul", { class: "tree" }, roots.map((r) => drawTree(r, [r.name || r.pid])))
    : el("p", { class: "empty" }, "no supervisor on this node"));
}

// ---- process table ---------------------------------------------------------

function drawTable(data) {
  $("#count").textContent = data.total + " total" + (data.total > data.processes.length ? ", first " + data.processes.length + " shown" : "");
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.classList.toggle("sorted", th.dataset.sort === state.sort);
    th.classList.toggle("asc", th.dataset.sort === state.sort && !state.desc);
  }
  $("#table tbody").replaceChildren(...data.processes.map((p) => el("tr", {
    class: p.queue > 100 ? "busy" : "", "data-pid": p.pid, onpress: () => openProcess(p.pid),
  },
    el("td", { class: "mono", title: p.pid }, shortPid(p.pid)), el("td", {}, p.name), el("td", { class: "mono" }, p.behaviour),
    el("td", {}, p.backend), el("td", {}, p.status + (p.traced ? " ⦿" : "")),
    el("td", { class: "num q" }, fmt(p.queue)), el("td", { class: "num" }, fmt(p.handled)), el("td", { class: "num" }, fmt(p.sent)),
  )));
}

// ---- one process -------------------------------------------------------------

function openProcess(pid) {
  state.open = pid;
  setHash();
  $("#panel").hidden = false;
  loadProcess(true);
}

function closeProcess() {
  state.open = null;
  $("#panel").hidden = true;
  setHash();
}

async function loadProcess(withState) {
  const pid = state.open;
  if (!pid) return;
  let p;
  try { p = await get("process", { pid, state: withState ? "1" : "0" }); }
  catch (e) { $("#detail").replaceChildren(el("h3", {}, pid), el("p", { class: "empty" }, e.message)); return; }
  if (pid !== state.open) return;
  const actions = state.overview && state.overview.actions;
  const act = (label, cls, fn) => el("button", { class: cls, disabled: !actions || !p.alive, id: "btn-" + label.split(" ")[0].toLowerCase(),
    onpress: async () => { try { await fn(); await loadProcess(false); refresh(); } catch (e) { status(e.message); } } }, label);
  const list = (xs) => xs.length ? xs.map((x) => el("div", { class: "link", onpress: () => openProcess(x.replace(/^\S+ (?=<)/, "")) }, x)) : "—";
  const dl = el("dl", {}, [
    ["status", p.alive ? p.status : "exited"], ["backend", p.backend], ["behaviour", p.behaviour], ["trap exits", String(p.trapExit)],
    ["mailbox", p.queue + (p.waitingSenders ? " (" + p.waitingSenders + " senders waiting)" : "")],
    ["received", p.received], ["handled", p.handled], ["sent", p.sent],
  ].map(([k, v]) => [el("dt", {}, k), el("dd", {}, v === undefined ? "" : String(v))]).flat(),
    el("dt", {}, "links"), el("dd", {}, list(p.links)),
    el("dt", {}, "monitors"), el("dd", {}, list(p.monitors)),
    el("dt", {}, "monitored by"), el("dd", {}, list(p.monitoredBy)),
    el("dt", {}, "groups"), el("dd", {}, p.groups.join(", ") || "—"),
  );
  const parts = [
    el("h3", {}, (p.name ? p.name + " " : "") + p.pid), dl,
    el("div", { class: "actions" },
      act("Kill", "danger", () => post("exit", { pid: p.pid, reason: "kill" })),
      act("Exit shutdown", "", () => post("exit", { pid: p.pid, reason: "shutdown" })),
      act(p.traced ? "Trace off" : "Trace on", "", () => post("trace", { pid: p.pid, on: !p.traced })),
      actions ? null : el("span", { class: "muted" }, "actions are off for this observer"),
    ),
  ];
  if (p.children) {
    parts.push(el("h4", {}, "children"), el("pre", {}, p.children.map((c) => `${c.id || "-"}  ${c.pid || "(no process)"}  ${c.status}  restarts ${c.restarts}`).join("\n")));
  }
  if (p.state || p.stateError) parts.push(el("h4", {}, "state"), el("pre", { id: "state" }, p.state || p.stateError));
  parts.push(el("h4", {}, "trace " + (p.traced ? "(on)" : "")));
  parts.push(p.trace && p.trace.length
    ? el("pre", { id: "trace" }, p.trace.map((t) => `${t.time} ${t.op.padEnd(11)} ${t.peer || ""} ${t.text || ""}`).join("\n"))
    : el("p", { class: "empty" }, p.traced ? "nothing yet" : "not traced"));
  parts.push(el("h4", {}, "recent crash reports"));
  parts.push(p.crashes.length
    ? p.crashes.map((c) => el("pre", {}, `${c.time}  ${c.pid}${c.name ? " " + c.name : ""}\n${c.reason}${c.stack ? "\n\n" + c.stack : ""}`))
    : el("p", { class: "empty" }, "none seen while this page was open"));
  $("#detail").replaceChildren(...parts);
}

// ---- polling -----------------------------------------------------------------

let busy = false, ticks = 0;
async function refresh() {
  if (busy) return;
  busy = true;
  const node = state.node;
  try {
    if (++ticks % 5 === 0) await loadNodes();
    const [o, tree, table] = await Promise.all([
      get("overview"), get("tree"),
      get("processes", { sort: state.sort, desc: state.desc ? "1" : "0", filter: state.filter, limit: "500" }),
    ]);
    if (node !== state.node) return; // another node was chosen meanwhile
    drawOverview(o);
    lastTree = tree;
    refreshTree();
    drawTable(table);
    if (state.open) await loadProcess(false);
    status("updated " + new Date().toLocaleTimeString());
  } catch (e) {
    if (node !== state.node) return;
    status("error: " + e.message, true);
    if (!lastTree) $("#tree").replaceChildren(el("p", { class: "empty err" }, e.message));
  } finally {
    busy = false;
  }
}

function init() {
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.onclick = () => {
      if (state.sort === th.dataset.sort) state.desc = !state.desc;
      else { state.sort = th.dataset.sort; state.desc = ["queue", "handled", "sent"].includes(state.sort); }
      refresh();
    };
  }
  let t;
  $("#filter").oninput = (e) => { clearTimeout(t); t = setTimeout(() => { state.filter = e.target.value; refresh(); }, 200); };
  $("#close").onclick = closeProcess;
  $("#expand").onclick = () => { state.collapsed.clear(); refreshTree(); };
  $("#collapse").onclick = collapseAll;
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.get("node")) state.node = h.get("node");
  if (h.get("pid")) openProcess(h.get("pid"));
  loadNodes().then(refresh).catch((e) => status("error: " + e.message, true));
  setInterval(refresh, 1000);
}

function collapseAll() {
  const walk = (n, path) => {
    if (n.children && n.children.length) {
      state.collapsed.add(nodeKey(path));
      for (const k of n.children) walk(k, path.concat(k.id || k.name || k.pid));
    }
  };
  for (const r of (lastTree && lastTree.roots) || []) walk(r, [r.name || r.pid]);
  refreshTree();
}

init();
