"""``down``: the project's containers stopped and removed in reverse dependency order, then its networks, and with
``-v`` its volumes (named, and the anonymous ones with their containers), with ``--rmi`` its images.

Works from the project name alone (``down -p NAME`` without files): the services and their order come from the
containers' labels, the networks and volumes from theirs, as compose v2 does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

from moor.client import Client, DaemonError
from moor.compose import naming
from moor.compose.errors import ComposeError, ServiceNotFound
from moor.compose.model import Project
from moor.compose.runtime import observed
from moor.compose.runtime.graph import DependencyGraph
from moor.compose.runtime.parallel import project_slots, run_all
from moor.compose.runtime.progress import Progress
from moor.compose.runtime.stopping import stop_container, stop_timeout


def _label_dependencies(container: dict[str, Any]) -> list[str]:
    """The services a container's ``com.docker.compose.depends_on`` label names (``svc:condition:restart,...``)."""
    text = observed.label(container, observed.DEPENDS_ON)
    return [part.split(":")[0] for part in text.split(",") if part.strip()]


def removal_graph(project: Project | None, containers: Sequence[dict[str, Any]]) -> DependencyGraph:
    """The order containers go in: the services of the files (enabled or not) and of the containers' labels,
    each after the services that depend on it; a dependency neither has is ignored (never required)."""
    dependencies: dict[str, set[str]] = {}
    for item in containers:
        dependencies.setdefault(observed.label(item, observed.SERVICE), set()).update(_label_dependencies(item))
    if project is not None:
        for name, service in {**project.disabled_services, **project.services}.items():
            found = dependencies.setdefault(name, set())
            found.update(service.get("depends_on") or {})
            mode = str(service.get("network_mode") or "")
            if mode.startswith("service:"):
                found.add(mode[len("service:"):])
    for name in list(dependencies):
        dependencies[name] = {dep for dep in dependencies[name] if dep in dependencies and dep != name}
    try:
        return DependencyGraph({name: sorted(deps) for name, deps in dependencies.items()}).checked()
    except ComposeError:  # a cycle in labels: no order can hold, remove in one go
        return DependencyGraph({name: [] for name in dependencies})


