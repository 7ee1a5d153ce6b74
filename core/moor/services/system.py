"""What ``/version`` and ``/info`` report about this engine and machine."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from moor import API_VERSION, MIN_API_VERSION, __version__
from moor.containers import apparmor, seccomp
from moor.containers.limits import cgroup_v1_memory, swap_limit_supported
from moor.hostinfo import machine_memory

if TYPE_CHECKING:
    from moor.daemon.engine import Engine

ARCH_NAMES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


def go_arch() -> str:
    machine = platform.machine()
    return ARCH_NAMES.get(machine, machine)


@lru_cache(maxsize=1)
def runtime_version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    for line in out.splitlines():
        if line.startswith("commit:"):
            return line.split(":", 1)[1].strip()
    return out.split("\n", 1)[0].rsplit(" ", 1)[-1] if out else ""


def version_info() -> dict[str, Any]:
    kernel = platform.release()
    details = {
        "ApiVersion": API_VERSION,
        "Arch": go_arch(),
        "BuildTime": "",
        "Experimental": "false",
        "GitCommit": "",
        "GoVersion": f"python{platform.python_version()}",
        "KernelVersion": kernel,
        "MinAPIVersion": MIN_API_VERSION,
        "Os": "linux",
    }
    return {
        "Platform": {"Name": "moor Engine"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": details["GoVersion"],
        "Os": "linux",
        "Arch": go_arch(),
        "KernelVersion": kernel,
        "BuildTime": "",
    }


def _cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def _os_release(key: str) -> str:
    """A value of ``/etc/os-release`` (``PRETTY_NAME``, ``VERSION_ID``), "" when it has none."""
    try:
        with open("/etc/os-release") as handle:
            for line in handle:
                if line.startswith(key + "="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def system_info(engine: Engine, counts: dict[str, int]) -> dict[str, Any]:
    config = engine.config
    drivers = engine.drivers
    storage = drivers.storage
    runtime = config.runtime
    runtime_path = shutil.which(runtime.path) or runtime.path
    return {
        "ID": engine.id,
        "Containers": counts.get("containers", 0),
        "ContainersRunning": counts.get("running", 0),
        "ContainersPaused": counts.get("paused", 0),
        "ContainersStopped": counts.get("stopped", 0),
        "Images": counts.get("images", 0),
        "Driver": storage.name,
        "DriverStatus": [list(pair) for pair in storage.status()],
        "Plugins": {
            "Volume": drivers.names("volume"),
            "Network": drivers.names("network"),
            "Authorization": None,
            "Log": drivers.names("log"),
        },
        "MemoryLimit": True,
        "SwapLimit": swap_limit_supported(),
        "KernelMemory": False,
        "KernelMemoryTCP": False,
        "CpuCfsPeriod": True,
        "CpuCfsQuota": True,
        "CPUShares": True,
        "CPUSet": True,
        "PidsLimit": True,
        "IPv4Forwarding": _read_flag("/proc/sys/net/ipv4/ip_forward"),
        "BridgeNfIptables": _read_flag("/proc/sys/net/bridge/bridge-nf-call-iptables"),
        "BridgeNfIp6tables": _read_flag("/proc/sys/net/bridge/bridge-nf-call-ip6tables"),
        "Debug": config.debug,
        "NFd": len(os.listdir("/proc/self/fd")),
        "OomKillDisable": cgroup_v1_memory(),  # memory.oom_control exists on cgroup v1 only
        "NGoroutines": 0,
        "SystemTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "LoggingDriver": drivers.defaults["log"],
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": _cgroup_version(),
        "NEventsListener": 0,
        "KernelVersion": platform.release(),
        "OperatingSystem": _os_release("PRETTY_NAME") or "Linux",
        "OSVersion": _os_release("VERSION_ID"),
        "OSType": "linux",
        "Architecture": platform.machine(),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "AllowNondistributableArtifactsCIDRs": [],
            "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": {
                "docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": True, "Official": True}
            },
            "Mirrors": [],
        },
        "NCPU": os.cpu_count() or 1,
        "MemTotal": machine_memory(),
        "GenericResources": None,
        "DockerRootDir": config.data_root,
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": socket.gethostname(),
        "Labels": [],
        "ExperimentalBuild": False,
        "ServerVersion": __version__,
        "Runtimes": {runtime.name: {"path": runtime_path}},
        "DefaultRuntime": runtime.name,
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "Error": "",
            "RemoteManagers": None,
        },
        "LiveRestoreEnabled": True,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": runtime_version(runtime_path), "Expected": runtime_version(runtime_path)},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": security_options(),
        "Warnings": None,
    }


def security_options() -> list[str]:
    """Docker's ``SecurityOptions``: what confines containers here (``docker info`` prints them)."""
    options = []
    if apparmor.enabled():
        options.append("name=apparmor")
    if seccomp.supported():
        options.append("name=seccomp,profile=default")
    if _cgroup_version() == "2":  # containers get a private cgroup namespace there
        options.append("name=cgroupns")
    return options


def _read_flag(path: str) -> bool:
    try:
        with open(path) as handle:
            return handle.read().strip() == "1"
    except OSError:
        return False
