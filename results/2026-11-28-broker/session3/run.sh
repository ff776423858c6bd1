#!/usr/bin/env bash
# Session 3 broker throughput: 100,000 events, 50 queues, 10,000 accounts, zero processing time.
# Per repetition: the minimal lapin client (1 event per message, and BATCH events per message),
# publish --batch 1 then one worker, publish --batch BATCH then one worker, then two workers;
# after the repetitions 1,000,000 events through publish + one worker, and again through two
# workers started together. Wall rates and CPU time:
# eventbench's own (user + sys) and the broker's (beam.smp utime + stime from /proc).
# Usage: results/2026-11-28-broker/session3/run.sh [AMQP_URL]
#   (this session held a measurement lock around the whole run: MEASURE_LOCK=file does that)
# Env: REPS (3), REPS_1M (1), BATCH (100), STEPS (reps,1m), BEAM_PID (the broker's beam.smp; else the first
# one found), RAW (output file, default session3/raw.csv, appended), NO_BUILD, EVENTBENCH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib.sh"
if [ -n "${MEASURE_LOCK:-}" ]; then
  eb_build --bin eventbench --example amqp_ceiling
  NO_BUILD=1 MEASURE_LOCK='' exec flock "$MEASURE_LOCK" "$0" "$@"
fi
OUT=$here
URL="${1:-${EVENTBENCH_AMQP_URL:-amqp://127.0.0.1:5672/%2f}}"
REPS="${REPS:-3}"
BATCH="${BATCH:-100}"
STEPS="${STEPS:-reps,1m}"
RAW="${RAW:-$OUT/raw.csv}"
eb_build --bin eventbench --example amqp_ceiling
B=$EVENTBENCH
C=${AMQP_CEILING:-$EB_EXAMPLES/amqp_ceiling}
eb_scratch TMP
P="bench3-$$"
. "$EB_SCRIPTS/broker-measure.sh"
load1() { eb_load1; }
[ -s "$RAW" ] || echo "time_utc,rep,what,events,messages,wall_s,rate_eps,own_cpu_s,beam_cpu_s,own_us_per_event,beam_us_per_event,load1" > "$RAW"
row() { # rep what events messages wall rate own beam
  local own_us beam_us
  own_us=$( [ -n "$7" ] && echo "scale=1; $7 * 1000000 / $3" | bc || echo "")
  beam_us=$(echo "scale=1; $8 * 1000000 / $3" | bc)
  echo "$(date -u +%H:%M:%S),$1,$2,$3,$4,$5,$6,$7,$8,$own_us,$beam_us,$(load1)" >> "$RAW"
}
{
  echo "# $(date -u) commit $(git -C "$EB_ROOT" rev-parse --short HEAD) url $URL batch $BATCH"
  "$EB_SCRIPTS/machine.sh"
} >> "$OUT/machine.txt"
"$B" generate --events 100000 --max-account-id 10000 --seed 1 --output "$TMP/e100k.csv" 2>/dev/null
[[ $STEPS != *1m* ]] || "$B" generate --events 1000000 --max-account-id 100000 --seed 1 --output "$TMP/e1m.csv" 2>/dev/null
Q=(--broker "$URL" --queues 50 --queue-prefix "$P")
published_rate() { sed -E 's/.*\(([0-9]+) events\/s\).*/\1/' "$TMP/out"; }
published_msgs() { sed -E 's/.*; ([0-9]+) messages of up to.*/\1/' "$TMP/out"; }
ceiling() { # rep batch
  local m e c bc pub con
  m=$(measure "$C" "$URL" 100000 50 "$2")
  pub=$(sed -nE 's/^lapin publisher.* = ([0-9]+) events\/s/\1/p' "$TMP/out")
  con=$(sed -nE 's/^lapin consumer.* = ([0-9]+) events\/s/\1/p' "$TMP/out")
  read -r e c bc <<< "$m"
  row "$1" "lapin-ceiling-batch$2(publish/consume)" 100000 $(( (100000 + $2 - 1) / $2 )) "$e" "$pub/$con" "$c" "$bc"
}
publish() { # rep label file events batch
  local m e c bc
  m=$(measure "$B" publish "${Q[@]}" --input "$3" --process-time 0s --purge --batch "$5")
  read -r e c bc <<< "$m"
  row "$1" "$2" "$4" "$(published_msgs)" "$e" "$(published_rate)" "$c" "$bc"
}
worker1() { # rep label
  local m e c bc r n w t msgs
  m=$(measure "$B" worker "${Q[@]}" --exit-when-idle 1s -q --json "$TMP/last-worker.json")
  read -r e c bc <<< "$m"
  r=$(python3 -c "import json;r=json.load(open('$TMP/last-worker.json'));print(r['events'],r['wall_time_s'],round(r['throughput_eps']),r['broker']['messages'],r['ordering_violations'])")
  read -r n w t msgs v <<< "$r"
  row "$1" "$2(violations=$v)" "$n" "$msgs" "$w" "$t" "$c" "$bc"
}
worker2() { # rep [label]
  local b0 b1 r
  b0=$(beam_ticks)
  "$B" worker "${Q[@]}" --exit-when-idle 1s -q --json "$TMP/a.json" > /dev/null 2>&1 &
  "$B" worker "${Q[@]}" --exit-when-idle 1s -q --json "$TMP/b.json" > /dev/null 2>&1
  wait
  b1=$(beam_ticks)
  r=$(python3 -c "
import json
def cpu(r):
    return r.get('cpu_time_s', r.get('handling', {}).get('cpu_time_s', 0))
a, b = (json.load(open('$TMP/%s.json' % x)) for x in 'ab')
w = max(a['wall_time_s'], b['wall_time_s'])
n = a['events'] + b['events']
v = a['ordering_violations'] + b['ordering_violations']
print(n, w, round(n / w), a['events'], b['events'], a['broker']['messages'] + b['broker']['messages'], round(cpu(a) + cpu(b), 2), v)")
  read -r n w t na nb msgs c v <<< "$r"
  row "$1" "${2:-worker-2}($na+$nb;violations=$v)" "$n" "$msgs" "$w" "$t" "$c" "$(echo "scale=2; ($b1 - $b0) / 100" | bc)"
}
for rep in $(seq 1 "$REPS"); do
  [[ $STEPS == *reps* ]] || break
  ceiling "$rep" 1
  ceiling "$rep" "$BATCH"
  publish "$rep" publish-batch1 "$TMP/e100k.csv" 100000 1
  worker1 "$rep" worker-1-on-batch1
  publish "$rep" "publish-batch$BATCH" "$TMP/e100k.csv" 100000 "$BATCH"
  worker1 "$rep" "worker-1-on-batch$BATCH"
  "$B" publish "${Q[@]}" --input "$TMP/e100k.csv" --process-time 0s --batch "$BATCH" -q > /dev/null
  worker2 "$rep"
done
for rep in $(seq 1 "${REPS_1M:-1}"); do
  [[ $STEPS == *1m* ]] || break
  publish "$rep" "publish-1M-batch$BATCH" "$TMP/e1m.csv" 1000000 "$BATCH"
  worker1 "$rep" "worker-1M-batch$BATCH"
  cp "$TMP/last-worker.json" "$OUT/worker-1M.json"
  "$B" publish "${Q[@]}" --input "$TMP/e1m.csv" --process-time 0s --batch "$BATCH" -q > /dev/null
  worker2 "$rep" "worker-2-1M-batch$BATCH"
done
"$C" --delete "$URL" "$P" 50
echo "# load at end: $(uptime)" >> "$OUT/machine.txt"
column -s, -t < "$RAW"
