// The console's page: plain JS, no build step. Every piece of text that comes from the bus
// (dead letters are whatever someone published) is put in the page as text, never as HTML.

const SVG = "http://www.w3.org/2000/svg";
const state = { map: null, live: null, open: null };

// ---------------------------------------------------------------- helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) el.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  if (text !== undefined) el.textContent = text;
  return el;
}

function table(headers, rows) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) =>
      c instanceof Node ? h("td", {}, c) : h("td", typeof c === "number" ? { class: "num" } : {}, c ?? "-"))))));
}

async function api(path, options = {}) {
  const response = await fetch(`/api${path}`, options);
  let body = null;
  try { body = await response.json(); } catch { /* no JSON */ }
  if (!response.ok) throw new Error(body?.error ?? `${response.status} ${response.statusText}`);
  return body;
}

/// Every change is sent as JSON: the console refuses any other POST (guard.rs: no cross-site form).
function post(path, body = {}) {
  return api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

function say(id, text, isError = false) {
  const el = document.getElementById(id);
  el.textContent = text;
  el.className = isError ? "message error" : "message";
}

const rate = (r) => (r >= 10 ? r.toFixed(0) : r.toFixed(1));

// ---------------------------------------------------------------- views

function show(view) {
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b.dataset.view === view);
  for (const v of document.querySelectorAll(".view")) v.classList.toggle("active", v.id === `view-${view}`);
  if (view === "dead-letters") loadDeadLetters();
}

// ---------------------------------------------------------------- the map

const NODE_W = 196;
const NODE_H = 64;

/// The busiest component (most arrows) in the centre, the others on an ellipse around it,
/// each placed next to the one it shares most arrows with, so that few arrows cross. Stable
/// between loads: ties go by name.
function layout(components, edges) {
  const weight = (a, b) => edges.filter((e) => (e.from === a && e.to === b) || (e.from === b && e.to === a)).length;
  const degree = (name) => edges.filter((e) => e.from !== e.to && (e.from === name || e.to === name)).length;
  const byDegree = [...components].map((c) => c.name).sort((a, b) => degree(b) - degree(a) || a.localeCompare(b));
  const positions = {};
  const ring = components.length > 3 ? byDegree.slice(1) : byDegree;
  if (components.length > 3) positions[byDegree[0]] = { x: 500, y: 340 };
  const order = ring.slice(0, 1);
  const left = new Set(ring.slice(1));
  let last = ring[0];
  while (left.size) {
    const next = [...left].sort((a, b) => weight(last, b) - weight(last, a) || degree(b) - degree(a) || a.localeCompare(b))[0];
    order.push(next);
    left.delete(next);
    last = next;
  }
  order.forEach((name, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / order.length;
    positions[name] = { x: 500 + 390 * Math.cos(angle), y: 340 + 240 * Math.sin(angle) };
  });
  return positions;
}

/// Where the line from the centre of a box towards (tx, ty) leaves the box.
function border(p, tx, ty) {
  const dx = tx - p.x, dy = ty - p.y;
  const scale = Math.min(Math.abs((NODE_W / 2 + 6) / (dx || 1e-9)), Math.abs((NODE_H / 2 + 6) / (dy || 1e-9)));
  return { x: p.x + dx * scale, y: p.y + dy * scale };
}

