"""A container's HostConfig as moord keeps it by the thousand: the fields at their zero value left out.

A create body from the docker CLI (and the defaults moord fills in) gives some sixty HostConfig fields, most of
them null, 0, "" or false: a 60-key dict of 1.6 KiB per record, in memory and on disk. The record keeps only the
fields of :data:`ZERO` whose value differs from it, and every field :data:`ZERO` does not name; Docker's shape
(inspect) puts the others back with :func:`full`. Every reader of a record's HostConfig takes a missing field as
its zero value (``.get(name)`` and ``or``): ``None`` stands for null, 0, "" and false alike.
"""

from __future__ import annotations

from typing import Any

#: the HostConfig fields Docker's inspect always shows, at their zero value (Go's zero, or Docker's for the
#: resources): a record leaves out a field whose value is this one, of the same type
ZERO: dict[str, Any] = {
    "Binds": None, "ContainerIDFile": "", "PortBindings": None, "AutoRemove": False, "VolumeDriver": "",
    "VolumesFrom": None, "CapAdd": None, "CapDrop": None, "Cgroup": "", "Dns": None, "DnsOptions": None,
    "DnsSearch": None, "ExtraHosts": None, "GroupAdd": None, "Links": None, "OomScoreAdj": 0, "PidMode": "",
    "Privileged": False, "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "",
    "UsernsMode": "", "ConsoleSize": [0, 0], "Isolation": "", "Ulimits": None,
    # resources (moor.containers.limits.RESOURCE_DEFAULTS)
    "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": None,
    "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None, "BlkioDeviceReadIOps": None,
    "BlkioDeviceWriteIOps": None, "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
    "CpusetCpus": "", "CpusetMems": "", "Devices": None, "DeviceCgroupRules": None, "DeviceRequests": None,
    "KernelMemory": 0, "KernelMemoryTCP": 0, "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": None,
    "OomKillDisable": False, "PidsLimit": None, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
    "IOMaximumBandwidth": 0,
}  # fmt: skip


def is_zero(name: str, value: Any) -> bool:
    """Whether ``value`` is the zero value of HostConfig field ``name`` (false is not 0, nor 0 false)."""
    if name not in ZERO:
        return False
    zero = ZERO[name]
    return value is None if zero is None else type(value) is type(zero) and value == zero


def compact(host_config: dict[str, Any]) -> dict[str, Any]:
    """Leave out, in place, the fields at their zero value; the dict is rebuilt to its new size. Returns it."""
    kept = {name: value for name, value in host_config.items() if not is_zero(name, value)}
    if len(kept) < len(host_config):
        host_config.clear()  # a dict never shrinks on deletion: refill it from scratch
        host_config.update(kept)
    return host_config


def full(host_config: dict[str, Any]) -> dict[str, Any]:
    """A new dict: ``host_config`` with every field of :data:`ZERO` it leaves out at its zero value (lists new)."""
    filled = {name: list(zero) if isinstance(zero, list) else zero for name, zero in ZERO.items()}
    filled.update(host_config)
    return filled
