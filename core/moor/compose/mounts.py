"""A canonical service's storage as a create body's ``Binds`` and ``Mounts``, as compose v2 chooses:
the legacy bind string where it can say everything (it lets Docker create a missing host directory), the
Mount API for anonymous volumes, tmpfs, propagation, ``nocopy``/``subpath``, secrets and configs."""

from __future__ import annotations

import os
from typing import Any

from moor.compose.errors import ComposeError
from moor.compose.model import Project, Section

#: where secrets and configs land when their target is relative or absent
SECRETS_DIR = "/run/secrets/"
CONFIGS_DIR = "/"


def _access_options(volume: Section) -> list[str]:
    options = ["ro" if volume.get("read_only") else "rw"]
    bind = volume.get("bind") or {}
    if bind.get("selinux"):
        options.append(str(bind["selinux"]))
    if bind.get("propagation"):
        options.append(str(bind["propagation"]))
    if (volume.get("volume") or {}).get("nocopy"):
        options.append("nocopy")
    return options


def _bind_string(source: str, volume: Section) -> str:
    return f"{source}:{volume['target']}:{','.join(_access_options(volume))}"


def _bind_needs_mount_api(bind: Section | None) -> bool:
    if bind is None:
        return False
    return not bind.get("create_host_path", False) or bool(bind.get("propagation")) or bool(bind.get("recursive"))


def _volume_needs_mount_api(options: Section | None) -> bool:
    if not options:
        return False
    return bool(options.get("labels")) or bool(options.get("subpath")) or bool(options.get("nocopy"))


def volume_name(project: Project, source: str) -> str:
    """The engine's name of the volume a service calls ``source`` (``PROJECT_KEY`` unless ``name:``)."""
    definition = project.volumes.get(source)
    if definition is not None:
        return str(definition.get("name") or source)
    return source


def _mount(project: Project, volume: Section) -> dict[str, Any]:
    kind = volume.get("type", "volume")
    mount: dict[str, Any] = {"Type": kind}
    source = volume.get("source")
    if kind == "bind" and source:
        source = os.path.abspath(os.path.expanduser(str(source)))
    elif kind == "volume" and source:
        source = volume_name(project, str(source))
    if source:
        mount["Source"] = source
    mount["Target"] = volume["target"]
    if volume.get("read_only"):
        mount["ReadOnly"] = True
    if volume.get("consistency"):
        mount["Consistency"] = volume["consistency"]
    if kind == "bind" and volume.get("bind") is not None:
        bind = volume["bind"]
        options: dict[str, Any] = {}
        if bind.get("propagation"):
            options["Propagation"] = bind["propagation"]
        if bind.get("create_host_path"):
            options["CreateMountpoint"] = True
        recursive = bind.get("recursive")
        if recursive == "disabled":
            options["NonRecursive"] = True
        elif recursive == "writable":
            options["ReadOnlyNonRecursive"] = True
        elif recursive == "readonly":
            options["ReadOnlyForceRecursive"] = True
        mount["BindOptions"] = options
    elif kind == "volume" and volume.get("volume"):
        sub = volume["volume"]
        options = {}
        if sub.get("nocopy"):
            options["NoCopy"] = True
        if sub.get("subpath"):
            options["Subpath"] = sub["subpath"]
        if sub.get("labels"):
            options["Labels"] = {str(k): str(v) for k, v in sub["labels"].items()}
        if options:
            mount["VolumeOptions"] = options
    elif kind == "tmpfs" and volume.get("tmpfs"):
        tmpfs = volume["tmpfs"]
        options = {}
        if tmpfs.get("size"):
            options["SizeBytes"] = int(tmpfs["size"])
        if tmpfs.get("mode"):
            options["Mode"] = int(tmpfs["mode"])
        if options:
            mount["TmpfsOptions"] = options
    elif kind == "image" and (volume.get("image") or {}).get("subpath"):
        mount["ImageOptions"] = {"Subpath": volume["image"]["subpath"]}
    return mount


