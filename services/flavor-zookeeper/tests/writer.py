#!/usr/bin/env python3
"""Keeps writing sequential znodes to a ZooKeeper ensemble until a stop file appears, retrying
every failed write, then checks that every acknowledged write is present.

Usage: writer.py HOSTS ROOT STOP_FILE
  HOSTS      host:port,host:port,... (kazoo's connection string)
  ROOT       the znode under which to write, e.g. /roll-1234 (created)
  STOP_FILE  writing stops once this path exists

Each attempt k creates ROOT/w-<k>-<sequence> (a sequential znode whose name carries the
attempt number). An attempt is acknowledged when create() returned; a failed attempt
(connection loss during a leader election, a member being replaced, ...) is counted and the
next attempt is made after a short pause. It prints "ready" once connected, and at the end
one JSON line: {"acked", "failed", "missing", "unacked_present", "max_gap_s", "elapsed_s"}.
Exit status 0 when no acknowledged write is missing, 1 otherwise.
"""
import json
import logging
import os
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import KazooRetry


def main():
    hosts, root, stop_file = sys.argv[1:4]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    zk = KazooClient(
        hosts=hosts,
        timeout=10.0,
        connection_retry=KazooRetry(max_tries=-1, delay=0.1, max_delay=1.0),
    )
    zk.start(timeout=30)
    zk.ensure_path(root)
    print("ready", flush=True)
    acked, failed, attempt = set(), 0, 0
    start = last_ack = time.monotonic()
    max_gap = 0.0
    while not os.path.exists(stop_file):
        attempt += 1
        try:
            zk.create("%s/w-%d-" % (root, attempt), b"x", sequence=True)
        except (KazooException, KazooTimeoutError) as e:
            failed += 1
            print("attempt %d failed: %r" % (attempt, e), file=sys.stderr, flush=True)
            time.sleep(0.05)
            continue
        now = time.monotonic()
        max_gap = max(max_gap, now - last_ack)
        last_ack = now
        acked.add(attempt)
        time.sleep(0.01)
    # Read back through a fresh session, after a sync, from every member's point of view.
    zk.stop()
    zk.close()
    check = KazooClient(hosts=hosts, timeout=10.0,
                        connection_retry=KazooRetry(max_tries=-1, delay=0.1, max_delay=1.0))
    check.start(timeout=30)
    check.retry(check.sync, root)
    names = check.retry(check.get_children, root)
    check.stop()
    check.close()
    present = {int(n.split("-")[1]) for n in names}
    missing = sorted(acked - present)
    print(json.dumps({
        "acked": len(acked),
        "failed": failed,
        "missing": missing,
        "unacked_present": len(present - acked),
        "max_gap_s": round(max_gap, 3),
        "elapsed_s": round(time.monotonic() - start, 3),
    }), flush=True)
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
