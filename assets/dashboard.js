// The live dashboard: polls api/stats and redraws the numbers, the progress against the
// lower bound, the two charts and the hottest accounts.
"use strict";
const POLL_MS = 250;
const $ = (id) => document.getElementById(id);
let charts = null, lastSeq = -1, failures = 0;

function setValue(id, text, raw) {
  const el = $(id);
  el.textContent = text;
  el.dataset.value = raw == null ? "" : String(raw);
}

function describe(s) {
  $("mode").textContent = s.mode;
  // A worker takes its events from RabbitMQ: what it accepted is what it consumed.
  $("accepted-label").textContent = s.mode.startsWith("worker") ? "consumed" : "accepted";
  const parts = [
    "strategy " + s.strategy, "workers " + s.workers, "handler " + s.handler,
    "input " + s.input,
  ];
  if (s.data_dir) parts.push("data dir " + s.data_dir);
  if (s.broker) parts.push("broker " + s.broker);
  if (s.events_total != null) parts.push(ebInt.format(s.events_total) + " events");
  $("meta").textContent = parts.join(" · ");
}

function progress(s) {
  if (s.lower_bound_s == null) return;
  $("progress").hidden = false;
  const shown = s.done && s.wall_time_s != null ? s.wall_time_s : s.elapsed_s;
  // Towards the schedule the virtual clock computed for this run when it is longer than the
  // bound (sharded on few lanes): a bar full at the bound would promise the wrong end.
  const later = s.expected_s != null && s.expected_s > s.lower_bound_s;
  const target = later ? s.expected_s : s.lower_bound_s;
  const frac = target > 0 ? shown / target : 1;
  $("bar").classList.toggle("over", frac > 1);
  $("bar").firstElementChild.style.width = Math.min(100, frac * 100).toFixed(1) + "%";
  const of = later ? " of about " + ebSecs(s.expected_s) + " (bound " + ebSecs(s.lower_bound_s) + ")"
    : " of ≥ " + ebSecs(s.lower_bound_s);
  const text = ebSecs(shown) + of + (s.done ? " (done)" : "");
  setValue("progress-text", text, shown);
  setValue("efficiency", ebPct(s.efficiency_so_far), s.efficiency_so_far);
  $("efficiency-label").textContent = s.done ? "efficiency" : "efficiency so far";
  $("best-finish").textContent = s.done ? "–" : ebSecs(s.best_finish_s);
}

function tiles(s) {
  setValue("accepted", ebInt.format(s.accepted), s.accepted);
  setValue("queued", ebInt.format(s.queued), s.queued);
  setValue("in-flight", ebInt.format(s.in_flight), s.in_flight);
  setValue("processed", ebInt.format(s.processed), s.processed);
  setValue("violations", ebInt.format(s.ordering_violations), s.ordering_violations);
  $("violations-tile").classList.toggle("bad", s.ordering_violations > 0);
  if (s.rejected != null) {
    $("rejected-tile").hidden = false;
    setValue("rejected", ebInt.format(s.rejected), s.rejected);
  }
  setValue("throughput", ebInt.format(s.throughput_eps), s.throughput_eps);
  // The latest latency of the last 5 s; after that the server is idle, not slow.
  const idle = s.processed > 0 && s.in_flight === 0 ? "idle" : "–";
  const p50 = s.latency_recent_p50_us, p99 = s.latency_recent_p99_us;
  setValue("p50", p50 == null ? idle : ebMicros(p50), p50);
  setValue("p99", p99 == null ? idle : ebMicros(p99), p99);
}

function hottest(s) {
  const body = $("hottest").tBodies[0];
  body.replaceChildren(...s.hottest.map((h) => {
    const tr = document.createElement("tr");
    for (const v of [h.account_id, ebInt.format(h.events_left), ebSecs(h.work_left_s)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    return tr;
  }));
  if (!s.hottest.length) {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td colspan=3>no work left</td>";
    body.appendChild(tr);
  }
}

function draw(s) {
  const h = s.history;
  const ms = (v) => (v == null ? null : v / 1000);
  const tp = [h.t_s, h.throughput_eps];
  const lat = [h.t_s, h.p50_us.map(ms), h.p99_us.map(ms)];
  if (!charts) {
    charts = {
      tp: ebChart($("chart-throughput"), "elapsed (s)", "events/s",
        [{ label: "throughput", fill: ebCss("--s1") + "22" }], tp),
      lat: ebChart($("chart-latency"), "elapsed (s)", "ms",
        [{ label: "p50" }, { label: "p99" }], lat),
    };
  } else {
    charts.tp.setData(tp);
    charts.lat.setData(lat);
  }
}

function status(text, cls) {
  const el = $("status");
  el.textContent = text;
  el.className = "badge " + cls;
}

async function poll() {
  try {
    // A server with a token was opened as /?token=…: its own requests carry it on.
    const r = await fetch("api/stats" + location.search, { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    const s = await r.json();
    failures = 0;
    if (s.seq !== lastSeq) {
      lastSeq = s.seq;
      describe(s); progress(s); tiles(s); hottest(s); draw(s);
    }
    status(s.done ? "done" : "live", s.done ? "done" : "live");
    document.body.dataset.seq = String(s.seq);
    // A finished run's numbers are final, and its server goes away: stop asking.
    if (s.done) return;
  } catch (e) {
    failures += 1;
    if (failures > 1) status("disconnected", "lost");
  }
  setTimeout(poll, POLL_MS);
}
poll();
