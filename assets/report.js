// Renders an embedded eventbench document: a compare sweep (table, wall time and efficiency
// against workers, latency percentiles at each strategy's best and worst point, the baseline
// verdict) or a single report (run, serve, verify: headline numbers, every field, latency).
"use strict";
const DATA = JSON.parse(document.getElementById("eb-data").textContent);
const root = document.getElementById("report");
const PCTS = [["p50", "50"], ["p90", "90"], ["p99", "99"], ["p999", "99.9"], ["max", "max"]];

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}
function num(x, digits) {
  return typeof x === "number" ? x.toFixed(digits) : "–";
}
function secs(x) { return typeof x === "number" ? x.toFixed(3) + " s" : "–"; }
function backendTag(r) {
  return { "broker-ours": " (RabbitMQ, ours)", "broker-original": " (RabbitMQ, original)" }[r.backend] || "";
}
function seriesName(r) { return (r.strategy || "?") + backendTag(r) + ", " + (r.clock || "?") + " clock"; }
function workersLabel(r) {
  const req = String(r.workers_requested ?? r.workers ?? "?");
  return req === "auto" ? "auto (" + r.workers + ")" : req;
}
function table(headers, rows, id) {
  return el("div", { class: "scroll" }, el("table", id ? { id } : {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, String(c))))))));
}
function chartBox(title, id) {
  const box = el("div", { class: "chart" }, el("h3", {}, title), el("div", { id }));
  return box;
}
// An interrupted run stopped early: its efficiency (null in compare.json) is not comparable.
function efficiencyCell(r) {
  return r.interrupted || r.efficiency == null ? "interrupted" : num(r.efficiency * 100, 2) + "%";
}
function orderingCell(r) {
  const bad = (r.ordering_violations || 0) + (r.duplicates || 0) + (r.lost || 0);
  return bad ? "FAILED (" + bad + ")" : "ok";
}

// Percentile charts: one line per labelled Percentiles object, x = the percentile; a log
// scale when the values span more than two decades (a 1,000 s tail beside a 6 s one).
function percentileChart(box, named, what) {
  const xs = PCTS.map((_, i) => i);
  const all = named.flatMap(([, p]) => PCTS.map(([k]) => (p ? p[k] : null))).filter((v) => v > 0);
  const top = all.length ? Math.max(...all) : 0, low = all.length ? Math.min(...all) : 0;
  const [unit, div] = top >= 1e7 ? ["s", 1e6] : top >= 1e4 ? ["ms", 1e3] : ["µs", 1];
  const log = low > 0 && top / low > 100;
  const data = [xs].concat(named.map(([, p]) => PCTS.map(([k]) => {
    const v = p ? p[k] : null;
    return v == null || (log && v <= 0) ? null : v / div;
  })));
  ebChart(box, "percentile", unit, named.map(([label]) => ({ label })), data, {
    axes: [
      ebAxis("percentile", { splits: () => xs, values: (u, v) => v.map((i) => (PCTS[i] ? PCTS[i][1] : "")) }),
      ebAxis(what + " (" + unit + ")" + (log ? ", log scale" : "")),
    ],
    scales: { x: { time: false, range: [0, PCTS.length - 1] }, y: { distr: log ? 3 : 1 } },
  });
}

