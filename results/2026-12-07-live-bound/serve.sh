#!/bin/bash
# usage: serve.sh BIN TAG — serve --in-memory --process-time 100ms, idle 3 s, send --rate 200
# Needs events.csv: eventbench generate --events 1000 --max-account-id 100 --seed 7
B=$1; T=$2
$B serve --in-memory --listen 127.0.0.1:0 --process-time 100ms --json serve-$T.json >serve-$T.out 2>serve-$T.err &
P=$!
for i in $(seq 50); do grep -q "listening on" serve-$T.err && break; sleep 0.1; done
ADDR=$(grep -o "listening on http://[0-9.:]*" serve-$T.err | sed 's/listening on //')
sleep 3
$B send -q --rate 200 --url $ADDR/api --input events.csv >send-$T.out 2>&1
sleep 0.5
kill -INT $P; wait $P
python3 -c "import json;r=json.load(open('serve-$T.json'));print('$T', {k:r.get(k) for k in ['wall_time_s','lower_bound_s','efficiency','timing_basis','unprocessed']})"
