// Renders an embedded eventbench document: a compare sweep (the one-line conclusion, table,
// wall time and efficiency against workers, latency percentiles per worker count, the baseline
// verdict) or a single report (run, serve, verify: what went wrong first, then the headline
// numbers, one chart per distribution, every field formatted).
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
// Seconds as the terminal prints them: 3 decimals, 3 significant digits below one second.
function secs(x) {
  if (typeof x !== "number") return "–";
  if (x > 0 && x < 1) return x.toFixed(Math.min(9, Math.max(3, 2 - Math.floor(Math.log10(x))))) + " s";
  return x.toFixed(3) + " s";
}
// A strategy's colour, the same as in compare.svg (one table, sent by the page's maker).
function colourOf(strategy) { return (DATA.colours || {})[strategy]; }
// Report pages show legends without uPlot's live values ("--" until the cursor hovers).
const STILL = { legend: { live: false } };
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
  ebChart(box, "percentile", unit, named.map(([label, , style]) => Object.assign({ label }, style || {})), data, {
    legend: { live: false },
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
  if (DATA.conclusion) root.append(el("p", { class: "conclusion", id: "conclusion" }, DATA.conclusion));
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
  // A strategy's colour everywhere; runs through RabbitMQ dashed.
  const styleOf = (r) => Object.assign({ stroke: colourOf(r.strategy) }, r.backend ? { dash: [6, 4] } : {});
  const xs = [...new Set(drawn.map((r) => r.workers))].sort((a, b) => a - b);
  const col = (field) => [...groups.values()].map((rs) => xs.map((x) => {
    const r = rs.find((q) => q.workers === x);
    return r ? field(r) : null;
  }));
  const names = [...groups.entries()].map(([label, rs]) => Object.assign({ label }, styleOf(rs[0])));
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
    Object.assign({ scales: { x: xDistr, y: { range: [0, 100] } } }, STILL));
  const bound = xs.map((x) => Math.max(...drawn.filter((r) => r.workers === x).map((r) => r.lower_bound_s)));
  ebChart(document.getElementById("chart-wall"), "workers",
    "seconds" + (logY ? ", log scale" : ""),
    names.concat([{ label: "lower bound", dash: [6, 4], stroke: ebCss("--muted") }]),
    [xs].concat(col((r) => (logY && r.wall_time_s <= 0 ? null : r.wall_time_s)), [bound]),
    Object.assign({ scales: { x: xDistr, y: { distr: logY ? 3 : 1 } } }, STILL));
  // Latency, one chart per worker count: on one axis the slowest count's tail would flatten
  // every other line (each chart scales to its own runs).
  const latency = el("section", { class: "charts", id: "latency-charts" });
  root.append(el("h2", {}, "Latency distribution (queue entry to end), one chart per worker count"), latency);
  xs.forEach((x, i) => {
    const here = drawn.filter((r) => r.workers === x);
    const id = "chart-latency-" + i;
    latency.append(chartBox(workersLabel(here[0]) + " workers", id));
    percentileChart(document.getElementById(id),
      here.map((r) => [seriesName(r), r.latency_us, styleOf(r)]), "latency");
  });
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

// What went wrong, before any figure: a failed check with its examples, a failing handler,
// an interrupted run (computed where the terminal report is made).
function renderAlarms(alarms) {
  const failed = alarms.some((a) => a.failed);
  const box = el("section", { class: "verdict " + (failed ? "fail" : "warn"), id: "alarms" });
  for (const a of alarms) {
    box.append(el("div", { class: "alarm" }, el("b", {}, a.what + ": "), a.headline));
    if (a.examples.length) {
      box.append(el("ul", {}, ...a.examples.map(([kind, e]) => el("li", {}, el("b", {}, kind + ": "), e))));
    }
  }
  return box;
}

// A field's value the way people read it: percent, seconds, µs, rates; lists shortened.
function fieldValue(k, v) {
  if (v === null || v === undefined) return "–";
  if (Array.isArray(v)) return v.slice(0, 10).join("; ") + (v.length > 10 ? " …" : "");
  if (typeof v === "object") {
    if (k.endsWith("_us") && "p50" in v) return PCTS.map(([p, name]) => (name === "max" ? "max" : "p" + name) + " " + ebMicros(v[p])).join(", ");
    return Object.entries(v).map(([a, b]) => a + " " + b).join(", ");
  }
  if (typeof v !== "number") return String(v);
  if (k.startsWith("efficiency")) return num(v * 100, 2) + "%";
  if (k.endsWith("_s")) return secs(v);
  if (k.endsWith("_us")) return ebMicros(v);
  if (k.endsWith("_eps")) return num(v, 1) + "/s";
  return Number.isInteger(v) ? ebInt.format(v) : String(Number(v.toPrecision(4)));
}

function renderReport(r, alarms) {
  const kind = r.strategy === "external" ? "verify" : "run";
  document.getElementById("title").textContent = "eventbench " + kind + " — " + (r.strategy ?? "?")
    + ", " + workersLabel(r) + " workers, " + (r.clock ?? "?") + " clock";
  document.getElementById("meta").textContent = ["input " + (r.input ?? "–"),
    "eventbench " + (r.eventbench_version ?? "?")].join(" · ");
  if (alarms && alarms.length) root.append(renderAlarms(alarms));
  const failed = (alarms || []).some((a) => a.failed);
  const tiles = el("section", { class: "tiles", id: "headline" });
  const tile = (label, value, bad) => tiles.append(el("div", { class: "tile" + (bad ? " bad" : "") },
    el("div", { class: "label" }, label), el("div", { class: "value" }, value)));
  tile("ordering", orderingCell(r), orderingCell(r) !== "ok");
  if (r.handler_failures || r.given_up) {
    tile("handler failed", (r.handler_failures || 0) + " of " + (r.handler_calls ?? "?") + " calls", true);
  }
  tile("wall time", secs(r.wall_time_s));
  tile("lower bound", secs(r.lower_bound_s));
  // A failed run's efficiency is not a result: it is shown, but not as one.
  tile(failed ? "efficiency (run failed)" : "efficiency", num(r.efficiency * 100, 2) + "%", failed);
  tile("events", String(r.events ?? "–"));
  tile("throughput", num(r.throughput_eps, 1) + "/s");
  root.append(tiles);
  // One chart per distribution, each in its own unit; none for a distribution without data
  // (the virtual clock has no overshoot, and its handler times are the declared ones).
  const curves = [
    ["latency_us", "Latency (queue entry to end)", "latency"],
    ["handler_us", "Handler time per call", "handler time"],
    ["overshoot_us", "Overshoot (handler time beyond the declared time)", "overshoot"],
  ].filter(([key]) => r[key] && typeof r[key] === "object" && r[key].max > 0
    && !(r.clock === "virtual" && key !== "latency_us"));
  if (curves.length) {
    const charts = el("section", { class: "charts", id: "distributions" });
    root.append(el("h2", {}, "Distributions"), charts);
    curves.forEach(([key, title, what]) => {
      charts.append(chartBox(title, "chart-" + key));
      percentileChart(document.getElementById("chart-" + key), [[what, r[key]]], what);
    });
  }
  if (r.latency_basis && !(r.latency_us && r.latency_us.max > 0)) {
    root.append(el("p", { class: "note" }, "latency: " + r.latency_basis));
  }
  const rows = Object.entries(r).map(([k, v]) => [k, fieldValue(k, v)]);
  root.append(el("h2", {}, "Every field"), table(["field", "value"], rows, "fields"));
}

if (DATA.kind === "compare") renderCompare(DATA.doc, DATA.verdict, DATA.ranking);
else renderReport(DATA.doc, DATA.alarms);
document.body.dataset.rendered = "true";
