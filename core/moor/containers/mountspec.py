"""Parse and validate a container's mount requests as Docker's daemon does.

Three sources describe mounts (Docker Engine 20.10's rules and wording):

- ``HostConfig.Binds``: ``source:destination[:mode]`` where a source starting with ``/`` is a host
  path (a bind) and anything else a volume name; ``mode`` is a comma list of at most one each of
  ``ro|rw``, ``z|Z``, ``nocopy``, a propagation mode and a consistency (``consistent|cached|delegated``).
- ``HostConfig.Mounts``: the API's Mount objects (``--mount``) of type ``bind``, ``volume`` or ``tmpfs``.
- ``Config.Volumes``: destinations that get anonymous volumes (an image's ``VOLUME``, ``-v /path``).

Everything here is pure: it checks the text, not the host (except that a ``--mount`` bind source
must exist, which Docker checks when the container is created). Host paths and volume names with a
``..`` component or a NUL byte are refused: they never reach a driver or the file system.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from moor.containers.rootpath import go_clean
from moor.errors import InvalidParameter

PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
CONSISTENCIES = ("consistent", "cached", "delegated", "default")
DEFAULT_BIND_PROPAGATION = "rprivate"
_LOCAL_NAME_HINT = ('includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are '
                    "allowed. If you intended to pass a host directory, use absolute path")


@dataclass
class MountRequest:
    """One mount a container asked for, validated; what the engine turns into a mount point."""

    type: str  # "volume", "bind" or "tmpfs"
    destination: str  # cleaned absolute path in the container
    source: str = ""  # volume name ("" for an anonymous volume) or absolute host path
    rw: bool = True
    mode: str = ""  # what inspect shows as Mode
    propagation: str = ""  # "" for volumes and tmpfs; binds default to rprivate
    propagation_given: bool = False  # the bind's propagation was asked for (not the default)
    copy_data: bool = True  # fill a new empty volume from the image (not with nocopy)
    driver: str = ""  # volume driver ("" = the daemon's default or HostConfig.VolumeDriver)
    driver_options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    tmpfs_options: list[str] = field(default_factory=list)  # "ro", "mode=1700", "size=1m"
    create_source: bool = False  # a -v bind whose missing host directory is created (not --mount)
    recursive: bool = True  # a bind takes the source's submounts along (rbind); not with bind-nonrecursive


def _spec_error(raw: str, detail: str = "") -> InvalidParameter:
    return InvalidParameter(f"invalid volume specification: '{raw}'" + (f": {detail}" if detail else ""))


def _config_error(kind: str, detail: str) -> InvalidParameter:
    return InvalidParameter(f'invalid mount config for type "{kind}": {detail}')


def check_host_path(path: str, kind: str = "bind") -> str:
    """A bind source: absolute, no NUL, no ``..`` component; returned cleaned."""
    if "\x00" in path:
        raise _config_error(kind, "invalid mount path: the path contains a NUL byte")
    if not path.startswith("/"):
        raise _config_error(kind, f"invalid mount path: '{path}' mount path must be absolute")
    if ".." in path.split("/"):
        raise _config_error(kind, f"invalid mount path: '{path}' must not contain '..'")
    return go_clean(path)


def check_volume_name(name: str) -> str:
    """A volume name must not be able to name a path: no ``/``, NUL or ``..`` (the driver checks the rest)."""
    if "\x00" in name or "/" in name or name in (".", ".."):
        shown = name.replace("\x00", "\\x00")
        raise InvalidParameter(f'create {shown}: "{shown}" {_LOCAL_NAME_HINT}')
    return name


def _destination(path: str, kind: str) -> str:
    if not path:
        raise _config_error(kind, "field Target must not be empty")
    if "\x00" in path:
        raise _config_error(kind, "invalid mount path: the path contains a NUL byte")
    if not path.startswith("/"):
        raise _config_error(kind, f"invalid mount path: '{path}' mount path must be absolute")
    cleaned = go_clean(path)
    if cleaned == "/":
        raise _config_error(kind, "invalid specification: destination can't be '/'")
    return cleaned


def parse_mode(mode: str) -> dict[str, str]:
    """``ro,z,nocopy`` -> {"rw": "ro", "label": "z", "copy": "nocopy"}; InvalidParameter ``invalid mode``."""
    found: dict[str, str] = {}
    if not mode:
        return found
    for part in mode.split(","):
        if part in ("ro", "rw"):
            key = "rw"
        elif part in ("z", "Z"):
            key = "label"
        elif part == "nocopy":
            key = "copy"
        elif part in PROPAGATIONS:
            key = "propagation"
        elif part in CONSISTENCIES:
            key = "consistency"
        else:
            raise InvalidParameter(f"invalid mode: {mode}")
        if key in found:
            raise InvalidParameter(f"invalid mode: {mode}")
        found[key] = part
    return found


def _split_bind(raw: str) -> list[str]:
    """Split ``src:dst:mode`` on colons (Linux form: no drive letters)."""
    parts = raw.split(":")
    if len(parts) > 3 or any(not p for p in parts):
        raise _spec_error(raw)
    return parts


def parse_bind(raw: str, volume_driver: str = "") -> MountRequest:
    """One ``HostConfig.Binds`` entry (or a one-part ``Config.Volumes`` destination)."""
    if not isinstance(raw, str) or not raw:
        raise _spec_error(str(raw))
    parts = _split_bind(raw)
    if len(parts) == 1:
        source, destination, mode = "", parts[0], ""
    elif len(parts) == 2:
        if parse_mode_ok(parts[1]):
            raise _spec_error(raw)  # "/data:ro": a destination with a mode is not a bind
        source, destination, mode = parts[0], parts[1], ""
    else:
        source, destination, mode = parts
    options = parse_mode(mode)
    kind = "bind" if source.startswith("/") else "volume"
    try:
        destination = _destination(destination, kind)
        if kind == "bind":
            if "copy" in options:
                raise _config_error(kind, "field VolumeOptions must not be specified")
            source = check_host_path(source)
        elif "propagation" in options:
            raise _config_error(kind, "field BindOptions must not be specified")
    except InvalidParameter as err:
        raise _spec_error(raw, str(err)) from None
    if kind == "volume" and source:
        check_volume_name(source)
    request = MountRequest(type=kind, destination=destination, source=source, rw=options.get("rw") != "ro",
                           mode=mode, copy_data="copy" not in options)
    if kind == "bind":
        request.propagation = options.get("propagation", DEFAULT_BIND_PROPAGATION)
        request.propagation_given = "propagation" in options
        request.create_source = True
    else:
        request.driver = volume_driver
        if source and not mode:
            request.mode = "z"  # what Docker shows for a named -v volume without a mode
    return request


def parse_mode_ok(text: str) -> bool:
    try:
        parse_mode(text)
    except InvalidParameter:
        return False
    return True


def _string_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def tmpfs_option_list(options: dict[str, Any] | None, read_only: bool) -> list[str]:
    """Docker's ``ConvertTmpfsOptions``: ``ro``, ``mode=<octal>``, ``size=<n>[kmg]``."""
    result = ["ro"] if read_only else []
    options = options or {}
    mode = options.get("Mode") or 0
    size = options.get("SizeBytes") or 0
    if not isinstance(mode, int) or not isinstance(size, int) or size < 0 or mode < 0:
        raise _config_error("tmpfs", "invalid tmpfs options")
    if mode:
        result.append(f"mode={mode:o}")
    if size:
        for suffix, divisor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % divisor == 0:
                result.append(f"size={size // divisor}{suffix}")
                break
        else:
            result.append(f"size={size}")
    return result


