#!/usr/bin/env bash
# Broker throughput: publish, one worker, two workers (zero processing time, 100,000 events,
# 50 queues, 10,000 accounts), the lapin ceiling in the same run, then 1,000,000 events through
# publish + worker, one event per message (--batch 1, as in session 2). Records wall rates and
# CPU time (eventbench's own, and RabbitMQ's beam.smp from /proc), because the shared 2-core
# machine makes wall rates noisy. Session 3's batched runs: session3/run.sh.
# Usage: results/2026-11-28-broker/run.sh [AMQP_URL]
# Env: STEPS=reps,serve,1m (default: all) picks parts; REPS (3); RAW=file appends to another raw
# file; OUT (this folder), MACHINE ($OUT/machine.txt), WORKER_1M_JSON ($OUT/worker-1M.json);
# BEAM_PID (the broker's beam.smp); EVENTBENCH and AMQP_CEILING (binaries, default this
# repository's release build); PUBLISH_BATCH (1; empty: no --batch flag, for builds before it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"
OUT=${OUT:-$here}
MACHINE=${MACHINE:-$OUT/machine.txt}
URL="${1:-${EVENTBENCH_AMQP_URL:-amqp://127.0.0.1:5672/%2f}}"
REPS="${REPS:-3}"
eb_build --bin eventbench --example amqp_ceiling
B=$EVENTBENCH
C=${AMQP_CEILING:-$EB_EXAMPLES/amqp_ceiling}
BATCH=(--batch "${PUBLISH_BATCH-1}")
[ -n "${PUBLISH_BATCH-1}" ] || BATCH=()
eb_scratch TMP
P="bench-$$"
eb_delete_queues_at_exit "$URL" "$P" 50
. "$EB_SCRIPTS/broker-measure.sh"
if [ "${STEPS:-reps,serve,1m}" = "reps,serve,1m" ]; then "$EB_SCRIPTS/machine.sh" > "$MACHINE"
else { echo "# partial run, steps ${STEPS}"; "$EB_SCRIPTS/machine.sh"; } >> "$MACHINE"; fi
"$B" generate --events 100000 --max-account-id 10000 --seed 1 --output "$TMP/e100k.csv" 2>/dev/null
"$B" generate --events 1000000 --max-account-id 100000 --seed 1 --output "$TMP/e1m.csv" 2>/dev/null
printf 'event_id,account_id\n' > "$TMP/empty.csv"
Q=(--broker "$URL" --queues 50 --queue-prefix "$P")
STEPS="${STEPS:-reps,serve,1m}"
RAW="${RAW:-$OUT/raw.csv}"
[ -s "$RAW" ] && [ "$STEPS" != "reps,serve,1m" ] || echo "rep,what,events,wall_s,rate_eps,own_cpu_s,beam_cpu_s,load1" > "$RAW"
row() { echo "$1,$2,$3,$4,$5,$6,$7,$(cut -d' ' -f1 /proc/loadavg)" >> "$RAW"; }
rate_of_publish() { sed -E 's/.*\(([0-9]+) events\/s\).*/\1/' "$TMP/out"; }
for rep in $(seq 1 "$REPS"); do
  [[ $STEPS == *reps* ]] || break
  # The ceiling: minimal lapin publisher and consumer (they print their own rates).
  m=$(measure "$C" "$URL" 100000 50)
  pub=$(sed -nE 's/^lapin publisher.* = ([0-9]+) (messages|events)\/s/\1/p' "$TMP/out")
  con=$(sed -nE 's/^lapin consumer.* = ([0-9]+) (messages|events)\/s/\1/p' "$TMP/out")
  read -r e c bc <<< "$m"
  row "$rep" "lapin-publish+consume" 100000 "$e" "$pub/$con" "$c" "$bc"
  m=$(measure "$B" publish "${Q[@]}" --input "$TMP/e100k.csv" --process-time 0s --purge "${BATCH[@]}" -q)
  read -r e c bc <<< "$m"; row "$rep" publish 100000 "$e" "$(rate_of_publish)" "$c" "$bc"
  m=$(measure "$B" worker "${Q[@]}" --exit-when-idle 1s -q --format json)
  read -r e c bc <<< "$m"
  r=$(python3 -c "import json,sys;r=json.load(open('$TMP/out'));print(r['events'],r['wall_time_s'],round(r['throughput_eps']))")
  read -r n w t <<< "$r"; row "$rep" worker-1 "$n" "$w" "$t" "$c" "$bc"
  "$B" publish "${Q[@]}" --input "$TMP/e100k.csv" --process-time 0s "${BATCH[@]}" -q > /dev/null
  b0=$(beam_ticks)
  "$B" worker "${Q[@]}" --exit-when-idle 1s -q --json "$TMP/a.json" > /dev/null 2>&1 &
  "$B" worker "${Q[@]}" --exit-when-idle 1s -q --json "$TMP/b.json" > /dev/null 2>&1
  wait
  b1=$(beam_ticks)
  r=$(python3 -c "
import json
a, b = (json.load(open('$TMP/%s.json' % x)) for x in 'ab')
w = max(a['wall_time_s'], b['wall_time_s'])
print(a['events'] + b['events'], w, round((a['events'] + b['events']) / w), a['events'], b['events'])")
  read -r n w t na nb <<< "$r"
  row "$rep" "worker-2($na+$nb)" "$n" "$w" "$t" "" "$(echo "scale=2; ($b1 - $b0) / 100" | bc)"
done
# serve --broker: the web API in front of the same queues, fed by send (64 connections).
serve_broker() {
  local b0 b1 addr=""
  b0=$(beam_ticks)
  "$B" serve --listen 127.0.0.1:0 "${Q[@]}" --json "$TMP/serve.json" > /dev/null 2> "$TMP/serve.err" &
  local pid=$!
  for _ in $(seq 1 100); do
    addr=$(sed -nE 's/.*listening on http:\/\/([^ ]+).*/\1/p' "$TMP/serve.err")
    [ -n "$addr" ] && break
    sleep 0.1
  done
  "$B" send --url "http://$addr/api" --input "$TMP/e100k.csv" --concurrency 64 -q > "$TMP/send.txt"
  kill -TERM "$pid"; wait "$pid"
  b1=$(beam_ticks)
  r=$(python3 -c "import json;r=json.load(open('$TMP/serve.json'));print(r['accepted'],r['accept_time_s'],round(r['accept_rate_eps']),r['confirm_latency_us']['p50'],r['confirm_latency_us']['p99'])")
  read -r n w t p50 p99 <<< "$r"
  row "$1" "serve-broker(confirm_p50=${p50}us;p99=${p99}us)" "$n" "$w" "$t" "" "$(echo "scale=2; ($b1 - $b0) / 100" | bc)"
}
for rep in $(seq 1 "$REPS"); do
  [[ $STEPS == *serve* ]] || break
  "$B" publish "${Q[@]}" --input "$TMP/empty.csv" --purge -q > /dev/null
  serve_broker "$rep"
done
# One million events: publish, then one worker drains them.
if [[ $STEPS == *1m* ]]; then
m=$(measure "$B" publish "${Q[@]}" --input "$TMP/e1m.csv" --process-time 0s --purge "${BATCH[@]}" -q)
read -r e c bc <<< "$m"; row 1 publish-1M 1000000 "$e" "$(rate_of_publish)" "$c" "$bc"
m=$(measure "$B" worker "${Q[@]}" --exit-when-idle 1s -q --format json)
read -r e c bc <<< "$m"
cp "$TMP/out" "${WORKER_1M_JSON:-$OUT/worker-1M.json}"
r=$(python3 -c "import json;r=json.load(open('$TMP/out'));print(r['events'],r['wall_time_s'],round(r['throughput_eps']),r['ordering_violations'])")
read -r n w t v <<< "$r"; row 1 "worker-1M(violations=$v)" "$n" "$w" "$t" "$c" "$bc"
fi
echo "# load at end: $(uptime)" >> "$MACHINE"
column -s, -t < "$RAW"
