"""``up`` and ``create``: the project converged to its files, as compose v2 converges it.

Order: what exists is read once (containers, networks, volumes: one list request each), images made sure of
(``images.ensure_images``: pulls and builds), the project's networks and volumes created with compose's labels
(external ones checked), then each service in dependency order, independent services in parallel (``--parallel``): its
``depends_on`` conditions waited for, its containers scaled, those whose configuration hash (or image) changed
recreated (stop, rename the old one aside, create the new one, remove the old one), then started.

Nothing compose makes is unlabelled; when a step fails, what this ``up`` did so far has been reported through
the progress and stays labelled (``down`` removes it), and the error is raised once, in compose's words.
"""

from __future__ import annotations

import io
import tarfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote

from moor.client import Client, DaemonError
from moor.compose import convert, mounts, naming
from moor.compose.confighash import config_hash
from moor.compose.errors import ComposeError
from moor.compose.model import Project
from moor.compose.runtime import observed
from moor.compose.runtime.graph import DependencyGraph, service_dependencies
from moor.compose.runtime.images import ensure_images
from moor.compose.runtime.parallel import project_slots, run_all
from moor.compose.runtime.progress import Progress
from moor.compose.runtime.stopping import stop_container, stop_timeout
from moor.compose.runtime.waits import Handle, scale_of, wait_dependencies, wait_running_or_healthy


@dataclass
class UpOptions:
    """``up``'s (and ``create``'s) flags that shape the convergence."""

    build: bool = False
    no_build: bool = False
    pull: str | None = None
    force_recreate: bool = False
    no_recreate: bool = False
    no_deps: bool = False
    scale: dict[str, int] = field(default_factory=dict)
    remove_orphans: bool = False
    wait: bool = False
    wait_timeout: float | None = None
    timeout: int | None = None
    no_start: bool = False
    parallel: int = -1
    quiet_pull: bool = False
    always_recreate_deps: bool = False
    renew_anon_volumes: bool = False
    #: COMPOSE_IGNORE_ORPHANS: no warning about orphan containers
    ignore_orphans: bool = False


# the decisions (pure: unit tested without a daemon)

FORCE = "force"
NEVER = "never"
DIVERGED = "diverged"


@dataclass
class ServicePlan:
    """What to do with one service's containers."""

    keep: list[dict[str, Any]] = field(default_factory=list)
    recreate: list[dict[str, Any]] = field(default_factory=list)
    remove: list[dict[str, Any]] = field(default_factory=list)
    create: list[int] = field(default_factory=list)


def is_obsolete(container: dict[str, Any], expected_hash: str, image_id: str, policy: str) -> bool:
    """Whether ``container`` must be recreated under ``policy`` (force, never, diverged): under ``diverged``,
    when its config-hash label differs, or its image label names another image than the one to use now."""
    if policy == FORCE:
        return True
    if policy == NEVER:
        return False
    if observed.label(container, observed.CONFIG_HASH) != expected_hash:
        return True
    used = observed.label(container, observed.IMAGE)
    return bool(image_id and used and used != image_id)


def plan_service(containers: Sequence[dict[str, Any]], expected: int, expected_hash: str, image_id: str,
                 policy: str) -> ServicePlan:
    """Compose's decisions for one service: keep the lowest-numbered up-to-date containers, remove the surplus
    (obsolete ones first, then the highest numbers), recreate the obsolete ones kept, create what is missing
    (numbers after the highest in use)."""
    obsolete = {id(item): is_obsolete(item, expected_hash, image_id, policy) for item in containers}
    ordered = sorted(containers, key=lambda item: (obsolete[id(item)], observed.number_of(item)))
    plan = ServicePlan()
    for index, item in enumerate(ordered):
        if index >= expected:
            plan.remove.append(item)
        elif obsolete[id(item)]:
            plan.recreate.append(item)
        else:
            plan.keep.append(item)
    highest = max((observed.number_of(item) for item in containers), default=0)
    plan.create = [highest + 1 + index for index in range(max(expected - len(containers), 0))]
    return plan


