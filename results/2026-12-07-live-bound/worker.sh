#!/bin/bash
# usage: worker.sh BIN TAG — serve --broker relay; worker started 2 s before send --rate 200
# Needs events.csv: eventbench generate --events 1000 --max-account-id 100 --seed 7
# Needs RabbitMQ on 127.0.0.1:5672.
B=$1; T=$2; URL=amqp://127.0.0.1:5672/%2f; PFX=i23m-$T-$$
$B serve --listen 127.0.0.1:0 --broker $URL --queues 4 --queue-prefix $PFX >relay-$T.out 2>relay-$T.err &
R=$!
for i in $(seq 50); do grep -q "listening on" relay-$T.err && break; sleep 0.1; done
ADDR=$(grep -o "listening on http://[0-9.:]*" relay-$T.err | sed 's/listening on //')
$B worker --broker $URL --queues 4 --queue-prefix $PFX --process-time 100ms --json worker-$T.json -q >worker-$T.out 2>worker-$T.err &
W=$!
sleep 2
$B send -q --rate 200 --url $ADDR/api --input events.csv >wsend-$T.out 2>&1
sleep 1.5
kill -INT $W; wait $W; kill -INT $R; wait $R
python3 -c "import json;r=json.load(open('worker-$T.json'));print('$T', {k:r.get(k) for k in ['events','wall_time_s','lower_bound_s','efficiency','timing_basis','unprocessed']})"
