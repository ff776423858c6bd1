# Sourced by the broker run.sh scripts: CPU accounting around one command.
# Needs TMP (a scratch folder). BEAM_PID names the broker's beam.smp; else the first one found.
BEAM="${BEAM_PID:-$(pgrep -f beam.smp | head -1 || true)}"
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
