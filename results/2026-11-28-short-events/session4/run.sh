#!/usr/bin/env bash
# Session 4 of results/2026-11-28-short-events (issue 16): the whole table of session 3 again
# after the timer pump (the wait near a deadline moved from the timer thread onto a tokio
# worker), medians of 5, CPU time beside each run, at NORMAL priority by default (what a user
# runs; session 3 ran under chrt -f 1). The runs themselves are session 3's script, unchanged.
#
#   results/2026-11-28-short-events/session4/run.sh          # 5 repetitions (about 11 minutes)
#   REPS=1 results/2026-11-28-short-events/session4/run.sh   # one quick pass
#   PRIO=rt results/2026-11-28-short-events/session4/run.sh  # under `chrt -f 1`
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export OUT=${OUT:-results/2026-11-28-short-events/session4}
export WORK=${TMPDIR:-/tmp}/eventbench-short-events-s4
export PRIO=${PRIO:-normal}
exec "$here/../session3/run.sh" "$@"
