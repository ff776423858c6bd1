# shellcheck shell=bash
# Sourced by rabbitmq.sh and rabbitmq-cluster.sh: a RabbitMQ node of our own, not the
# package's, run from a folder that holds everything it writes (data, logs, config, pid,
# cookie), so that removing the folder forgets the node. Nothing here runs when sourced.
#
# A node's folder DIR has rabbitmq.conf (written by rabbit_prepare), home/ (its Erlang cookie,
# also what rabbitmqctl needs to reach it), mnesia/, log/ and beam.pid.

RABBIT_BIN=/usr/lib/rabbitmq/bin

rabbit_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Installs Debian's rabbitmq-server unless it is there. The package may start a node of its
# own on 5672; rabbitmq.sh deals with that one.
rabbit_install() {
    if [ -x "$RABBIT_BIN/rabbitmq-server" ]; then return; fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y rabbitmq-server
}

# rabbit_prepare DIR COOKIE AMQP_PORT [CONFIG LINE...]: the folder of a node that has not run
# yet: its cookie (any fixed string will do, the nodes listen on 127.0.0.1 only), no plugins
# (so no management port to collide), a listener on 127.0.0.1:AMQP_PORT and the lines given.
rabbit_prepare() {
    local dir="$1" cookie="$2" port="$3"
    shift 3
    mkdir -p "$dir/home" "$dir/log"
    if [ ! -f "$dir/home/.erlang.cookie" ]; then
        echo "$cookie" > "$dir/home/.erlang.cookie"
        chmod 400 "$dir/home/.erlang.cookie"
    fi
    : > "$dir/rabbitmq-env.conf"
    echo "[]." > "$dir/enabled_plugins"
    {
        echo "listeners.tcp.default = 127.0.0.1:$port"
        echo "log.console = false"
        echo "log.file.level = warning"
        printf '%s\n' "$@"
    } > "$dir/rabbitmq.conf"
}

# rabbit_env DIR NODENAME AMQP_PORT DIST_PORT: exports what makes rabbitmq-server and
# rabbitmqctl use that node and its folder.
rabbit_env() {
    local dir="$1"
    export HOME="$dir/home"
    export RABBITMQ_NODENAME="$2" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT="$3" RABBITMQ_DIST_PORT="$4"
    export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
    export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
    export RABBITMQ_PID_FILE="$dir/beam.pid"
    export RABBITMQ_PLUGINS_EXPAND_DIR="$dir/plugins-expand"
    export RABBITMQ_FEATURE_FLAGS_FILE="$dir/feature_flags"
    export ERL_CRASH_DUMP="$dir/erl_crash.dump"
}

# rabbit_start DIR NODENAME AMQP_PORT DIST_PORT: starts the node in the background.
rabbit_start() {
    (
        rabbit_env "$@"
        cd "$1" || exit
        # The package's start script goes through `su`, which lowers the open-file limit to
        # 1024: too few for a node recovering or serving hundreds of queues.
        ulimit -n "$(ulimit -Hn)"
        setsid "$RABBIT_BIN/rabbitmq-server" > "$1/log/stdout.log" 2>&1 < /dev/null &
        # The start script's pid until the node, early in its boot, writes the VM's own there
        # (RABBITMQ_PID_FILE): the script stays as the VM's parent, and a kill -9 must reach
        # the VM itself.
        echo $! > "$1/beam.pid"
    )
}

rabbit_running() { [ -f "$1/beam.pid" ] && kill -0 "$(cat "$1/beam.pid")" 2>/dev/null; }

# rabbit_await DIR AMQP_PORT SECONDS: waits for the node's port; on failure (the node died, or
# the time ran out) prints its logs to stderr and returns 1.
rabbit_await() {
    local dir="$1" port="$2" log
    for _ in $(seq 1 "$3"); do
        if rabbit_port_open "$port"; then return 0; fi
        if ! rabbit_running "$dir"; then break; fi
        sleep 1
    done
    echo "rabbitmq: the node in $dir did not open port $port within $3 s; its logs:" >&2
    for log in "$dir"/log/*.log; do
        echo "== $log" >&2
        tail -n 30 "$log" >&2 || true
    done
    return 1
}

# rabbit_ctl DIR NODENAME AMQP_PORT DIST_PORT ARGS...: rabbitmqctl against that node.
rabbit_ctl() {
    (rabbit_env "$1" "$2" "$3" "$4" && shift 4 && "$RABBIT_BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@")
}

# rabbit_halt DIR NODENAME AMQP_PORT DIST_PORT: stops the node (kill -9 if it does not stop
# within 30 s); its folder stays.
rabbit_halt() {
    local dir="$1"
    rabbit_running "$dir" || return 0
    rabbit_ctl "$@" stop > /dev/null 2>&1 || kill -9 "$(cat "$dir/beam.pid")" 2>/dev/null || true
    for _ in $(seq 1 30); do rabbit_running "$dir" || return 0; sleep 1; done
    kill -9 "$(cat "$dir/beam.pid")" 2>/dev/null || true
}
