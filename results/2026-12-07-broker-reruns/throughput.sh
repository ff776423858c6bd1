#!/usr/bin/env bash
# Throughput of one event per message against batches of 100 (issue 25, item 2): publish
# 200,000 zero-time events over 10,000 accounts to 20 queues of a private RabbitMQ node, then one
# worker drains them. Prints events/s of the publish and of the worker (its report's
# throughput), per batch size.
# Usage: throughput.sh BINARY [BATCH...]   (default batches: 1 100)
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
B=$1; shift
BATCHES=("${@:-1 100}"); [ $# -eq 0 ] && BATCHES=(1 100)
eb_scratch D
eb_rabbit_node ebtput "$D"
URL=$EB_RABBIT_URL
"$B" generate --events 200000 --max-account-id 10000 --seed 25 --output "$D/events.csv" -q
echo "load $(eb_load3)"
for batch in "${BATCHES[@]}"; do
  Q=(--broker "$URL" --queues 20 --queue-prefix tput$batch)
  pub=$("$B" publish "${Q[@]}" --input "$D/events.csv" --process-time 0ms --batch "$batch" -q)
  "$B" worker "${Q[@]}" --exit-when-idle 1s -q --json "$D/w$batch.json" > /dev/null 2>&1
  python3 - "$batch" "$pub" "$D/w$batch.json" <<'PY'
import json, re, sys
batch, pub, path = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(path))
rate = re.search(r"\(([0-9]+) events/s\)", pub).group(1)
# The worker's time runs from its first delivery to its last event (its idle wait excluded).
print(f"batch {batch}: publish {int(rate):,} events/s; worker {r['events']:,} events in "
      f"{r['wall_time_s']:.3f}s = {r['throughput_eps']:,.0f} events/s, "
      f"violations {r['ordering_violations']}")
PY
done
echo "load $(eb_load3)"
