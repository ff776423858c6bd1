#!/usr/bin/env bash
# How three workers split 20 queues (issue 25, item 3): 6,000 events of 10 ms over 1,000
# accounts; workers a and b start together, c 1.5 s later; each --workers 4, exiting when idle.
# Per start prints the queues each worker consumed: with `owned` in the reports (cooperative
# workers), those it owned 5 s after c started; otherwise the queues of the events it logged.
# Runs on a private RabbitMQ node like run.sh (RABBITMQ_SBIN: its programs, default /usr/sbin).
# Usage: split.sh BINARY [STARTS]   (default 10 starts)
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
B=$1; STARTS=${2:-10}
eb_scratch D
eb_rabbit_node ebsplit "$D"
URL=$EB_RABBIT_URL
"$B" generate --events 6000 --max-account-id 1000 --seed 25 --output "$D/events.csv" -q
echo "load $(eb_load3)"
for s in $(seq 1 "$STARTS"); do
  P="ebsplit-$$-$s"; Q=(--broker "$URL" --queues 20 --queue-prefix "$P")
  "$B" publish "${Q[@]}" --input "$D/events.csv" --process-time 10ms -q > /dev/null
  w() { "$B" worker "${Q[@]}" --workers 4 --exit-when-idle 3s -q --log "$D/$s$1.csv" \
    --json "$D/$s$1.json" > /dev/null 2>&1 & }
  w a; A=$!; w b; BB=$!; sleep 1.5; date +%s%3N > "$D/$s.join"; w c; C=$!
  wait $A $BB $C
  python3 - "$D" "$s" <<'PY'
import csv, json, sys
d, s = sys.argv[1], sys.argv[2]
at = int(open(f"{d}/{s}.join").read()) + 5000
out = []
for w in "abc":
    r = json.load(open(f"{d}/{s}{w}.json"))
    if "owned" in r:
        qs = {o["queue"] for o in r["owned"] if o["from_unix_ms"] <= at < o["to_unix_ms"]}
    else:
        qs = {int(x["account_id"]) % 20 for x in csv.DictReader(open(f"{d}/{s}{w}.csv"))}
    out.append(len(qs))
print(f"start {s}: " + "/".join(map(str, out)))
PY
done
echo "load $(eb_load3)"
