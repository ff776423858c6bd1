#!/usr/bin/env bash
# Intake of `eventbench serve` with the durable queue (default) and --in-memory, same wrk
# load, one after the other in the same session: wrk posts JSON events with unique ids for a
# bounded time, then the server is stopped with SIGINT, drains, verifies and reports.
# Usage: [DEPTH=1] [MODE=durable|memory] run.sh OUTDIR [WRK_THREADS] [CONNECTIONS] [DURATION]
# DEPTH > 1 pipelines that many HTTP/1.1 requests per write (post-pipelined.lua).
# The wrk scripts are the ones of results/2026-11-26-server-load/.
set -euo pipefail
out=${1:?output folder}; threads=${2:-1}; conns=${3:-64}; dur=${4:-10s}
here=$(cd "$(dirname "$0")" && pwd)
scripts="$here/../2026-11-26-server-load"
bin=${EVENTBENCH:-$here/../../target/release/eventbench}
port=${PORT:-39300}
depth=${DEPTH:-1}; mode=${MODE:-durable}
mkdir -p "$out"
data="$out/data"; rm -rf "$data"
queue=(--data-dir "$data"); [ "$mode" = memory ] && queue=(--in-memory)
script=post.lua; [ "$depth" -gt 1 ] && script=post-pipelined.lua
{ echo "nproc: $(nproc)"; grep -m1 'model name' /proc/cpuinfo; echo "before: $(uptime)"; } > "$out/machine.txt"
echo "eventbench serve --listen 127.0.0.1:$port --process-time 1ms ${queue[*]} --json report.json" > "$out/command.txt"
"$bin" serve --listen 127.0.0.1:$port --process-time 1ms "${queue[@]}" --json "$out/report.json" \
  >"$out/serve-report.txt" 2>"$out/serve-stderr.txt" &
server=$!
sleep 1
echo "wrk -t$threads -c$conns -d$dur --latency -s $script http://127.0.0.1:$port/api -- $threads 0 $depth" >> "$out/command.txt"
wrk -t"$threads" -c"$conns" -d"$dur" --latency -s "$scripts/$script" "http://127.0.0.1:$port/api" -- "$threads" 0 "$depth" \
  | tee "$out/wrk.txt"
curl -s "http://127.0.0.1:$port/metrics" > "$out/metrics.txt"
echo "after:  $(uptime)" >> "$out/machine.txt"
[ -d "$data" ] && echo "data dir at the end of the load: $(du -sb "$data" | cut -f1) bytes" >> "$out/disk.txt"
kill -INT "$server"
wait "$server"
echo "server exit code: $?" >> "$out/serve-stderr.txt"
if [ -d "$data" ]; then
  # The committer compacts once idle; a fresh open + close does the same for a stopped server.
  echo "data dir after drain and shutdown: $(du -sb "$data" | cut -f1) bytes" >> "$out/disk.txt"
  ls -l "$data" >> "$out/disk.txt"
  rm -rf "$data"
fi
head -8 "$out/serve-report.txt"
grep -E "^eventbench_(events_accepted_total|requests_rejected_total|durable_)" "$out/metrics.txt" | grep -v " 0$" || true
