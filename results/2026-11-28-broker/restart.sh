#!/usr/bin/env bash
# A worker survives a real broker restart: a private RabbitMQ node (own name, ports and data
# dir; the shared server on 5672 is not touched) is stopped and started under a running
# worker; afterwards every event must have been processed, in per-account order (checked here
# from the worker's log, by the last run of each event), with the redeliveries counted.
# Usage: results/2026-11-28-broker/restart.sh | tee results/2026-11-28-broker/restart.txt
# Needs the rabbitmq-server package (RABBITMQ_SBIN: where its programs are, default /usr/sbin).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
eb_build --bin eventbench
B=$EVENTBENCH
eb_scratch D
W=""
eb_at_exit 'kill ${W:-} 2>/dev/null || true'
eb_rabbit_node ebrestart "$D"
URL=$EB_RABBIT_URL
"$B" generate --events 3000 --max-account-id 10 --seed 3 --output "$D/events.csv" 2>/dev/null
"$B" publish --broker "$URL" --queues 10 --input "$D/events.csv" --process-time 10ms --batch 1 -q
"$B" worker --broker "$URL" --queues 10 --log "$D/log.csv" --exit-when-idle 3s --json "$D/w.json" \
  -q > /dev/null 2> "$D/worker.err" & W=$!
# Mid-run: a worker first listens for the others (about 1.5 s) before it takes its queues.
until [ "$(wc -l < "$D/log.csv" 2> /dev/null || echo 0)" -gt 300 ]; do sleep 0.05; done
echo "stopping the broker at $(wc -l < "$D/log.csv") log rows"
eb_rabbit_ctl stop || true
sleep 3
echo "starting it again"
eb_rabbit_start "$D"
wait $W && rc=0 || rc=$?
echo "worker exit code $rc"; grep -E "warning|reconnected" "$D/worker.err" || true
python3 - "$D/events.csv" "$D/log.csv" "$D/w.json" <<'PY'
import csv, json, sys
events = [(int(r["account_id"]), int(r["event_id"])) for r in csv.DictReader(open(sys.argv[1]))]
rows = list(csv.DictReader(open(sys.argv[2])))
last = {int(r["event_id"]): i for i, r in enumerate(rows)}
missing = [e for _, e in events if e not in last]
by_acc = {}
for a, e in events:
    by_acc.setdefault(a, []).append(e)
bad = [a for a, es in by_acc.items() if sorted(es, key=lambda e: last.get(e, -1)) != es]
r = json.load(open(sys.argv[3]))
print(f"events {len(events)}, log rows {len(rows)}, missing {len(missing)}, accounts out of order {len(bad)}")
print("report: events", r["events"], "ordering_violations", r["ordering_violations"], "broker", r["broker"])
sys.exit(1 if missing or bad else 0)
PY
