"""A canonical service's limits as the create body's resource fields and restart policy, as compose v2
maps them: the short keys (``mem_limit``, ``cpus``, ``pids_limit``, ...) first, then
``deploy.resources`` over them; ``ulimits``, ``devices`` and ``blkio_config``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from moor.compose.errors import ComposeFileError
from moor.compose.loader.normalize import size
from moor.compose.model import Section

#: short service keys copied as they are (already typed by the loader)
_DIRECT = {
    "cgroup_parent": "CgroupParent",
    "mem_limit": "Memory",
    "memswap_limit": "MemorySwap",
    "mem_swappiness": "MemorySwappiness",
    "mem_reservation": "MemoryReservation",
    "oom_kill_disable": "OomKillDisable",
    "cpu_count": "CpuCount",
    "cpu_rt_period": "CpuRealtimePeriod",
    "cpu_rt_runtime": "CpuRealtimeRuntime",
    "cpu_period": "CpuPeriod",
    "cpu_quota": "CpuQuota",
    "cpu_shares": "CpuShares",
    "cpuset": "CpusetCpus",
    "pids_limit": "PidsLimit",
    "device_cgroup_rules": "DeviceCgroupRules",
}

#: compose's restart conditions (deploy.restart_policy) to the engine's
_RESTART_NAMES = {"none": "no", "no": "no", "on-failure": "on-failure", "unless-stopped": "unless-stopped",
                  "any": "always", "always": "always"}


def nano_cpus(value: Any, where: str) -> int:
    """``cpus`` (``0.5``, ``"1.5"``) as ``NanoCpus``, exactly."""
    try:
        return int(Decimal(str(value)) * 1_000_000_000)
    except (InvalidOperation, ValueError):
        raise ComposeFileError(f"{where}: invalid cpus value {value!r}") from None


def device_mapping(spec: Any) -> dict[str, str]:
    """A device (``/dev/x[:/dev/y[:rwm]]`` or the long map) as a ``DeviceMapping``."""
    if isinstance(spec, dict):
        source = str(spec.get("source", ""))
        return {"PathOnHost": source, "PathInContainer": str(spec.get("target") or source),
                "CgroupPermissions": str(spec.get("permissions") or "rwm")}
    parts = str(spec).split(":")
    source = parts[0]
    target = parts[1] if len(parts) > 1 and parts[1] else source
    permissions = parts[2] if len(parts) > 2 and parts[2] else "rwm"
    return {"PathOnHost": source, "PathInContainer": target, "CgroupPermissions": permissions}


def _gpus(value: Any) -> list[dict[str, Any]]:
    """``gpus`` (``all`` or a list of device requests) as ``DeviceRequests`` with the ``gpu`` capability."""
    if not value:
        return []
    if isinstance(value, str):
        return [{"Driver": "", "Count": -1 if value == "all" else int(value), "Capabilities": [["gpu"]]}]
    requests = []
    for gpu in value:
        count = gpu.get("count")
        request: dict[str, Any] = {"Driver": str(gpu.get("driver") or ""),
                                   "Count": -1 if count == "all" else int(count or 0),
                                   "Capabilities": [[*list(gpu.get("capabilities") or []), "gpu"]]}
        if gpu.get("device_ids"):
            request["DeviceIDs"] = list(gpu["device_ids"])
        if gpu.get("options"):
            request["Options"] = dict(gpu["options"])
        requests.append(request)
    return requests


def _ulimits(value: Any) -> list[dict[str, Any]]:
    ulimits = []
    for name, limit in (value or {}).items():
        if isinstance(limit, dict):
            soft = int(limit.get("soft", limit.get("hard")) or 0)
            hard = int(limit.get("hard", soft))
        else:
            soft = hard = int(limit)
        ulimits.append({"Name": name, "Soft": soft, "Hard": hard})
    return ulimits


def _blkio(config: Section, resources: dict[str, Any], where: str) -> None:
    if "weight" in config:
        resources["BlkioWeight"] = int(config["weight"])
    if config.get("weight_device"):
        resources["BlkioWeightDevice"] = [{"Path": d["path"], "Weight": int(d["weight"])}
                                          for d in config["weight_device"]]
    for key, field in (("device_read_bps", "BlkioDeviceReadBps"), ("device_read_iops", "BlkioDeviceReadIOps"),
                       ("device_write_bps", "BlkioDeviceWriteBps"), ("device_write_iops", "BlkioDeviceWriteIOps")):
        if config.get(key):
            resources[field] = [{"Path": d["path"], "Rate": size(d["rate"], f"{where}.{key}")} if key.endswith("bps")
                                else {"Path": d["path"], "Rate": int(d["rate"])} for d in config[key]]


def resources(name: str, service: Section) -> dict[str, Any]:
    """The ``HostConfig`` resource fields of ``service`` (only those the files set)."""
    where = f"services.{name}"
    result: dict[str, Any] = {}
    for key, field in _DIRECT.items():
        if key in service and service[key] is not None:
            result[field] = service[key]
    if service.get("cpus") is not None:
        result["NanoCpus"] = nano_cpus(service["cpus"], f"{where}.cpus")
    if service.get("blkio_config"):
        _blkio(service["blkio_config"], result, f"{where}.blkio_config")
    limits_of = ((service.get("deploy") or {}).get("resources") or {})
    limits = limits_of.get("limits") or {}
    if limits.get("memory"):
        result["Memory"] = int(limits["memory"])
    if limits.get("cpus") not in (None, "", "0", 0):
        result["NanoCpus"] = nano_cpus(limits["cpus"], f"{where}.deploy.resources.limits.cpus")
    if limits.get("pids") and int(limits["pids"]) > 0:
        result["PidsLimit"] = int(limits["pids"])
    reservations = limits_of.get("reservations") or {}
    if reservations.get("memory"):
        result["MemoryReservation"] = int(reservations["memory"])
    requests = []
    for device in reservations.get("devices") or []:
        request: dict[str, Any] = {"Driver": device.get("driver", ""),
                                   "Capabilities": [list(device.get("capabilities") or [])]}
        count = device.get("count")
        request["Count"] = -1 if count == "all" else int(count or 0)
        if device.get("device_ids"):
            request["DeviceIDs"] = list(device["device_ids"])
        if device.get("options"):
            request["Options"] = dict(device["options"])
        requests.append(request)
    requests.extend(_gpus(service.get("gpus")))
    if requests:
        result["DeviceRequests"] = requests
    if service.get("devices"):
        result["Devices"] = [device_mapping(device) for device in service["devices"]]
    if service.get("ulimits"):
        result["Ulimits"] = _ulimits(service["ulimits"])
    return result


def restart_policy(service: Section) -> dict[str, Any] | None:
    """``HostConfig.RestartPolicy`` from ``restart`` (``on-failure:3``), ``deploy.restart_policy`` over it;
    None when neither is set."""
    policy = None
    restart = service.get("restart")
    if restart:
        name, _, count = str(restart).partition(":")
        policy = {"Name": _RESTART_NAMES.get(name, name), "MaximumRetryCount": int(count) if count.isdigit() else 0}
    deploy_policy = (service.get("deploy") or {}).get("restart_policy")
    if deploy_policy is not None:
        condition = str(deploy_policy.get("condition") or "")
        attempts = deploy_policy.get("max_attempts")
        policy = {"Name": _RESTART_NAMES.get(condition, condition),
                  "MaximumRetryCount": int(attempts) if attempts is not None else 0}
    return policy