function drawMap() {
  const { components, edges } = state.map;
  const at = layout(components, edges);
  const edgeLayer = document.getElementById("edges");
  const nodeLayer = document.getElementById("nodes");
  edgeLayer.replaceChildren();
  nodeLayer.replaceChildren();
  for (const edge of edges) {
    const from = at[edge.from ?? ""];
    const to = at[edge.to];
    if (!to) continue;
    const g = s("g", { class: "edge", "data-edge": `${edge.stream}->${edge.to}` });
    let d, label;
    if (!from || edge.from === edge.to) {
      // A component reading its own stream: a loop above its box.
      const x = to.x, y = to.y - NODE_H / 2;
      d = `M ${x - 30} ${y} C ${x - 50} ${y - 60}, ${x + 50} ${y - 60}, ${x + 30} ${y}`;
      label = { x, y: y - 48 };
    } else {
      // Curved a little, so that the edges both ways between two components do not overlap.
      const mx = (from.x + to.x) / 2, my = (from.y + to.y) / 2;
      const nx = -(to.y - from.y), ny = to.x - from.x;
      const len = Math.hypot(nx, ny) || 1;
      const c = { x: mx + (nx / len) * 40, y: my + (ny / len) * 40 };
      const a = border(from, c.x, c.y), b = border(to, c.x, c.y);
      d = `M ${a.x} ${a.y} Q ${c.x} ${c.y} ${b.x} ${b.y}`;
      label = { x: (a.x + 2 * c.x + b.x) / 4, y: (a.y + 2 * c.y + b.y) / 4 };
    }
    g.append(s("path", { d }));
    g.append(s("title", {}, `${edge.stream} → ${edge.to}: ${edge.events.join(", ")}`));
    g.append(s("text", { x: label.x, y: label.y, "text-anchor": "middle", class: "edge-figures" }, ""));
    edgeLayer.append(g);
  }
  for (const c of components) {
    const p = at[c.name];
    const g = s("g", { class: "node", "data-component": c.name, transform: `translate(${p.x - NODE_W / 2} ${p.y - NODE_H / 2})` });
    g.append(s("rect", { width: NODE_W, height: NODE_H }));
    g.append(s("circle", { cx: 14, cy: 16, r: 5 }));
    const partitions = c.instances.length > 1 ? ` ×${c.instances.length}` : "";
    g.append(s("text", { x: 26, y: 21, class: "name" }, c.name + partitions));
    g.append(s("text", { x: 12, y: 40, class: "figures stream-figures" }, c.stream ?? (c.client_only ? "bus client" : "publishes nothing")));
    g.append(s("text", { x: 12, y: 55, class: "figures node-figures" }, ""));
    g.append(s("title", {}, c.description));
    g.addEventListener("click", () => openComponent(c.name));
    nodeLayer.append(g);
  }
  const select = document.getElementById("replay-component");
  select.replaceChildren(...components.filter((c) => !c.client_only)
    .flatMap((c) => (c.instances.length > 1 ? [c.name, ...c.instances] : [c.name]))
    .map((name) => h("option", { value: name }, name)));
  if (state.live) paintLive();
}

function paintLive() {
  const live = state.live;
  if (!state.map || !live) return;
  for (const c of state.map.components) {
    const g = document.querySelector(`.node[data-component="${CSS.escape(c.name)}"]`);
    const figures = live.components[c.name];
    if (!g || !figures) continue;
    g.dataset.health = figures.health;
    const stream = c.stream ? live.streams[c.stream] : null;
    g.querySelector(".stream-figures").textContent = c.stream
      ? `${c.stream} ${stream ? stream.messages : "—"} msgs${stream && stream.rate > 0 ? ` · ${rate(stream.rate)}/s` : ""}`
      : (c.client_only ? "bus client" : "publishes nothing");
    if (stream) g.dataset.streamMessages = stream.last_sequence;
    const line = g.querySelector(".node-figures");
    line.textContent = c.client_only
      ? "no admin status (a bus client)"
      : `${figures.health} ${figures.instances_up}/${figures.instances} · outbox ${figures.outbox_depth} · dlq ${figures.dead_letters}`;
    line.classList.toggle("alert", figures.dead_letters > 0 || figures.health === "down");
    g.dataset.deadLetters = figures.dead_letters;
    g.querySelector("title").textContent = [c.description, ...figures.problems].join("\n");
  }
  for (const edge of live.edges) {
    const g = document.querySelector(`.edge[data-edge="${CSS.escape(`${edge.stream}->${edge.to}`)}"]`);
    if (!g) continue;
    g.classList.toggle("flowing", edge.rate > 0);
    g.classList.toggle("lagging", edge.lag > 0 && edge.rate === 0);
    g.style.setProperty("--speed", `${Math.max(0.2, 2 / Math.max(edge.rate, 1))}s`);
    g.dataset.rate = edge.rate;
    g.dataset.lag = edge.lag;
    // Figures only where something happens (or is wrong): a quiet map stays readable.
    const parts = [];
    if (edge.rate > 0) parts.push(`${rate(edge.rate)}/s`);
    if (edge.lag > 0) parts.push(`lag ${edge.lag}`);
    if (edge.missing.length) parts.push("no consumer");
    g.querySelector(".edge-figures").textContent = parts.join(" · ");
  }
  const total = Object.values(live.components).reduce((n, c) => n + c.dead_letters, 0);
  const badge = document.getElementById("dlq-total");
  // The dead letters' page follows the figures: a letter added or removed elsewhere shows.
  if (String(total) !== badge.textContent && document.getElementById("view-dead-letters").classList.contains("active")) {
    loadDeadLetters();
  }
  badge.textContent = total;
  badge.classList.toggle("alert", total > 0);
  const when = new Date(live.at_ms).toLocaleTimeString();
  document.getElementById("live-state").textContent = live.error ? `sampling failed: ${live.error}` : `live · ${when}`;
}

