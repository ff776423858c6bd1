#!/usr/bin/env bash
# Every run of this folder, durable and in-memory back to back under the same load.
set -euo pipefail
cd "$(dirname "$0")"
for conns in 32 256; do
  for mode in durable memory; do
    DEPTH=16 MODE=$mode ./run.sh pipelined-c$conns-$mode 1 $conns 10s
  done
done
for conns in 64 256; do
  for mode in durable memory; do
    DEPTH=1 MODE=$mode ./run.sh keepalive-c$conns-$mode 1 $conns 10s
  done
done
# At least a million events through the durable queue, then the size of the drained data dir.
DEPTH=16 MODE=durable ./run.sh million-durable 1 256 45s
