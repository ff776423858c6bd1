#!/usr/bin/env bash
# Prints the description of this machine that goes beside every measurement (machine.md or
# machine.txt of an experiment): CPU, caches, memory, kernel, toolchain, the commit measured and
# the load average at this moment.
# Usage: results/scripts/machine.sh [PROFILE]      (PROFILE: the cargo profile, default release)
#        results/scripts/machine.sh > results/<experiment>/machine.md
set -euo pipefail
. "$(dirname "$0")/lib.sh"
profile=${1:-release}

lscpu_field() { lscpu 2>/dev/null | sed -nE "s/^$1:[[:space:]]+//p" | head -1; }
cpu=$(lscpu_field 'Model name')
[ -n "$cpu" ] || cpu=$(sed -nE 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
caches=$(for c in L2 L3; do v=$(lscpu_field "$c cache"); [ -n "$v" ] && echo "$c $v"; done | paste -sd, - | sed 's/,/, /g')
commit=$(git -C "$EB_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$EB_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit (with local changes)"

echo "# Machine"
echo "- Date: $(date -u +%FT%TZ)"
echo "- CPU: ${cpu:-unknown}, $(nproc) cores${caches:+; $caches}"
echo "- Memory: $(free -g | awk '/^Mem:/ {print $2}') GiB"
echo "- Kernel: $(uname -r) ($(uname -m))"
echo "- Toolchain: $(rustc --version 2>/dev/null || echo 'rustc not found')"
echo "- eventbench: $commit, $profile profile"
echo "- Load average (1, 5, 15 min): $(eb_load3)"