def volume_entry(project: Project, volume: Section) -> tuple[str | None, dict[str, Any] | None]:
    """One service volume as ``(bind string, None)`` or ``(None, Mount)``."""
    kind = volume.get("type", "volume")
    source = volume.get("source")
    if kind == "bind" and source and not _bind_needs_mount_api(volume.get("bind")):
        return _bind_string(os.path.abspath(os.path.expanduser(str(source))), volume), None
    if (kind == "volume" and source and source in project.volumes
            and not _volume_needs_mount_api(volume.get("volume"))):
        return _bind_string(volume_name(project, str(source)), volume), None
    return None, _mount(project, volume)


def _file_target(target: str | None, source: str, base: str) -> str:
    if not target:
        return base + source
    if target.startswith("/"):
        return target
    return base + target


def _file_mounts(project: Project, name: str, service: Section, kind: str) -> list[dict[str, Any]]:
    definitions = project.secrets if kind == "secrets" else project.configs
    base = SECRETS_DIR if kind == "secrets" else CONFIGS_DIR
    singular = kind[:-1]
    mounts: list[dict[str, Any]] = []
    for reference in service.get(kind) or []:
        source = str(reference["source"])
        definition = definitions.get(source)
        if definition is None:
            raise ComposeError(f"service \"{name}\" refers to undefined {singular} {source}: invalid compose project")
        if definition.get("external"):
            raise ComposeError(f"unsupported external {singular} {definition.get('name', source)}")
        if "file" not in definition:
            continue  # environment: and content: are copied in before the start (injected_files)
        mount: dict[str, Any] = {"Type": "bind", "Source": definition["file"],
                                 "Target": _file_target(reference.get("target"), source, base), "ReadOnly": True}
        if kind == "secrets":
            mount["BindOptions"] = {}
        mounts.append(mount)
    return mounts


def storage(project: Project, name: str, service: Section) -> tuple[list[str], list[dict[str, Any]]]:
    """``(Binds, Mounts)`` of a service: its volumes in order, then its file secrets (read-only at
    ``/run/secrets/NAME``) and file configs (at ``/NAME``), each skipped when a volume has its target."""
    binds: list[str] = []
    mounts: list[dict[str, Any]] = []
    targets: set[str] = set()
    for volume in service.get("volumes") or []:
        bind, mount = volume_entry(project, volume)
        targets.add(str(volume.get("target")))
        if bind is not None:
            binds.append(bind)
        elif mount is not None:
            mounts.append(mount)
    for kind in ("secrets", "configs"):
        for mount in _file_mounts(project, name, service, kind):
            if mount["Target"] not in targets:
                targets.add(mount["Target"])
                mounts.append(mount)
    return binds, mounts


def tmpfs_map(service: Section) -> dict[str, str]:
    """The ``tmpfs`` key (``/path[:options]``) as ``HostConfig.Tmpfs``."""
    result: dict[str, str] = {}
    for item in service.get("tmpfs") or []:
        path, _, options = str(item).partition(":")
        result[path] = options
    return result


def injected_files(project: Project, service: Section) -> list[tuple[str, bytes, int]]:
    """Secrets and configs given by ``environment:`` or ``content:``: ``(target, bytes, mode)`` each,
    for copying into the container before its start (as compose does, through the archive API)."""
    files: list[tuple[str, bytes, int]] = []
    for kind in ("secrets", "configs"):
        definitions = project.secrets if kind == "secrets" else project.configs
        base = SECRETS_DIR if kind == "secrets" else CONFIGS_DIR
        for reference in service.get(kind) or []:
            source = str(reference["source"])
            definition = definitions.get(source) or {}
            if "content" in definition:
                data = str(definition["content"]).encode()
            elif "environment" in definition:
                data = str(project.environment.get(str(definition["environment"]), "")).encode()
            else:
                continue
            mode = reference.get("mode")
            files.append((_file_target(reference.get("target"), source, base), data,
                          int(mode) if mode is not None else 0o444))
    return files
