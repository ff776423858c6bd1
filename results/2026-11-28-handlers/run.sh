#!/usr/bin/env bash
# Reproduces results/2026-11-28-handlers: exec:/bin/true against xargs -P 16, and http: against
# wrk -c 64, each on 10,000 events / 1,000 accounts, alternating the two tools per repeat so
# machine load hits both alike. Usage: results/2026-11-28-handlers/run.sh [repeats]
# Writes raw/ and summary.txt here; needs wrk and bc.
set -euo pipefail
cd "$(dirname "$0")"
. ../scripts/lib.sh
REPEATS=${1:-3}
BIN=$EVENTBENCH
SINK=$EB_EXAMPLES/http_sink
eb_build --bin eventbench --example http_sink
eb_scratch work
events=$work/events.csv
mkdir -p raw
"$BIN" generate --events 10000 --max-account-id 1000 --seed 7 --output "$events" 2>/dev/null
"$EB_SCRIPTS/machine.sh" > raw/machine.txt

now() { date +%s.%N; }
for i in $(seq 1 "$REPEATS"); do
  echo "load before exec repeat $i: $(eb_load3)" | tee -a raw/load.txt
  # The same 10,000 command lines: /bin/true EVENT_ID ACCOUNT_ID, 16 at a time.
  "$BIN" run --quiet --input "$events" --workers 16 \
      --handler 'exec:/bin/true {event_id} {account_id}' --json raw/exec-ours-$i.json >/dev/null
  t0=$(now)
  tail -n +2 "$events" | tr ',' ' ' | xargs -P 16 -n 2 /bin/true
  t1=$(now)
  echo "$i $(echo "$t1 - $t0" | bc)" >> raw/exec-xargs-seconds.txt
done

"$SINK" 127.0.0.1:8089 2>/dev/null &
SINK_PID=$!
eb_at_exit "kill $SINK_PID"
sleep 0.5
for i in $(seq 1 "$REPEATS"); do
  echo "load before http repeat $i: $(eb_load3)" | tee -a raw/load.txt
  "$BIN" run --quiet --input "$events" --workers 64 \
      --handler http:http://127.0.0.1:8089/event --json raw/http-ours-$i.json >/dev/null
  # wrk's own CPU (user + system) too: per request, a load-independent figure.
  /usr/bin/time -f "cpu_s %U %S" -o raw/http-wrk-cpu-$i.txt \
      wrk -t 2 -c 64 -d 5s -s post.lua http://127.0.0.1:8089/event > raw/http-wrk-$i.txt
done
python3 summarize.py | tee summary.txt
