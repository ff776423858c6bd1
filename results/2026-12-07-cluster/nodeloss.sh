#!/usr/bin/env bash
# A node lost mid-run (issue 25, item 4): 20,000 events of 5 ms over 2,000 accounts published
# through node 1 of the three-node cluster (.ci/rabbitmq-cluster.sh) to 20 queues of TYPE, two
# workers of 4 lanes on nodes 2 and 3 (each with node 1 as its second URL); node 1 is killed
# (kill -9) once 5,000 events ran. With classic queues (they live on node 1) node 1 is started
# again after DOWN seconds. Prints per worker its report's counts, and over both processed logs:
# events never run, events run twice, and events that ran after a newer one of their account.
# It STOPS the cluster (and removes its data) before and after: nothing else may be using it.
# Usage: nodeloss.sh quorum|classic [DOWN]   (default DOWN 10; RAW: the folder for the raw files, default raw)
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
TYPE=$1
DOWN=${2:-10}
OUT=$(cd "$(dirname "$0")" && pwd)/${RAW:-raw}
CLUSTER=$EB_ROOT/.ci/rabbitmq-cluster.sh
B=$EVENTBENCH
eb_build
eb_scratch D
mkdir -p "$OUT"
"$B" generate --events 20000 --max-account-id 2000 --seed 25 --output "$D/events.csv" -q
eb_at_exit "bash '$CLUSTER' stop > /dev/null 2>&1"
bash "$CLUSTER" stop > /dev/null 2>&1
mapfile -t U < <(bash "$CLUSTER" start 2> /dev/null)
echo "load $(eb_load3)"
Q=(--queues 20 --queue-prefix "loss-$TYPE" --queue-type "$TYPE")
"$B" publish --broker "${U[0]}" "${Q[@]}" --input "$D/events.csv" --process-time 5ms -q
for w in a b; do
  first=${U[1]}; [ $w = b ] && first=${U[2]}
  "$B" worker --broker "$first" --broker "${U[0]}" "${Q[@]}" --workers 4 --exit-when-idle 5s \
    -q --log "$OUT/loss-$TYPE-$w.csv" --json "$OUT/loss-$TYPE-$w.json" \
    > /dev/null 2> "$OUT/loss-$TYPE-$w.stderr" &
done
rows() { cat "$OUT"/loss-"$TYPE"-?.csv 2> /dev/null | grep -vc account_id || true; }
until [ "$(rows)" -ge 5000 ]; do sleep 0.05; done
bash "$CLUSTER" kill 1
echo "node 1 killed at $(rows) rows, $(date +%T)"
if [ "$TYPE" = classic ]; then
  sleep "$DOWN"
  echo "rows after ${DOWN}s without node 1: $(rows); starting it again"
  bash "$CLUSTER" start > /dev/null 2>&1
fi
wait
python3 - "$D/events.csv" "$OUT/loss-$TYPE" <<'PY'
import csv, json, sys
events, stem = sys.argv[1], sys.argv[2]
order = {}
for i, r in enumerate(csv.DictReader(open(events))):
    order[int(r["event_id"])] = (int(r["account_id"]), i)
runs, twice, older = {}, 0, 0
for w in "ab":
    rep = json.load(open(f"{stem}-{w}.json"))
    b = rep["broker"]
    print(f"worker {w}: {rep['events']} events, wall {rep['wall_time_s']:.3f}s, violations "
          f"{rep['ordering_violations']}, redelivered {b['redelivered']}, reconnects "
          f"{b['reconnects']}, skipped_finished {b['skipped_finished']}")
    newest = {}
    rows = sorted(csv.DictReader(open(f"{stem}-{w}.csv")), key=lambda r: int(r["end_us"]))
    for r in rows:
        e = int(r["event_id"]); a, pos = order[e]
        runs[e] = runs.get(e, 0) + 1
        older += pos < newest.get(a, -1)
        newest[a] = max(newest.get(a, -1), pos)
never = sum(1 for e in order if e not in runs)
twice = sum(1 for n in runs.values() if n > 1)
print(f"over both logs: {never} never run, {twice} run twice, {older} after a newer event of "
      f"their account (within one worker's log)")
PY
echo "load $(eb_load3)"
