"""The services' dependency graph, and a walk over it with bounded parallelism (compose v2's ``InDependencyOrder``).

A service depends on what its ``depends_on`` names, on the service of ``network_mode: service:X``, on the
services of ``volumes_from`` and on those its ``links`` name. ``walk`` runs an action once per service after its
dependencies (``reverse``: after its dependents), independent services in parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from moor.compose.errors import DependencyError, ServiceNotFound
from moor.compose.model import Project


def service_dependencies(service: dict[str, Any]) -> dict[str, bool]:
    """The services ``service`` depends on -> whether the dependency is required (``depends_on.required``)."""
    found: dict[str, bool] = {}
    for name, spec in (service.get("depends_on") or {}).items():
        found[name] = bool((spec or {}).get("required", True))
    mode = str(service.get("network_mode") or "")
    if mode.startswith("service:"):
        found.setdefault(mode[len("service:"):], True)
    for item in service.get("volumes_from") or []:
        text = str(item)
        if text.startswith("container:"):
            continue
        text = text[len("service:"):] if text.startswith("service:") else text
        found.setdefault(text.split(":")[0], True)
    for link in service.get("links") or []:
        found.setdefault(str(link).split(":")[0], True)
    return found


def _cycle_path(edges: dict[str, list[str]]) -> list[str] | None:
    """One dependency cycle as a path (first node repeated at its end), or None."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(edges, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        color[node] = grey
        stack.append(node)
        for dep in edges[node]:
            if color.get(dep) == grey:
                return stack[stack.index(dep):] + [dep]
            if color.get(dep) == white:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        color[node] = black
        return None

    for node in sorted(edges):
        if color[node] == white:
            found = visit(node)
            if found:
                return found
    return None


class DependencyGraph:
    """Services and the services each depends on (only those in the graph)."""

    def __init__(self, dependencies: dict[str, list[str]]) -> None:
        self._deps = {name: sorted(set(deps)) for name, deps in dependencies.items()}
        self._dependents: dict[str, list[str]] = {name: [] for name in self._deps}
        for name, deps in self._deps.items():
            for dep in deps:
                self._dependents[dep].append(name)

    @classmethod
    def of(cls, project: Project, services: Iterable[str] | None = None, *, with_dependencies: bool = True
           ) -> DependencyGraph:
        """The graph of ``services`` (None: every enabled service) and, with ``with_dependencies``, everything
        they depend on. :class:`ServiceNotFound` for a service the project lacks; :class:`DependencyError` on a
        cycle (``dependency cycle detected: a -> b -> a``) or a required dependency that is not enabled."""
        everything: dict[str, dict[str, Any]] = dict(project.services)
        wanted = list(project.services) if services is None else list(dict.fromkeys(services))
        for name in wanted:
            if name not in everything:
                raise ServiceNotFound(f"no such service: {name}")
        full: dict[str, list[str]] = {}
        for name, service in everything.items():
            deps = []
            for dep, required in service_dependencies(service).items():
                if dep in everything:
                    deps.append(dep)
                elif required:
                    raise DependencyError(
                        f'service "{name}" depends on undefined service "{dep}": invalid compose project')
            full[name] = deps
        cycle = _cycle_path(full)
        if cycle:
            raise DependencyError("dependency cycle detected: " + " -> ".join(cycle))
        chosen = set(wanted)
        if with_dependencies:
            todo = list(wanted)
            while todo:
                for dep in full[todo.pop()]:
                    if dep not in chosen:
                        chosen.add(dep)
                        todo.append(dep)
        return cls({name: [dep for dep in full[name] if dep in chosen] for name in sorted(chosen)})

    def checked(self) -> DependencyGraph:
        """This graph; :class:`DependencyError` when it has a cycle."""
        cycle = _cycle_path(self._deps)
        if cycle:
            raise DependencyError("dependency cycle detected: " + " -> ".join(cycle))
        return self

    def services(self) -> list[str]:
        """The services in the graph in one dependency order (dependencies first, then by name)."""
        order: list[str] = []
        done: set[str] = set()
        remaining = sorted(self._deps)
        while remaining:
            ready = [name for name in remaining if all(dep in done for dep in self._deps[name])] or remaining
            order.extend(ready)
            done.update(ready)
            remaining = [name for name in remaining if name not in done]
        return order

    def dependencies(self, service: str) -> list[str]:
        """The services of the graph ``service`` depends on directly."""
        return list(self._deps[service])

    def dependents(self, service: str) -> list[str]:
        """The services of the graph that depend directly on ``service``."""
        return sorted(self._dependents[service])

    def __contains__(self, service: object) -> bool:
        return service in self._deps

    def __len__(self) -> int:
        return len(self._deps)

    def walk(self, action: Callable[[str], None], *, reverse: bool = False, parallel: int = -1) -> None:
        """``action(service)`` once per service, after its dependencies (``reverse``: after its dependents);
        independent services in parallel, at most ``parallel`` at a time (-1: no bound). The first error stops
        scheduling; the actions already running finish, then that error is raised."""
        if not self._deps:
            return
        before = self._dependents if reverse else self._deps
        waiting = {name: set(deps) for name, deps in before.items()}
        workers = len(self._deps) if parallel is None or parallel <= 0 else min(parallel, len(self._deps))
        if workers == 1:
            for name in (reversed(self.services()) if reverse else self.services()):
                action(name)
            return
        done: set[str] = set()
        lock = threading.Lock()
        failure: BaseException | None = None
        running: dict[Future[None], str] = {}
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compose") as pool:
            while True:
                with lock:
                    ready = sorted(name for name, deps in waiting.items() if deps <= done)
                if failure is None:
                    for name in ready:
                        del waiting[name]
                        running[pool.submit(action, name)] = name
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    name = running.pop(future)
                    error = future.exception()
                    if error is not None:
                        if failure is None:
                            failure = error
                    else:
                        done.add(name)
        if failure is not None:
            raise failure
