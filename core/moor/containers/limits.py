"""Docker's resource limits: validation, the OCI ``linux.resources`` they become, and ``runc update``.

The HostConfig fields (Docker's names and units) and what they become in the OCI spec::

    Memory              memory.limit             bytes; 0: no limit; at least 6MB
    MemorySwap          memory.swap              memory + swap; -1: unlimited swap; 0: unset
    MemoryReservation   memory.reservation       soft limit, bytes
    MemorySwappiness    memory.swappiness        0-100; -1 or null: the kernel's (cgroup v1 only)
    OomKillDisable      memory.disableOOMKiller  (cgroup v1 only)
    NanoCpus            cpu.quota / cpu.period   period 100000 us, quota = NanoCpus * period / 1e9
    CpuPeriod, CpuQuota cpu.period, cpu.quota    microseconds; a negative quota: unlimited
    CpuShares           cpu.shares               relative weight
    CpusetCpus/Mems     cpu.cpus, cpu.mems       "0-2,4"
    PidsLimit           pids.limit               0, negative or null: unlimited
    BlkioWeight         blockIO.weight           10-1000
    DeviceCgroupRules   devices                  "c 42:* rmw": allowed after the default rules

Docker's rules kept here: the daemon refuses what :func:`validate_resources` refuses, with the same
messages; at create, an unset ``MemorySwap`` with a memory limit becomes twice the memory
(:func:`apply_resource_defaults`, Docker's ``adaptContainerSettings``), so ``-m 16m`` allows 16MB of
swap; the spec carries a swap limit only when it is positive (-1 leaves the kernel's unlimited).
runc translates the same ``linux.resources`` to cgroup v2 files (memory.max, memory.swap.max,
cpu.max, cpu.weight, pids.max) on a cgroup v2 host, so the mapping does not depend on the host.

:func:`merge_update` and :func:`update_resources` implement ``POST /containers/{id}/update``:
Docker's merge of the changed fields into the stored HostConfig, then ``runc update`` with only the
changed fields (runc leaves a field it is given as 0 alone).
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

from moor.containers.runtime import runc_message
from moor.errors import Conflict, InvalidParameter, MoorError
from moor.hostinfo import online_cpus

#: Docker's smallest memory limit (linuxMinMemory).
MIN_MEMORY = 6 * 1024 * 1024
#: The largest cpu.shares the kernel takes (Docker's linuxMaxCPUShares).
MAX_CPU_SHARES = 262144
#: The CFS period Docker uses for NanoCpus (100 ms).
NANO_CPU_PERIOD = 100_000

#: Integer fields of Docker's Resources (and the Go type named in JSON errors).
_INT_FIELDS = {
    "Memory": "int64", "MemorySwap": "int64", "MemoryReservation": "int64", "KernelMemory": "int64",
    "NanoCpus": "int64", "CpuShares": "int64", "CpuPeriod": "int64", "CpuQuota": "int64",
    "CpuRealtimePeriod": "int64", "CpuRealtimeRuntime": "int64", "PidsLimit": "int64",
    "MemorySwappiness": "int64", "BlkioWeight": "uint16", "ShmSize": "int64", "OomScoreAdj": "int",
}  # fmt: skip
_STRING_FIELDS = ("CpusetCpus", "CpusetMems")

#: What a HostConfig holds for each resource field when nothing was asked (as Docker's inspect shows).
RESOURCE_DEFAULTS: dict[str, Any] = {
    "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
    "BlkioWeightDevice": None, "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
    "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CpuPeriod": 0, "CpuQuota": 0,
    "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
    "Devices": None, "DeviceCgroupRules": None, "DeviceRequests": None, "KernelMemory": 0,
    "KernelMemoryTCP": 0, "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": None,
    "OomKillDisable": False, "PidsLimit": None, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
    "IOMaximumBandwidth": 0,
}  # fmt: skip

#: The fields ``POST /containers/{id}/update`` changes (Docker's UpdateContainer), in its order.
UPDATABLE = ("BlkioWeight", "CpuShares", "NanoCpus", "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems",
             "Memory", "MemorySwap", "MemoryReservation", "PidsLimit")


# --------------------------------------------------------------------------- the host


def _cgroup_controller_file(name: str) -> str | None:
    """``name`` (e.g. ``cpuset.cpus``) at the root of its hierarchy, on a v1 or v2 host."""
    root = "/sys/fs/cgroup"
    controller = name.split(".", 1)[0]
    candidates = [os.path.join(root, controller, name), os.path.join(root, name)]
    if name.startswith("cpuset."):
        candidates.insert(1, os.path.join(root, name + ".effective"))
    for path in candidates:
        if os.path.exists(path):
            return path
    return None


def _read_list_file(name: str, fallback: str) -> str:
    path = _cgroup_controller_file(name)
    if path is None:
        return fallback
    try:
        with open(path) as handle:
            return handle.read().strip() or fallback
    except OSError:
        return fallback


def available_cpus() -> str:
    """The CPUs containers may use, as a list ("0-1"): the root cpuset, else the affinity mask."""
    try:
        fallback = format_list(sorted(os.sched_getaffinity(0)))
    except OSError:
        fallback = f"0-{(os.cpu_count() or 1) - 1}"
    return _read_list_file("cpuset.cpus", fallback)


def available_mems() -> str:
    """The memory nodes containers may use ("0")."""
    return _read_list_file("cpuset.mems", "0")


def swap_limit_supported() -> bool:
    """Whether the kernel accounts swap (v1: memory.memsw.* exists; v2: the memory controller is on)."""
    root = "/sys/fs/cgroup"
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        try:
            with open(os.path.join(root, "cgroup.controllers")) as handle:
                return "memory" in handle.read().split()
        except OSError:
            return False
    return os.path.exists(os.path.join(root, "memory", "memory.memsw.limit_in_bytes"))


def cgroup_v1_memory() -> bool:
    """Whether memory is a cgroup v1 controller here (swappiness and the OOM switch exist only there)."""
    return os.path.isdir("/sys/fs/cgroup/memory")


# --------------------------------------------------------------------------- lists ("0-2,4")


def parse_list(text: str, maximum: int = 0) -> set[int]:
    """Docker's ParseUintList: ``"0-2,4"`` -> {0, 1, 2, 4}; ValueError ``invalid format: ...``."""
    if text == "":
        return set()
    result: set[int] = set()
    invalid = ValueError(f"invalid format: {text}")
    number = re.compile(r"[+-]?[0-9]+")
    for part in text.split(","):
        if "-" not in part:
            if not number.fullmatch(part):
                raise invalid
            low = high = int(part)
        else:
            first, _, second = part.partition("-")
            if not number.fullmatch(first) or not number.fullmatch(second):
                raise invalid
            low, high = int(first), int(second)
            if high < low:
                raise invalid
        if maximum and high > maximum:
            raise ValueError(f"value of out range, maximum is {maximum}")
        result.update(range(low, high + 1))
    return result


