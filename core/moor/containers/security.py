"""The HostConfig options that shape a container's process and devices beyond the defaults.

``--security-opt`` (``no-new-privileges``, ``seccomp=unconfined|<profile JSON>``, ``apparmor=NAME``;
without them Docker's default seccomp profile, translated for the container's bounding set, and no
filter for a privileged container), ``--init`` (Debian's static tini bind-mounted
as /sbin/docker-init, as Docker does), ``--device``, ``--group-add`` and
``--tmpfs`` mounts. Each turns into changes of the OCI spec dict made by
:func:`moor.containers.spec.build_spec`.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
from dataclasses import dataclass
from typing import Any

from moor.containers import apparmor, seccomp
from moor.containers.spec import DEFAULT_READONLY_PATHS, cgroup_v2, default_masked_paths
from moor.containers.users import read_file_in_root
from moor.errors import InvalidParameter

log = logging.getLogger(__name__)

INIT_PATH = "/sbin/docker-init"
INIT_BINARIES = ("/usr/bin/tini-static", "/usr/bin/catatonit", "/usr/bin/tini")
DEFAULT_TMPFS_OPTIONS = ["noexec", "nosuid", "nodev"]
#: What Go's strconv.ParseBool accepts (Docker reads no-new-privileges=VALUE with it).
_GO_BOOLEANS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
                "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


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


@dataclass(frozen=True)
class SecurityOptions:
    """What ``HostConfig.SecurityOpt`` asks for."""

    no_new_privileges: bool = False
    seccomp: str = ""  # "" or "builtin": the default profile; "unconfined"; else the profile's JSON text
    apparmor: str = ""  # "": the default (none, or docker-default when loaded); else a profile name


def parse_security_options(options: list[str]) -> SecurityOptions:
    """Docker's reading of ``--security-opt`` values (``key=value``, or the old ``key:value``)."""
    no_new_privileges, seccomp_profile, apparmor_profile = False, "", ""
    for option in options:
        if not isinstance(option, str):
            raise InvalidParameter(f"invalid --security-opt 1: {option!r}")
        if option in ("no-new-privileges", "disable"):
            no_new_privileges = no_new_privileges or option == "no-new-privileges"
            continue
        separator = "=" if "=" in option else ":" if ":" in option else ""
        if not separator:
            raise InvalidParameter(f'invalid --security-opt 1: "{option}"')
        key, _sep, value = option.partition(separator)
        if key == "no-new-privileges":
            if value not in _GO_BOOLEANS:
                raise InvalidParameter(f'invalid --security-opt 2: "{option}"')
            no_new_privileges = _GO_BOOLEANS[value]
        elif key == "seccomp":
            seccomp_profile = value
        elif key == "apparmor":
            apparmor_profile = value
        elif key != "label":  # SELinux labels: this host has no SELinux, Docker then ignores them too
            raise InvalidParameter(f'invalid --security-opt 2: "{option}"')
    return SecurityOptions(no_new_privileges, seccomp_profile, apparmor_profile)


def seccomp_filter(options: SecurityOptions, privileged: bool, bounding: list[str]) -> dict[str, Any] | None:
    """The spec's ``linux.seccomp`` for these options (None: no filter), as Docker chooses it."""
    if options.seccomp == seccomp.UNCONFINED or privileged:
        return None
    if options.seccomp and options.seccomp != seccomp.BUILTIN:
        return seccomp.custom_profile(options.seccomp, bounding)
    if not seccomp.supported():
        log.warning("seccomp is not enabled in your kernel, running container without default profile")
        return None
    return seccomp.default_profile(bounding)


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
    options = parse_security_options(list(host_config.get("SecurityOpt") or []))
    if options.seccomp not in ("", seccomp.UNCONFINED, seccomp.BUILTIN):
        seccomp.check_profile(options.seccomp)
    apparmor.check(options.apparmor)
    tmpfs_mounts(host_config.get("Tmpfs"))
    for entry in host_config.get("Devices") or []:
        _device(entry)
    if host_config.get("Init"):
        init_binary()


#: what Docker's daemon adds to the SecurityOpt of a privileged container or one in the host's IPC or PID
#: namespace (go-selinux's DisableSecOpt, with or without SELinux; moor, as Docker without SELinux, ignores it)
LABEL_DISABLE = "label=disable"


def apply_defaults(host_config: dict[str, Any]) -> dict[str, Any]:
    """Docker's defaults at create, in place, kept in the container's HostConfig as inspect shows them: the
    masked and read-only paths when none were given (none for a privileged container: null), the cgroup
    namespace mode (``private`` on a cgroup v2 host, else ``host``) and ``label=disable`` in SecurityOpt of a
    privileged container or one in the host's IPC or PID namespace. Returns ``host_config``; applying it again
    changes nothing."""
    privileged = bool(host_config.get("Privileged"))
    if privileged or host_config.get("IpcMode") == "host" or host_config.get("PidMode") == "host":
        options = list(host_config.get("SecurityOpt") or [])
        if LABEL_DISABLE not in options:
            host_config["SecurityOpt"] = [*options, LABEL_DISABLE]
    if host_config.get("MaskedPaths") is None:
        host_config["MaskedPaths"] = None if privileged else default_masked_paths()
    if host_config.get("ReadonlyPaths") is None:
        host_config["ReadonlyPaths"] = None if privileged else list(DEFAULT_READONLY_PATHS)
    host_config["CgroupnsMode"] = host_config.get("CgroupnsMode") or ("private" if cgroup_v2() else "host")
    return host_config


def apply(spec: dict[str, Any], host_config: dict[str, Any], rootfs: str) -> dict[str, Any]:
    """Change the OCI spec for the HostConfig's security options, devices, groups and init."""
    process = spec["process"]
    options = parse_security_options(list(host_config.get("SecurityOpt") or []))
    privileged = bool(host_config.get("Privileged"))
    if options.no_new_privileges:
        process["noNewPrivileges"] = True
    profile = apparmor.profile_for(options.apparmor, privileged)
    if profile:
        process["apparmorProfile"] = profile
    rules = seccomp_filter(options, privileged, list(process.get("capabilities", {}).get("bounding") or []))
    if rules is not None:
        spec.setdefault("linux", {})["seccomp"] = rules
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
