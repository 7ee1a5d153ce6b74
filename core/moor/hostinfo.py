"""What this machine offers containers, as Docker measures it: the CPUs it may use and its memory."""

from __future__ import annotations

import os


def online_cpus() -> int:
    """How many CPUs this process may run on (Go's runtime.NumCPU, which Docker's limits and stats use)."""
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


def machine_memory() -> int:
    """The machine's memory in bytes (``MemTotal`` of /proc/meminfo), 0 when it cannot be read."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