def format_list(numbers: list[int]) -> str:
    """[0, 1, 2, 4] -> ``"0-2,4"``."""
    ranges: list[str] = []
    start = previous = None
    for number in sorted(numbers):
        if start is None:
            start = previous = number
        elif number == previous + 1:  # type: ignore[operator]
            previous = number
        else:
            ranges.append(f"{start}-{previous}" if start != previous else str(start))
            start = previous = number
    if start is not None:
        ranges.append(f"{start}-{previous}" if start != previous else str(start))
    return ",".join(ranges)


def _check_set(requested: str, available: str, what: str, nouns: str) -> None:
    """Docker's isCpusetListAvailable and its two messages."""
    if not requested:
        return
    try:
        parsed_available = parse_list(available)
    except ValueError:
        return  # the host's own list is unreadable: let the runtime judge
    maximum = max([8192, *parsed_available])
    try:
        parsed = parse_list(requested, maximum)
    except ValueError as err:
        raise InvalidParameter(f"Invalid value {requested} for cpuset {what}: {err}") from None
    if not parsed <= parsed_available:
        raise InvalidParameter(f"Requested {nouns} are not available - requested {requested}, available: {available}")


# --------------------------------------------------------------------------- validation


def _go_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def check_types(host_config: dict[str, Any]) -> None:
    """Refuse values Go's JSON decoder would refuse for the resource fields (as Docker's 400 says)."""
    for name, go_type in _INT_FIELDS.items():
        value = host_config.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParameter(f"json: cannot unmarshal {_go_kind(value)} into Go struct field "
                                   f"HostConfig.{name} of type {go_type}")
    for name in _STRING_FIELDS:
        value = host_config.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidParameter(f"json: cannot unmarshal {_go_kind(value)} into Go struct field "
                                   f"HostConfig.{name} of type string")
    if host_config.get("OomKillDisable") is not None and not isinstance(host_config["OomKillDisable"], bool):
        raise InvalidParameter(f"json: cannot unmarshal {_go_kind(host_config['OomKillDisable'])} into Go "
                               "struct field HostConfig.OomKillDisable of type bool")


