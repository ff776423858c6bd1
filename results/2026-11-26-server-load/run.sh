#!/usr/bin/env bash
# Load test of `eventbench serve` on loopback: wrk posts JSON events with unique ids for a
# bounded time, then the server is stopped with SIGINT and verifies + reports.
# Usage: [DEPTH=16] [MAX_QUEUED=1000000] [WORKERS=auto] run.sh OUTDIR [WRK_THREADS] [CONNECTIONS] [DURATION]
# DEPTH > 1 uses post-pipelined.lua (that many HTTP/1.1 requests per write).
set -euo pipefail
out=${1:?output folder}; threads=${2:-1}; conns=${3:-64}; dur=${4:-10s}
here=$(cd "$(dirname "$0")" && pwd)
bin=${EVENTBENCH:-/work/target-server/release/eventbench}
port=39200
mkdir -p "$out"
{ echo "nproc: $(nproc)"; grep -m1 'model name' /proc/cpuinfo; uptime; } > "$out/machine.txt"
depth=${DEPTH:-1}; max_queued=${MAX_QUEUED:-1000000}; workers=${WORKERS:-auto}
script=post.lua; [ "$depth" -gt 1 ] && script=post-pipelined.lua
echo "eventbench serve --listen 127.0.0.1:$port --process-time 1ms --max-queued $max_queued --workers $workers" > "$out/command.txt"
"$bin" serve --listen 127.0.0.1:$port --process-time 1ms --max-queued "$max_queued" --workers "$workers" \
  --leftover "$out/leftover.csv" --json "$out/report.json" >"$out/serve-report.txt" 2>"$out/serve-stderr.txt" &
server=$!
sleep 1
echo "wrk -t$threads -c$conns -d$dur --latency -s $script http://127.0.0.1:$port/api -- $threads 0 $depth" >> "$out/command.txt"
wrk -t"$threads" -c"$conns" -d"$dur" --latency -s "$here/$script" "http://127.0.0.1:$port/api" -- "$threads" 0 "$depth" \
  | tee "$out/wrk.txt"
curl -s "http://127.0.0.1:$port/metrics" > "$out/metrics.txt"
uptime >> "$out/machine.txt"
kill -INT "$server"
wait "$server"
echo "server exit code: $?" >> "$out/serve-stderr.txt"
head -8 "$out/serve-report.txt"
grep -E "^eventbench_(events_accepted_total|requests_rejected_total)" "$out/metrics.txt" | grep -v " 0$"
