#!/usr/bin/env bash
# The RabbitMQ node the broker tests use, on 127.0.0.1:5672.
#
#   start  (default) install the package if needed, then start a node of our own,
#          eventbench@localhost, with fresh data under $EVENTBENCH_RABBIT_DIR (default
#          /tmp/eventbench-rabbit), and wait for its port; safe to run twice. A broker already
#          listening on 5672 is used as it is.
#   stop   stop our node and remove its data (a broker we did not start is left alone)
#
# Why a node of our own rather than the package's: the package's node keeps its data in
# /var/lib/rabbitmq across runs, and is started through `su`, which lowers the open-file limit
# to 1024. A machine that had gathered 1,500 durable queues then spent minutes recovering them
# on that limit, and CI timed out waiting for the port. Fresh data and the hard file limit make
# the start take seconds, whatever ran on the machine before.
set -euo pipefail
# shellcheck source=.ci/rabbitmq-node.sh
. "$(dirname "$0")/rabbitmq-node.sh"

ROOT="${EVENTBENCH_RABBIT_DIR:-/tmp/eventbench-rabbit}"
WAIT="${RABBITMQ_WAIT_SECS:-180}"
# Distribution port 25670, not the package's 25672: a package node still starting cannot hold it.
NODE=(eventbench@localhost 5672 25670)

say() { echo "rabbitmq: $*" >&2; }

start() {
    if rabbit_port_open 5672; then
        if rabbit_running "$ROOT"; then say "our node is already listening on 127.0.0.1:5672"; else
            say "a broker we did not start is listening on 127.0.0.1:5672; the tests use it"
        fi
        return 0
    fi
    rabbit_install
    # The package's own node, still starting on its old data, would take 5672 from ours later.
    if pgrep -u rabbitmq -f beam.smp > /dev/null 2>&1; then
        say "stopping the package's node (running, but not listening on 5672)"
        timeout 15 /usr/sbin/rabbitmqctl stop > /dev/null 2>&1 ||
            pkill -9 -u rabbitmq -f beam.smp || true
    fi
    rm -rf "$ROOT"
    rabbit_prepare "$ROOT" EVENTBENCHSINGLENODECOOKIE 5672 "disk_free_limit.absolute = 200MB"
    rabbit_start "$ROOT" "${NODE[@]}"
    rabbit_await "$ROOT" 5672 "$WAIT"
    say "listening on 127.0.0.1:5672 (node ${NODE[0]}, data in $ROOT)"
}

stop() {
    rabbit_halt "$ROOT" "${NODE[@]}"
    rm -rf "$ROOT"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *)
        say "usage: $0 [start|stop]"
        exit 2
        ;;
esac
