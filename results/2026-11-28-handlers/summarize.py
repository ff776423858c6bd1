#!/usr/bin/env python3
"""Prints events/s of each tool per repeat and the ratio of medians (raw/ -> summary.txt)."""
import glob, json, re, statistics

def ours(kind):
    out = []
    for f in sorted(glob.glob(f"raw/{kind}-ours-*.json")):
        r = json.load(open(f))
        out.append((r["throughput_eps"], r["wall_time_s"], r["efficiency"], r["ordering_violations"],
                    r["handler_us"]["p50"], r["cpu_time_s"], r["children_cpu_time_s"]))
    return out

xargs = [10000 / float(l.split()[1]) for l in open("raw/exec-xargs-seconds.txt")]
wrk = []
for f in sorted(glob.glob("raw/http-wrk-[0-9]*.txt")):
    m = re.search(r"Requests/sec:\s+([\d.]+)", open(f).read())
    wrk.append(float(m.group(1)))
wrk_cpu_us = []
for f in sorted(glob.glob("raw/http-wrk-cpu-*.txt")):
    txt = open(f).read()
    m = re.search(r"cpu_s ([\d.]+) ([\d.]+)", txt)
    n = re.search(r"(\d+) requests in", open(f.replace("-cpu", "")).read())
    if m and n:
        wrk_cpu_us.append((float(m.group(1)) + float(m.group(2))) / int(n.group(1)) * 1e6)

for kind, base, name in (("exec", xargs, "xargs -P 16"), ("http", wrk, "wrk -c 64")):
    rows = ours(kind)
    print(f"== {kind}: eventbench vs {name}")
    for i, (eps, wall, eff, viol, p50, cpu, ccpu) in enumerate(rows):
        b = base[i] if i < len(base) else float("nan")
        print(f"  repeat {i+1}: eventbench {eps:8.0f} ev/s (wall {wall:.3f} s, efficiency {eff:.3f}, "
              f"violations {viol}, handler p50 {p50} us, cpu {cpu:.2f} s + children {ccpu:.2f} s)"
              f"   {name} {b:8.0f}/s")
    m_ours = statistics.median(r[0] for r in rows)
    m_base = statistics.median(base)
    print(f"  median: eventbench {m_ours:.0f} ev/s, {name} {m_base:.0f}/s, ratio {m_ours / m_base:.1%}")
    paired = [r[0] / b for r, b in zip(rows, base)]
    print("  paired ratios: " + ", ".join(f"{p:.0%}" for p in paired)
          + f" (median {statistics.median(paired):.0%})")
    cpu_us = statistics.median(r[5] / 10000 * 1e6 for r in rows)
    print(f"  eventbench CPU per event (this process, median): {cpu_us:.1f} us")
    if kind == "http" and wrk_cpu_us:
        print(f"  wrk CPU per request (median): {statistics.median(wrk_cpu_us):.1f} us")
