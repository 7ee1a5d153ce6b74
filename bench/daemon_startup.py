"""Median time from starting moord to its first answer on the socket (engine built, drivers loaded, bridge up).

Run with `make bench` (or `python bench/daemon_startup.py`); prints one line. No timing here is asserted
by a test: this is a measurement.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from moor.client import ConnectError
from moor.testing.daemon import DaemonProcess

RUNS = int(os.environ.get("BENCH_RUNS", "9"))
POLL_SECONDS = 0.005


def seconds_to_first_answer() -> float:
    daemon = DaemonProcess()
    try:
        log = open(daemon.log_file, "ab")
        start = time.perf_counter()
        daemon.process = subprocess.Popen(daemon.command(), stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        client = daemon.client()
        while True:
            if daemon.process.poll() is not None:
                raise RuntimeError(f"moord exited: {daemon.log()}")
            try:
                client.get("/_ping")
                return time.perf_counter() - start
            except (ConnectError, ConnectionError, OSError):
                time.sleep(POLL_SECONDS)
    finally:
        daemon.stop()
        daemon.cleanup()


def main() -> None:
    samples = [seconds_to_first_answer() for _ in range(RUNS)]
    print(f"moord start-up to first answer, median of {RUNS} runs")
    print(f"  moord             {statistics.median(samples) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
