"""The dependency graph: order, cycles, unknown services, and the parallel walk's guarantees."""

from __future__ import annotations

import threading
import time

import pytest

from moor.compose.errors import DependencyError, ServiceNotFound
from moor.compose.model import Project
from moor.compose.runtime.graph import DependencyGraph, service_dependencies


def project_of(services: dict[str, dict]) -> Project:
    return Project(name="p", working_dir="/tmp", config_files=[], services=services)


def deps(*names: str, **conditions: str) -> dict:
    found = {name: {"condition": "service_started", "required": True} for name in names}
    found.update({name: {"condition": cond, "required": True} for name, cond in conditions.items()})
    return {"depends_on": found}


def test_order_dependencies_first() -> None:
    graph = DependencyGraph.of(project_of({"web": deps("db", "cache"), "db": {}, "cache": deps("db"), "x": {}}))
    order = graph.services()
    assert order.index("db") < order.index("cache") < order.index("web")
    assert sorted(order) == ["cache", "db", "web", "x"]


def test_selected_services_pull_in_dependencies_unless_told_not_to() -> None:
    project = project_of({"web": deps("db"), "db": deps("vol"), "vol": {}, "other": {}})
    assert sorted(DependencyGraph.of(project, ["web"]).services()) == ["db", "vol", "web"]
    assert DependencyGraph.of(project, ["web"], with_dependencies=False).services() == ["web"]


def test_cycle_is_named() -> None:
    with pytest.raises(DependencyError, match=r"dependency cycle detected: a -> b -> a"):
        DependencyGraph.of(project_of({"a": deps("b"), "b": deps("a")}))


def test_unknown_service() -> None:
    with pytest.raises(ServiceNotFound, match="no such service: nope"):
        DependencyGraph.of(project_of({"a": {}}), ["nope"])


def test_missing_required_dependency_and_optional_one() -> None:
    with pytest.raises(DependencyError, match='depends on undefined service "gone"'):
        DependencyGraph.of(project_of({"a": deps("gone")}))
    optional = {"depends_on": {"gone": {"condition": "service_started", "required": False}}}
    assert DependencyGraph.of(project_of({"a": optional})).services() == ["a"]


def test_implicit_dependencies() -> None:
    service = {"network_mode": "service:net", "volumes_from": ["data:ro", "container:c"], "links": ["db:database"]}
    assert set(service_dependencies(service)) == {"net", "data", "db"}


def test_walk_runs_after_dependencies_and_in_parallel() -> None:
    project = project_of({f"s{i}": deps("base") for i in range(6)} | {"base": {}, "top": deps("s0", "s5")})
    graph = DependencyGraph.of(project)
    finished: list[str] = []
    active = 0
    peak = 0
    lock = threading.Lock()

    def action(name: str) -> None:
        nonlocal active, peak
        with lock:
            for dep in graph.dependencies(name):
                assert dep in finished
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
            finished.append(name)

    graph.walk(action, parallel=3)
    assert len(finished) == 8 and finished[0] == "base" and finished[-1] == "top"
    assert peak == 3


def test_reverse_walk_runs_after_dependents() -> None:
    graph = DependencyGraph.of(project_of({"web": deps("db"), "db": {}}))
    seen: list[str] = []
    graph.walk(seen.append, reverse=True)
    assert seen == ["web", "db"]


def test_first_error_stops_scheduling() -> None:
    graph = DependencyGraph.of(project_of({"a": {}, "b": deps("a"), "c": deps("b")}))
    seen: list[str] = []

    def action(name: str) -> None:
        seen.append(name)
        if name == "b":
            raise DependencyError("b failed")

    with pytest.raises(DependencyError, match="b failed"):
        graph.walk(action, parallel=2)
    assert seen == ["a", "b"]
