"""``compose run``: a one-off container of a service, after its dependencies are up, as docker compose v2.

Dependencies first (unless ``no_deps``): converged as ``up`` does them (created, recreated, started), then
the service's own ``depends_on`` conditions waited for (``service_healthy`` waits for the health check,
``service_completed_successfully`` for an exit 0). The service's networks and named volumes are made when
missing. The one-off container is named ``PROJECT-SERVICE-run-<12 hex>`` (or ``--name``), labelled
``com.docker.compose.oneoff=True`` with its slug, has no restart policy and publishes no port unless
``service_ports`` or ``ports`` ask; it is started attached (stdin, a TTY when asked, signals forwarded) and
its exit code returned, or detached with its ID printed.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import IO, Any
from urllib.parse import quote

from moor.client import Client, DaemonError
from moor.compose import convert, mounts, naming
from moor.compose.confighash import config_hash
from moor.compose.convert import RunOverrides
from moor.compose.errors import ComposeError
from moor.compose.model import Project
from moor.compose.runtime import observed
from moor.compose.runtime.graph import DependencyGraph
from moor.compose.runtime.images import ensure_images
from moor.compose.runtime.progress import Progress
from moor.compose.runtime.up import UpOptions, converge, daemon_message, tar_of
from moor.compose.runtime.waits import Handle, wait_dependencies
from moor.streams import attach_and_wait


def dependencies_of(project: Project, service: str) -> list[str]:
    """The services ``service`` depends on, directly or not, in dependency order."""
    return [name for name in DependencyGraph.of(project, [service]).services() if name != service]


def run_oneoff(client: Client, project: Project, service: str, overrides: RunOverrides, *, detach: bool,
               no_deps: bool, up_options: UpOptions, progress: Progress, detach_keys: str = "",
               stdout: IO[str] | None = None) -> int:
    """``compose run SERVICE``: the exit code of the one-off container (0 when detached).

    ``overrides.stdin_open`` keeps stdin attached (``-i``, compose's default), ``overrides.tty`` allocates
    a TTY; the caller decides both from its terminal as compose does.
    """
    project.service(service)  # ServiceNotFound before anything is made
    if not no_deps:
        dependencies = dependencies_of(project, service)
        if dependencies:
            converge(client, project, dependencies, replace(up_options, no_deps=False, wait=False), progress,
                     inspect=False)
    ensure_resources(client, project, service, progress)
    image_ids = ensure_images(client, project, [service], build=up_options.build, no_build=up_options.no_build,
                              pull=up_options.pull, quiet=up_options.quiet_pull, progress=progress,
                              parallel=up_options.parallel)
    existing = observed.project_containers(client, project.name, oneoff=False)
    by_service: dict[str, list[dict[str, Any]]] = {}
    for item in existing:
        by_service.setdefault(observed.label(item, observed.SERVICE), []).append(item)
    if not no_deps:
        handles = {name: [Handle(str(item["Id"]), observed.name_of(item), name) for item in items]
                   for name, items in by_service.items()}
        for name in project.service(service).get("depends_on") or {}:
            handles.setdefault(name, [])
        wait_dependencies(client, project, service, handles, progress)
    progress.close()
    container_id = create_oneoff(client, project, service, overrides, image_id=image_ids.get(service, ""),
                                 container_ids={name: str(min(items, key=observed.number_of)["Id"])
                                                for name, items in by_service.items() if items})
    out = stdout if stdout is not None else sys.stdout
    if detach:
        _start(client, container_id, overrides.remove)
        out.write(container_id + "\n")
        out.flush()
        return 0
    return attach_and_wait(client, container_id, tty=bool(overrides.tty), stdin=bool(overrides.stdin_open),
                           detach_keys=detach_keys, sig_proxy=True,
                           start=lambda: _start(client, container_id, overrides.remove), auto_remove=overrides.remove)


def create_oneoff(client: Client, project: Project, service: str, overrides: RunOverrides, *, image_id: str = "",
                  container_ids: dict[str, str] | None = None) -> str:
    """Create the one-off container (secrets and configs given inline copied in); its ID."""
    slug = naming.new_slug()
    name = overrides.name or naming.oneoff_container_name(project, service, slug)
    body = convert.create_body(project, service, 0, image=naming.service_image(project, service),
                               config_hash=config_hash(project, service), image_id=image_id, oneoff=True,
                               overrides=overrides, container_ids=container_ids or {}, slug=slug)
    try:
        answer = client.call("POST", "/containers/create", convert.create_query(project, service, name), body=body)
    except DaemonError as err:
        raise ComposeError(daemon_message(err)) from None
    container_id = str(answer["Id"])
    files = mounts.injected_files(project, project.service(service))
    if files:
        try:
            client.call("PUT", f"/containers/{container_id}/archive", {"path": "/"}, body=tar_of(files))
        except DaemonError as err:
            _remove(client, container_id)
            raise ComposeError(daemon_message(err)) from None
    return container_id


def _start(client: Client, container_id: str, remove: bool) -> None:
    """Start the one-off; one that cannot start stays (as ``docker start``'s) unless ``--rm`` asked."""
    try:
        client.call("POST", f"/containers/{container_id}/start")
    except DaemonError as err:
        if remove:
            _remove(client, container_id)
        raise ComposeError(daemon_message(err)) from None


def _remove(client: Client, container_id: str) -> None:
    """A one-off that could not be made whole (or started, under ``--rm``) is not left behind."""
    try:
        client.call("DELETE", f"/containers/{container_id}", {"force": "1", "v": "1"})
    except DaemonError:
        pass


def ensure_resources(client: Client, project: Project, service: str, progress: Progress) -> None:
    """The service's networks and named volumes, made when missing (an external one missing is an error)."""
    config = project.service(service)
    if not config.get("network_mode"):
        for key in config.get("networks") or {}:
            network = project.networks.get(key)
            if network is not None:
                _ensure(client, progress, "Network", str(network.get("name") or f"{project.name}_{key}"),
                        bool(network.get("external")), lambda key=key: convert.network_body(project, key))
    for volume in config.get("volumes") or []:
        source = volume.get("source")
        if volume.get("type") != "volume" or source not in project.volumes:
            continue
        definition = project.volumes[source]
        _ensure(client, progress, "Volume", str(definition.get("name") or f"{project.name}_{source}"),
                bool(definition.get("external")), lambda source=source: convert.volume_body(project, source))


def _ensure(client: Client, progress: Progress, kind: str, name: str, external: bool, body: Any) -> None:
    path = "/networks" if kind == "Network" else "/volumes"
    try:
        client.call("GET", f"{path}/{quote(name, safe='')}")
        return
    except DaemonError as err:
        if err.status != 404:
            raise ComposeError(daemon_message(err)) from None
    if external:
        if kind == "Network":
            raise ComposeError(f"network {name} declared as external, but could not be found")
        raise ComposeError(f'external volume "{name}" not found')
    progress.event(kind, name, "Creating")
    try:
        client.call("POST", f"{path}/create", body=body())
    except DaemonError as err:
        if err.status != 409:
            progress.event(kind, name, "Error", err.message)
            raise ComposeError(daemon_message(err)) from None
    progress.event(kind, name, "Created")
