#!/usr/bin/env bash
# Reproduces the numbers in README.md against a local RabbitMQ (see .ci/rabbitmq.sh).
# Usage: results/2026-11-26-rabbitmq/run.sh [EVENTBENCH_BINARY] [PROCESS_TIME]
#   (default: this repository's release build, built first; 1s)
# The elapsed times of GNU time go to stderr; the reports to *.json and *.txt here.
set -euo pipefail
EB=${1:-}
[[ $EB == */* && $EB != /* ]] && EB=$PWD/$EB
cd "$(dirname "$0")"
. ../scripts/lib.sh
if [ -z "$EB" ]; then eb_build --bin eventbench; EB=$EVENTBENCH; fi
PT="${2:-1s}"
U="${EVENTBENCH_AMQP_URL:-amqp://127.0.0.1:5672/%2f}"
[ -f events.csv ] || python3 make_events.py
eb_delete_queues_at_exit "$U" bench 500
eb_delete_queues_at_exit "$U" bench50 50

# Our design: one worker, 500 queues, the engine inside the consumer.
"$EB" publish --broker "$U" --queues 500 --queue-prefix bench --input events.csv --process-time "$PT" --purge --batch 1
/usr/bin/time -f "%e s elapsed" "$EB" worker -q --broker "$U" --queues 500 --queue-prefix bench \
    --exit-when-idle 2s --json worker-engine.json > worker-engine.txt

# The original design: 500 queues, each consumer one message at a time (prefetch 1).
"$EB" publish --broker "$U" --queues 500 --queue-prefix bench --input events.csv --process-time "$PT" --purge --batch 1
/usr/bin/time -f "%e s elapsed" "$EB" worker -q --broker "$U" --queues 500 --queue-prefix bench \
    --one-at-a-time --exit-when-idle 2s --json worker-one-at-a-time.json > worker-one-at-a-time.txt

# What the broker costs end to end: run --broker --queues 50 versus the in-memory run.
/usr/bin/time -f "%e s elapsed" "$EB" run -q --input events.csv --process-time "$PT" \
    --broker "$U" --queues 50 --queue-prefix bench50 --json run-broker-50.json > run-broker-50.txt
/usr/bin/time -f "%e s elapsed" "$EB" run -q --input events.csv --process-time "$PT" \
    --json run-memory.json > run-memory.txt
