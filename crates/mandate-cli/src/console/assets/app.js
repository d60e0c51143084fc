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
  followJourney();
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
  container.replaceChildren(...listing.groups.map((group) => h("div", { class: "group", "data-group": `${group.component}/${group.kind}/${group.reason}` },
    h("h2", {}, `${group.component} · ${group.kind || "(no kind)"}`, h("span", { class: "badge" }, group.count),
      h("span", { class: "actions" },
        h("label", {}, "canary ", h("input", { class: "canary", type: "number", min: "0", value: "1" })),
        h("label", {}, "per second ", h("input", { class: "rate", type: "number", min: "0.1", step: "any", value: "5" })),
        h("button", { class: "redrive", onclick: (e) => redrive(group, e.target.closest(".group")) }, "Redrive group"),
        h("button", { class: "danger", onclick: () => purge(group.component) }, `Purge ${group.component}…`))),
    h("div", { class: "reasons" }, group.reason || "(no reason given)"),
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

/// The canary-first, throttled bulk redrive of a group (`ops/redrive.rs` on the server): its
/// progress streamed into the box above the groups, which a reload of the list leaves alone.
async function redrive(group, el) {
  const canary = Number(el.querySelector("input.canary").value);
  const perSecond = Number(el.querySelector("input.rate").value);
  const box = document.getElementById("redrive");
  let started;
  try {
    started = await post("/dead-letters/redrive", {
      component: group.component, kind: group.kind, reason: group.reason, rate: perSecond, canary,
    });
  } catch (err) {
    say("dlq-message", `redrive: ${err.message}`, true);
    return;
  }
  box.hidden = false;
  const title = `redrive #${started.id} of ${group.component} · ${group.kind} · ${group.reason}`;
  const stop = h("button", { class: "danger stop", onclick: () => post(`/redrive/${started.id}/stop`).catch((err) => say("dlq-message", err.message, true)) }, "Stop");
  const status = h("p", { class: "redrive-status" });
  const bar = h("div", {});
  box.replaceChildren(h("h2", {}, title), h("div", { class: "toolbar" }, stop, status), h("div", { class: "progress" }, bar));
  paintRedrive(started, status, bar, stop);
  const events = new EventSource(`/api/redrive/${started.id}/events`);
  events.addEventListener("progress", (e) => {
    const r = JSON.parse(e.data);
    paintRedrive(r, status, bar, stop);
    if (r.report || r.error) {
      events.close();
      loadDeadLetters();
    }
  });
  events.onerror = () => events.close();
}

function verdictText(v) {
  if (!v) return null;
  switch (v.verdict) {
    case "applied": return "canary applied";
    case "dead_lettered_again": return `canary dead-lettered again as DLQ #${v.dlq_sequence}: ${v.reason}`;
    case "timed_out": return `canary not applied in time (its consumer is at ${v.applied_sequence ?? "?"})`;
    default: return `canary ${v.verdict}`;
  }
}

function paintRedrive(r, status, bar, stop) {
  const finished = Boolean(r.report || r.error);
  status.dataset.phase = r.phase;
  status.dataset.done = r.done;
  status.dataset.canary = r.canary?.verdict ?? "";
  status.dataset.last = r.last ? JSON.stringify(r.last) : "";
  status.textContent = [
    `${r.phase}${r.stopping ? " (stopping after the message in flight)" : ""}`,
    `${r.done} done`, `${r.failed} failed`, `${r.skipped} skipped`, `${r.remaining} remaining of ${r.selected}`,
    verdictText(r.canary), r.error, r.report?.ended === "canary_not_retried" ? r.report.error : null,
  ].filter(Boolean).join(" · ");
  const reached = r.done + r.failed + r.skipped;
  bar.style.width = `${r.selected ? (100 * reached) / r.selected : 0}%`;
  stop.disabled = finished;
}

// ---------------------------------------------------------------- an order's journey

/// The journey asked for last, kept live: asked again (one request at a time, at most once a
/// second) whenever a live sample shows a stream grew, while "live" is ticked.
const journeyState = { id: null, since: "1h", streams: null, asking: false, askedAt: 0 };

function streamsSeen() {
  const streams = state.live?.streams ?? {};
  return Object.keys(streams).sort().map((name) => `${name}:${streams[name].last_sequence}`).join(",");
}

async function journey(event) {
  event?.preventDefault();
  journeyState.id = document.getElementById("journey-id").value.trim();
  journeyState.since = document.getElementById("journey-since").value.trim() || "1h";
  await askJourney();
}

async function askJourney() {
  if (!journeyState.id || journeyState.asking) return;
  journeyState.asking = true;
  journeyState.askedAt = Date.now();
  journeyState.streams = streamsSeen();
  const out = document.getElementById("journey-result");
  try {
    const found = await api(`/journey/${encodeURIComponent(journeyState.id)}?since=${encodeURIComponent(journeyState.since)}`);
    paintJourney(found, out);
  } catch (err) {
    out.replaceChildren(h("p", { class: "message error" }, err.message));
  } finally {
    journeyState.asking = false;
  }
}

function followJourney() {
  if (!journeyState.id || !document.getElementById("journey-live").checked) return;
  if (streamsSeen() === journeyState.streams || Date.now() - journeyState.askedAt < 1000) return;
  askJourney();
}

function cause(step) {
  switch (step.cause) {
    // A handler's event: its publisher is the component that handled the cause.
    case "event": return `← ${step.cause_type ?? step.cause_id}, handled by ${step.source ?? "?"}`;
    case "dead_letter_of": return `refused ${step.id ?? "?"}`;
    default: return "a service call (or a publisher outside)";
  }
}

function paintJourney(found, out) {
  if (!found.steps.length) {
    out.replaceChildren(h("p", { class: "muted", id: "journey-empty" },
      `Nothing on the bus names ${found.id} (headers scanned since ${found.scanned_since}).`));
    return;
  }
  const rows = found.steps.map((step) => h("tr", { class: step.dead_letter ? "dead-letter" : "", "data-type": step.type ?? "" },
    h("td", {}, step.time),
    h("td", { class: "num" }, step.gap_ms === null || step.gap_ms === undefined ? "" : `+${step.gap_ms} ms`),
    h("td", {}, step.dead_letter ? step.dead_letter.component : (step.source ?? "")),
    h("td", {}, step.dead_letter ? `DEAD LETTER (${step.dead_letter.kind}): ${step.dead_letter.reason}` : (step.type ?? step.subject)),
    h("td", {}, `${step.stream} #${step.sequence}`),
    h("td", {}, cause(step))));
  out.replaceChildren(
    h("p", { class: "muted" }, `${found.steps.length} step(s) · correlation ${found.correlation_ids.join(", ")} · headers scanned since ${found.scanned_since}`),
    h("table", { id: "journey-steps" },
      h("thead", {}, h("tr", {}, ["time", "gap", "published by", "type", "where", "cause"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows)),
    h("p", { class: "muted" }, `Not on the bus: ${found.not_visible.join("; ")}.`));
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
document.getElementById("journey-refresh").addEventListener("click", () => askJourney());
document.getElementById("replay-form").addEventListener("submit", replay);

api("/map").then((map) => {
  state.map = map;
  drawMap();
  document.getElementById("map").dataset.ready = "true";
}).catch((err) => { document.getElementById("live-state").textContent = `cannot load the map: ${err.message}`; });
follow();
