// Technician dashboard: polls /api/state every second and draws it. No external resources.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function clock(t) {
  return new Date(t * 1000).toLocaleTimeString();
}

function fillTable(table, rows) {
  const body = table.querySelector("tbody");
  body.replaceChildren(...rows.map((cells) => {
    const tr = el("tr");
    for (const c of cells) tr.appendChild(c instanceof Node ? c : el("td", c));
    return tr;
  }));
}

function badge(ok, yes, no) {
  const td = el("td", ok ? yes : no, ok ? "ok" : "bad");
  return td;
}

function facts(gw) {
  const dl = document.getElementById("facts");
  const items = [
    ["MQTT broker", gw.mqtt_connected ? "connected" : "DISCONNECTED", gw.mqtt_connected],
    ["Software", gw.software_version],
    ["Offer model", gw.model_version || "none"],
    ["Disk free", (gw.disk_free_bytes / 2 ** 30).toFixed(1) + " GiB"],
    ["Uptime", Math.round(gw.uptime_s) + " s"],
  ];
  // Each label and its value in one wrapper (allowed in a <dl>), so the grid never splits a pair.
  dl.replaceChildren(...items.map(([k, v, ok]) => {
    const pair = el("div", null, "fact");
    pair.appendChild(el("dt", k));
    const dd = el("dd", v, ok === undefined ? "" : ok ? "ok" : "bad");
    dd.dataset.fact = k;
    pair.appendChild(dd);
    return pair;
  }));
  document.getElementById("ident").textContent = "· store " + gw.store_id + " · " + gw.gateway_id;
}

function ago(t, now) {
  // "14:02:07 (35 s ago)": the gateway's time of day and the age by the gateway's own clock.
  const s = Math.max(0, Math.round(now - t));
  const age = s < 120 ? s + " s" : s < 7200 ? Math.round(s / 60) + " min" : Math.round(s / 3600) + " h";
  return clock(t) + " (" + age + " ago)";
}

function storeStatus(gw) {
  // One row: the store's sync with the central service (edge/sync), read from the gateway database.
  const table = document.getElementById("store-status");
  if (!gw.sync_configured) {
    fillTable(table, [[el("td", "not configured (backend.url): events stay on the gateway", "muted"), "–", "–",
      gw.sync_backlog === null ? "no database yet" : gw.sync_backlog]]);
    return;
  }
  const stale = (t) => t === null || gw.now - t > 3 * gw.pull_interval_s + 60;
  const pull = gw.last_pull_at === null ? "never" : ago(gw.last_pull_at, gw.now);
  const push = gw.last_push_at === null ? "never" : ago(gw.last_push_at, gw.now);
  const backlog = gw.sync_backlog === null ? "no database yet" : String(gw.sync_backlog);
  // A push is due only while events wait: an old last push with nothing unsent is fine.
  const pushOk = !gw.sync_backlog || !stale(gw.last_push_at);
  fillTable(table, [[
    badge(!stale(gw.last_pull_at), "reachable", "NOT REACHED"),
    el("td", pull, stale(gw.last_pull_at) ? "bad" : "ok"),
    el("td", push, pushOk ? "ok" : "bad"),
    el("td", backlog, gw.sync_backlog === null || gw.sync_backlog < 1000 ? "ok" : "bad"),
  ]]);
}

function sparkline(p, cls, t1) {
  // One plate: its own y range (at least 20 g) so a pick of a few grams is visible.
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 400 60");
  svg.setAttribute("preserveAspectRatio", "none");
  const lo0 = Math.min(...p.series), hi0 = Math.max(...p.series);
  const mid = (lo0 + hi0) / 2, half = Math.max(10, (hi0 - lo0) / 2 * 1.1);
  const lo = mid - half, hi = mid + half;
  const span = Math.min(60, Math.max(5, t1 - Math.min(...p.t)));
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", p.t.map((t, k) => {
    const x = 400 - ((t1 - t) / span) * 400;
    const y = 57 - ((p.series[k] - lo) / (hi - lo)) * 54;
    return x.toFixed(1) + "," + y.toFixed(1);
  }).join(" "));
  line.setAttribute("class", cls);
  svg.appendChild(line);
  return svg;
}

function plots(plates) {
  const byShelf = new Map();
  for (const p of plates) {
    const key = p.gondola + "/" + p.shelf;
    if (!byShelf.has(key)) byShelf.set(key, []);
    byShelf.get(key).push(p);
  }
  const root = document.getElementById("plots");
  root.replaceChildren();
  for (const [shelf, list] of byShelf) {
    const box = el("div", null, "plot");
    box.appendChild(el("h3", "Shelf " + shelf));
    const t1 = Math.max(...list.flatMap((p) => p.t));
    list.forEach((p, i) => {
      const cls = "c" + (i % 6);
      const label = el("div", "plate " + p.plate + ": " + (p.grams === null ? "–" : p.grams.toFixed(1) + " g"), "plate-label " + cls);
      label.dataset.plate = p.gondola + "/" + p.shelf + "/" + p.plate;
      if (p.untared) {
        // Far below zero: this plate was never zeroed (or zeroed with goods on it).
        const mark = el("span", "not tared — run calibrate", "untared");
        mark.title = "Reads far below 0 g: tare it with: sudo shelf-edge calibrate --shelf " + p.gondola + "/" + p.shelf + " --known-g 500";
        label.appendChild(mark);
      }
      box.appendChild(label);
      if (p.series.length) box.appendChild(sparkline(p, cls, t1));
    });
    root.appendChild(box);
  }
  if (!plates.length) root.appendChild(el("p", "no samples yet", "muted"));
}

function product(e) {
  // The product's name from the gateway's planogram/catalogue, its id small after it.
  const td = el("td", e.name || e.product);
  if (e.name) td.appendChild(el("span", e.product, "pid"));
  return td;
}

function render(s) {
  facts(s.gateway);
  storeStatus(s.gateway);
  fillTable(document.getElementById("shelves"), s.shelves.map((x) => [
    x.shelf, badge(x.connected, "connected", "DISCONNECTED"), x.firmware || "?", x.crc_errors, x.shoppers,
  ]));
  const avail = document.getElementById("availability");
  avail.replaceChildren(...Object.entries(s.availability).map(([who, st]) => el("li", who + ": " + st, st === "online" ? "ok" : "bad")));
  plots(s.plates);
  fillTable(document.getElementById("event-table"), s.events.map((e) => [
    clock(e.t), e.kind, e.shelf, product(e), e.quantity, e.confidence, e.attributed ? "yes" : "no",
  ]));
  fillTable(document.getElementById("offer-table"), s.offers.map((o) => [
    clock(o.t), o.display, o.shelf, o.product, o.price.toFixed(2), o.status, badge(o.acknowledged, "yes", "not yet"),
  ]));
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

async function refresh() {
  try {
    const r = await fetch("/api/state", { credentials: "same-origin" });
    if (r.status === 401) { window.location = "/login"; return; }
    render(await r.json());
  } catch (err) {
    document.getElementById("updated").textContent = "gateway not answering: " + err;
  }
}

if (document.body.classList.contains("dashboard")) {
  refresh();
  setInterval(refresh, 1000);
} else if (new URLSearchParams(window.location.search).has("failed")) {
  document.getElementById("failed").hidden = false;
}