function renderCompare(doc, verdict, ranking) {
  const runs = doc.runs || [];
  document.getElementById("title").textContent = "eventbench compare — " + runs.length + " runs";
  const first = runs[0] || {};
  document.getElementById("meta").textContent = [
    "input " + (first.input ?? "–"), (first.events ?? "–") + " events",
    (first.accounts ?? "–") + " accounts", "longest chain " + (first.longest_chain ?? "–"),
    "workload " + (first.workload_fingerprint ?? "–"), "eventbench " + (doc.eventbench_version ?? "?"),
  ].join(" · ");
  if (verdict) root.append(renderVerdict(verdict));
  // The verdict lines as the terminal prints them (computed where the report is made).
  if (ranking && ranking.length) {
    root.append(el("h2", {}, "Summary"),
      el("ul", { id: "ranking" }, ...ranking.map((line) => el("li", {}, line))));
  }
  root.append(el("h2", {}, "All runs"));
  root.append(table(
    ["strategy", "workers", "clock", "wall time", "lower bound", "efficiency", "p50 latency", "p99 latency", "events/s", "ordering"],
    runs.map((r) => [r.strategy + backendTag(r), workersLabel(r), r.clock, secs(r.wall_time_s), secs(r.lower_bound_s),
      efficiencyCell(r), ebMicros(r.latency_us?.p50), ebMicros(r.latency_us?.p99),
      num(r.throughput_eps, 1), orderingCell(r)]), "runs"));
  // Interrupted runs stay in the table, marked; the charts and the best/worst picks leave them
  // out, as a partial run's wall time and efficiency say nothing about the strategy.
  const cut = runs.filter((r) => r.interrupted).length;
  const drawn = runs.filter((r) => !r.interrupted);
  if (!drawn.length) return;
  // One line per strategy (and backend, clock), x = the number of lanes the run had.
  const groups = new Map();
  for (const r of drawn) {
    const k = seriesName(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  const xs = [...new Set(drawn.map((r) => r.workers))].sort((a, b) => a - b);
  const col = (field) => [...groups.values()].map((rs) => xs.map((x) => {
    const r = rs.find((q) => q.workers === x);
    return r ? field(r) : null;
  }));
  const names = [...groups.keys()].map((label) => ({ label }));
  const logX = xs.length > 1 && xs[0] > 0 && xs[xs.length - 1] / xs[0] >= 20;
  const xDistr = { time: false, distr: logX ? 3 : 1 };
  const walls = drawn.map((r) => r.wall_time_s).filter((v) => v > 0);
  const logY = walls.length > 0 && Math.max(...walls) / Math.min(...walls) > 20;
  const charts = el("section", { class: "charts" },
    chartBox("Efficiency (lower bound / wall time) vs workers", "chart-efficiency"),
    chartBox("Wall time vs workers (dashed: lower bound)", "chart-wall"));
  root.append(el("h2", {}, "Against the lower bound"), charts);
  if (cut) root.append(el("p", { class: "note", id: "interrupted-note" }, cut + " interrupted run" + (cut > 1 ? "s" : "") + " not drawn"));
  ebChart(document.getElementById("chart-efficiency"), "workers", "efficiency (%)", names,
    [xs].concat(col((r) => r.efficiency * 100)),
    { scales: { x: xDistr, y: { range: [0, 100] } } });
  const bound = xs.map((x) => Math.max(...drawn.filter((r) => r.workers === x).map((r) => r.lower_bound_s)));
  ebChart(document.getElementById("chart-wall"), "workers",
    "seconds" + (logY ? ", log scale" : ""),
    names.concat([{ label: "lower bound", dash: [6, 4], stroke: ebCss("--muted") }]),
    [xs].concat(col((r) => (logY && r.wall_time_s <= 0 ? null : r.wall_time_s)), [bound]),
    { scales: { x: xDistr, y: { distr: logY ? 3 : 1 } } });
  // Latency at each strategy's best and worst point: by efficiency, ties by wall time.
  const named = [];
  for (const [k, rs] of groups) {
    const sorted = [...rs].sort((a, b) => b.efficiency - a.efficiency || a.wall_time_s - b.wall_time_s);
    named.push([k + ", best: " + workersLabel(sorted[0]) + " workers", sorted[0].latency_us]);
    if (sorted.length > 1) {
      const w = sorted[sorted.length - 1];
      named.push([k + ", worst: " + workersLabel(w) + " workers", w.latency_us]);
    }
  }
  root.append(el("h2", {}, "Latency distribution (queue entry to end), best and worst point per strategy"),
    el("div", { class: "chart" }, el("div", { id: "chart-latency" })));
  percentileChart(document.getElementById("chart-latency"), named, "latency");
}

function renderVerdict(v) {
  const failed = v.regressed.length > 0;
  const box = el("section", { class: "verdict " + (failed ? "fail" : "pass"), id: "verdict" });
  const pct = (v.tolerance * 100).toFixed(2).replace(/\.?0+$/, "");
  box.append(el("b", {}, failed ? "Regression against the baseline" : "No regression against the baseline"),
    " — " + v.regressed.length + " regressed, " + v.improved.length + " improved, " + v.unchanged
    + " within ±" + pct + "%"
    + ((v.noisy || []).length ? ", " + v.noisy.length + " within the noise (2 σ)" : "")
    + ", " + v.unmatched.length + " without a match"
    + ((v.interrupted || []).length ? ", " + v.interrupted.length + " interrupted (not compared)" : ""));
  const rows = v.regressed.map((d) => ["REGRESSED", d]).concat(v.improved.map((d) => ["improved", d]),
    (v.noisy || []).map((d) => ["noise", d]));
  const sd = (x) => (typeof x === "number" ? " ± " + x.toFixed(3) : "");
  if (rows.length) {
    box.append(table(["", "run", "wall time (baseline → now)", "efficiency (baseline → now)"],
      rows.map(([what, d]) => [what, d.label, secs(d.base_wall_s) + sd(d.base_stddev_s) + " → " + secs(d.wall_s) + sd(d.stddev_s),
        num(d.base_efficiency * 100, 2) + "% → " + num(d.efficiency * 100, 2) + "%"])));
  }
  for (const u of v.unmatched) box.append(el("div", { class: "meta" }, "no match: " + u));
  return box;
}

function renderReport(r) {
  const kind = r.strategy === "external" ? "verify" : "run";
  document.getElementById("title").textContent = "eventbench " + kind + " — " + (r.strategy ?? "?")
    + ", " + workersLabel(r) + " workers, " + (r.clock ?? "?") + " clock";
  document.getElementById("meta").textContent = ["input " + (r.input ?? "–"),
    "eventbench " + (r.eventbench_version ?? "?")].join(" · ");
  const tiles = el("section", { class: "tiles", id: "headline" });
  const tile = (label, value, bad) => tiles.append(el("div", { class: "tile" + (bad ? " bad" : "") },
    el("div", { class: "label" }, label), el("div", { class: "value" }, value)));
  tile("wall time", secs(r.wall_time_s));
  tile("lower bound", secs(r.lower_bound_s));
  tile("efficiency", num(r.efficiency * 100, 2) + "%");
  tile("events", String(r.events ?? "–"));
  tile("throughput", num(r.throughput_eps, 1) + "/s");
  tile("ordering", orderingCell(r), orderingCell(r) !== "ok");
  root.append(tiles);
  const curves = [];
  for (const key of ["latency_us", "overshoot_us", "handler_us"]) {
    if (r[key] && typeof r[key] === "object") curves.push([key.replace("_us", ""), r[key]]);
  }
  if (curves.length) {
    root.append(el("h2", {}, "Distributions"), el("div", { class: "chart" }, el("div", { id: "chart-latency" })));
    percentileChart(document.getElementById("chart-latency"), curves, "time");
  }
  const rows = [];
  for (const [k, v] of Object.entries(r)) {
    if (v === null || typeof v !== "object") rows.push([k, String(v)]);
    else if (!Array.isArray(v)) rows.push([k, Object.entries(v).map(([a, b]) => a + " " + b).join(", ")]);
    else rows.push([k, v.slice(0, 10).join("; ") + (v.length > 10 ? " …" : "")]);
  }
  root.append(el("h2", {}, "Every field"), table(["field", "value"], rows, "fields"));
}

if (DATA.kind === "compare") renderCompare(DATA.doc, DATA.verdict, DATA.ranking);
else renderReport(DATA.doc);
document.body.dataset.rendered = "true";
