#!/usr/bin/env bash
# Last session's results/2026-11-28-broker/run.sh as run for session3/baseline: binaries built at
# commit 4c1f709 copied to /tmp/broker2-base/, run from the worktree, BEAM_PID for the private node.
# Reproduce: build that commit, copy target/release/{eventbench,examples/amqp_ceiling} there, then
# BEAM_PID=<beam.smp pid> STEPS=reps REPS=3 bash this-file [AMQP_URL]
# Kept as a frozen copy (not sourcing ../../measure.sh) because it must run the session-2
# binaries exactly as they were measured, flags included (they have no --batch).
# Broker throughput: publish, one worker, two workers (zero processing time, 100,000 events,
# 50 queues, 10,000 accounts), the lapin ceiling in the same run, then 1,000,000 events through
# publish + worker. Records wall rates and CPU time (eventbench's own, and RabbitMQ's beam.smp
# from /proc), because the shared 2-core machine makes wall rates noisy.
# Usage: bash results/2026-11-28-broker/run.sh [AMQP_URL]   (from the repository root)
# STEPS=reps,serve,1m (default: all) picks parts; RAW=file appends to another raw file.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
OUT=results/2026-11-28-broker/session3/baseline
URL="${1:-${EVENTBENCH_AMQP_URL:-amqp://127.0.0.1:5672/%2f}}"
REPS="${REPS:-3}"
# (binaries prebuilt at the baseline commit)
B=/tmp/broker2-base/eventbench
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
P="bench-$$"
BEAM=${BEAM_PID:-$(pgrep -f beam.smp | head -1 || true)}
beam_ticks() { if [ -n "$BEAM" ]; then awk '{print $14+$15}' "/proc/$BEAM/stat"; else echo 0; fi; }
# Runs a command; prints "<wall s> <own cpu s> <beam cpu s>" on fd 3, its stdout to $TMP/out.
measure() {
  local b0 b1
  b0=$(beam_ticks)
  /usr/bin/time -f "%e %U %S" -o "$TMP/time" "$@" > "$TMP/out" 2> "$TMP/err" || { cat "$TMP/err" >&2; return 1; }
  b1=$(beam_ticks)
  read -r e u s < "$TMP/time"
  echo "$e $(echo "$u + $s" | bc) $(echo "scale=2; ($b1 - $b0) / 100" | bc)"
}
{
  echo "# machine"; uname -a; nproc; grep -m1 "model name" /proc/cpuinfo; free -g | head -2
  echo "# load at start: $(uptime)"
} >> "$OUT/machine.txt.new"
if [ "${STEPS:-reps,serve,1m}" = "reps,serve,1m" ]; then mv "$OUT/machine.txt.new" "$OUT/machine.txt"
else { echo "# partial run, steps ${STEPS}"; cat "$OUT/machine.txt.new"; } >> "$OUT/machine.txt"; rm "$OUT/machine.txt.new"; fi
$B generate --events 100000 --max-account-id 10000 --seed 1 --output "$TMP/e100k.csv" 2>/dev/null
$B generate --events 1000000 --max-account-id 100000 --seed 1 --output "$TMP/e1m.csv" 2>/dev/null
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
  m=$(measure /tmp/broker2-base/amqp_ceiling "$URL" 100000 50)
  pub=$(sed -nE 's/^lapin publisher.* = ([0-9]+) messages\/s/\1/p' "$TMP/out")
  con=$(sed -nE 's/^lapin consumer.* = ([0-9]+) messages\/s/\1/p' "$TMP/out")
  read -r e c bc <<< "$m"
  row "$rep" "lapin-publish+consume" 100000 "$e" "$pub/$con" "$c" "$bc"
  m=$(measure $B publish "${Q[@]}" --input "$TMP/e100k.csv" --process-time 0s --purge -q)
  read -r e c bc <<< "$m"; row "$rep" publish 100000 "$e" "$(rate_of_publish)" "$c" "$bc"
  m=$(measure $B worker "${Q[@]}" --exit-when-idle 1s -q --format json)
  read -r e c bc <<< "$m"
  r=$(python3 -c "import json,sys;r=json.load(open('$TMP/out'));print(r['events'],r['wall_time_s'],round(r['throughput_eps']))")
  read -r n w t <<< "$r"; row "$rep" worker-1 "$n" "$w" "$t" "$c" "$bc"
  $B publish "${Q[@]}" --input "$TMP/e100k.csv" --process-time 0s -q > /dev/null
  b0=$(beam_ticks)
  $B worker "${Q[@]}" --exit-when-idle 1s -q --json "$TMP/a.json" > /dev/null 2>&1 &
  $B worker "${Q[@]}" --exit-when-idle 1s -q --json "$TMP/b.json" > /dev/null 2>&1
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
  $B serve --listen 127.0.0.1:0 "${Q[@]}" --json "$TMP/serve.json" > /dev/null 2> "$TMP/serve.err" &
  local pid=$!
  for _ in $(seq 1 100); do
    addr=$(sed -nE 's/.*listening on http:\/\/([^ ]+).*/\1/p' "$TMP/serve.err")
    [ -n "$addr" ] && break
    sleep 0.1
  done
  $B send --url "http://$addr/api" --input "$TMP/e100k.csv" --concurrency 64 -q > "$TMP/send.txt"
  kill -TERM "$pid"; wait "$pid"
  b1=$(beam_ticks)
  r=$(python3 -c "import json;r=json.load(open('$TMP/serve.json'));print(r['accepted'],r['accept_time_s'],round(r['accept_rate_eps']),r['confirm_latency_us']['p50'],r['confirm_latency_us']['p99'])")
  read -r n w t p50 p99 <<< "$r"
  row "$1" "serve-broker(confirm_p50=${p50}us;p99=${p99}us)" "$n" "$w" "$t" "" "$(echo "scale=2; ($b1 - $b0) / 100" | bc)"
}
for rep in $(seq 1 "$REPS"); do
  [[ $STEPS == *serve* ]] || break
  $B publish "${Q[@]}" --input "$TMP/empty.csv" --purge -q > /dev/null
  serve_broker "$rep"
done
# One million events: publish, then one worker drains them.
if [[ $STEPS == *1m* ]]; then
m=$(measure $B publish "${Q[@]}" --input "$TMP/e1m.csv" --process-time 0s --purge -q)
read -r e c bc <<< "$m"; row 1 publish-1M 1000000 "$e" "$(rate_of_publish)" "$c" "$bc"
m=$(measure $B worker "${Q[@]}" --exit-when-idle 1s -q --format json)
read -r e c bc <<< "$m"
cp "$TMP/out" "$OUT/worker-1M.json"
r=$(python3 -c "import json;r=json.load(open('$TMP/out'));print(r['events'],r['wall_time_s'],round(r['throughput_eps']),r['ordering_violations'])")
read -r n w t v <<< "$r"; row 1 "worker-1M(violations=$v)" "$n" "$w" "$t" "$c" "$bc"
fi
/tmp/broker2-base/amqp_ceiling --delete "$URL" "$P" 50
echo "# load at end: $(uptime)" >> "$OUT/machine.txt"
column -s, -t < "$RAW"
