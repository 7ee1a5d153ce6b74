"""One Docker stats sample (``/containers/{id}/stats``) as the page draws it.

The figures are the docker CLI's: CPU as the share of the host's CPU time used since the previous sample
times the number of CPUs, memory as usage less the inactive page cache (cgroup v1 or v2), network as the
sum over the container's interfaces.
"""

from __future__ import annotations

from typing import Any


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def cpu_percent(sample: dict[str, Any]) -> float:
    cpu, pre = _object(sample.get("cpu_stats")), _object(sample.get("precpu_stats"))
    usage = _object(cpu.get("cpu_usage"))
    cpu_delta = _number(usage.get("total_usage")) - _number(_object(pre.get("cpu_usage")).get("total_usage"))
    system_delta = _number(cpu.get("system_cpu_usage")) - _number(pre.get("system_cpu_usage"))
    percpu = usage.get("percpu_usage")
    cpus = _number(cpu.get("online_cpus")) or float(len(percpu) if isinstance(percpu, list) else 0)
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * cpus * 100.0
    return 0.0


def memory_usage(memory: dict[str, Any]) -> float:
    usage = _number(memory.get("usage"))
    raw = _object(memory.get("stats"))
    for key in ("total_inactive_file", "inactive_file"):  # cgroup v1, then v2
        if key in raw:
            inactive = _number(raw[key])
            return usage - inactive if inactive < usage else usage
    return usage


def summary(sample: dict[str, Any]) -> dict[str, Any]:
    """``{"time", "cpu_percent", "mem_usage", "mem_limit", "mem_percent", "net_rx", "net_tx", "pids"}``."""
    memory = _object(sample.get("memory_stats"))
    used, limit = memory_usage(memory), _number(memory.get("limit"))
    rx = tx = 0.0
    for interface in _object(sample.get("networks")).values():
        rx += _number(_object(interface).get("rx_bytes"))
        tx += _number(_object(interface).get("tx_bytes"))
    return {
        "time": sample.get("read") if isinstance(sample.get("read"), str) else "",
        "cpu_percent": round(cpu_percent(sample), 3),
        "mem_usage": int(used),
        "mem_limit": int(limit),
        "mem_percent": round(used / limit * 100.0, 3) if limit > 0 else 0.0,
        "net_rx": int(rx),
        "net_tx": int(tx),
        "pids": int(_number(_object(sample.get("pids_stats")).get("current"))),
    }
