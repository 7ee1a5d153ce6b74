"""The rest of Docker 20.10's create/run flags: namespaces, runtime, cgroups, block I/O, OOM, files of labels.

:data:`EXTRA_OPTIONS` are added to ``moor create`` and ``moor run`` next to those of :mod:`moor.cli.createflags`;
:func:`apply_extra` puts their values into the create body as the docker CLI 20.10 does, and
:func:`write_cidfile` writes ``--cidfile`` once the container exists.
"""

from __future__ import annotations

import os
import re
from typing import Any

import click

from moor.cli.output import ENGINE_ERROR, fail

#: Docker's flags that name a host device and a rate or weight, and the HostConfig field each fills.
_DEVICE_RATES = {
    "device_read_bps": ("BlkioDeviceReadBps", "--device-read-bps", True),
    "device_write_bps": ("BlkioDeviceWriteBps", "--device-write-bps", True),
    "device_read_iops": ("BlkioDeviceReadIOps", "--device-read-iops", False),
    "device_write_iops": ("BlkioDeviceWriteIOps", "--device-write-iops", False),
}

#: The docker CLI's check of a ``--device-cgroup-rule`` ("c 1:3 mr").
_DEVICE_CGROUP_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")

EXTRA_OPTIONS = [
    click.option("--runtime", default="", metavar="string", help="Runtime to use for this container"),
    click.option("--pid", default="", metavar="string", help="PID namespace to use"),
    click.option("--ipc", default="", metavar="string", help="IPC mode to use"),
    click.option("--uts", default="", metavar="string", help="UTS namespace to use"),
    click.option("--userns", default="", metavar="string", help="User namespace to use"),
    click.option("--cgroupns", default="", metavar="string",
                 help="Cgroup namespace to use (host|private)"),
    click.option("--cgroup-parent", default="", metavar="string", help="Optional parent cgroup for the container"),
    click.option("--isolation", default="", metavar="string", help="Container isolation technology"),
    click.option("--oom-score-adj", type=int, default=0, metavar="int",
                 help="Tune host's OOM preferences (-1000 to 1000)"),
    click.option("--oom-kill-disable", is_flag=True, help="Disable OOM Killer"),
    click.option("--memory-swappiness", type=int, default=-1, metavar="int",
                 help="Tune container memory swappiness (0 to 100) (default -1)"),
    click.option("--kernel-memory", default="", metavar="bytes", help="Kernel memory limit"),
    click.option("--cpu-rt-period", type=int, default=0, metavar="int",
                 help="Limit CPU real-time period in microseconds"),
    click.option("--cpu-rt-runtime", type=int, default=0, metavar="int",
                 help="Limit CPU real-time runtime in microseconds"),
    click.option("--blkio-weight", type=int, default=0, metavar="uint16",
                 help="Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)"),
    click.option("--blkio-weight-device", multiple=True, metavar="list",
                 help="Block IO weight (relative device weight) (default [])"),
    click.option("--device-read-bps", multiple=True, metavar="list",
                 help="Limit read rate (bytes per second) from a device (default [])"),
    click.option("--device-write-bps", multiple=True, metavar="list",
                 help="Limit write rate (bytes per second) to a device (default [])"),
    click.option("--device-read-iops", multiple=True, metavar="list",
                 help="Limit read rate (IO per second) from a device (default [])"),
    click.option("--device-write-iops", multiple=True, metavar="list",
                 help="Limit write rate (IO per second) to a device (default [])"),
    click.option("--device-cgroup-rule", multiple=True, metavar="list",
                 help="Add a rule to the cgroup allowed devices list"),
    click.option("--storage-opt", multiple=True, metavar="list", help="Storage driver options for the container"),
    click.option("--label-file", multiple=True, metavar="list", help="Read in a line delimited file of labels"),
    click.option("--cidfile", default="", metavar="string", help="Write the container ID to the file"),
    click.option("--ip6", default="", metavar="string", help="IPv6 address (e.g., 2001:db8::33)"),
    click.option("--link-local-ip", multiple=True, metavar="list", help="Container IPv4/IPv6 link-local addresses"),
    click.option("--disable-content-trust", is_flag=True, default=True, help="Skip image verification (default true)"),
]


def extra_options(function: Any) -> Any:
    """Add :data:`EXTRA_OPTIONS` to a click command."""
    for option in reversed(EXTRA_OPTIONS):
        function = option(function)
    return function


def _label_file(path: str) -> dict[str, str]:
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except OSError as err:
        fail(f"open {path}: {(err.strerror or str(err)).lower()}", ENGINE_ERROR)
    labels = {}
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            labels[key] = value
    return labels