function follow() {
  const events = new EventSource("/api/live");
  events.addEventListener("live", (e) => {
    state.live = JSON.parse(e.data);
    paintLive();
  });
  events.onerror = () => { document.getElementById("live-state").textContent = "reconnecting…"; };
}

// ---------------------------------------------------------------- a component's page

async function openComponent(name) {
  state.open = name;
  const aside = document.getElementById("component");
  aside.hidden = false;
  aside.replaceChildren(h("p", { class: "muted" }, `loading ${name}…`));
  let page;
  try {
    page = await api(`/components/${encodeURIComponent(name)}`);
  } catch (err) {
    aside.replaceChildren(h("p", { class: "message error" }, err.message));
    return;
  }
  if (state.open !== name) return;
  const { node, instances, recent_events: recent } = page;
  const consumers = instances.flatMap((i) => (i.status?.consumers ?? []).map((c) =>
    [i.name, c.stream, c.applied_sequence, c.pending ?? "?", c.caught_up ? "yes" : "no"]));
  const endpoints = instances.flatMap((i) => i.endpoints.map((e) =>
    [i.name, e.subject, e.requests, e.errors, e.average_ms.toFixed(2), e.last_error || ""]));
  aside.replaceChildren(
    h("div", { class: "toolbar" }, h("h2", {}, node.name), h("button", { onclick: () => { aside.hidden = true; state.open = null; } }, "Close")),
    h("p", { class: "muted" }, node.description),
    h("h3", {}, "Admin status"),
    table(["instance", "state", "up", "outbox", "dead-lettered", "set aside"], instances.map((i) => [
      i.name, i.error ? `${i.state}: ${i.error}` : i.state,
      i.status ? `${i.status.uptime_seconds}s` : null, i.status?.outbox_depth, i.status?.dead_letters, i.status?.set_aside?.count])),
    h("h3", {}, "Consumers"),
    consumers.length ? table(["instance", "stream", "applied", "pending", "caught up"], consumers) : h("p", { class: "muted" }, "consumes nothing"),
    h("h3", {}, "Endpoints ($SRV.STATS)"),
    endpoints.length ? table(["instance", "subject", "requests", "errors", "avg ms", "last error"], endpoints) : h("p", { class: "muted" }, "serves nothing"),
    h("h3", {}, `Recent events${node.stream ? ` on ${node.stream}` : ""}`),
    recent.length ? table(["seq", "subject", "time", "body"], recent.map((e) =>
      [e.sequence, e.subject, e.time, h("code", {}, JSON.stringify(e.body ?? e.body_error))])) : h("p", { class: "muted" }, "none"),
  );
}

// ---------------------------------------------------------------- dead letters

async function loadDeadLetters() {
  const container = document.getElementById("dlq-groups");
  let listing;
  try {
    listing = await api("/dead-letters");
  } catch (err) {
    say("dlq-message", err.message, true);
    return;
  }
  if (!listing.groups.length) {
    container.replaceChildren(h("p", { class: "muted", id: "dlq-empty" }, "DLQ is empty: nothing was dead-lettered (or it was all retried or purged)."));
    return;
  }
  container.replaceChildren(...listing.groups.map((group) => h("div", { class: "group", "data-group": `${group.component}/${group.kind}` },
    h("h2", {}, `${group.component} · ${group.kind || "(no kind)"}`, h("span", { class: "badge" }, group.count),
      h("span", { class: "actions" },
        h("button", { class: "redrive", onclick: () => redrive(group) }, "Redrive group…"),
        h("button", { class: "danger", onclick: () => purge(group.component) }, `Purge ${group.component}…`))),
    h("div", { class: "reasons" }, Object.entries(group.reasons).map(([reason, n]) => h("div", {}, `${n} × ${reason}`))),
    table(["seq", "time", "original", "stream #", "consumer", ""], group.letters.map((l) => [
      l.sequence, l.time, l.subject, `${l.stream} #${l.original_sequence ?? "?"}`, l.consumer,
      h("span", { "data-letter": l.sequence },
        h("button", { class: "inspect", onclick: () => inspect(l.sequence) }, "Inspect"), " ",
        h("button", { class: "retry", onclick: () => retry(l.sequence) }, "Retry")),
    ])),
  )));
}

