#!/usr/bin/env python3
"""Medians per configuration of the raw reports written by run.sh (one Markdown table)."""
import collections
import json
import pathlib
import statistics
import sys

raw = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent / "raw")
runs = collections.defaultdict(list)
for f in sorted(raw.glob("*.json")):
    label = f.stem.rsplit("-", 1)[0]
    runs[label].append(json.loads(f.read_text()))
loads = collections.defaultdict(list)
load_file = raw / "load.txt"
if load_file.exists():
    for line in load_file.read_text().splitlines():
        name, one, *_ = line.split()
        loads[name.rsplit("-", 1)[0]].append(float(one))

med = statistics.median
print("| run | n | lower bound | wall (median) | efficiency (median, min–max) "
      "| overshoot p50 / p99 (median) | CPU time (median) | load avg 1 min |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for label, rs in runs.items():
    effs = [r["efficiency"] for r in rs]
    cpu = [r["cpu_time_s"] for r in rs if r.get("cpu_time_s") is not None]
    ld = loads.get(label, [])
    print(f"| {label} | {len(rs)} | {rs[0]['lower_bound_s']:.4f} s "
          f"| {med(r['wall_time_s'] for r in rs):.4f} s "
          f"| {100 * med(effs):.2f}% ({100 * min(effs):.2f}–{100 * max(effs):.2f}) "
          f"| {med(r['overshoot_us']['p50'] for r in rs):.0f} / "
          f"{med(r['overshoot_us']['p99'] for r in rs):.0f} µs "
          f"| {med(cpu):.3f} s | "
          + (f"{min(ld):.1f}–{max(ld):.1f}" if ld else "–") + " |")
