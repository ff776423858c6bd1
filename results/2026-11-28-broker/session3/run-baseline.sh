#!/usr/bin/env bash
# How session 3 re-measured last session's build first (raw-baseline.csv): ../run.sh, the
# session-2 script, run on the binaries of commit 4c1f709, which predate `publish --batch`
# (so no --batch flag), against the private broker of this session.
# Reproduce: build commit 4c1f709 (`cargo build --release --bin eventbench --example
# amqp_ceiling` in a checkout of it), then
#   BASE=<that checkout>/target/release BEAM_PID=<beam.smp pid> \
#     results/2026-11-28-broker/session3/run-baseline.sh [AMQP_URL]
# Runs the repetitions only (STEPS=reps, REPS=3), as recorded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BASE=${BASE:?the release folder of a build of commit 4c1f709}
export NO_BUILD=1 EVENTBENCH="$BASE/eventbench" AMQP_CEILING="$BASE/examples/amqp_ceiling"
export PUBLISH_BATCH='' STEPS=${STEPS:-reps} REPS=${REPS:-3}
export OUT="$here" RAW="$here/raw-baseline.csv" MACHINE="$here/machine-baseline.txt"
export WORKER_1M_JSON="$here/worker-1M-baseline.json"
exec "$here/../run.sh" "$@"