async function inspect(seq) {
  const pre = document.getElementById("dlq-letter");
  try {
    const letter = await api(`/dead-letters/${seq}`);
    const headers = letter.headers ?? {};
    const first = (name) => (headers[name] ?? [])[0] ?? "?";
    pre.textContent = [
      `DLQ #${letter.sequence} on ${letter.subject} at ${letter.time}`,
      `original: ${first("Mandate-Dlq-Subject")} (${first("Mandate-Dlq-Stream")} #${first("Mandate-Dlq-Sequence")})`,
      "",
      "headers:",
      ...Object.entries(headers).flatMap(([name, values]) => values.map((v) => `  ${name}: ${v}`)),
      "",
      "body:",
      letter.body_omitted ? "  <left out: too large; a retry reads it back from the original stream>"
        : letter.body_error ? `  <${letter.body_error}>` : JSON.stringify(letter.body, null, 2),
    ].join("\n");
    pre.hidden = false;
  } catch (err) {
    say("dlq-message", err.message, true);
  }
}

async function retry(seq) {
  try {
    const retried = await post(`/dead-letters/${seq}/retry`);
    say("dlq-message", `retried DLQ #${seq}: republished to ${retried.subject} as ${retried.stream} #${retried.sequence}`);
  } catch (err) {
    say("dlq-message", `retry of DLQ #${seq} failed: ${err.message}`, true);
  }
  loadDeadLetters();
}

async function purge(component) {
  const whose = component ? `the dead letters of ${component}` : "every dead letter";
  if (!window.confirm(`Delete ${whose} from DLQ? This cannot be undone.`)) return;
  try {
    const purged = await post("/dead-letters/purge", { component, confirm: true });
    say("dlq-message", `purged ${purged.purged} dead letter(s)`);
  } catch (err) {
    say("dlq-message", err.message, true);
  }
  loadDeadLetters();
}

/// The canary-first, throttled bulk redrive of a group (the route answers 501 until it is built).
async function redrive(group) {
  const perSecond = window.prompt(`Redrive the ${group.count} dead letter(s) of ${group.component} · ${group.kind}: one canary first, then how many per second?`, "5");
  if (perSecond === null) return;
  try {
    const result = await post("/dead-letters/redrive", { component: group.component, kind: group.kind, rate: Number(perSecond), canary: 1 });
    say("dlq-message", `redrive: ${JSON.stringify(result)}`);
  } catch (err) {
    say("dlq-message", `redrive: ${err.message}`, true);
  }
  loadDeadLetters();
}

// ---------------------------------------------------------------- an order's journey

async function journey(event) {
  event.preventDefault();
  const id = document.getElementById("journey-id").value.trim();
  const out = document.getElementById("journey-result");
  try {
    const found = await api(`/journey/${encodeURIComponent(id)}`);
    out.replaceChildren(h("pre", {}, JSON.stringify(found, null, 2)));
  } catch (err) {
    out.replaceChildren(h("p", { class: "message error" }, err.message));
  }
}

// ---------------------------------------------------------------- replay

async function replay(event) {
  event.preventDefault();
  const name = document.getElementById("replay-component").value;
  const from = document.getElementById("replay-from").value;
  const out = document.getElementById("replay-progress");
  out.replaceChildren(h("p", { class: "muted" }, `asking ${name} to rebuild…`));
  try {
    await post(`/replay/${encodeURIComponent(name)}`, from ? { from_sequence: Number(from) } : {});
  } catch (err) {
    out.replaceChildren(h("p", { class: "message error" }, err.message));
    return;
  }
  const events = new EventSource(`/api/replay/${encodeURIComponent(name)}/events`);
  events.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    const percent = p.total ? Math.min(100, (100 * p.applied) / p.total) : 0;
    out.replaceChildren(...[
      h("p", { id: "replay-phase", "data-phase": p.phase }, `${p.component}: ${p.phase} · applied ${p.applied} of ~${p.total} · wiped ${p.wiped} entries · ${(p.elapsed_ms / 1000).toFixed(1)} s`),
      h("div", { class: "progress" }, h("div", { style: `width: ${percent}%` })),
      p.error ? h("p", { class: "message error" }, p.error) : null,
    ].filter(Boolean));
    if (p.phase === "done" || p.phase === "failed") events.close();
  });
  events.onerror = () => events.close();
}

// ---------------------------------------------------------------- start

for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => show(b.dataset.view));
document.getElementById("dlq-refresh").addEventListener("click", loadDeadLetters);
document.getElementById("dlq-purge-all").addEventListener("click", () => purge(undefined));
document.getElementById("journey-form").addEventListener("submit", journey);
document.getElementById("replay-form").addEventListener("submit", replay);

api("/map").then((map) => {
  state.map = map;
  drawMap();
  document.getElementById("map").dataset.ready = "true";
}).catch((err) => { document.getElementById("live-state").textContent = `cannot load the map: ${err.message}`; });
follow();
