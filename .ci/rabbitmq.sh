#!/usr/bin/env bash
# Installs and starts a local RabbitMQ for the broker tests; safe to run twice.
set -euo pipefail

port_open() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

if port_open; then
    echo "rabbitmq: already listening on 127.0.0.1:5672"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/sbin/rabbitmq-server ]; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server
fi

# The Debian package may already have started it through its init script.
if ! port_open; then
    PATH="$PATH:/usr/sbin"
    $SUDO setsid rabbitmq-server > /tmp/rabbitmq.log 2>&1 < /dev/null &
fi

limit="${RABBITMQ_WAIT_SECS:-90}"
for _ in $(seq 1 "$limit"); do
    if port_open; then
        echo "rabbitmq: listening on 127.0.0.1:5672"
        exit 0
    fi
    sleep 1
done
echo "rabbitmq: port 5672 not open after ${limit}s; see /tmp/rabbitmq.log:" >&2
tail -n 30 /tmp/rabbitmq.log >&2 || true
exit 1
