#!/usr/bin/env bash
# Session 3 of results/2026-11-28-handlers: the http: handler on hyper's connection API (this
# commit) against wrk -c 64 on the same local sink, on 10,000 events / 1,000 accounts (the
# issue's size) and on 200,000 events / 1,000 accounts (a steadier figure), 64 workers.
#
# Usage: results/2026-11-28-handlers/session3/run.sh [repeats]      (default 7)
#   BASELINE_BIN=path  also runs that binary beside ours: a release build of commit 4c1f709, the
#                      reqwest client measured in the earlier sessions
#   MEASURE_LOCK=path  hold this lock (flock) while measuring, not while building
#   PORT=n             the sink's port (default 18091)
#   RAW=dir            where the raw data go (default raw; summary.txt beside, suffixed alike)
# Needs wrk, python3 and GNU time; uses chrt -f 1 (sink, eventbench and wrk alike) when allowed.
set -euo pipefail
case ${BASELINE_BIN:-} in "" | /*) ;; *) export BASELINE_BIN=$PWD/$BASELINE_BIN ;; esac
cd "$(dirname "$0")"
. ../../scripts/lib.sh
if [ "${1:-}" != --measure ]; then
  # Build first, then measure in a second invocation, so MEASURE_LOCK is held only while measuring.
  export REPEATS=${1:-7}
  eb_build --bin eventbench --example http_sink
  eb_locked "$PWD/run.sh" --measure
  exit 0
fi
BIN=$EVENTBENCH
SINK=$EB_EXAMPLES/http_sink
OLD=${BASELINE_BIN:-}
PORT=${PORT:-18091}
URL=http://127.0.0.1:$PORT/event
RAW=${RAW:-raw}
RT=""
if chrt -f 1 true 2>/dev/null; then RT="chrt -f 1"; fi
mkdir -p "$RAW"
"$BIN" generate --events 10000 --max-account-id 1000 --seed 7 --output $RAW/events-10k.csv 2>/dev/null
"$BIN" generate --events 200000 --max-account-id 1000 --seed 7 --output $RAW/events-200k.csv 2>/dev/null
{ "$EB_SCRIPTS/machine.sh"; echo "- Real-time priority: ${RT:-none}"; } > "$RAW/machine.txt"

$RT "$SINK" 127.0.0.1:$PORT 2>/dev/null &
SINK_PID=$!
eb_at_exit "kill $SINK_PID; rm -f '$RAW/events-200k.csv'"
sleep 0.5

# The sink's CPU ticks (user + system, 1/100 s), to show what the server spent per request.
ticks() { awk '{print $14 + $15}' /proc/$SINK_PID/stat; }
# One eventbench run: label, binary, events file, extra env; the process's CPU via GNU time.
ours() {
  local label=$1 bin=$2 events=$3 i=$4; shift 4
  local t0; t0=$(ticks)
  env "$@" /usr/bin/time -f "cpu_s %U %S" -o $RAW/$label-cpu-$i.txt \
    $RT "$bin" run --quiet --input "$events" --workers 64 --handler "http:$URL" \
    --json $RAW/$label-$i.json >/dev/null
  echo "sink_ticks $(( $(ticks) - t0 ))" >> $RAW/$label-cpu-$i.txt
}

for i in $(seq 1 "$REPEATS"); do
  echo "repeat $i $(date -u +%H:%M:%S) load $(eb_load3)" | tee -a $RAW/load.txt
  ours http10k-ours "$BIN" $RAW/events-10k.csv "$i"
  ours http10k-ours-1thread "$BIN" $RAW/events-10k.csv "$i" TOKIO_WORKER_THREADS=1
  if [ -n "$OLD" ]; then ours http10k-reqwest "$OLD" $RAW/events-10k.csv "$i"; fi
  t0=$(ticks)
  /usr/bin/time -f "cpu_s %U %S" -o $RAW/wrk-cpu-$i.txt \
    $RT wrk -t 2 -c 64 -d 5s -s ../post.lua "$URL" > $RAW/wrk-$i.txt
  echo "sink_ticks $(( $(ticks) - t0 ))" >> $RAW/wrk-cpu-$i.txt
  ours http200k-ours "$BIN" $RAW/events-200k.csv "$i"
  ours http200k-ours-1thread "$BIN" $RAW/events-200k.csv "$i" TOKIO_WORKER_THREADS=1
  if [ -n "$OLD" ]; then ours http200k-reqwest "$OLD" $RAW/events-200k.csv "$i"; fi
done
echo "end $(date -u +%H:%M:%S) load $(eb_load3)" | tee -a $RAW/load.txt
python3 summarize.py "$RAW" | tee "$RAW/../summary${RAW#raw}.txt"
