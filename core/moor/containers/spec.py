"""Build a container's OCI runtime spec (``config.json``) with Docker Engine 20.10's defaults.

:func:`build_spec` turns a :class:`~moor.containers.model.RuntimeSpecInput` into the dict runc reads.
What it produces, and where it knowingly differs from Docker:

- **Process**: the user is resolved to numeric ids from the container's own /etc/passwd and
  /etc/group (:mod:`moor.containers.users`); the environment gets Docker's defaults
  (:func:`default_env`); capabilities are Docker's 14 defaults tweaked by ``cap_add``/``cap_drop``.
  As in Docker 20.10.14 and later (CVE-2022-24769), the inheritable set stays empty, and a non-root
  user gets only the bounding set. No rlimits unless ``ulimits`` asks (the process inherits
  runc's); ``noNewPrivileges`` false; ``oomScoreAdj`` as given (0 by default).
- **Privileged**: every capability the engine itself holds (its bounding set, so a host whose root
  lacks a capability can still run privileged containers), all host devices under /dev, the
  devices cgroup open, /sys and /sys/fs/cgroup writable, no masked or read-only paths.
- **Mounts**: Docker's defaults in Docker's order (/proc, /dev, /dev/pts, /sys, /sys/fs/cgroup,
  /dev/mqueue, /dev/shm), then the container's own mounts: ``etc_files`` (bound ``rbind,rprivate``,
  plus ``ro`` with a read-only root filesystem) and ``mounts``, stably sorted by path depth as Docker
  sorts them so a parent is mounted before its children. A mount on a default destination replaces
  that default; a mount on /dev drops every default under /dev. IPC mode ``none`` has no /dev/shm;
  IPC mode ``host`` binds the host's /dev/shm (and keeps the mqueue mount, which then shows the
  host's queues, as with Docker). ``shareable`` is treated like ``private``: no other container can
  join that IPC namespace yet.
- **Namespaces**: mount, network, uts, pid, ipc (each left out in its ``host`` mode; the network
  one joins ``netns_path`` when given), plus a cgroup namespace in ``private`` cgroupns mode (without
  a mode: on cgroup v2 hosts only, as Docker 20.10's default cgroupns mode does).
- **Sysctls**: with a network namespace of its own, Docker's two defaults
  (``net.ipv4.ping_group_range``, ``net.ipv4.ip_unprivileged_port_start``), then the validated
  ``sysctls`` (namespaced ones only).
- **Masked paths**: current Docker's list, with each CPU's ``thermal_throttle`` directory expanded
  here (runc takes no globs).
- **Elsewhere**: the seccomp filter, AppArmor profile, ``noNewPrivileges`` and ``--init`` come from
  :mod:`moor.containers.security`; SELinux labels and user namespaces are not applied.
"""

from __future__ import annotations

import logging
import os
import stat
from typing import Any

from moor.containers.model import RuntimeSpecInput
from moor.containers.users import ResolvedUser, resolve_user
from moor.errors import InvalidParameter

log = logging.getLogger(__name__)

OCI_VERSION = "1.0.2-dev"
DEFAULT_PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: Every capability name runc 1.1 knows, in kernel number order (index == capability number).
ALL_CAPABILITIES: tuple[str, ...] = tuple(
    "CAP_" + name
    for name in [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE"
    ]
)

#: Docker's default capability set, in Docker's order.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)  # fmt: skip

#: Docker's masked paths (current Docker: 20.10's plus /proc/interrupts and powercap, which leak
#: side channels); :func:`default_masked_paths` adds each CPU's thermal_throttle directory.
DEFAULT_MASKED_PATHS: tuple[str, ...] = (
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats", "/sys/devices/virtual/powercap",
    "/sys/firmware",
)  # fmt: skip

DEFAULT_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)  # fmt: skip

#: The rlimits Docker accepts (go-units' names; "as" is disabled there too).
ULIMIT_NAMES = frozenset(
    [
        "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio",
        "rttime", "sigpending", "stack"
    ]
)

#: Docker's sysctls for a container with its own network namespace: ping without CAP_NET_RAW,
#: ports below 1024 without CAP_NET_BIND_SERVICE.
DEFAULT_NETWORK_SYSCTLS = {"net.ipv4.ping_group_range": "0 2147483647", "net.ipv4.ip_unprivileged_port_start": "0"}