def parse_api_mount(entry: Any) -> MountRequest:
    """One ``HostConfig.Mounts`` object (``--mount``)."""
    if not isinstance(entry, dict):
        raise InvalidParameter("invalid mount config: a mount must be an object")
    kind = str(entry.get("Type") or "")
    source = str(entry.get("Source") or "")
    read_only = bool(entry.get("ReadOnly"))
    bind_options, volume_options, tmpfs_options = (entry.get("BindOptions"), entry.get("VolumeOptions"),
                                                   entry.get("TmpfsOptions"))
    if kind not in ("bind", "volume", "tmpfs"):
        raise _config_error(kind, "mount type unknown")
    destination = _destination(str(entry.get("Target") or ""), kind)
    if kind == "bind":
        if not source:
            raise _config_error(kind, "field Source must not be empty")
        if volume_options:
            raise _config_error(kind, "field VolumeOptions must not be specified")
        if tmpfs_options:
            raise _config_error(kind, "field TmpfsOptions must not be specified")
        source = check_host_path(source)
        propagation = str((bind_options or {}).get("Propagation") or "")
        if propagation and propagation not in PROPAGATIONS:
            raise _config_error(kind, f"invalid propagation mode: {propagation}")
        create = bool((bind_options or {}).get("CreateMountpoint"))  # API 1.42: made when the container starts
        if not create and not os.path.exists(source):
            raise _config_error(kind, f"bind source path does not exist: {source}")
        return MountRequest(type=kind, destination=destination, source=source, rw=not read_only,
                            propagation=propagation or DEFAULT_BIND_PROPAGATION, propagation_given=bool(propagation),
                            copy_data=False, recursive=not (bind_options or {}).get("NonRecursive"),
                            create_source=create)
    if bind_options:
        raise _config_error(kind, "field BindOptions must not be specified")
    if kind == "tmpfs":
        if source:
            raise _config_error(kind, "field Source must not be specified")
        if volume_options:
            raise _config_error(kind, "field VolumeOptions must not be specified")
        return MountRequest(type=kind, destination=destination, rw=not read_only, copy_data=False,
                            tmpfs_options=tmpfs_option_list(tmpfs_options, read_only))
    if tmpfs_options:
        raise _config_error(kind, "field TmpfsOptions must not be specified")
    if not source and read_only:
        raise _config_error(kind, "must not set ReadOnly mode when using anonymous volumes")
    if source:
        check_volume_name(source)
    volume_options = volume_options or {}
    driver_config = volume_options.get("DriverConfig") or {}
    return MountRequest(type=kind, destination=destination, source=source, rw=not read_only, mode="z",
                        copy_data=not volume_options.get("NoCopy"), driver=str(driver_config.get("Name") or ""),
                        driver_options=_string_map(driver_config.get("Options")),
                        labels=_string_map(volume_options.get("Labels")))


