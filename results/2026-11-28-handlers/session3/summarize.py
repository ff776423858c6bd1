#!/usr/bin/env python3
"""raw/ -> summary.txt: events/s of each eventbench variant beside wrk's requests/s, per repeat
and as medians, with CPU per event (process user + system from GNU time, so it includes
start-up, loading the CSV and verifying) and the sink's CPU per request."""
import glob, json, re, statistics, sys

RAW = sys.argv[1] if len(sys.argv) > 1 else "raw"

def cpu(path):
    txt = open(path).read()
    u, s = re.search(r"cpu_s ([\d.]+) ([\d.]+)", txt).groups()
    ticks = int(re.search(r"sink_ticks (-?\d+)", txt).group(1))
    return float(u) + float(s), ticks / 100

def runs(label):
    out = []
    found = [(int(m.group(1)), f) for f in glob.glob(f"{RAW}/{label}-*.json")
             if (m := re.fullmatch(rf"{re.escape(RAW)}/{re.escape(label)}-(\d+)\.json", f))]
    for i, f in sorted(found):
        r = json.load(open(f))
        c, sink = cpu(f"{RAW}/{label}-cpu-{i}.txt")
        out.append(dict(eps=r["throughput_eps"], wall=r["wall_time_s"], eff=r["efficiency"],
                        viol=r["ordering_violations"], failures=r["handler_failures"],
                        events=r["events"], p50=r["handler_us"]["p50"], cpu=c, sink=sink,
                        report_cpu=r["cpu_time_s"]))
    return out

wrk = []
for f in sorted(glob.glob(f"{RAW}/wrk-[0-9]*.txt"), key=lambda p: int(re.findall(r"\d+", p)[-1])):
    i = re.findall(r"\d+", f)[-1]
    txt = open(f).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", txt).group(1))
    n = int(re.search(r"(\d+) requests in", txt).group(1))
    c, sink = cpu(f"{RAW}/wrk-cpu-{i}.txt")
    wrk.append(dict(rps=rps, n=n, cpu_us=c / n * 1e6, sink_us=sink / n * 1e6))

med = statistics.median
rates = ", ".join(f"{w['rps']:.0f}" for w in wrk)
print(f"wrk -t 2 -c 64 -d 5s: {rates} req/s; "
      f"median {med(w['rps'] for w in wrk):.0f}; CPU per request median "
      f"{med(w['cpu_us'] for w in wrk):.1f} us (wrk), {med(w['sink_us'] for w in wrk):.1f} us (sink)")
for size in ("10k", "200k"):
    for variant in ("ours", "ours-1thread", "reqwest"):
        rows = runs(f"http{size}-{variant}")
        if not rows:
            continue
        n = rows[0]["events"]
        eps = [r["eps"] for r in rows]
        paired = [r["eps"] / w["rps"] for r, w in zip(rows, wrk)]
        print(f"== {size} {variant}: {len(rows)} runs, {n} events")
        print("  events/s: " + ", ".join(f"{e:.0f}" for e in eps)
              + f"; median {med(eps):.0f} = {med(eps) / med(w['rps'] for w in wrk):.0%} of wrk's median")
        print("  paired with the same repeat's wrk: " + ", ".join(f"{p:.0%}" for p in paired)
              + f" (median {med(paired):.0%}, min {min(paired):.0%})")
        print(f"  CPU per event (whole process): median {med(r['cpu'] / n * 1e6 for r in rows):.1f} us;"
              f" sink per request {med(r['sink'] / n * 1e6 for r in rows):.1f} us")
        print(f"  efficiency median {med(r['eff'] for r in rows):.3f}; handler p50 median "
              f"{med(r['p50'] for r in rows)} us; ordering violations {sum(r['viol'] for r in rows)};"
              f" failures {sum(r['failures'] for r in rows)}")
