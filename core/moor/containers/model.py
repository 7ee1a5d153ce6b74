"""The container record the engine keeps, and what the spec generator and monitor are given."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ProcessSpec:
    """The process to run (the container's init, or an exec)."""

    args: list[str]
    env: list[str]
    cwd: str = "/"
    user: str = ""  # as given: "", "uid", "uid:gid", "name", "name:group"
    tty: bool = False
    stdin: bool = False  # keep stdin open (-i)
    console_size: tuple[int, int] | None = None  # (height, width)


@dataclass
class RuntimeSpecInput:
    """Everything the OCI spec generator needs for a container's config.json."""

    id: str
    rootfs: str  # absolute path of the mounted root filesystem
    hostname: str
    domainname: str
    process: ProcessSpec
    network_mode: str = "none"  # "none", "host", "bridge", "container:<id>"; netns path below for the last two
    netns_path: str = ""
    ipc_mode: str = "private"  # "private", "host", "shareable"
    pid_mode: str = ""  # "" (private), "host" or "container:<id>" (then joins pidns_path)
    pidns_path: str = ""
    uts_mode: str = ""  # "" or "host"
    privileged: bool = False
    read_only: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    shm_size: int = 64 * 1024 * 1024
    etc_files: dict[str, str] = field(default_factory=dict)  # "/etc/hosts" -> host path (bind mounted)
    mounts: list[dict[str, Any]] = field(default_factory=list)  # extra OCI mounts (volumes, binds, tmpfs)
    ulimits: list[dict[str, Any]] = field(default_factory=list)  # [{"Name": "nofile", "Soft": 1, "Hard": 2}]
    cgroups_path: str = ""  # e.g. "/moor/<id>"
    oom_score_adj: int = 0  # the process's /proc/<pid>/oom_score_adj (--oom-score-adj)
    resources: dict[str, Any] = field(default_factory=dict)  # OCI linux.resources
    sysctls: dict[str, str] = field(default_factory=dict)
    masked_paths: list[str] | None = None  # None: Docker's defaults
    readonly_paths: list[str] | None = None
    cgroupns_mode: str = ""  # "private", "host" or "" (the host's default: private on cgroup v2 only)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)  # HostConfig.Annotations (API 1.43)
