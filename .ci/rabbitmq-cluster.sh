#!/usr/bin/env bash
# A 3-node RabbitMQ cluster on this machine, beside the single node on 5672 (which it never
# touches): nodes ebc1@localhost .. ebc3@localhost, AMQP on 127.0.0.1:5681-5683, Erlang
# distribution on 25681-25683, no plugins (so no management port to collide), data and logs
# under $EVENTBENCH_CLUSTER_DIR (default /tmp/eventbench-cluster), one Erlang cookie of its own.
#
#   start [N]  start the nodes 1..N (default 3) that are not running (each node's first start
#              joins it to node 1); prints their amqp:// URLs, one per line, on stdout
#   kill N     kill -9 the Erlang VM of node N (1-3): a node lost without warning
#   stop       stop all three nodes and remove their data
#
# Low memory and disk thresholds, so three nodes fit on a small CI machine next to the tests.
set -euo pipefail

# shellcheck source=.ci/rabbitmq-node.sh
. "$(dirname "$0")/rabbitmq-node.sh"

ROOT="${EVENTBENCH_CLUSTER_DIR:-/tmp/eventbench-cluster}"
WAIT="${RABBITMQ_WAIT_SECS:-90}"

node() { echo "ebc$1@localhost"; }
amqp_port() { echo $((5680 + $1)); }
url() { echo "amqp://guest:guest@127.0.0.1:$(amqp_port "$1")/%2f"; }
say() { echo "rabbitmq-cluster: $*" >&2; }

# NODE_ARGS: node N's folder, name and ports, the arguments rabbit_start, rabbit_ctl and
# rabbit_halt take.
node_args() { NODE_ARGS=("$ROOT/n$1" "$(node "$1")" "$(amqp_port "$1")" $(($(amqp_port "$1") + 20000))); }

ctl() {
    node_args "$1"
    shift
    rabbit_ctl "${NODE_ARGS[@]}" "$@"
}

running() { rabbit_running "$ROOT/n$1"; }

start() {
    local count="${1:-3}"
    case "$count" in 1 | 2 | 3) ;; *) say "start takes a node count 1-3"; exit 2 ;; esac
    rabbit_install
    # Data left by nodes that died with an earlier session would make them wait for each other's
    # tables; with none of them running there is nothing worth keeping.
    if ! running 1 && ! running 2 && ! running 3; then rm -rf "$ROOT"; fi
    for i in 1 2 3; do
        rabbit_prepare "$ROOT/n$i" EVENTBENCHCLUSTERCOOKIE "$(amqp_port "$i")" \
            "vm_memory_high_watermark.absolute = 384MB" "disk_free_limit.absolute = 200MB"
    done
    local started=()
    for i in $(seq 1 "$count"); do
        if running "$i"; then continue; fi
        if rabbit_port_open "$(amqp_port "$i")"; then
            say "port $(amqp_port "$i") is taken by something else"
            exit 1
        fi
        node_args "$i"
        rabbit_start "${NODE_ARGS[@]}"
        started+=("$i")
    done
    for i in "${started[@]}"; do rabbit_await "$ROOT/n$i" "$(amqp_port "$i")" "$WAIT"; done
    for i in $(seq 2 "$count"); do
        if [ -f "$ROOT/n$i/joined" ]; then continue; fi
        {
            ctl "$i" stop_app && ctl "$i" join_cluster "$(node 1)" && ctl "$i" start_app
        } >> "$ROOT/n$i/log/join.log" 2>&1 || {
            say "node $i could not join node 1; see $ROOT/n$i/log/join.log"
            exit 1
        }
        touch "$ROOT/n$i/joined"
    done
    for i in $(seq 1 "$count"); do rabbit_await "$ROOT/n$i" "$(amqp_port "$i")" "$WAIT"; done
    say "$count node(s) running (data in $ROOT)"
    for i in $(seq 1 "$count"); do url "$i"; done
}

kill_node() {
    local i="${1:-}"
    case "$i" in 1 | 2 | 3) ;; *) say "kill takes a node number 1-3"; exit 2 ;; esac
    if ! running "$i"; then
        say "node $i is not running"
        exit 1
    fi
    kill -9 "$(cat "$ROOT/n$i/beam.pid")"
    # Gone once its parent, the start script, has reaped it: a `start` right after must not
    # take it for running.
    for _ in $(seq 1 50); do running "$i" || break; sleep 0.1; done
    say "node $i ($(node "$i")) killed"
}

stop() {
    for i in 1 2 3; do
        node_args "$i"
        rabbit_halt "${NODE_ARGS[@]}"
    done
    rm -rf "$ROOT"
    say "stopped; $ROOT removed"
}

case "${1:-}" in
    start) start "${2:-3}" ;;
    kill) kill_node "${2:-}" ;;
    stop) stop ;;
    *)
        echo "usage: $0 start [N] | kill N | stop" >&2
        exit 2
        ;;
esac
