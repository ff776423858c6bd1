#!/usr/bin/env bash
# The original design (`worker --one-at-a-time`) through RabbitMQ, before and after the ack
# loop confirmed its rounds on all queues' channels together instead of one after another
# (session 7): the same workload and fault as broker.sh, two binaries alternating, RUNS each.
#
# usage: acks.sh OLD_BINARY NEW_BINARY [RUNS] [AMQP_URL]   (RUNS default 2; ~25 s a run)
# Writes raw/acks/<old|new>-<Q>-<run>.json (worker reports) and prints one line per run.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
OLD=$1 NEW=$2 RUNS=${3:-2} U=${4:-amqp://127.0.0.1:5672/%2f}
here=$(cd "$(dirname "$0")" && pwd)
eb_scratch work
eb_delete_queues_at_exit "$U" eb-acks 500
mkdir -p "$here/raw/acks"
"$NEW" generate -q --seed 7 --output "$work/events.csv"
for run in $(seq 1 "$RUNS"); do
  for q in 500 100; do
    for tag in old new; do
      B=$OLD; [ "$tag" = new ] && B=$NEW
      "$B" publish -q --broker "$U" --queues "$q" --queue-prefix eb-acks \
        --input "$work/events.csv" --process-time 50ms --purge --batch 1
      load=$(eb_load1)
      out="$here/raw/acks/$tag-$q-$run.json"
      "$B" worker -q --broker "$U" --queues "$q" --queue-prefix eb-acks --one-at-a-time \
        --exit-when-idle 2s --fault slow:311:20 --json "$out" > /dev/null 2>&1
      python3 - "$out" "$tag" "$q" "$run" "$load" <<'PY'
import json, sys
path, tag, q, run, load = sys.argv[1:]
r = json.load(open(path)); d = r["bystander_delay_s"]
print(f"{tag} queues={q} run={run} load={load} wall={r['wall_time_s']:.3f}s "
      f"bystander delay p50={d['p50']:.3f}s p99={d['p99']:.3f}s max={d['max']:.3f}s "
      f"violations={r['ordering_violations']}")
PY
    done
  done
done