class _Down:
    def __init__(self, client: Client, project_name: str, project: Project | None, *, volumes: bool,
                 rmi: str | None, remove_orphans: bool, timeout: int | None, progress: Progress,
                 services: Sequence[str], parallel: int) -> None:
        self.client = client
        self.name = project_name
        self.project = project
        self.volumes = volumes
        self.rmi = rmi
        self.remove_orphans = remove_orphans
        self.timeout = timeout
        self.progress = progress
        self.services = list(services)
        self.parallel = parallel
        #: ``--parallel N``: the engine operations under way at once, all services together
        self.slots = project_slots(parallel)

    def run(self) -> None:
        if self.rmi not in (None, "", "local", "all"):
            raise ComposeError(f'invalid value for --rmi: "{self.rmi}"')
        containers = observed.project_containers(self.client, self.name,
                                                 oneoff=None if self.remove_orphans else False)
        known: set[str] | None = None
        if self.project is not None:
            known = set(self.project.services) | set(self.project.disabled_services)
        selected: set[str] | None = None
        if self.services:
            for service in self.services:
                if known is not None and service not in known:
                    raise ServiceNotFound(f"no such service: {service}")
            selected = self._with_dependents(containers)
            containers = [item for item in containers if observed.label(item, observed.SERVICE) in selected]
        orphans = [] if known is None else [
            item for item in containers
            if observed.label(item, observed.SERVICE) not in known or observed.label(item, observed.ONEOFF) == "True"]
        ordinary = [item for item in containers if item not in orphans]
        by_service: dict[str, list[dict[str, Any]]] = {}
        for item in ordinary:
            by_service.setdefault(observed.label(item, observed.SERVICE), []).append(item)
        graph = removal_graph(self.project, ordinary)
        graph.walk(lambda service: self._remove_all(by_service.get(service, []), service), reverse=True,
                   parallel=self.parallel)
        if self.remove_orphans and orphans:
            self._remove_all(orphans, None)
        operations = self._network_operations()
        if self.rmi:
            operations += self._image_operations(containers, selected)
        if self.volumes:
            operations += self._volume_operations()
        if not containers and not operations:
            self.progress.message(f'WARN[0000] Warning: No resource found to remove for project "{self.name}".')
        self._run_all(operations)

    def _with_dependents(self, containers: Sequence[dict[str, Any]]) -> set[str]:
        """``down SERVICE``: that service and every service that depends on it, as compose v2 takes them down."""
        graph = removal_graph(self.project, containers)
        selected = set(self.services)
        todo = [service for service in self.services if service in graph]
        while todo:
            for dependent in graph.dependents(todo.pop()):
                if dependent not in selected:
                    selected.add(dependent)
                    todo.append(dependent)
        return selected

    def _run_all(self, operations: Sequence[Callable[[], None]]) -> None:
        run_all(operations, parallel=self.parallel, slots=self.slots, name="compose-down")

    # containers

    def _stop_timeout(self, service: str | None) -> int | None:
        config = None
        if self.project is not None and service is not None:
            config = self.project.services.get(service) or self.project.disabled_services.get(service)
        return stop_timeout(self.timeout, config)

    def _remove_all(self, containers: Sequence[dict[str, Any]], service: str | None) -> None:
        self._run_all([partial(self._remove, item, service) for item in containers])

    def _remove(self, item: dict[str, Any], service: str | None) -> None:
        container_id, name = str(item["Id"]), observed.name_of(item)
        if observed.is_running(item):
            if not stop_container(self.client, self.progress, container_id, name, self._stop_timeout(service)):
                self.progress.event("Container", name, "Removed")
                return
            self.progress.event("Container", name, "Stopped")
        self.progress.event("Container", name, "Removing")
        try:
            self.client.call("DELETE", f"/containers/{container_id}",
                             {"force": "1", "v": "1" if self.volumes else None})
        except DaemonError as err:
            if err.status not in (404, 409):
                self.progress.event("Container", name, "Error", "Error while Removing")
                raise ComposeError(f"Error response from daemon: {err.message}") from None
        self.progress.event("Container", name, "Removed")

    # networks, volumes, images

    def _network_operations(self) -> list[Callable[[], None]]:
        labelled = observed.project_networks(self.client, self.name)
        names: dict[str, str] = {}  # network name -> its key
        if self.project is not None:
            for key, config in self.project.networks.items():
                if not config.get("external"):
                    names[str(config.get("name") or f"{self.name}_{key}")] = key
        else:
            for item in labelled:
                names[str(item.get("Name"))] = observed.label(item, observed.NETWORK)
        present = {str(item.get("Name")): item for item in labelled}
        return [partial(self._remove_network, name, present[name]) for name in names if name in present]

    def _remove_network(self, name: str, item: dict[str, Any]) -> None:
        event = ("Network", name)
        self.progress.event(*event, "Removing")
        try:
            self.client.call("DELETE", f"/networks/{quote(str(item.get('Id') or name), safe='')}")
        except DaemonError as err:
            if err.status == 404:
                self.progress.event(*event, "Warning: No resource found to remove")
                return
            if err.status in (403, 409) or "in use" in err.message or "active endpoints" in err.message:
                self.progress.event(*event, "Warning: Resource is still in use")
                return
            self.progress.event(*event, "Error", err.message)
            raise ComposeError(f"failed to remove network {name}: Error response from daemon: {err.message}") \
                from None
        self.progress.event(*event, "Removed")

    def _volume_operations(self) -> list[Callable[[], None]]:
        names: list[str] = []
        if self.project is not None:
            names = [str(config.get("name") or f"{self.name}_{key}")
                     for key, config in self.project.volumes.items() if not config.get("external")]
            present = {str(item.get("Name")) for item in self._all_volumes()}
            names = [name for name in names if name in present]
        else:
            names = [str(item.get("Name")) for item in observed.project_volumes(self.client, self.name)]
        return [partial(self._remove_resource, "Volume", name, f"/volumes/{quote(name, safe='')}",
                        {"force": "1"}) for name in names]

    def _all_volumes(self) -> list[dict[str, Any]]:
        return list((self.client.call("GET", "/volumes") or {}).get("Volumes") or [])

    def _image_operations(self, containers: Sequence[dict[str, Any]], selected: set[str] | None
                          ) -> list[Callable[[], None]]:
        images: list[str] = []
        if self.project is not None:
            for service in {**self.project.disabled_services, **self.project.services}:
                if selected is not None and service not in selected:
                    continue
                config = naming.service_config(self.project, service)
                if self.rmi == "all" or not config.get("image"):
                    image = naming.service_image(self.project, service)
                    if image not in images:
                        images.append(image)
        else:
            for item in containers:
                image = str(item.get("Image") or "")
                default = f"{self.name}-{observed.label(item, observed.SERVICE)}"
                if image and image not in images and (self.rmi == "all" or image in (default, default + ":latest")):
                    images.append(image)
        present: list[str] = []
        for image in images:
            try:
                self.client.call("GET", f"/images/{quote(image, safe='/:@')}/json")
                present.append(image)
            except DaemonError:
                continue
        return [partial(self._remove_resource, "Image", image, f"/images/{quote(image, safe='/:@')}", None)
                for image in present]

    def _remove_resource(self, kind: str, name: str, path: str, params: dict[str, Any] | None) -> None:
        self.progress.event(kind, name, "Removing")
        try:
            self.client.call("DELETE", path, params)
        except DaemonError as err:
            if err.status == 409:
                self.progress.event(kind, name, "Warning: Resource is still in use")
                return
            if err.status == 404:
                self.progress.event(kind, name, "Warning: No resource found to remove")
                return
            self.progress.event(kind, name, "Error", err.message)
            raise ComposeError(f"Error response from daemon: {err.message}") from None
        self.progress.event(kind, name, "Removed")


def down(client: Client, project_name: str, project: Project | None, *, volumes: bool = False, rmi: str | None = None,
         remove_orphans: bool = False, timeout: int | None = None, progress: Progress, services: Sequence[str] = (),
         parallel: int = -1) -> None:
    """``down``: stop and remove the project's containers (reverse dependency order, ``timeout`` seconds to stop,
    else each service's ``stop_grace_period``), then its networks; ``volumes``: its named volumes and the
    containers' anonymous ones; ``rmi``: ``local`` (images built for services without ``image``) or ``all``;
    ``remove_orphans``: also containers of services the files no longer have and one-off containers.
    ``project`` None: everything from the labels (``down -p NAME``). ``services``: only the containers of those
    services and of the services that depend on them (the networks and volumes still in use are left, with a
    warning)."""
    _Down(client, project_name, project, volumes=volumes, rmi=rmi, remove_orphans=remove_orphans, timeout=timeout,
          progress=progress, services=services, parallel=parallel).run()