RLIM_INFINITY = 2**64 - 1
_IPC_MODES = ("", "private", "shareable", "none", "host")
_HOST_DEVICE_SKIP_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})


def _rule(allow: bool, kind: str | None, major: int | None, minor: int | None, access: str) -> dict[str, Any]:
    """One devices-cgroup rule; a missing type, major or minor is a wildcard."""
    rule: dict[str, Any] = {"allow": allow}
    if kind is not None:
        rule["type"] = kind
    if major is not None:
        rule["major"] = major
    if minor is not None:
        rule["minor"] = minor
    rule["access"] = access
    return rule


def default_device_rules() -> list[dict[str, Any]]:
    """Docker's devices cgroup rules (deny all, then its allow list), then runc's own defaults."""
    return [
        _rule(False, None, None, None, "rwm"),
        _rule(True, "c", 1, 5, "rwm"),  # zero
        _rule(True, "c", 1, 3, "rwm"),  # null
        _rule(True, "c", 1, 9, "rwm"),  # urandom
        _rule(True, "c", 1, 8, "rwm"),  # random
        _rule(True, "c", 5, 0, "rwm"),  # tty
        _rule(True, "c", 5, 1, "rwm"),  # console
        _rule(False, "c", 10, 229, "rwm"),  # fuse
        # runc appends these itself; they are listed so config.json tells the whole story.
        _rule(True, "c", None, None, "m"),
        _rule(True, "b", None, None, "m"),
        _rule(True, "c", 1, 7, "rwm"),  # full
        _rule(True, "c", 136, None, "rwm"),  # pts
        _rule(True, "c", 5, 2, "rwm"),  # ptmx
        _rule(True, "c", 10, 200, "rwm"),  # net/tun
    ]