#: the largest cpu.cfs_quota_us the kernel takes (its max_cfs_runtime: 2^44 - 1 microseconds)
MAX_CFS_QUOTA = (1 << 44) - 1


def _int(host_config: dict[str, Any], name: str) -> int:
    return int(host_config.get(name) or 0)


def validate_resources(host_config: dict[str, Any], update: bool = False, *, cpus: int | None = None,
                       cpuset: str | None = None, mems: str | None = None) -> None:
    """Refuse the resource settings Docker 20.10 refuses, with its messages (InvalidParameter, 400).

    ``update`` is true for ``POST /containers/{id}/update`` (a swap limit may then come without a
    memory limit). ``cpus``, ``cpuset`` and ``mems`` stand for the host's CPU count, available CPUs
    and memory nodes (read from the host when not given).
    """
    check_types(host_config)
    memory = _int(host_config, "Memory")
    swap = _int(host_config, "MemorySwap")
    reservation = _int(host_config, "MemoryReservation")
    if memory != 0 and memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if memory > 0 and swap > 0 and swap < memory:
        raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage")
    if memory == 0 and swap > 0 and not update:
        raise InvalidParameter("You should always set the Memory limit when using Memoryswap limit, see usage")
    if swap < -1:
        raise InvalidParameter(f"Invalid value: {swap}, valid memory swap values are -1 (unlimited), 0 (unset) "
                               "or a limit larger than the memory limit")
    swappiness = host_config.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidParameter(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
    if 0 < reservation < MIN_MEMORY:  # a negative one is no reservation (Docker takes it)
        raise InvalidParameter("Minimum memory reservation allowed is 6MB")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise InvalidParameter("Minimum memory limit can not be less than memory reservation limit, see usage")

    nano = _int(host_config, "NanoCpus")
    period = _int(host_config, "CpuPeriod")
    quota = _int(host_config, "CpuQuota")
    if nano > 0 and period > 0:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano > 0 and quota > 0:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    count = online_cpus() if cpus is None else cpus
    if nano < 0 or nano > count * 10**9:
        raise InvalidParameter(f"Range of CPUs is from 0.01 to {count}.00, as there are only {count} CPUs available")
    shares = _int(host_config, "CpuShares")
    if shares < 0:
        raise InvalidParameter(f"invalid CPU shares ({shares}): value must be a positive integer")
    if period != 0 and not 1000 <= period <= 1_000_000:
        raise InvalidParameter("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if 0 < quota < 1000:
        raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if quota > MAX_CFS_QUOTA:  # Docker takes it and every start then fails in runc (the kernel says EINVAL)
        raise InvalidParameter(f"CPU cfs quota can not be larger than {MAX_CFS_QUOTA} microseconds (the kernel's "
                               "maximum)")
    if update and (_int(host_config, "IOMaximumIOps") or _int(host_config, "IOMaximumBandwidth")):
        raise InvalidParameter("Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps")

    _check_set(host_config.get("CpusetCpus") or "", available_cpus() if cpuset is None else cpuset, "cpus", "CPUs")
    _check_set(host_config.get("CpusetMems") or "", available_mems() if mems is None else mems, "mems",
               "memory nodes")

    weight = _int(host_config, "BlkioWeight")
    if weight > 0 and not 10 <= weight <= 1000:
        raise InvalidParameter("Range of blkio weight is from 10 to 1000")
    if _int(host_config, "ShmSize") < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    oom_score_adj = _int(host_config, "OomScoreAdj")
    if not -1000 <= oom_score_adj <= 1000:
        raise InvalidParameter(f"Invalid value {oom_score_adj}, range for oom score adj is [-1000, 1000]")


def apply_resource_defaults(host_config: dict[str, Any], swap_supported: bool | None = None) -> dict[str, Any]:
    """Docker's adjustments at create, in place: unset swap with a memory limit becomes 2x memory
    (-1 where the kernel does not account swap), a PidsLimit of 0 or less null (unlimited), and every
    resource field gets its zero value.

    Returns ``host_config``.
    """
    memory = _int(host_config, "Memory")
    supported = swap_limit_supported() if swap_supported is None else swap_supported
    if memory > 0 and _int(host_config, "MemorySwap") != -1 and not supported:
        host_config["MemorySwap"] = -1
    if memory > 0 and _int(host_config, "MemorySwap") == 0:
        host_config["MemorySwap"] = memory * 2
    if host_config.get("MemorySwappiness") == -1:
        host_config["MemorySwappiness"] = None
    if isinstance(host_config.get("PidsLimit"), int) and host_config["PidsLimit"] <= 0:
        host_config["PidsLimit"] = None  # unlimited, as Docker keeps it (the docker CLI sends 0)
    if _int(host_config, "CpuShares") > MAX_CPU_SHARES:  # Docker lowers it to the kernel's maximum (runc refuses more)
        host_config["CpuShares"] = MAX_CPU_SHARES
    for name, value in RESOURCE_DEFAULTS.items():
        if host_config.get(name) is None and value is not None:
            host_config[name] = list(value) if isinstance(value, list) else value
        else:
            host_config.setdefault(name, value)
    return host_config


# --------------------------------------------------------------------------- OCI linux.resources


#: the most processes a kernel can count (PID_MAX_LIMIT): pids.max takes no larger number (EINVAL)
MAX_PIDS = 4 * 1024 * 1024


def pids_limit(value: Any) -> int | None:
    """The OCI pids limit of Docker's PidsLimit: null stays unset, 0 or negative is unlimited (-1), and so is a
    limit past what the kernel can count (Docker hands it to runc, and every start then fails)."""
    if value is None:
        return None
    return int(value) if 0 < int(value) <= MAX_PIDS else -1


def oci_resources(host_config: dict[str, Any], v1_memory: bool | None = None) -> dict[str, Any]:
    """The OCI ``linux.resources`` for a HostConfig, as Docker builds them (its device rules: the user's only)."""
    memory: dict[str, Any] = {}
    if _int(host_config, "Memory") > 0:
        memory["limit"] = _int(host_config, "Memory")
    if _int(host_config, "MemoryReservation") > 0:
        memory["reservation"] = _int(host_config, "MemoryReservation")
    if _int(host_config, "MemorySwap") > 0:
        memory["swap"] = _int(host_config, "MemorySwap")
    v1 = cgroup_v1_memory() if v1_memory is None else v1_memory
    swappiness = host_config.get("MemorySwappiness")
    if v1 and swappiness is not None and swappiness >= 0:
        memory["swappiness"] = int(swappiness)
    if v1 and host_config.get("OomKillDisable"):
        memory["disableOOMKiller"] = True

    cpu: dict[str, Any] = {}
    if _int(host_config, "CpuShares"):
        cpu["shares"] = _int(host_config, "CpuShares")
    nano = _int(host_config, "NanoCpus")
    if nano > 0:
        cpu["quota"] = nano * NANO_CPU_PERIOD // 10**9
        cpu["period"] = NANO_CPU_PERIOD
    else:
        if _int(host_config, "CpuQuota"):
            cpu["quota"] = _int(host_config, "CpuQuota")
        if _int(host_config, "CpuPeriod"):
            cpu["period"] = _int(host_config, "CpuPeriod")
    if host_config.get("CpusetCpus"):
        cpu["cpus"] = host_config["CpusetCpus"]
    if host_config.get("CpusetMems"):
        cpu["mems"] = host_config["CpusetMems"]

    result: dict[str, Any] = {}
    if memory:
        result["memory"] = memory
    if cpu:
        result["cpu"] = cpu
    limit = pids_limit(host_config.get("PidsLimit"))
    if limit is not None:
        result["pids"] = {"limit": limit}
    if _int(host_config, "BlkioWeight") > 0:
        result["blockIO"] = {"weight": _int(host_config, "BlkioWeight")}
    rules = device_cgroup_rules(host_config.get("DeviceCgroupRules"))
    if rules:
        result["devices"] = rules
    return result


_DEVICE_RULE = re.compile(r"([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})")


def device_cgroup_rules(rules: list[str] | None) -> list[dict[str, Any]]:
    """``--device-cgroup-rule`` (``c 42:* rmw``) as OCI devices-cgroup allow rules, ``*`` as -1 (Docker's).

    Raises :class:`InvalidParameter` in Docker's words for a rule that is not ``TYPE MAJOR:MINOR ACCESS``.
    """
    found = []
    for rule in rules or []:
        match = _DEVICE_RULE.fullmatch(str(rule))
        if match is None:
            raise InvalidParameter(f"invalid device cgroup rule format: '{rule}'")
        kind, major, minor, access = match.groups()
        found.append({"allow": True, "type": kind, "major": -1 if major == "*" else int(major),
                      "minor": -1 if minor == "*" else int(minor), "access": access})
    return found


# --------------------------------------------------------------------------- update


def merge_update(container_id: str, current: dict[str, Any], changes: dict[str, Any],
                 swap_supported: bool | None = None) -> dict[str, Any]:
    """The HostConfig after ``POST /containers/{id}/update`` with ``changes`` (Docker's UpdateContainer).

    A field changes when the request gives it a non-zero value (PidsLimit: any non-null value;
    RestartPolicy: a non-empty Name). Raises :class:`Conflict` (409) where Docker refuses the mix of
    old and new values. ``current`` is not modified.

    Unlike Docker 20.10, raising the memory limit alone is refused only when a positive swap limit
    is in place (Docker also refuses it when the container never had a swap limit, which makes
    ``docker update -m`` fail on every container created without ``-m``).
    """
    merged = dict(current)
    prefix = f"Cannot update container {container_id}: "
    changes = dict(changes)
    supported = swap_limit_supported() if swap_supported is None else swap_supported
    if _int(changes, "Memory") > 0 and _int(changes, "MemorySwap") != -1 and not supported:
        changes["MemorySwap"] = -1  # Docker: "Memory limited without swap"
    for new, old, message in (
        ("NanoCpus", "CpuPeriod", "Nano CPUs cannot be updated as CPU Period has already been set"),
        ("NanoCpus", "CpuQuota", "Nano CPUs cannot be updated as CPU Quota has already been set"),
        ("CpuPeriod", "NanoCpus", "CPU Period cannot be updated as NanoCPUs has already been set"),
        ("CpuQuota", "NanoCpus", "CPU Quota cannot be updated as NanoCPUs has already been set"),
    ):
        if _int(changes, new) > 0 and _int(current, old) > 0:
            raise Conflict(prefix + "Conflicting options: " + message)
    for name in UPDATABLE:
        value = changes.get(name)
        if name == "PidsLimit":
            if value is not None:
                merged[name] = value
            continue
        if not value:
            continue
        if name == "Memory":
            current_swap = _int(current, "MemorySwap")
            if current_swap > 0 and value > current_swap and not changes.get("MemorySwap"):
                raise Conflict(prefix + "Memory limit should be smaller than already set memoryswap limit, "
                               "update the memoryswap at the same time")
        merged[name] = min(value, MAX_CPU_SHARES) if name == "CpuShares" else value
    policy = changes.get("RestartPolicy") or {}
    if policy.get("Name"):
        if current.get("AutoRemove") and policy["Name"] != "no":
            raise Conflict(prefix + "Restart policy cannot be updated because AutoRemove is enabled for the "
                           "container")
        merged["RestartPolicy"] = {"Name": policy["Name"], "MaximumRetryCount": int(policy.get("MaximumRetryCount")
                                                                                   or 0)}
    return merged


def update_flags(changes: dict[str, Any], swap_supported: bool | None = None) -> list[str]:
    """``runc update`` options for the changed fields (Docker's toContainerdResources); unset: none."""
    flags: list[str] = []
    memory, swap = _int(changes, "Memory"), _int(changes, "MemorySwap")
    if memory:
        flags.append(f"--memory={memory}")
    if swap > 0 or (swap == -1 and (swap_limit_supported() if swap_supported is None else swap_supported)):
        flags.append(f"--memory-swap={swap}")
    if _int(changes, "MemoryReservation"):
        flags.append(f"--memory-reservation={_int(changes, 'MemoryReservation')}")
    if _int(changes, "CpuShares"):  # the kernel's maximum at most, as at create (runc refuses more on cgroup v2)
        flags.append(f"--cpu-share={min(_int(changes, 'CpuShares'), MAX_CPU_SHARES)}")
    nano = _int(changes, "NanoCpus")
    if nano:
        flags += [f"--cpu-period={NANO_CPU_PERIOD}", f"--cpu-quota={nano * NANO_CPU_PERIOD // 10**9}"]
    else:
        if _int(changes, "CpuPeriod"):
            flags.append(f"--cpu-period={_int(changes, 'CpuPeriod')}")
        if _int(changes, "CpuQuota"):
            flags.append(f"--cpu-quota={_int(changes, 'CpuQuota')}")
    if changes.get("CpusetCpus"):
        flags.append(f"--cpuset-cpus={changes['CpusetCpus']}")
    if changes.get("CpusetMems"):
        flags.append(f"--cpuset-mems={changes['CpusetMems']}")
    limit = pids_limit(changes.get("PidsLimit"))
    if limit is not None:
        flags.append(f"--pids-limit={limit}")
    if _int(changes, "BlkioWeight"):
        flags.append(f"--blkio-weight={_int(changes, 'BlkioWeight')}")
    return flags


def update_resources(runtime_path: str, runtime_root: str, container_id: str, changes: dict[str, Any]) -> None:
    """Apply the changed resource fields to a running container with ``runc update``.

    Raises :class:`MoorError` with runc's message when runc refuses (the kernel's EINVAL for a
    memory limit above the swap limit, a cpuset outside the parent's, ...).
    """
    flags = update_flags(changes)
    if not flags:
        return
    try:
        result = subprocess.run([runtime_path, "--root", runtime_root, "update", *flags, container_id],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as err:
        raise MoorError(f"runtime update failed: {err}") from None
    if result.returncode != 0:
        raise MoorError(runc_message(result.stderr))
