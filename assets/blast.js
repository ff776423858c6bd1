// --fault: the blast radius of a run or a sweep (how many other accounts the faults delayed),
// drawn after the rest of the page from the bystander fields and the lines made in Rust.
function renderBlast(data) {
  const runs = data.kind === "compare" ? (data.doc.runs || []) : [data.doc];
  const hit = runs.filter((r) => typeof r.bystanders_delayed === "number");
  if (!hit.length) return;
  const box = el("section", { id: "blast" },
    el("h2", {}, "Blast radius of " + (hit[0].faults || []).join(", ")),
    el("ul", { id: "blast-lines" }, ...(data.blast || []).map((line) => el("li", {}, line))));
  const after = document.getElementById("headline") || document.getElementById("meta");
  after.after(box);
  if (data.kind !== "compare") return;
  const s = (x) => (typeof x === "number" ? x.toFixed(3) + " s" : "–");
  box.append(table(["strategy", "workers", "clock", "bystanders delayed", "of", "delay p50",
    "delay p99", "delay max", "blocked"],
  hit.map((r) => [r.strategy + backendTag(r), workersLabel(r), r.clock, r.bystanders_delayed,
    r.bystanders, s(r.bystander_delay_s?.p50), s(r.bystander_delay_s?.p99),
    s(r.bystander_delay_s?.max), s(r.blocked_s)]), "blast-table"));
  // One line per strategy in its palette colour, x = lanes: how many accounts without a fault
  // ended late.
  const groups = new Map();
  for (const r of hit) {
    const k = seriesName(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  const xs = [...new Set(hit.map((r) => r.workers))].sort((a, b) => a - b);
  const cols = [...groups.values()].map((rs) => xs.map((x) => {
    const r = rs.find((q) => q.workers === x);
    return r ? r.bystanders_delayed : null;
  }));
  const logX = xs.length > 1 && xs[0] > 0 && xs[xs.length - 1] / xs[0] >= 20;
  box.append(chartBox("Accounts delayed vs workers", "chart-blast"));
  ebChart(document.getElementById("chart-blast"), "workers", "accounts delayed",
    [...groups.entries()].map(([label, rs]) => ({ label, stroke: colourOf(rs[0].strategy) })),
    [xs].concat(cols),
    { scales: { x: { time: false, distr: logX ? 3 : 1 }, y: { range: [0, Math.max(1, hit[0].bystanders)] } } });
}
renderBlast(DATA);
