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
SBIN=${RABBITMQ_SBIN:-/usr/sbin}
eb_scratch D
export RABBITMQ_NODENAME="ebrestart$$@localhost" RABBITMQ_NODE_PORT=$((20000 + $$ % 10000))
export RABBITMQ_DIST_PORT=$((RABBITMQ_NODE_PORT + 20000)) RABBITMQ_MNESIA_BASE="$D/mnesia"
export RABBITMQ_LOG_BASE="$D/log" RABBITMQ_ENABLED_PLUGINS_FILE="$D/plugins"
export ERL_CRASH_DUMP="$D/erl_crash.dump"
mkdir -p "$D/mnesia" "$D/log"
echo "[]." > "$D/plugins"
# rabbitmq-server started as root drops to the rabbitmq user, which must own its directories.
if id rabbitmq > /dev/null 2>&1; then chown -R rabbitmq:rabbitmq "$D"; chmod 755 "$D"; fi
URL="amqp://127.0.0.1:$RABBITMQ_NODE_PORT/%2f"
node_up() { "$SBIN/rabbitmq-server" > "$D/server.log" 2>&1 & for _ in $(seq 1 120); do
  (exec 3<>/dev/tcp/127.0.0.1/$RABBITMQ_NODE_PORT) 2>/dev/null && return 0; sleep 0.5; done; return 1; }
node_down() { "$SBIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" stop > /dev/null 2>&1 || true; }
eb_at_exit 'node_down; kill ${W:-} 2>/dev/null || true'
W=""; node_up
"$B" generate --events 3000 --max-account-id 10 --seed 3 --output "$D/events.csv" 2>/dev/null
"$B" publish --broker "$URL" --queues 10 --input "$D/events.csv" --process-time 10ms --batch 1 -q
"$B" worker --broker "$URL" --queues 10 --log "$D/log.csv" --exit-when-idle 3s --json "$D/w.json" \
  -q > /dev/null 2> "$D/worker.err" & W=$!
sleep 1.5
echo "stopping the broker at $(wc -l < "$D/log.csv") log rows"
node_down
sleep 3
echo "starting it again"
node_up
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
