#!/usr/bin/env python3
"""Writes events.csv: 10,000 events (ids 1..N in arrival order), accounts uniform in 1..1000,
fixed seed. Stands in for `eventbench generate --events 10000 --max-account-id 1000 --seed 1`,
which was not implemented on this branch yet (so the file differs from generate's output)."""
import random
import sys

events = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
accounts = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
rng = random.Random(1)
with open("events.csv", "w") as f:
    f.write("event_id,account_id\n")
    for i in range(1, events + 1):
        f.write(f"{i},{rng.randint(1, accounts)}\n")