def _tmpfs_destination(path: str) -> str:
    """A ``HostConfig.Tmpfs`` key: an absolute path without NUL (Docker's words), cleaned."""
    if "\x00" in path:
        raise InvalidParameter("invalid mount path: the path contains a NUL byte")
    if not path.startswith("/"):
        raise InvalidParameter(f"invalid mount path: '{path}' mount path must be absolute")
    return go_clean(path)


def parse_volumes_from(entry: str) -> tuple[str, bool]:
    """``container[:ro|rw]`` -> (container, read-write)."""
    name, _, mode = str(entry).partition(":")
    if not name:
        raise _spec_error(str(entry))
    return name, parse_mode(mode).get("rw") != "ro"


def parse_all(host_config: dict[str, Any], config_volumes: dict[str, Any] | None) -> tuple[
        list[MountRequest], list[MountRequest], list[str]]:
    """Validate Binds, Mounts and Tmpfs (no two on one destination) and the Config.Volumes destinations.

    Returns (binds and mounts in order, anonymous volume requests for Config.Volumes, the
    destinations given as binds or mounts). Raises InvalidParameter in Docker's words.
    """
    driver = str(host_config.get("VolumeDriver") or "")
    requests: list[MountRequest] = []
    seen: set[str] = set()
    for raw in host_config.get("Binds") or []:
        request = parse_bind(raw, driver)
        if request.destination in seen:
            raise InvalidParameter(f"Duplicate mount point: {request.destination}")
        seen.add(request.destination)
        requests.append(request)
    for entry in host_config.get("Mounts") or []:
        request = parse_api_mount(entry)
        if request.destination in seen:
            raise InvalidParameter(f"Duplicate mount point: {request.destination}")
        seen.add(request.destination)
        requests.append(request)
    taken = set(seen)
    for raw_destination in host_config.get("Tmpfs") or {}:
        destination = _tmpfs_destination(raw_destination)
        if destination in taken:
            raise InvalidParameter(f"Duplicate mount point: {destination}")
        taken.add(destination)
    anonymous = []
    for destination in config_volumes or {}:
        request = parse_bind(str(destination), driver)
        if request.source or request.type != "volume":
            raise _spec_error(str(destination))
        request.mode = ""
        anonymous.append(request)
    for entry in host_config.get("VolumesFrom") or []:
        parse_volumes_from(entry)
    return requests, anonymous, sorted(seen)
