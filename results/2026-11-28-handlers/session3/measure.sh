#!/usr/bin/env bash
# The measuring half of run.sh (no building here, so a measurement lock is held only while
# measuring). See run.sh.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../../.. && pwd)
BIN=$ROOT/target/release/eventbench
SINK=$ROOT/target/release/examples/http_sink
OLD=${BASELINE_BIN:-}
PORT=${PORT:-18091}
URL=http://127.0.0.1:$PORT/event
RAW=${RAW:-raw}
RT=""
if chrt -f 1 true 2>/dev/null; then RT="chrt -f 1"; fi
mkdir -p "$RAW"
$BIN generate --events 10000 --max-account-id 1000 --seed 7 --output $RAW/events-10k.csv 2>/dev/null
$BIN generate --events 200000 --max-account-id 1000 --seed 7 --output $RAW/events-200k.csv 2>/dev/null
{ uname -srm; nproc; grep -m1 'model name' /proc/cpuinfo; free -g | sed -n 2p;
  echo "realtime: ${RT:-none}"; git -C "$ROOT" rev-parse HEAD; } > $RAW/machine.txt

$RT "$SINK" 127.0.0.1:$PORT 2>/dev/null &
SINK_PID=$!
trap 'kill $SINK_PID; rm -f $RAW/events-200k.csv' EXIT
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
  echo "repeat $i $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $RAW/load.txt
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
echo "end $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $RAW/load.txt
python3 summarize.py "$RAW" | tee "$RAW/../summary${RAW#raw}.txt"