def orphans_of(project: Project, containers: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Containers of the project whose service the files no longer have (enabled or not)."""
    known = set(project.services) | set(project.disabled_services)
    return [item for item in containers if observed.label(item, observed.SERVICE) not in known]


def daemon_message(err: DaemonError) -> str:
    """A daemon refusal as compose prints it."""
    return f"Error response from daemon: {err.message}"


# the convergence


@dataclass
class _Tracked:
    """A container of a service as this ``up`` left it."""

    id: str
    name: str
    service: str
    number: int
    running: bool


def _names_in(items: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {}
    for item in items:
        found[str(item.get("Name", ""))] = item
        found[str(item.get("Id", ""))] = item
    return found


class _Converger:
    def __init__(self, client: Client, project: Project, services: Sequence[str], options: UpOptions,
                 progress: Progress, inspect: bool = True) -> None:
        self.client = client
        self.inspect = inspect
        self.project = project
        self.options = options
        self.progress = progress
        self.graph = DependencyGraph.of(project, list(services) or None, with_dependencies=not options.no_deps)
        self.targets = set(services) if services else set(self.graph.services())
        self.lock = threading.Lock()
        #: ``--parallel N``: the operations on the engine under way at once, all services together
        self.slots = project_slots(options.parallel)
        self.tracked: dict[str, list[_Tracked]] = {}
        self.recreated: set[str] = set()
        self.stopped_for_restart: set[str] = set()
        #: services on a network that was made again: their containers are recreated
        self.network_recreated: set[str] = set()
        self.image_ids: dict[str, str] = {}
        self.existing: dict[str, list[dict[str, Any]]] = {}

    # reading what is there

    def _observe(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        name = self.project.name
        with ThreadPoolExecutor(max_workers=3) as pool:
            containers = pool.submit(observed.project_containers, self.client, name)
            networks = pool.submit(self.client.call, "GET", "/networks")
            volumes = pool.submit(self.client.call, "GET", "/volumes")
            return containers.result(), list(networks.result() or []), \
                list((volumes.result() or {}).get("Volumes") or [])

    def run(self) -> list[dict[str, Any]]:
        self._check_names()
        containers, networks, volumes = self._observe()
        for item in containers:
            self.existing.setdefault(observed.label(item, observed.SERVICE), []).append(item)
        self._images()
        self._networks_and_volumes(networks, volumes)
        self._orphans(containers)
        self.graph.walk(self._service, parallel=self.options.parallel)
        handled = [item for service in self.graph.services() for item in self.tracked.get(service, [])]
        if self.options.wait and not self.options.no_start:
            wait_running_or_healthy(self.client, self.project,
                                    [Handle(item.id, item.name, item.service) for item in handled],
                                    self.progress, timeout=self.options.wait_timeout)
        if self.inspect:
            return self._parallel([partial(self._inspect, item.id) for item in handled])
        return [{"Id": item.id, "Name": "/" + item.name,
                 "Config": {"Labels": {observed.SERVICE: item.service, observed.NUMBER: str(item.number),
                                       observed.PROJECT: self.project.name}},
                 "State": {"Running": item.running}} for item in handled]

    def _check_names(self) -> None:
        seen: dict[str, str] = {}
        for service in self.graph.services():
            config = self.project.services[service]
            explicit = config.get("container_name")
            if not explicit:
                continue
            if self._scale(service) > 1:
                raise ComposeError(
                    f'WARNING: The "{service}" service is using the custom container name "{explicit}". Docker '
                    "requires each container to have a unique name. Remove the custom name to scale the service")
            if explicit in seen:
                raise ComposeError(f'services.{service}: container name "{explicit}" is already in use by '
                                   f"service {seen[explicit]}")
            seen[explicit] = service

    def _scale(self, service: str) -> int:
        return scale_of(self.project.services[service], self.options.scale.get(service))

    def _orphans(self, containers: list[dict[str, Any]]) -> None:
        orphans = orphans_of(self.project, containers)
        if not orphans:
            return
        if not self.options.remove_orphans:
            if not self.options.ignore_orphans:
                names = " ".join(observed.name_of(item) for item in orphans)
                self.progress.message(
                    f"WARN[0000] Found orphan containers ([{names}]) for this project. If you removed or renamed "
                    "this service in your compose file, you can run this command with the --remove-orphans flag "
                    "to clean it up.")
            return
        self._parallel([partial(self._remove_container, item, None) for item in orphans])

    def _images(self) -> None:
        self.image_ids = dict(ensure_images(
            self.client, self.project, self.graph.services(), build=self.options.build,
            no_build=self.options.no_build, pull=self.options.pull, quiet=self.options.quiet_pull,
            progress=self.progress, parallel=self.options.parallel))

    def _inspect(self, container_id: str) -> dict[str, Any]:
        return dict(self.client.call("GET", f"/containers/{container_id}/json"))

    # networks and volumes

    def _networks_and_volumes(self, networks: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> None:
        used_networks: list[str] = []
        used_volumes: list[str] = []
        for service in self.graph.services():
            config = self.project.services[service]
            if not config.get("network_mode"):
                for key in config.get("networks") or {}:
                    if key not in used_networks and key in self.project.networks:
                        used_networks.append(key)
            for volume in config.get("volumes") or []:
                source = volume.get("source")
                if volume.get("type") == "volume" and source in self.project.volumes and source not in used_volumes:
                    used_volumes.append(source)
        actions: list[Callable[[], None]] = []
        by_name = _names_in(networks)
        for key in used_networks:
            config = self.project.networks[key]
            name = str(config.get("name") or f"{self.project.name}_{key}")
            found = by_name.get(name)
            if config.get("external"):
                if found is None and not self._network_exists(name):
                    raise ComposeError(f"network {name} declared as external, but could not be found")
            elif found is not None:
                self._warn_unmanaged("network", name, found)
                if self._network_diverged(key, found):
                    actions.append(partial(self._recreate_network, key, name, found))
            else:
                actions.append(partial(self._create_network, key, name))
        volumes_by_name = {str(item.get("Name")): item for item in volumes}
        for key in used_volumes:
            config = self.project.volumes[key]
            name = str(config.get("name") or f"{self.project.name}_{key}")
            existing = volumes_by_name.get(name)
            if config.get("external"):
                if existing is None:
                    raise ComposeError(f'external volume "{name}" not found')
            elif existing is not None:
                self._warn_unmanaged("volume", name, existing)
            else:
                actions.append(partial(self._create_volume, key, name))
        self._parallel(actions)

    def _network_diverged(self, key: str, found: dict[str, Any]) -> bool:
        """A network of this project whose configuration changed in the files (its config-hash label)."""
        if observed.label(found, observed.PROJECT) != self.project.name:
            return False
        had = observed.label(found, observed.CONFIG_HASH)
        wanted = str(convert.network_body(self.project, key).get("Labels", {}).get(observed.CONFIG_HASH, ""))
        return bool(had and wanted and had != wanted)

    def _recreate_network(self, key: str, name: str, found: dict[str, Any]) -> None:
        """As compose v2: the project's containers on it stopped and disconnected, the network removed and made
        again; the services on it are then recreated (their new containers join the new network)."""
        network_id = str(found.get("Id") or name)
        attached = [item for items in self.existing.values() for item in items
                    if name in ((item.get("NetworkSettings") or {}).get("Networks") or {})]
        for item in attached:
            if observed.is_running(item):
                self._stop(str(item["Id"]), observed.name_of(item), observed.label(item, observed.SERVICE))
            try:
                self.client.call("POST", f"/networks/{quote(network_id, safe='')}/disconnect",
                                 body={"Container": str(item["Id"]), "Force": True})
            except DaemonError as err:
                if err.status != 404:
                    raise ComposeError(daemon_message(err)) from None
        self.progress.event("Network", name, "Removing")
        try:
            self.client.call("DELETE", f"/networks/{quote(network_id, safe='')}")
        except DaemonError as err:
            self.progress.event("Network", name, "Error", err.message)
            raise ComposeError(f"failed to remove network {name}: {daemon_message(err)}") from None
        self.progress.event("Network", name, "Removed")
        with self.lock:
            self.network_recreated.update(service for service, config in self.project.services.items()
                                          if key in (config.get("networks") or {}))
        self._create_network(key, name)

    def _network_exists(self, name: str) -> bool:
        try:
            self.client.call("GET", f"/networks/{quote(name, safe='')}")
            return True
        except DaemonError as err:
            if err.status == 404:
                return False
            raise ComposeError(daemon_message(err)) from None

    def _warn_unmanaged(self, kind: str, name: str, item: dict[str, Any]) -> None:
        owner = observed.label(item, observed.PROJECT)
        if owner == self.project.name:
            return
        if kind == "network":
            where = "by compose" if not owner else f'for project "{self.project.name}"'
            self.progress.message(f"WARN[0000] a network with name {name} exists but was not created {where}.\n"
                                  "Set `external: true` to use an existing network")
        elif not owner:
            self.progress.message(f'WARN[0000] volume "{name}" already exists but was not created by Docker '
                                  "Compose. Use `external: true` to use an existing volume")
        else:
            self.progress.message(f'WARN[0000] volume "{name}" already exists but was created for project '
                                  f'"{owner}" (expected "{self.project.name}"). Use `external: true` to use an '
                                  "existing volume")

    def _create_network(self, key: str, name: str) -> None:
        self.progress.event("Network", name, "Creating")
        try:
            self.client.call("POST", "/networks/create", body=convert.network_body(self.project, key))
        except DaemonError as err:
            if err.status == 409:  # made meanwhile (another up of the same project)
                self.progress.event("Network", name, "Created")
                return
            self.progress.event("Network", name, "Error", err.message)
            raise ComposeError(f"failed to create network {name}: {daemon_message(err)}") from None
        self.progress.event("Network", name, "Created")

    def _create_volume(self, key: str, name: str) -> None:
        self.progress.event("Volume", name, "Creating")
        try:
            self.client.call("POST", "/volumes/create", body=convert.volume_body(self.project, key))
        except DaemonError as err:
            self.progress.event("Volume", name, "Error", err.message)
            raise ComposeError(daemon_message(err)) from None
        self.progress.event("Volume", name, "Created")

    # services

    def _policy(self, service: str) -> str:
        if service in self.targets:
            if self.options.force_recreate:
                return FORCE
        elif self.options.always_recreate_deps:
            return FORCE
        if service in self.network_recreated:
            return FORCE
        if self.options.no_recreate:
            return NEVER
        config = self.project.services[service]
        parents = [name for name in service_dependencies(config)
                   if name in self.recreated and self._shares_namespace(config, name)]
        return FORCE if parents else DIVERGED

    @staticmethod
    def _shares_namespace(config: dict[str, Any], parent: str) -> bool:
        modes = [str(config.get(key) or "") for key in ("network_mode", "ipc", "pid")]
        if f"service:{parent}" in modes:
            return True
        return any(str(item).split(":")[0] == parent or str(item).startswith(f"service:{parent}")
                   for item in config.get("volumes_from") or [])

    def _service(self, service: str) -> None:
        if not self.options.no_start:
            wait_dependencies(self.client, self.project, service, self._handles(), self.progress,
                              scale=self.options.scale)
        expected_hash = config_hash(self.project, service)
        image_id = self.image_ids.get(service, "")
        plan = plan_service(self.existing.get(service, []), self._scale(service), expected_hash, image_id,
                            self._policy(service))
        if plan.recreate:
            self._stop_restart_dependents(service)
        steps: list[Callable[[], _Tracked | None]] = []
        steps += [partial(self._remove_container, item, service) for item in plan.remove]
        steps += [partial(self._recreate, service, item, expected_hash, image_id) for item in plan.recreate]
        steps += [partial(self._kept, service, item) for item in plan.keep]
        steps += [partial(self._create, service, number, expected_hash, image_id) for number in plan.create]
        results = [item for item in self._parallel(steps) if item is not None]
        if plan.recreate:
            with self.lock:
                self.recreated.add(service)
        results.sort(key=lambda item: item.number)
        with self.lock:
            self.tracked[service] = results
        if not self.options.no_start:
            self._parallel([partial(self._start, item) for item in results if not item.running])

    def _handles(self) -> dict[str, list[Handle]]:
        """The containers each dependency has now: this run's, else (``--no-deps``) those already there."""
        found = {service: [Handle(str(item["Id"]), observed.name_of(item), service) for item in items]
                 for service, items in self.existing.items() if service not in self.graph}
        with self.lock:
            found.update({service: [Handle(item.id, item.name, item.service) for item in items]
                          for service, items in self.tracked.items()})
        return found

    def _container_ids(self) -> dict[str, str]:
        with self.lock:
            found = {service: items[0].id for service, items in self.tracked.items() if items}
        for service, items in self.existing.items():
            if service not in found and items:
                found[service] = str(min(items, key=observed.number_of)["Id"])
        return found

    def _stop_timeout(self, service: str | None) -> int | None:
        return stop_timeout(self.options.timeout, self.project.services.get(service or ""))

    def _stop(self, container_id: str, name: str, service: str | None) -> None:
        stop_container(self.client, self.progress, container_id, name, self._stop_timeout(service))
        self.progress.event("Container", name, "Stopped")

    def _stop_restart_dependents(self, service: str) -> None:
        """Before ``service`` is recreated, the running containers of services that depend on it with
        ``restart: true`` are stopped (their own turn starts them again)."""
        for other in self.graph.services():
            spec = (self.project.services[other].get("depends_on") or {}).get(service) or {}
            if not spec.get("restart"):
                continue
            for item in self.existing.get(other, []):
                if observed.is_running(item):
                    self._stop(str(item["Id"]), observed.name_of(item), other)
                    with self.lock:
                        self.stopped_for_restart.add(str(item["Id"]))

    def _kept(self, service: str, item: dict[str, Any]) -> _Tracked:
        name = observed.name_of(item)
        running = observed.is_running(item) and str(item["Id"]) not in self.stopped_for_restart
        if running:
            self.progress.event("Container", name, "Running")
        return _Tracked(str(item["Id"]), name, service, observed.number_of(item), running)

    def _body(self, service: str, number: int, expected_hash: str, image_id: str, replace: str = ""
              ) -> dict[str, Any]:
        return convert.create_body(self.project, service, number, image=naming.service_image(self.project, service),
                                   config_hash=expected_hash, image_id=image_id,
                                   container_ids=self._container_ids(), replace=replace)

    def _create(self, service: str, number: int, expected_hash: str, image_id: str,
                inherit: dict[str, Any] | None = None, name: str | None = None) -> _Tracked:
        name = name or naming.container_name(self.project, service, number)
        if inherit is None:
            self.progress.event("Container", name, "Creating")
        try:
            replace = ""
            if inherit is not None:
                replace = str(self.project.services[service].get("container_name") or f"{service}-{number}")
            body = self._body(service, number, expected_hash, image_id, replace)
            if inherit is not None and not self.options.renew_anon_volumes:
                inherit_anonymous_volumes(body, inherit)
            answer = self.client.call("POST", "/containers/create", convert.create_query(self.project, service, name),
                                      body=body)
            container_id = str(answer["Id"])
            self._inject_files(service, container_id)
        except DaemonError as err:
            self.progress.event("Container", name, "Error", err.message)
            raise ComposeError(daemon_message(err)) from None
        except ComposeError as err:
            self.progress.event("Container", name, "Error", str(err))
            raise
        if inherit is None:
            self.progress.event("Container", name, "Created")
        return _Tracked(container_id, name, service, number, False)

    def _inject_files(self, service: str, container_id: str) -> None:
        files = mounts.injected_files(self.project, self.project.services[service])
        if files:
            self.client.call("PUT", f"/containers/{container_id}/archive", {"path": "/"}, body=tar_of(files))

    def _recreate(self, service: str, item: dict[str, Any], expected_hash: str, image_id: str) -> _Tracked:
        old_id = str(item["Id"])
        name = observed.name_of(item)
        self.progress.event("Container", name, "Recreate")
        try:
            if observed.is_running(item):
                timeout = self._stop_timeout(service)
                self.client.call("POST", f"/containers/{old_id}/stop",
                                 {"t": timeout} if timeout is not None else None)
            self.client.call("POST", f"/containers/{old_id}/rename", {"name": f"{old_id[:12]}_{name}"})
        except DaemonError as err:
            self.progress.event("Container", name, "Error", err.message)
            raise ComposeError(daemon_message(err)) from None
        created = self._create(service, observed.number_of(item), expected_hash, image_id, inherit=item,
                               name=naming.container_name(self.project, service, observed.number_of(item)))
        try:
            self.client.call("DELETE", f"/containers/{old_id}", {"force": "1"})
        except DaemonError as err:
            if err.status != 404:
                self.progress.event("Container", name, "Error", err.message)
                raise ComposeError(daemon_message(err)) from None
        self.progress.event("Container", created.name, "Recreated")
        return created

    def _remove_container(self, item: dict[str, Any], service: str | None) -> None:
        container_id, name = str(item["Id"]), observed.name_of(item)
        if observed.is_running(item):
            self._stop(container_id, name, service)
        self.progress.event("Container", name, "Removing")
        try:
            self.client.call("DELETE", f"/containers/{container_id}", {"force": "1"})
        except DaemonError as err:
            if err.status not in (404, 409):
                self.progress.event("Container", name, "Error", "Error while Removing")
                raise ComposeError(daemon_message(err)) from None
        self.progress.event("Container", name, "Removed")

    def _start(self, item: _Tracked) -> None:
        self.progress.event("Container", item.name, "Starting")
        try:
            self.client.call("POST", f"/containers/{item.id}/start")
        except DaemonError as err:
            self.progress.event("Container", item.name, "Error", err.message)
            raise ComposeError(daemon_message(err)) from None
        item.running = True
        self.progress.event("Container", item.name, "Started")

    def _parallel(self, steps: Sequence[Callable[[], Any]]) -> list[Any]:
        """Run ``steps`` (within one service, or the project's networks and volumes) in parallel; the first
        error is raised once they all finished. With ``--parallel N`` at most N such steps run at once in the
        whole project (services walked in parallel share the bound)."""
        return run_all(steps, parallel=self.options.parallel, slots=self.slots, name="compose-op")

def inherit_anonymous_volumes(body: dict[str, Any], old: dict[str, Any]) -> None:
    """A recreated container keeps the anonymous volumes of the one it replaces (unless ``-V``): each volume
    the old one had at a destination the new body gives no named volume or bind to is mounted again there."""
    host = body.setdefault("HostConfig", {})
    taken = {str(mount.get("Target")) for mount in host.get("Mounts") or [] if mount.get("Source")}
    for bind in host.get("Binds") or []:
        parts = str(bind).split(":")
        if len(parts) >= 2:
            taken.add(parts[1])
    for mount in old.get("Mounts") or []:
        destination = str(mount.get("Destination", ""))
        if mount.get("Type") != "volume" or not mount.get("Name") or destination in taken:
            continue
        host["Mounts"] = [item for item in host.get("Mounts") or [] if item.get("Target") != destination]
        host["Mounts"].append({"Type": "volume", "Source": mount["Name"], "Target": destination,
                               "ReadOnly": not mount.get("RW", True)})
        (body.get("Volumes") or {}).pop(destination, None)


def tar_of(files: Sequence[tuple[str, bytes, int]]) -> bytes:
    """A tar of ``(absolute path, content, mode)`` files, for ``PUT /containers/ID/archive?path=/``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, data, mode in files:
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def converge(client: Client, project: Project, services: Sequence[str], options: UpOptions, progress: Progress,
             *, inspect: bool = True) -> list[dict[str, Any]]:
    """``up``/``create``: networks, volumes, images, then the containers of ``services`` (empty: all enabled;
    with their dependencies unless ``no_deps``) created, recreated, scaled and started in dependency order.

    Returns the service containers it handled, in dependency order: their ``GET /containers/ID/json``, or
    with ``inspect=False`` (``up -d``: no needless requests) a small dict of the same shape (``Id``, ``Name``,
    ``Config.Labels`` with project, service and number, ``State.Running``).
    :class:`ComposeError` (or :class:`DependencyError`) when something fails, after the progress said what.
    """
    return _Converger(client, project, services, options, progress, inspect).run()


def handled_services(project: Project, services: Sequence[str], *, no_deps: bool = False) -> list[str]:
    """The services an ``up SERVICES`` touches, in dependency order (for the CLI's attach set)."""
    return DependencyGraph.of(project, list(services) or None, with_dependencies=not no_deps).services()
