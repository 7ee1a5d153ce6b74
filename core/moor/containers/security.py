"""The HostConfig options that shape a container's process and devices beyond the defaults.

``--security-opt no-new-privileges``, ``--init`` (Debian's static tini bind-mounted
as /sbin/docker-init, as Docker does), ``--device``, ``--group-add`` and
``--tmpfs`` mounts. Each turns into changes of the OCI spec dict made by
:func:`moor.containers.spec.build_spec`.
"""

from __future__ import annotations

import os
import shutil
import stat
from typing import Any

from moor.containers.users import read_file_in_root
from moor.errors import InvalidParameter

INIT_PATH = "/sbin/docker-init"
INIT_BINARIES = ("/usr/bin/tini-static", "/usr/bin/catatonit", "/usr/bin/tini")
DEFAULT_TMPFS_OPTIONS = ["noexec", "nosuid", "nodev"]


def init_binary() -> str:
    for path in INIT_BINARIES:
        if os.path.exists(path):
            return path
    found = shutil.which("tini") or shutil.which("catatonit")
    if not found:
        raise InvalidParameter("--init needs an init binary: install Debian's tini (make install does)")
    return found


def tmpfs_mounts(tmpfs: dict[str, str] | None) -> list[dict[str, Any]]:
    mounts = []
    for destination, options in (tmpfs or {}).items():
        if not destination.startswith("/"):
            raise InvalidParameter(f"invalid mount path for tmpfs: {destination!r} must be absolute")
        extra = [o for o in (options or "").split(",") if o]
        merged = [o for o in DEFAULT_TMPFS_OPTIONS if not any(e == o or e == o.replace("no", "", 1) for e in extra)]
        mounts.append({"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": merged + extra})
    return mounts


def _security_options(options: list[str]) -> bool:
    """Validate --security-opt values; return whether no-new-privileges is on."""
    no_new_privileges = False
    for option in options:
        key, _sep, value = option.partition("=") if "=" in option else option.partition(":")
        if key == "no-new-privileges":
            if value not in ("", "true", "false"):
                raise InvalidParameter(f"invalid --security-opt: {option!r}")
            no_new_privileges = value != "false"
        elif key in ("seccomp", "apparmor", "label"):
            continue  # accepted: moor applies no seccomp profile, AppArmor or SELinux label yet
        else:
            raise InvalidParameter(f'invalid --security-opt 2: "{option}"')
    return no_new_privileges


def _device(entry: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    host = entry.get("PathOnHost", "")
    inside = entry.get("PathInContainer") or host
    permissions = entry.get("CgroupPermissions") or "rwm"
    try:
        info = os.stat(host)
    except OSError:
        raise InvalidParameter(f"error gathering device information while adding custom device \"{host}\": "
                               "no such file or directory") from None
    if stat.S_ISCHR(info.st_mode):
        kind = "c"
    elif stat.S_ISBLK(info.st_mode):
        kind = "b"
    else:
        raise InvalidParameter(f"error gathering device information while adding custom device \"{host}\": "
                               "not a device node")
    if any(p not in "rwm" for p in permissions):
        raise InvalidParameter(f"invalid device cgroup permissions {permissions!r}")
    major, minor = os.major(info.st_rdev), os.minor(info.st_rdev)
    device = {"path": inside, "type": kind, "major": major, "minor": minor,
              "fileMode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid}
    rule = {"allow": True, "type": kind, "major": major, "minor": minor, "access": permissions}
    return device, rule


def _group_ids(rootfs: str, groups: list[str]) -> list[int]:
    text = read_file_in_root(rootfs, "/etc/group") or ""
    by_name = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            by_name[fields[0]] = int(fields[2])
    ids = []
    for group in groups:
        if group.isdigit():
            ids.append(int(group))
        elif group in by_name:
            ids.append(by_name[group])
        else:
            raise InvalidParameter(f"Unable to find group {group}: no matching entries in group file")
    return ids


def validate(host_config: dict[str, Any]) -> None:
    """Refuse bad options when the container is created, before anything exists."""
    _security_options(list(host_config.get("SecurityOpt") or []))
    tmpfs_mounts(host_config.get("Tmpfs"))
    for entry in host_config.get("Devices") or []:
        _device(entry)
    if host_config.get("Init"):
        init_binary()


def apply(spec: dict[str, Any], host_config: dict[str, Any], rootfs: str) -> dict[str, Any]:
    """Change the OCI spec for the HostConfig's security options, devices, groups and init."""
    process = spec["process"]
    if _security_options(list(host_config.get("SecurityOpt") or [])):
        process["noNewPrivileges"] = True
    groups = list(host_config.get("GroupAdd") or [])
    if groups:
        user = process.setdefault("user", {"uid": 0, "gid": 0})
        user["additionalGids"] = sorted(set(user.get("additionalGids") or []) | set(_group_ids(rootfs, groups)))
    for entry in host_config.get("Devices") or []:
        device, rule = _device(entry)
        linux = spec.setdefault("linux", {})
        linux.setdefault("devices", []).append(device)
        linux.setdefault("resources", {}).setdefault("devices", []).append(rule)
    if host_config.get("Init"):
        spec["mounts"].append({"destination": INIT_PATH, "type": "bind", "source": init_binary(),
                               "options": ["bind", "ro"]})
        process["args"] = [INIT_PATH, "--", *process["args"]]
    return spec
