#!/usr/bin/env bash
# The virtual clock at 10M and 100M events (issue 28): wall, CPU and peak memory of
# `run --clock virtual` on generated workloads, N runs each, for one binary or two.
#
# usage: run.sh [RUNS]          (default 2)
#   EVENTBENCH      the binary measured (default: this repository's release build)
#   EVENTBENCH_OLD  optional second binary measured the same way, alternating with the first
#   SIZES           which workloads, default "10m 100m" (100m needs ~2 GB of disk and memory);
#                   "1b" (1 billion events over 100M accounts) is piped from `generate`, never
#                   written to disk, measures EVENTBENCH only, and is capped at AS_CAP bytes of
#                   address space (default 20e9) so it fails cleanly rather than exhaust memory
#   RAW             the folder under this one for the raw lines (default raw)
# Writes $RAW/<binary>-<size>.txt (one /usr/bin/time line per run) and prints a summary.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
RUNS=${1:-2}
SIZES=${SIZES:-10m 100m}
RAW=${RAW:-raw}
AS_CAP=${AS_CAP:-20000000000}
here=$(cd "$(dirname "$0")" && pwd)
eb_build
eb_scratch work
mkdir -p "$here/$RAW"
bash "$EB_SCRIPTS/machine.sh" > "$here/machine.txt" 2>/dev/null || true
for size in $SIZES; do
  case $size in
    10m) events=10000000; accounts=1000000 ;;
    100m) events=100000000; accounts=10000000 ;;
    1b) continue ;;
    *) echo "unknown size $size" >&2; exit 2 ;;
  esac
  "$EVENTBENCH" generate -q --events $events --max-account-id $accounts --seed 1 \
    --output "$work/$size.csv"
  cat "$work/$size.csv" > /dev/null   # in the page cache before the first timed run
done
measure() { # name binary size
  /usr/bin/time -f "%e s wall  %U s user  %S s sys  %M KB peak  load $(eb_load1)" \
    "$2" run --clock virtual -q --input "$work/$3.csv" 2>&1 >/dev/null | tail -n 1 \
    | tee -a "$here/$RAW/$1-$3.txt"
}
measure_1b() { # name binary
  "$2" generate -q --events 1000000000 --max-account-id 100000000 --seed 1 --output - \
    | prlimit --as="$AS_CAP" /usr/bin/time \
      -f "%e s wall  %U s user  %S s sys  %M KB peak  load $(eb_load1)" \
      "$2" run --clock virtual -q 2>&1 >/dev/null | tail -n 1 | tee -a "$here/$RAW/$1-1b.txt"
}
for _ in $(seq "$RUNS"); do
  for size in $SIZES; do
    if [ "$size" = 1b ]; then measure_1b new "$EVENTBENCH"; continue; fi
    measure new "$EVENTBENCH" "$size"
    [ -n "${EVENTBENCH_OLD:-}" ] && measure old "$EVENTBENCH_OLD" "$size"
  done
done
