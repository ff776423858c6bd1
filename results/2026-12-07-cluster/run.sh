#!/usr/bin/env bash
# Publish and consume rates of quorum against classic queues, on one RabbitMQ node and on the
# three-node cluster of .ci/rabbitmq-cluster.sh (issue 25, item 4). Per repeat and queue type:
# publish EVENTS zero-time events over 2,000 accounts to 20 queues through node 1 (one event
# per message, publisher confirms: the default), then one worker drains them (through node 1
# on one node; through node 2 on three, the queues' leaders staying on node 1). Prints one
# line per measurement; the reports go to raw/.
# It STOPS the cluster (and removes its data) before and after: nothing else may be using it.
# Usage: run.sh [REPEATS] [EVENTS]   (default 3 repeats of 30,000 events)
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
REPEATS=${1:-3}
EVENTS=${2:-30000}
OUT=$(cd "$(dirname "$0")" && pwd)/raw
CLUSTER=$EB_ROOT/.ci/rabbitmq-cluster.sh
B=$EVENTBENCH
eb_build
eb_scratch D
mkdir -p "$OUT"
"$B" generate --events "$EVENTS" --max-account-id 2000 --seed 25 --output "$D/events.csv" -q
eb_at_exit "bash '$CLUSTER' stop > /dev/null 2>&1"
echo "load $(eb_load3)"
for nodes in 1 3; do
  bash "$CLUSTER" stop > /dev/null 2>&1
  mapfile -t URLS < <(bash "$CLUSTER" start "$nodes" 2> /dev/null)
  PUB=${URLS[0]}
  CON=${URLS[$((nodes > 1 ? 1 : 0))]}
  for rep in $(seq 1 "$REPEATS"); do
    for type in classic quorum; do
      tag="n$nodes-$type-r$rep"
      Q=(--queues 20 --queue-prefix "rate-$type" --queue-type "$type")
      "$B" publish --broker "$PUB" "${Q[@]}" --input "$D/events.csv" --process-time 0ms -q \
        > "$OUT/$tag.publish.txt"
      "$B" worker --broker "$CON" "${Q[@]}" --exit-when-idle 1s -q --json "$OUT/$tag.worker.json" \
        > /dev/null 2>&1
      python3 - "$tag" "$OUT/$tag.publish.txt" "$OUT/$tag.worker.json" <<'PY'
import json, re, sys
tag, pub, path = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
r = json.load(open(path))
rate = int(re.search(r"\(([0-9]+) events/s\)", pub).group(1))
# The worker's time runs from its first delivery to its last event (its idle wait excluded).
print(f"{tag}: publish {rate} events/s; worker {r['events']} events in "
      f"{r['wall_time_s']:.3f}s = {r['throughput_eps']:.0f} events/s, "
      f"violations {r['ordering_violations']}, load {open('/proc/loadavg').read().split()[0]}")
PY
    done
  done
done
echo "load $(eb_load3)"