def _device_value(text: str, flag: str, sizes: bool) -> tuple[str, int]:
    path, sep, value = text.rpartition(":")
    if not sep or not path.startswith("/dev/"):
        fail(f'invalid argument "{text}" for "{flag}" flag: bad format: {text}', ENGINE_ERROR)
    if sizes:
        from moor.errors import InvalidParameter
        from moor.units import parse_size

        try:
            return path, parse_size(value, flag.lstrip("-"))
        except InvalidParameter:
            pass
    elif value.isdigit():
        return path, int(value)
    fail(f'invalid argument "{text}" for "{flag}" flag: invalid rate for device: {text}. '
         "The correct format is <device-path>:<number>[<unit>]", ENGINE_ERROR)


def apply_extra(o: dict[str, Any], body: dict[str, Any]) -> None:
    """Put the values of :data:`EXTRA_OPTIONS` into the create ``body`` as the docker CLI 20.10 sends them."""
    host_config = body["HostConfig"]
    for flag, field in (("runtime", "Runtime"), ("pid", "PidMode"), ("ipc", "IpcMode"), ("uts", "UTSMode"),
                        ("userns", "UsernsMode"), ("cgroupns", "CgroupnsMode"), ("cgroup_parent", "CgroupParent"),
                        ("isolation", "Isolation")):
        if o[flag]:
            host_config[field] = o[flag]
    if o["oom_score_adj"]:
        host_config["OomScoreAdj"] = o["oom_score_adj"]
    if o["oom_kill_disable"]:
        host_config["OomKillDisable"] = True
    if o["memory_swappiness"] != -1:
        host_config["MemorySwappiness"] = o["memory_swappiness"]
    if o["kernel_memory"]:
        from moor.errors import InvalidParameter
        from moor.units import parse_size

        try:
            host_config["KernelMemory"] = parse_size(o["kernel_memory"], "kernel-memory")
        except InvalidParameter as err:
            fail(str(err), ENGINE_ERROR)
    if o["cpu_rt_period"]:
        host_config["CpuRealtimePeriod"] = o["cpu_rt_period"]
    if o["cpu_rt_runtime"]:
        host_config["CpuRealtimeRuntime"] = o["cpu_rt_runtime"]
    if o["blkio_weight"]:
        host_config["BlkioWeight"] = o["blkio_weight"]
    weights = []
    for text in o["blkio_weight_device"]:
        path, weight = _device_value(text, "--blkio-weight-device", False)
        weights.append({"Path": path, "Weight": weight})
    if weights:
        host_config["BlkioWeightDevice"] = weights
    for key, (field, flag, sizes) in _DEVICE_RATES.items():
        rates = [dict(zip(("Path", "Rate"), _device_value(text, flag, sizes), strict=True)) for text in o[key]]
        if rates:
            host_config[field] = rates
    for rule in o["device_cgroup_rule"]:
        if not _DEVICE_CGROUP_RULE.match(rule):
            fail(f'invalid argument "{rule}" for "--device-cgroup-rule" flag: invalid device cgroup format '
                 f"'{rule}'", ENGINE_ERROR)
    if o["device_cgroup_rule"]:
        host_config["DeviceCgroupRules"] = list(o["device_cgroup_rule"])
    if o["storage_opt"]:
        options = {}
        for text in o["storage_opt"]:
            key, sep, value = text.partition("=")
            if not sep:
                fail(f'invalid argument "{text}" for "--storage-opt" flag: invalid storage option', ENGINE_ERROR)
            options[key] = value
        host_config["StorageOpt"] = options
    if o["label_file"]:
        labels: dict[str, str] = {}
        for path in o["label_file"]:
            labels.update(_label_file(path))
        body["Labels"] = {**labels, **(body.get("Labels") or {})}
    _endpoint_addresses(o, body)
    if o["cidfile"] and os.path.exists(o["cidfile"]):
        fail(f"container ID file found, make sure the other container isn't running or delete {o['cidfile']}",
             ENGINE_ERROR)


def _endpoint_addresses(o: dict[str, Any], body: dict[str, Any]) -> None:
    if not o["ip6"] and not o["link_local_ip"]:
        return
    network = o["network"]
    if not network or network in ("bridge", "host", "none", "default"):
        fail("user specified IP address is supported on user defined networks only", ENGINE_ERROR)
    endpoints = body.setdefault("NetworkingConfig", {}).setdefault("EndpointsConfig", {})
    endpoint = endpoints.setdefault(network, {})
    ipam = endpoint.setdefault("IPAMConfig", {})
    if o["ip6"]:
        ipam["IPv6Address"] = o["ip6"]
    if o["link_local_ip"]:
        ipam["LinkLocalIPs"] = list(o["link_local_ip"])


def write_cidfile(o: dict[str, Any], container_id: str) -> None:
    """Write ``--cidfile`` (if given) once the container exists."""
    if not o.get("cidfile"):
        return
    try:
        with open(o["cidfile"], "x") as handle:
            handle.write(container_id)
    except OSError as err:
        fail(f"failed to create the container ID file: {err}", ENGINE_ERROR)
