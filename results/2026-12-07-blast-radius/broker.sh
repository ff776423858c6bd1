#!/usr/bin/env bash
# Blast radius through RabbitMQ (issue 26 item 4): the built-in workload (10,000 events, 1,000
# accounts) published one event per message at 50 ms each, account 311 slowed 20x by the
# worker; the original design (`worker --one-at-a-time`: one message at a time per queue)
# against ours (`worker -s optimal -w Q`), Q = 100 and 500 queues.
#
# usage: broker.sh [AMQP_URL]      (default amqp://127.0.0.1:5672/%2f; about 2 minutes)
#   EVENTBENCH, NO_BUILD, MEASURE_LOCK, TMPDIR: see ../scripts/lib.sh
# Writes raw/broker/<design>-<Q>.json (the worker reports) and prints a summary table; the
# queues eb-blast.* are purged before each run and deleted at the end.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
U=${1:-amqp://127.0.0.1:5672/%2f}
here=$(cd "$(dirname "$0")" && pwd)
eb_build
eb_scratch work
eb_delete_queues_at_exit "$U" eb-blast 500
mkdir -p "$here/raw/broker"
"$EVENTBENCH" generate -q --seed 7 --output "$work/events.csv"
for q in 100 500; do
  for design in original ours; do
    case $design in
      original) flags=(--one-at-a-time) ;;
      ours) flags=(-s optimal -w "$q") ;;
    esac
    "$EVENTBENCH" publish -q --broker "$U" --queues "$q" --queue-prefix eb-blast \
      --input "$work/events.csv" --process-time 50ms --purge --batch 1
    echo "$design-$q: load before $(eb_load3)" >> "$here/load.txt"
    eb_locked "$EVENTBENCH" worker -q --broker "$U" --queues "$q" --queue-prefix eb-blast \
      "${flags[@]}" --exit-when-idle 2s --fault slow:311:20 \
      --json "$here/raw/broker/$design-$q.json" > /dev/null
    echo "$design-$q: load after $(eb_load3)" >> "$here/load.txt"
  done
done
python3 - "$here" <<'PY' | tee "$here/summary-broker.md"
import json, sys
from pathlib import Path
here = Path(sys.argv[1])
print("| design | queues | wall (s) | bystanders delayed | delay p50 (s) | delay p99 (s) "
      "| delay max (s) | blocked (s) | ordering violations |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for q in (100, 500):
    for design in ("original", "ours"):
        r = json.loads((here / "raw" / "broker" / f"{design}-{q}.json").read_text())
        d = r["bystander_delay_s"]
        print(f"| {design} ({r['mode']}) | {q} | {r['wall_time_s']:.3f} "
              f"| {r['bystanders_delayed']} of {r['bystanders']} | {d['p50']:.3f} "
              f"| {d['p99']:.3f} | {d['max']:.3f} | {r['blocked_s']:.3f} "
              f"| {r['ordering_violations']} |")
PY
