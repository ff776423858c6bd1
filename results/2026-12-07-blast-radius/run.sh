#!/usr/bin/env bash
# Blast radius (issue 26): the busiest account of the built-in workload (10,000 events over
# 1,000 accounts; account 311, 21 events, tied with 23) slowed 20x, stalled 60 s or failing,
# swept over sharded/pool/optimal at 10, 100, 500 workers and per-account, on the virtual
# clock (1 s per event) and on the real clock at 10 ms per event, in one sitting.
#
# usage: run.sh            (about 7 minutes: the real-clock sweeps take 70 s and 5.5 min)
#   CASES           which cases, default all: virtual-none virtual-slow virtual-stall
#                   virtual-fail real-slow real-slow-50ms
#   EVENTBENCH, NO_BUILD, MEASURE_LOCK, TMPDIR: see ../scripts/lib.sh
# Writes raw/<case>/compare.{json,csv,md,svg,html}, machine.txt, load.txt and summary.md.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
eb_build
eb_scratch work
bash "$EB_SCRIPTS/machine.sh" > "$here/machine.txt" 2>/dev/null || true
"$EVENTBENCH" generate -q --seed 7 --output "$work/events.csv"
sweep=(-w 10,100,500 -s sharded,pool,optimal,per-account)
if [ -z "${CASES:-}" ]; then : > "$here/load.txt"; fi
CASES=${CASES:-virtual-none virtual-slow virtual-stall virtual-fail real-slow real-slow-50ms}
case_() { # name, then compare flags
  local name=$1; shift
  case " $CASES " in *" $name "*) ;; *) return 0 ;; esac
  rm -rf "$here/raw/$name"
  echo "$name: load before $(eb_load3)" >> "$here/load.txt"
  eb_locked "$EVENTBENCH" compare -q --input "$work/events.csv" "${sweep[@]}" \
    --output-dir "$here/raw/$name" --format json "$@" > /dev/null 2> "$work/$name.err"
  echo "$name: load after $(eb_load3)" >> "$here/load.txt"
}
case_ virtual-none
case_ virtual-slow --fault slow:311:20
case_ virtual-stall --fault stall:311:60s
case_ virtual-fail --fault fail:311 --retries 2 --retry-backoff 1s --allow-failures
case_ real-slow --clock real --process-time 10ms --fault slow:311:20
case_ real-slow-50ms --clock real --process-time 50ms --fault slow:311:20
python3 "$here/summary.py" "$here" > "$here/summary.md"
cat "$here/summary.md"
