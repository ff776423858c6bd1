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

ROOT="${EVENTBENCH_CLUSTER_DIR:-/tmp/eventbench-cluster}"
BIN=/usr/lib/rabbitmq/bin
WAIT="${RABBITMQ_WAIT_SECS:-90}"

node() { echo "ebc$1@localhost"; }
amqp_port() { echo $((5680 + $1)); }
url() { echo "amqp://guest:guest@127.0.0.1:$(amqp_port "$1")/%2f"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
say() { echo "rabbitmq-cluster: $*" >&2; }

install() {
    if [ -x "$BIN/rabbitmq-server" ]; then return; fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server
    # The package starts its own node on 5672 (the one the other tests use); leave it be.
}

# The environment of node N (also what rabbitmqctl needs to reach it: the same cookie in HOME).
node_env() {
    local i="$1" dir="$ROOT/n$1"
    export HOME="$ROOT/home"
    export RABBITMQ_CONF_ENV_FILE="$ROOT/rabbitmq-env.conf"
    export RABBITMQ_NODENAME RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    RABBITMQ_NODENAME="$(node "$i")"
    export RABBITMQ_NODE_PORT RABBITMQ_DIST_PORT
    RABBITMQ_NODE_PORT="$(amqp_port "$i")"
    RABBITMQ_DIST_PORT=$((RABBITMQ_NODE_PORT + 20000))
    export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$ROOT/enabled_plugins"
    export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
    export RABBITMQ_PID_FILE="$dir/beam.pid"
    export RABBITMQ_PLUGINS_EXPAND_DIR="$dir/plugins-expand"
    export RABBITMQ_FEATURE_FLAGS_FILE="$dir/feature_flags"
}

ctl() { (node_env "$1" && shift && "$BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"); }

prepare() {
    mkdir -p "$ROOT/home"
    if [ ! -f "$ROOT/home/.erlang.cookie" ]; then
        # Any fixed string will do: the nodes only listen on 127.0.0.1.
        echo "EVENTBENCHCLUSTERCOOKIE" > "$ROOT/home/.erlang.cookie"
        chmod 400 "$ROOT/home/.erlang.cookie"
    fi
    : > "$ROOT/rabbitmq-env.conf"
    echo "[]." > "$ROOT/enabled_plugins"
    for i in 1 2 3; do
        mkdir -p "$ROOT/n$i/log"
        cat > "$ROOT/n$i/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$(amqp_port "$i")
vm_memory_high_watermark.absolute = 384MB
disk_free_limit.absolute = 200MB
log.console = false
log.file.level = warning
EOF
    done
}

running() { [ -f "$ROOT/n$1/beam.pid" ] && kill -0 "$(cat "$ROOT/n$1/beam.pid")" 2>/dev/null; }

start_node() {
    local i="$1"
    (
        node_env "$i"
        cd "$ROOT/n$i"
        setsid "$BIN/rabbitmq-server" > "$ROOT/n$i/log/stdout.log" 2>&1 < /dev/null &
        # rabbitmq-server execs the VM, so this is the beam's pid (the node writes it too).
        echo $! > "$ROOT/n$i/beam.pid"
    )
}

await_node() {
    local i="$1"
    for _ in $(seq 1 "$WAIT"); do
        if port_open "$(amqp_port "$i")"; then return 0; fi
        if ! running "$i"; then break; fi
        sleep 1
    done
    say "node $i ($(node "$i")) did not open port $(amqp_port "$i"); see $ROOT/n$i/log:"
    tail -n 30 "$ROOT/n$i/log/stdout.log" >&2 || true
    return 1
}

start() {
    local count="${1:-3}"
    case "$count" in 1 | 2 | 3) ;; *) say "start takes a node count 1-3"; exit 2 ;; esac
    install
    # Data left by nodes that died with an earlier session would make them wait for each other's
    # tables; with none of them running there is nothing worth keeping.
    if ! running 1 && ! running 2 && ! running 3; then rm -rf "$ROOT"; fi
    prepare
    local started=()
    for i in $(seq 1 "$count"); do
        if running "$i"; then continue; fi
        if port_open "$(amqp_port "$i")"; then
            say "port $(amqp_port "$i") is taken by something else"
            exit 1
        fi
        start_node "$i"
        started+=("$i")
    done
    for i in "${started[@]}"; do await_node "$i"; done
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
    for i in $(seq 1 "$count"); do await_node "$i"; done
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
    say "node $i ($(node "$i")) killed"
}

stop() {
    for i in 1 2 3; do
        if running "$i"; then
            ctl "$i" stop > /dev/null 2>&1 || kill -9 "$(cat "$ROOT/n$i/beam.pid")" 2>/dev/null || true
        fi
    done
    for i in 1 2 3; do
        for _ in $(seq 1 30); do running "$i" || break; sleep 1; done
        if running "$i"; then kill -9 "$(cat "$ROOT/n$i/beam.pid")" 2>/dev/null || true; fi
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
