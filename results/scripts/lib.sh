#!/usr/bin/env bash
# Sourced by the run scripts under results/ (`. "$(dirname "$0")/../scripts/lib.sh"`), never run
# on its own: where the repository and the binary are, a build step, scratch folders that go
# away on exit, an optional measurement lock and the load average. No machine paths: everything
# is relative to this file or comes from the environment.
#
# Environment (all optional):
#   EVENTBENCH    the binary to measure (default: target/release/eventbench of this repository)
#   NO_BUILD=1    skip `cargo build --release` (the binaries must exist already)
#   MEASURE_LOCK  a lock file held (flock) while measuring, so that several people measuring on
#                 one machine never overlap; builds run outside it. Unset: no lock.
#   TMPDIR        where scratch folders are made (mktemp's own default)

EB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
EB_RESULTS=$EB_ROOT/results
EB_SCRIPTS=$EB_RESULTS/scripts
EVENTBENCH=${EVENTBENCH:-$EB_ROOT/target/release/eventbench}
# A relative path given by the caller stays valid after the scripts change directory.
case $EVENTBENCH in /*) ;; */*) EVENTBENCH=$PWD/$EVENTBENCH ;; esac
# The repository's examples (amqp_ceiling, http_sink) are built beside the binary.
EB_EXAMPLES=${EB_EXAMPLES:-$EB_ROOT/target/release/examples}

# eb_build [cargo build flags...]: the release build the measurements need, unless NO_BUILD.
eb_build() {
  [ -n "${NO_BUILD:-}" ] && return 0
  (cd "$EB_ROOT" && cargo build --release --quiet "$@")
}

# eb_delete_queues_at_exit URL PREFIX QUEUES: deletes the queues PREFIX.0 .. PREFIX.(QUEUES-1)
# and the workers' exchange when the script ends. Left behind, a shared broker gathers durable
# queues run after run, and restarting it then means recovering every one of them.
eb_delete_queues_at_exit() {
  [ -n "${NO_BUILD:-}" ] || (cd "$EB_ROOT" && cargo build --release --quiet --example amqp_ceiling)
  eb_at_exit "\"\$EB_EXAMPLES/amqp_ceiling\" --delete '$1' '$2' '$3' > /dev/null"
}

# Commands run at exit, last registered first (a server is stopped before its folder goes).
EB_AT_EXIT=()
eb_at_exit() {
  EB_AT_EXIT+=("$1")
  trap 'for ((eb_i = ${#EB_AT_EXIT[@]} - 1; eb_i >= 0; eb_i--)); do eval "${EB_AT_EXIT[eb_i]}" || true; done' EXIT
}

# eb_scratch VAR: a new empty folder in VAR, removed at exit.
eb_scratch() {
  local dir
  dir=$(mktemp -d -t eventbench.XXXXXX)
  eb_at_exit "rm -rf '$dir'"
  printf -v "$1" '%s' "$dir"
}

# eb_locked CMD...: runs CMD holding MEASURE_LOCK when it is set (flock runs a program, so CMD
# is a script or binary, not a shell function).
eb_locked() {
  if [ -n "${MEASURE_LOCK:-}" ]; then flock "$MEASURE_LOCK" "$@"; else "$@"; fi
}

# The 1-minute load average, and all three.
eb_load1() { cut -d' ' -f1 /proc/loadavg; }
eb_load3() { cut -d' ' -f1-3 /proc/loadavg; }

# eb_rabbit_node TAG DIR: starts a private RabbitMQ node (its own name, port and data under DIR;
# the shared server on 5672 is never touched) and waits for its port; it is stopped at exit.
# Sets EB_RABBIT_URL. RABBITMQ_SBIN: where the server's programs are (default /usr/sbin).
eb_rabbit_node() {
  local tag=$1 dir=$2
  EB_SBIN=${RABBITMQ_SBIN:-/usr/sbin}
  export RABBITMQ_NODENAME="$tag$$@localhost" RABBITMQ_NODE_PORT=$((20000 + $$ % 10000))
  export RABBITMQ_DIST_PORT=$((RABBITMQ_NODE_PORT + 20000)) RABBITMQ_MNESIA_BASE="$dir/mnesia"
  export RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/plugins"
  export ERL_CRASH_DUMP="$dir/erl_crash.dump"
  mkdir -p "$dir/mnesia" "$dir/log"
  echo "[]." > "$dir/plugins"
  # The Debian package runs the server as its own user when started as root.
  if id rabbitmq > /dev/null 2>&1; then chown -R rabbitmq:rabbitmq "$dir"; chmod 755 "$dir"; fi
  EB_RABBIT_URL="amqp://127.0.0.1:$RABBITMQ_NODE_PORT/%2f"
  eb_at_exit 'eb_rabbit_ctl stop || true'
  eb_rabbit_start "$dir"
}

# eb_rabbit_start DIR: (re)starts the node of eb_rabbit_node (after `eb_rabbit_ctl stop`, say)
# and waits for its port.
eb_rabbit_start() {
  local dir=$1
  "$EB_SBIN/rabbitmq-server" >> "$dir/server.log" 2>&1 &
  for _ in $(seq 1 240); do
    (exec 3<>"/dev/tcp/127.0.0.1/$RABBITMQ_NODE_PORT") 2>/dev/null && return 0
    sleep 0.25
  done
  echo "RabbitMQ node $RABBITMQ_NODENAME did not open port $RABBITMQ_NODE_PORT: $dir/server.log" >&2
  return 1
}

# eb_rabbit_ctl ARGS...: rabbitmqctl against the node of eb_rabbit_node, quietly.
eb_rabbit_ctl() { "$EB_SBIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@" > /dev/null 2>&1; }
