#!/usr/bin/env bash
# Re-runs after a broker restart or a killed worker (issue 25, items 1 and 2): 20,000 events over
# 1,000 accounts, 20 queues, two workers of 4 lanes, 5 ms events, on a private RabbitMQ node
# (own name, port and data dir; the shared server on 5672 is not touched).
#   restart: `rabbitmqctl stop_app; sleep 5; start_app` once 5,000 events are logged
#   kill:    kill -9 of the worker with more logged events once 5,000 are logged
# Prints one line: events re-run (log rows minus distinct events), older-after-newer runs (an
# event completing after a later event of its account had completed, across both logs, merged
# by wall time), missing events, and the workers' own report lines.
# Usage: run.sh BINARY TAG restart|kill [publish flags, e.g. --batch 1] [-- worker flags]
# Needs the rabbitmq-server package (RABBITMQ_SBIN: where its programs are, default /usr/sbin).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
B=$1 TAG=$2 MODE=$3; shift 3
PUB=(); WRK=()
while [ $# -gt 0 ]; do [ "$1" = -- ] && { shift; WRK=("$@"); break; }; PUB+=("$1"); shift; done
eb_scratch D
eb_rabbit_node ebrerun "$D"
URL=$EB_RABBIT_URL
WA="" WB=""
eb_at_exit 'kill $WA $WB 2>/dev/null || true'
Q=(--broker "$URL" --queues 20 --queue-prefix rerun)
"$B" generate --events 20000 --max-account-id 1000 --seed 25 --output "$D/events.csv" -q
"$B" publish "${Q[@]}" --input "$D/events.csv" --process-time 5ms -q "${PUB[@]}" > /dev/null
worker() { "$B" worker "${Q[@]}" --workers 4 --exit-when-idle 5s --reconnect-timeout 60s -q \
  --log "$D/$1.csv" --json "$D/$1.json" "${WRK[@]}" > "$D/$1.out" 2> "$D/$1.err" & }
date +%s%6N > "$D/a.t0"; worker a; WA=$!
date +%s%6N > "$D/b.t0"; worker b; WB=$!
rows() { cat "$D"/a.csv "$D"/b.csv 2> /dev/null | grep -vc account_id || true; }
until [ "$(rows)" -ge 5000 ]; do sleep 0.05; done
case $MODE in
  restart) eb_rabbit_ctl stop_app; sleep 5; eb_rabbit_ctl start_app ;;
  kill) if [ "$(grep -vc account_id "$D/a.csv")" -ge "$(grep -vc account_id "$D/b.csv")" ]
        then kill -9 "$WA"; WA=""; else kill -9 "$WB"; WB=""; fi ;;
esac
rc=0; for w in $WA $WB; do wait "$w" || rc=$?; done; WA="" WB=""
python3 - "$D" "$TAG" "$MODE" "$rc" "${PUB[*]:-} ${WRK[*]:-}" <<'PY'
import csv, json, os, sys
d, tag, mode, rc, flags = sys.argv[1:6]
events = [(int(r["account_id"]), int(r["event_id"])) for r in csv.DictReader(open(f"{d}/events.csv"))]
pos = {e: i for i, (_, e) in enumerate(events)}
rows = []
for w in "ab":
    p = f"{d}/{w}.csv"
    if not os.path.exists(p):
        continue
    t0 = int(open(f"{d}/{w}.t0").read())
    rows += [(t0 + int(r["end_us"]), int(r["account_id"]), int(r["event_id"])) for r in csv.DictReader(open(p))]
rows.sort()
ids = [e for _, _, e in rows]
reruns = len(ids) - len(set(ids))
missing = len(set(pos) - set(ids))
newest, older = {}, 0
for _, a, e in rows:
    if pos[e] < newest.get(a, -1):
        older += 1
    newest[a] = max(newest.get(a, -1), pos[e])
said = []
for w in "ab":
    p = f"{d}/{w}.json"
    if os.path.exists(p):
        r = json.load(open(p)); b = r["broker"]
        said.append(f"{w}: events {r['events']} dup {r['duplicates']} viol {r['ordering_violations']} "
                    f"redelivered {b['redelivered']} repeated {b['repeated']}"
                    + "".join(f" {k} {b[k]}" for k in ("skipped_finished", "reruns") if k in b))
    verdict = [l.strip() for l in open(f"{d}/{w}.out") if "events ran" in l or "FAILED" in l]
    said += [f"{w} says: {v}" for v in verdict]
print(f"{tag} {mode} [{flags.strip()}] exit {rc}: rows {len(rows)}, re-run {reruns}, older-after-newer {older}, missing {missing}; " + "; ".join(said))
PY
