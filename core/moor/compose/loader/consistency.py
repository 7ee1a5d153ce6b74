"""The checks compose-go makes on a loaded project: what the schema cannot see (references between sections,
mutually exclusive keys, a cycle in depends_on). Each failure is one ComposeFileError in compose-go's words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moor.compose.errors import ComposeFileError, DependencyError

_INVALID = "invalid compose project"


def check_service(name: str, service: Mapping[str, Any], model: Mapping[str, Any]) -> None:
    """One enabled service's references and exclusive keys."""
    if "build" not in service and not service.get("image"):
        raise ComposeFileError(f"service \"{name}\" has neither an image nor a build context specified: {_INVALID}")
    build = service.get("build") or {}
    if build.get("dockerfile_inline") and build.get("dockerfile") not in (None, "Dockerfile"):
        raise ComposeFileError(f"service \"{name}\" declares mutualy exclusive dockerfile and dockerfile_inline: "
                               f"{_INVALID}")
    networks = service.get("networks") or {}
    if service.get("network_mode") and networks:
        raise ComposeFileError(f"service {name} declares mutually exclusive `network_mode` and `networks`: "
                               f"{_INVALID}")
    for network in networks:
        if network not in (model.get("networks") or {}):
            raise ComposeFileError(f"service \"{name}\" refers to undefined network {network}: {_INVALID}")
    for volume in service.get("volumes") or []:
        if volume.get("type") == "volume" and volume.get("source") and \
                volume["source"] not in (model.get("volumes") or {}):
            raise ComposeFileError(f"service \"{name}\" refers to undefined volume {volume['source']}: {_INVALID}")
    for kind, singular in (("secrets", "secret"), ("configs", "config")):
        for reference in service.get(kind) or []:
            if reference.get("source") not in (model.get(kind) or {}):
                raise ComposeFileError(f"service \"{name}\" refers to undefined {singular} {reference.get('source')}: "
                                       f"{_INVALID}")
    for reference in build.get("secrets") or []:
        if reference.get("source") not in (model.get("secrets") or {}):
            raise ComposeFileError(f"service \"{name}\" refers to undefined build secret {reference.get('source')}: "
                                   f"{_INVALID}")
    health = service.get("healthcheck") or {}
    if health.get("test") and health["test"][0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise ComposeFileError('healthcheck.test must start either by "CMD", "CMD-SHELL" or "NONE"')
    replicas = (service.get("deploy") or {}).get("replicas")
    if service.get("scale") is not None and replicas is not None and service["scale"] != replicas:
        raise ComposeFileError(f"services.{name}: can't set distinct values on 'scale' and 'deploy.replicas': "
                               f"{_INVALID}")
    scale = service.get("scale", replicas)
    if scale is not None and scale < 0:
        raise ComposeFileError(f"services.{name}.scale: must be greater than or equal to 0")
    if service.get("container_name") and scale is not None and scale > 1:
        raise ComposeFileError(f"services.{name}: can't set container_name and "
                               f"{'scale' if 'scale' in service else 'deploy.replicas'} as container name must be "
                               f"unique: {_INVALID}")
    mounts: dict[str, str] = {}
    for index, tmpfs in enumerate(service.get("tmpfs") or []):
        where = f"services.{name}.tmpfs[{index}]"
        target = tmpfs.split(":")[0]
        if target in mounts:
            raise ComposeFileError(f"{where}: target {target} already mounted as {mounts[target]}")
        mounts[target] = where
    for index, volume in enumerate(service.get("volumes") or []):
        where = f"services.{name}.volumes[{index}]"
        target = volume.get("target")
        if target in mounts:
            raise ComposeFileError(f"{where}: target {target} already mounted as {mounts[target]}")
        mounts[target] = where
    mode = service.get("network_mode") or ""
    if mode.startswith("service:") and mode[len("service:"):] not in (model.get("services") or {}):
        other = mode[len("service:"):]
        raise ComposeFileError(f"service \"{other}\" not found for network_mode 'service:{other}'")


def check_resources(model: Mapping[str, Any]) -> None:
    for name, secret in (model.get("secrets") or {}).items():
        if not secret.get("external") and not secret.get("file") and not secret.get("environment") \
                and "content" not in secret:
            raise ComposeFileError(f"secret \"{name}\" must declare either `file` or `environment`: {_INVALID}")


def check_cycles(services: Mapping[str, Mapping[str, Any]]) -> None:
    """DependencyError ``dependency cycle detected: a -> b -> a`` when depends_on loops."""
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dependency in sorted(services[name].get("depends_on") or {}):
            if dependency not in services:
                continue
            if state.get(dependency) == 1:
                cycle = path[path.index(dependency):] + [dependency] if dependency in path else [name, dependency]
                raise DependencyError("dependency cycle detected: " + " -> ".join(cycle))
            if dependency not in state:
                visit(dependency, [*path, dependency])
        state[name] = 2

    for name in sorted(services):
        if name not in state:
            visit(name, [name])


def check(model: Mapping[str, Any]) -> None:
    """Every check on the enabled services of ``model`` and on its resources."""
    services = model.get("services") or {}
    for name in sorted(services):
        check_service(name, services[name], model)
    check_resources(model)
    check_cycles(services)
