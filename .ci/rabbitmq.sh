#!/usr/bin/env bash
# The RabbitMQ node the broker tests use, on 127.0.0.1:5672.
#
#   start  (default) install the package if needed, then start a node of our own with fresh
#          data under $EVENTBENCH_RABBIT_DIR (default /tmp/eventbench-rabbit) and wait for its
#          port; safe to run twice. A broker already listening on 5672 is used as it is.
#   stop   stop our node and remove its data (a broker we did not start is left alone)
#
# Why a node of our own rather than the package's: the package's node keeps its data in
# /var/lib/rabbitmq across runs, and is started through `su`, which lowers the open-file limit
# to 1024. A machine that had gathered 1,500 durable queues then spent minutes recovering them
# on that limit, and CI timed out waiting for the port. Fresh data and the hard file limit make
# the start take seconds, whatever ran on the machine before.
set -euo pipefail

ROOT="${EVENTBENCH_RABBIT_DIR:-/tmp/eventbench-rabbit}"
BIN=/usr/lib/rabbitmq/bin
WAIT="${RABBITMQ_WAIT_SECS:-180}"
NODE=eventbench@localhost

port_open() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
say() { echo "rabbitmq: $*" >&2; }
running() { [ -f "$ROOT/beam.pid" ] && kill -0 "$(cat "$ROOT/beam.pid")" 2>/dev/null; }

install() {
    if [ -x "$BIN/rabbitmq-server" ]; then return; fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server
}

node_env() {
    export HOME="$ROOT/home"
    export RABBITMQ_NODENAME="$NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672
    export RABBITMQ_DIST_PORT=25670
    export RABBITMQ_CONF_ENV_FILE="$ROOT/rabbitmq-env.conf"
    export RABBITMQ_CONFIG_FILE="$ROOT/rabbitmq.conf"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$ROOT/enabled_plugins"
    export RABBITMQ_MNESIA_BASE="$ROOT/mnesia" RABBITMQ_LOG_BASE="$ROOT/log"
    export RABBITMQ_PID_FILE="$ROOT/node.pid"
    export RABBITMQ_PLUGINS_EXPAND_DIR="$ROOT/plugins-expand"
    export RABBITMQ_FEATURE_FLAGS_FILE="$ROOT/feature_flags"
    export ERL_CRASH_DUMP="$ROOT/erl_crash.dump"
}

prepare() {
    rm -rf "$ROOT"
    mkdir -p "$ROOT/home" "$ROOT/log"
    # Any fixed string will do: the node only listens on 127.0.0.1.
    echo "EVENTBENCHSINGLENODECOOKIE" > "$ROOT/home/.erlang.cookie"
    chmod 400 "$ROOT/home/.erlang.cookie"
    : > "$ROOT/rabbitmq-env.conf"
    echo "[]." > "$ROOT/enabled_plugins"
    cat > "$ROOT/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:5672
disk_free_limit.absolute = 200MB
log.console = false
log.file.level = warning
EOF
}

start() {
    if port_open; then
        if running; then say "our node is already listening on 127.0.0.1:5672"; else
            say "a broker we did not start is listening on 127.0.0.1:5672; the tests use it"
        fi
        return 0
    fi
    install
    # The package's own node, still starting on its old data, would take 5672 from ours later.
    if pgrep -u rabbitmq -f beam.smp > /dev/null 2>&1; then
        say "stopping the package's node (running, but not listening on 5672)"
        timeout 15 /usr/sbin/rabbitmqctl stop > /dev/null 2>&1 ||
            pkill -9 -u rabbitmq -f beam.smp || true
    fi
    prepare
    (
        node_env
        cd "$ROOT"
        # The broker tests open one file per queue (up to 500 at a time) beside their sockets.
        ulimit -n "$(ulimit -Hn)"
        setsid "$BIN/rabbitmq-server" > "$ROOT/log/stdout.log" 2>&1 < /dev/null &
        # rabbitmq-server execs the VM, so this is the beam's pid.
        echo $! > "$ROOT/beam.pid"
    )
    for _ in $(seq 1 "$WAIT"); do
        if port_open; then
            say "listening on 127.0.0.1:5672 (node $NODE, data in $ROOT)"
            return 0
        fi
        if ! running; then break; fi
        sleep 1
    done
    say "node $NODE did not open port 5672 within ${WAIT}s; its output:"
    tail -n 30 "$ROOT/log/stdout.log" >&2 || true
    for log in "$ROOT"/log/*.log; do
        [ "$log" = "$ROOT/log/stdout.log" ] && continue
        say "$log:"
        tail -n 30 "$log" >&2 || true
    done
    return 1
}

stop() {
    if running; then
        (node_env && "$BIN/rabbitmqctl" -n "$NODE" stop > /dev/null 2>&1) ||
            kill -9 "$(cat "$ROOT/beam.pid")" 2>/dev/null || true
    fi
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
