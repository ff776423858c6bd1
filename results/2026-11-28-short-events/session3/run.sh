#!/usr/bin/env bash
# Session 3 of results/2026-11-28-short-events (issue 16): the whole table again after the
# adaptive lead and the one-worker sleep runtime, medians of 5, CPU time beside each run, every
# run under `chrt -f 1`. The runs are ../run.sh; this sets session 3's priority and folder.
#
#   results/2026-11-28-short-events/session3/run.sh [RAW_DIR]   # 5 repetitions (about 11 minutes)
#   REPS=1 results/2026-11-28-short-events/session3/run.sh      # one quick pass
#   PRIO=normal ...                                             # without `chrt -f 1`
#   MEASURE_LOCK=file ...   each repetition held a lock shared with the others measuring on the
#                           machine (builds outside it)
# Raw reports: raw/<label>-<rep>.json (pass A was RAW_DIR=raw-a); summary: summary.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PRIO=${PRIO:-rt} exec "$here/../run.sh" "${1:-$here/raw}"