def default_mounts(shm_size: int) -> list[dict[str, Any]]:
    """Docker's standard mounts, in Docker's order."""

    def mount(destination: str, kind: str, source: str, *options: str) -> dict[str, Any]:
        return {"destination": destination, "type": kind, "source": source, "options": list(options)}

    return [
        mount("/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
        mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
        mount("/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
        mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
        mount("/sys/fs/cgroup", "cgroup", "cgroup", "ro", "nosuid", "noexec", "nodev"),
        mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
        mount("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"),
    ]


# --------------------------------------------------------------------------- the spec


def build_spec(spec: RuntimeSpecInput) -> dict[str, Any]:
    """The OCI runtime spec (config.json contents) for ``spec``.

    Reads the container's /etc/passwd and /etc/group under ``spec.rootfs`` (to resolve the user),
    and, on the host, /proc/self/status, /sys/fs/cgroup and /proc/sys (to learn the capabilities,
    cgroup version and sysctls available) and /dev (privileged containers only).
    Raises :class:`~moor.errors.InvalidParameter` for a user, group, capability, ulimit, sysctl,
    IPC mode or working directory Docker would refuse.
    """
    uts_host = spec.uts_mode == "host"
    result: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": build_process(spec),
        "root": {"path": spec.rootfs, "readonly": spec.read_only},
    }
    if spec.hostname and not uts_host:
        result["hostname"] = spec.hostname
    if spec.domainname and not uts_host:
        result["domainname"] = spec.domainname
    result["mounts"] = build_mounts(spec)
    result["linux"] = build_linux(spec)
    if spec.annotations:
        result["annotations"] = dict(spec.annotations)
    return result


def build_process(spec: RuntimeSpecInput) -> dict[str, Any]:
    """The spec's ``process`` object: command, environment, user, capabilities, rlimits."""
    proc = spec.process
    if not proc.args:
        raise InvalidParameter("No command specified")
    cwd = proc.cwd or "/"
    if not cwd.startswith("/"):
        raise InvalidParameter(f"the working directory '{cwd}' is invalid, it needs to be an absolute path")
    user = resolve_user(spec.rootfs, proc.user)
    process: dict[str, Any] = {"terminal": proc.tty}
    if proc.tty and proc.console_size:
        height, width = proc.console_size
        process["consoleSize"] = {"height": height, "width": width}
    process.update(
        user=user.to_oci(),
        args=list(proc.args),
        env=default_env(proc.env, proc.tty, spec.hostname),
        cwd=cwd,
        capabilities=capability_sets(capabilities(spec.cap_add, spec.cap_drop, spec.privileged), user),
        noNewPrivileges=False,
        oomScoreAdj=spec.oom_score_adj,
    )
    if spec.ulimits:
        process["rlimits"] = rlimits(spec.ulimits)
    return process


def build_linux(spec: RuntimeSpecInput) -> dict[str, Any]:
    """The spec's ``linux`` object: namespaces, cgroup, devices, sysctls, masked paths."""
    linux: dict[str, Any] = {"namespaces": namespaces(spec)}
    if spec.cgroups_path:
        linux["cgroupsPath"] = spec.cgroups_path
    linux["resources"] = resources(spec)
    linux["devices"] = host_devices() if spec.privileged else []
    linux["sysctl"] = sysctls(spec)
    masked = [] if spec.privileged else default_masked_paths()
    readonly = [] if spec.privileged else list(DEFAULT_READONLY_PATHS)
    # As in Docker, paths given explicitly win, even for a privileged container.
    linux["maskedPaths"] = list(spec.masked_paths) if spec.masked_paths is not None else masked
    linux["readonlyPaths"] = list(spec.readonly_paths) if spec.readonly_paths is not None else readonly
    return linux


def _cpu_list(text: str) -> list[int]:
    """The CPUs of a kernel CPU list such as ``0-3,8``."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        first, _dash, last = part.partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


def default_masked_paths(cpu_root: str = "/sys/devices/system/cpu") -> list[str]:
    """Docker's masked paths plus ``cpuN/thermal_throttle`` for each possible CPU that has one.

    runc masks only the paths it is given (no globs), so the per-CPU directories are listed here.
    """
    try:
        with open(os.path.join(cpu_root, "possible"), encoding="ascii") as handle:
            cpus = _cpu_list(handle.read())
    except OSError:
        cpus = []
    throttle = [f"{cpu_root}/cpu{cpu}/thermal_throttle" for cpu in cpus]
    return list(DEFAULT_MASKED_PATHS) + [path for path in throttle if os.path.exists(path)]


# --------------------------------------------------------------------------- environment and command


def default_env(env: list[str], tty: bool, hostname: str) -> list[str]:
    """``env`` with Docker's defaults: PATH, HOSTNAME, and TERM=xterm with a terminal.

    The defaults come first (PATH, HOSTNAME, TERM, Docker's order); an entry of ``env`` with the
    same name replaces a default (or an earlier entry) in place, a bare ``NAME`` without ``=``
    removes it, and anything else is appended in order.
    """
    defaults = [f"PATH={DEFAULT_PATH_ENV}", f"HOSTNAME={hostname}"]
    if tty:
        defaults.append("TERM=xterm")
    merged: dict[str, str | None] = {entry.partition("=")[0]: entry for entry in defaults}
    for entry in env:
        name, equals, _ = entry.partition("=")
        if equals:
            merged[name] = entry
        elif name in merged:
            merged[name] = None
    return [entry for entry in merged.values() if entry is not None]


def merge_command(
    image_entrypoint: list[str] | None,
    image_cmd: list[str] | None,
    entrypoint_override: list[str] | None,
    cmd_override: list[str] | None,
) -> list[str]:
    """The container's argv from the image's Entrypoint/Cmd and the request's, by Docker's rules.

    - no override (``None``): the image's Entrypoint, with the given Cmd or else the image's Cmd;
    - a non-empty Entrypoint override (the docker CLI sends ``[""]`` for ``--entrypoint ""``, which
      means "no entrypoint"): the image's Cmd is dropped, only the given Cmd follows;
    - an empty list ``[]`` (only possible through the API): no entrypoint, but like Docker's
      daemon the image's Cmd is kept when no Cmd is given.

    Raises :class:`~moor.errors.InvalidParameter` ``No command specified`` when nothing is left.
    """
    cmd = list(cmd_override or [])
    if entrypoint_override:
        entrypoint = list(entrypoint_override)
    else:
        entrypoint = list(image_entrypoint or []) if entrypoint_override is None else []
        if not cmd:
            cmd = list(image_cmd or [])
    if entrypoint == [""]:
        entrypoint = []
    argv = entrypoint + cmd
    if not argv:
        raise InvalidParameter("No command specified")
    return argv


# --------------------------------------------------------------------------- capabilities


def normalize_capabilities(names: list[str]) -> list[str]:
    """Upper-case names with the ``CAP_`` prefix (``ALL`` kept); unknown names are refused."""
    normalized = []
    for name in names:
        cap = name.upper()
        if cap != "ALL":
            cap = cap if cap.startswith("CAP_") else "CAP_" + cap
            if cap not in ALL_CAPABILITIES:
                raise InvalidParameter(f'unknown capability: "{cap}"')
        normalized.append(cap)
    return normalized


def available_capabilities(status_path: str = "/proc/self/status") -> list[str]:
    """The capabilities this kernel has and this process may grant (its bounding set), in order."""
    try:
        with open(status_path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("CapBnd:"):
                    mask = int(line.split()[1], 16)
                    return [cap for bit, cap in enumerate(ALL_CAPABILITIES) if mask >> bit & 1]
    except OSError as error:
        log.warning("cannot read the bounding set: %s", error)
    return list(ALL_CAPABILITIES)


def capabilities(cap_add: list[str], cap_drop: list[str], privileged: bool) -> list[str]:
    """Docker's default capabilities tweaked by ``cap_add``/``cap_drop`` (all for ``privileged``)."""
    if privileged:
        return available_capabilities()
    drop = normalize_capabilities(cap_drop)
    add = normalize_capabilities(cap_add)
    if "ALL" in add:
        caps = [cap for cap in available_capabilities() if cap not in drop]
    elif "ALL" in drop:
        caps = add
    else:
        caps = [cap for cap in DEFAULT_CAPABILITIES if cap not in drop] + add
    return list(dict.fromkeys(caps))


def capability_sets(caps: list[str], user: ResolvedUser) -> dict[str, list[str]]:
    """The ``process.capabilities`` object: root gets its caps; others only the bounding set."""
    if user.uid == 0:
        return {"bounding": list(caps), "effective": list(caps), "permitted": list(caps)}
    return {"bounding": list(caps)}


# --------------------------------------------------------------------------- rlimits and sysctls


def _rlimit_value(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(f"invalid ulimit value for {name}: {value!r}")
    return RLIM_INFINITY if value < 0 else value


def rlimits(ulimits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OCI rlimits from Docker's ``[{"Name": "nofile", "Soft": 1024, "Hard": 2048}]`` (-1: unlimited)."""
    result: dict[str, dict[str, Any]] = {}
    for ulimit in ulimits:
        name = str(ulimit.get("Name", ""))
        if name not in ULIMIT_NAMES:
            raise InvalidParameter(f"invalid ulimit type: {name}")
        soft = _rlimit_value(ulimit.get("Soft", 0), name)
        hard = _rlimit_value(ulimit.get("Hard", 0), name)
        if soft > hard:
            raise InvalidParameter(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
        kind = "RLIMIT_" + name.upper()
        result[kind] = {"type": kind, "hard": hard, "soft": soft}
    return list(result.values())


def _own_network_namespace(spec: RuntimeSpecInput) -> bool:
    """Whether the container's network namespace is its own (Docker's "private" network mode)."""
    return spec.network_mode != "host" and not spec.network_mode.startswith("container:")


def sysctl_exists(name: str) -> bool:
    """Whether this kernel has the sysctl ``name`` (runc refuses unknown ones)."""
    return os.path.exists(os.path.join("/proc/sys", name.replace(".", "/")))


def check_sysctl(name: str, spec: RuntimeSpecInput) -> None:
    """Refuse a sysctl that is not namespaced, or whose namespace is the host's."""
    is_ipc = name == "kernel.sem" or name.startswith(("kernel.msg", "kernel.shm", "fs.mqueue."))
    if is_ipc:
        if spec.ipc_mode == "host":
            raise InvalidParameter(f'sysctl "{name}" is not allowed in the host\'s IPC namespace')
    elif name.startswith("net."):
        if spec.network_mode == "host":
            raise InvalidParameter(f'sysctl "{name}" is not allowed in the host\'s network namespace')
    else:
        raise InvalidParameter(f'sysctl "{name}" is not allowed')


def sysctls(spec: RuntimeSpecInput) -> dict[str, str]:
    """Docker's default network sysctls (own network namespace only) overlaid by ``spec.sysctls``."""
    result: dict[str, str] = {}
    if _own_network_namespace(spec):
        for name, value in DEFAULT_NETWORK_SYSCTLS.items():
            if sysctl_exists(name):
                result[name] = value
    for name, value in spec.sysctls.items():
        check_sysctl(name, spec)
        result[name] = str(value)
    return result


# --------------------------------------------------------------------------- mounts


def _depth(mount: dict[str, Any]) -> int:
    return len([part for part in str(mount["destination"]).split("/") if part])


def _container_mounts(spec: RuntimeSpecInput) -> list[dict[str, Any]]:
    """The container's own mounts (/etc files, host /dev/shm for host IPC, ``mounts``), parents first."""
    etc_options = ["rbind", "ro", "rprivate"] if spec.read_only else ["rbind", "rprivate"]
    own = [
        {"destination": destination, "type": "bind", "source": source, "options": list(etc_options)}
        for destination, source in spec.etc_files.items()
    ]
    if spec.ipc_mode == "host":
        own.append({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["rbind", "rprivate"]})
    own.extend(dict(mount) for mount in spec.mounts)
    return sorted(own, key=_depth)  # stable: same-depth mounts keep the given order


def build_mounts(spec: RuntimeSpecInput) -> list[dict[str, Any]]:
    """Docker's default mounts (minus those the container replaces), then the container's own."""
    if spec.ipc_mode not in _IPC_MODES:
        raise InvalidParameter(f"Invalid IPC mode: {spec.ipc_mode}")
    own = _container_mounts(spec)
    replaced = {os.path.normpath(str(mount["destination"])) for mount in own}
    defaults = []
    for mount in default_mounts(spec.shm_size):
        destination = mount["destination"]
        if destination in replaced or ("/dev" in replaced and destination.startswith("/dev/")):
            continue
        if destination == "/dev/shm" and spec.ipc_mode == "none":
            continue
        if (spec.read_only and destination not in ("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue")
                and "ro" not in mount["options"]):
            mount["options"].append("ro")
        if spec.privileged and mount["type"] in ("sysfs", "cgroup"):
            mount["options"] = [option for option in mount["options"] if option != "ro"]
        defaults.append(mount)
    return defaults + own


# --------------------------------------------------------------------------- namespaces


def cgroup_v2() -> bool:
    """Whether the host runs the unified cgroup hierarchy (cgroup v2 only)."""
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def namespaces(spec: RuntimeSpecInput) -> list[dict[str, str]]:
    """The namespaces to create or join, in Docker's order."""
    result = [{"type": "mount"}]
    if spec.network_mode != "host":
        network = {"type": "network"}
        if spec.netns_path:
            network["path"] = spec.netns_path
        elif spec.network_mode.startswith("container:"):
            raise InvalidParameter(f"no network namespace to join for network mode {spec.network_mode}")
        result.append(network)
    if spec.uts_mode != "host":
        result.append({"type": "uts"})
    if spec.pidns_path:
        result.append({"type": "pid", "path": spec.pidns_path})
    elif spec.pid_mode != "host":
        result.append({"type": "pid"})
    if spec.ipc_mode != "host":
        result.append({"type": "ipc"})
    if spec.cgroupns_mode == "private" or (not spec.cgroupns_mode and cgroup_v2()):
        result.append({"type": "cgroup"})
    return result


# --------------------------------------------------------------------------- devices


def resources(spec: RuntimeSpecInput) -> dict[str, Any]:
    """``linux.resources``: the devices cgroup rules, then ``spec.resources`` (its devices appended)."""
    if spec.privileged:
        result: dict[str, Any] = {"devices": [_rule(True, None, None, None, "rwm")]}
    else:
        result = {"devices": default_device_rules()}
    for key, value in spec.resources.items():
        if key == "devices":
            if not spec.privileged:  # as in Docker, device rules are moot for a privileged container
                result["devices"].extend(value)
        else:
            result[key] = value
    return result


def host_devices(root: str = "/dev") -> list[dict[str, Any]]:
    """Every character and block device under ``root``, as OCI ``linux.devices`` entries.

    Skips what runc's ``HostDevices`` skips: pts, shm, fd, mqueue and lxc/udev directories, and
    /dev/console.
    """
    devices: list[dict[str, Any]] = []
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError as error:
        log.warning("cannot list %s: %s", root, error)
        return devices
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in _HOST_DEVICE_SKIP_DIRS:
                devices.extend(host_devices(entry.path))
            continue
        if entry.name == "console":
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
            devices.append(
                {
                    "path": entry.path,
                    "type": "c" if stat.S_ISCHR(info.st_mode) else "b",
                    "major": os.major(info.st_rdev),
                    "minor": os.minor(info.st_rdev),
                    "fileMode": stat.S_IMODE(info.st_mode),
                    "uid": info.st_uid,
                    "gid": info.st_gid,
                }
            )
    return devices
