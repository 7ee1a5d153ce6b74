"""A container's per-interface network counters, as ``docker stats`` shows them (the ``networks`` key).

They come from ``/proc/<pid>/net/dev``, which lists the devices of that process's network namespace.
"""

from __future__ import annotations

#: the columns of /proc/net/dev Docker reports, by their index after the interface name
_FIELDS = {"rx_bytes": 0, "rx_packets": 1, "rx_errors": 2, "rx_dropped": 3,
           "tx_bytes": 8, "tx_packets": 9, "tx_errors": 10, "tx_dropped": 11}


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    """Each interface but ``lo`` -> Docker's counters, in Docker's key order."""
    result: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        values = rest.split()
        if not sep or len(values) < 16 or name.strip() == "lo":
            continue
        try:
            result[name.strip()] = {key: int(values[index]) for key, index in _FIELDS.items()}
        except ValueError:
            continue
    return result


def network_stats(pid: int) -> dict[str, dict[str, int]]:
    """The counters of the interfaces in the network namespace of process ``pid`` ({} if it is gone)."""
    try:
        with open(f"/proc/{pid}/net/dev") as handle:
            return parse_net_dev(handle.read())
    except OSError:
        return {}
