#!/usr/bin/env bash
# Reproduces results/2026-11-26-durations: the Confluent Parallel Consumer table on per-event
# durations (real clock), and two virtual-clock compare sweeps (even and zipf:1.2).
#
#   results/2026-11-26-durations/run.sh             # everything (about 90 s of real-clock runs)
#   results/2026-11-26-durations/run.sh virtual     # only the virtual-clock sweeps (instant)
#
# Run it on an otherwise idle machine: two timing runs at once distort both.
# The workloads (results/scripts/gen-durations.sh) go to a scratch folder, or to WORK=dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"
OUT=$here
[ -n "${WORK:-}" ] || eb_scratch WORK
eb_build --bin eventbench
E=$EVENTBENCH
"$EB_SCRIPTS/gen-durations.sh" "$WORK"

# Virtual-clock sweeps: which strategy wins with durations, on an even and a skewed workload.
for w in key-1000 zipf-1000; do
  "$E" compare -q --input "$WORK/$w.csv" --workers 10,100,500,auto \
    --strategies sharded,pool,optimal --clock virtual --output-dir "$OUT/compare-$w" >/dev/null
done
[ "${1:-}" = virtual ] && exit 0

# Real clock, 100 workers (Confluent's max concurrency), optimal and pool.
real() { # name input strategy
  "$E" run -q --input "$WORK/$2.csv" --workers 100 --strategy "$3" --clock real \
    --json "$OUT/$1.json" >/dev/null
}
for w in key-1 key-2 key-10 key-1000 unordered; do
  real "$w-optimal" "$w" optimal
  real "$w-pool" "$w" pool
done
# PARTITION ordering: a Kafka partition is a lane that runs its keys FIFO, i.e. `sharded`;
# 100 partitions (= the 100 workers) over the 1,000 keys.
real partition-1000-sharded key-1000 sharded
