#!/usr/bin/env bash
# Sourced by the broker throughput scripts (results/2026-11-28-broker/run.sh, session3/run.sh):
# wall and CPU accounting around one command, the broker's CPU included, because on a shared
# machine wall rates swing with the load and CPU per event does much less.
# Needs TMP (a scratch folder). BEAM_PID names the broker's beam.smp; else the first one found.
BEAM="${BEAM_PID:-$(pgrep -f beam.smp | head -1 || true)}"
# The broker's CPU so far (utime + stime, in 1/100 s), 0 when no broker process is known.
beam_ticks() { if [ -n "$BEAM" ]; then awk '{print $14+$15}' "/proc/$BEAM/stat"; else echo 0; fi; }
# Runs a command; prints "<wall s> <own cpu s> <beam cpu s>"; its stdout goes to $TMP/out.
measure() {
  local b0 b1
  b0=$(beam_ticks)
  /usr/bin/time -f "%e %U %S" -o "$TMP/time" "$@" > "$TMP/out" 2> "$TMP/err" || { cat "$TMP/err" >&2; return 1; }
  b1=$(beam_ticks)
  read -r e u s < "$TMP/time"
  echo "$e $(echo "$u + $s" | bc) $(echo "scale=2; ($b1 - $b0) / 100" | bc)"
}
