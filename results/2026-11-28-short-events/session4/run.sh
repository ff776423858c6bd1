#!/usr/bin/env bash
# Session 4 of results/2026-11-28-short-events (issue 16): the whole table of session 3 again
# after the timer pump (the wait near a deadline moved from the timer thread onto a tokio
# worker), medians of 5, CPU time beside each run, at NORMAL priority by default (what a user
# runs; session 3 ran under chrt -f 1). The runs are ../run.sh, as in session 3.
#
#   results/2026-11-28-short-events/session4/run.sh [RAW_DIR]   # 5 repetitions (about 11 minutes)
#   REPS=1 results/2026-11-28-short-events/session4/run.sh      # one quick pass
#   PRIO=rt results/2026-11-28-short-events/session4/run.sh     # under `chrt -f 1`
# The re-checks were `REPS=3 session4/run.sh session4/raw-recheck` (and raw-recheck-h400 on the
# 400 µs build); each summary-*.md is `summarize.py` of its raw folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PRIO=${PRIO:-normal} exec "$here/../run.sh" "${1:-$here/raw}"
