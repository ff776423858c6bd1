#!/usr/bin/env bash
# Makes the three pages of issue 23 (a compare sweep, a failed verify, a run) with BIN and
# screenshots them in headless Chromium as TAG-*.png beside this script.
# usage: run.sh BIN TAG [OUT]   e.g. run.sh target/release/eventbench after  (OUT: this folder)
# Needs python3 and chromium. KEEP=1 keeps the scratch folder (workload, logs, pages).
set -euo pipefail
BIN=$(realpath "$1"); TAG=$2
HERE=$(realpath "${3:-$(dirname "$0")}")
W=$(mktemp -d); cd "$W"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
"$BIN" generate --events 2000 --max-account-id 200 --seed 7 --output events.csv
"$BIN" run -i events.csv --process-time 10ms --workers 100 --strategy sharded --clock real \
  --log run-log.csv --json run.json >/dev/null
# the failed log: event 5 lost, the first two events of account 32 swapped, event 9 twice
python3 - <<'PY'
lines = open('run-log.csv').read().splitlines()
hdr, rows = lines[0], [l.split(',') for l in lines[1:]]
rows = [r for r in rows if r[1] != '5']
a, b = [i for i, r in enumerate(rows) if r[0] == '32'][:2]
rows[a][1], rows[b][1] = rows[b][1], rows[a][1]
rows.append(list(next(r for r in rows if r[1] == '9')))
open('bad-log.csv', 'w').write(hdr + '\n' + '\n'.join(','.join(r) for r in rows) + '\n')
PY
"$BIN" verify -e events.csv -l bad-log.csv --process-time 10ms --workers 100 --json v.json \
  >"$HERE/$TAG-verify.txt" 2>&1 || true
"$BIN" report v.json --html verify.html
"$BIN" report run.json --html run.html
"$BIN" compare -i events.csv -w 10,100,auto --process-time 10ms -o cmp >"$HERE/$TAG-compare.txt" 2>&1
for page in verify run cmp/compare; do
  name=$(basename "$page")
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --screenshot="$HERE/$TAG-$name.png" --window-size=1280,2000 "file://$W/$page.html" 2>/dev/null
done
echo "screenshots in $HERE/$TAG-*.png${KEEP:+, pages in $W}"
