// Shared chart helpers of the dashboard and the HTML reports, on top of uPlot.
"use strict";
function ebCss(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
function ebPalette() {
  return ["--s1", "--s2", "--s3", "--s4", "--s5", "--s6"].map(ebCss);
}
function ebWidth(el) {
  return Math.max(240, Math.floor(el.clientWidth || el.parentElement.clientWidth) - 4);
}
// An axis in the page's colours; `more` adds or overrides uPlot axis options.
function ebAxis(label, more) {
  const fg = ebCss("--fg"), grid = ebCss("--line");
  return Object.assign({
    label, stroke: fg, labelSize: 22, size: 60,
    grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 },
  }, more || {});
}
// A line chart in `el`: `series` are [{label, scale?}], `data` is [xs, ys1, ys2, …].
function ebChart(el, xLabel, yLabel, series, data, extra) {
  const pal = ebPalette();
  const axis = (label, scale) => ebAxis(label, { scale });
  const opts = Object.assign({
    width: ebWidth(el),
    height: Math.round(Math.min(300, Math.max(200, ebWidth(el) * 0.45))),
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: false } },
    axes: [axis(xLabel, "x"), axis(yLabel, "y")],
    series: [{ label: xLabel }].concat(series.map((s, i) => Object.assign({
      stroke: pal[i % pal.length], width: 2, spanGaps: true,
      points: { show: data[0].length < 40, size: 6 },
    }, s))),
  }, extra || {});
  const chart = new uPlot(opts, data, el);
  window.addEventListener("resize", () => chart.setSize({ width: ebWidth(el),
    height: chart.height }));
  return chart;
}
const ebInt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
function ebSecs(s) { return s == null ? "–" : s.toFixed(s < 10 ? 2 : s < 100 ? 1 : 0) + " s"; }
function ebMicros(us) {
  if (us == null) return "–";
  if (us < 1000) return us + " µs";
  if (us < 1e6) return (us / 1e3).toFixed(us < 1e4 ? 2 : us < 1e5 ? 1 : 0) + " ms";
  return (us / 1e6).toFixed(us < 1e7 ? 2 : 1) + " s";
}
function ebPct(x) { return x == null ? "–" : (x * 100).toFixed(1) + "%"; }
