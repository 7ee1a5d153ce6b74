"""depends_on conditions and ``--wait`` against a fake engine whose containers change state as it is polled."""

from __future__ import annotations

import io
from typing import Any

import pytest

from moor.compose.errors import ComposeError, DependencyError
from moor.compose.model import Project
from moor.compose.runtime.progress import Progress
from moor.compose.runtime.waits import Handle, wait_dependencies, wait_running_or_healthy


class Engine:
    """``GET /containers/ID/json`` answering, per container, the next state of a script (the last one stays)."""

    def __init__(self, **scripts: list[dict[str, Any]]) -> None:
        self.scripts = scripts

    def call(self, method: str, path: str, *_: Any, **__: Any) -> Any:
        name = path.split("/")[2]
        script = self.scripts[name]
        state = script.pop(0) if len(script) > 1 else script[0]
        return {"Id": name, "Name": "/" + name, "State": state,
                "Config": {"Healthcheck": {"Test": ["CMD", "true"]}} if "Health" in state else {}}


def running(health: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {"Status": "running", "Running": True}
    if health:
        state["Health"] = {"Status": health}
    return state


def exited(code: int) -> dict[str, Any]:
    return {"Status": "exited", "Running": False, "ExitCode": code}


def project(condition: str, required: bool = True) -> Project:
    return Project("p", "/tmp", [], services={
        "db": {}, "web": {"depends_on": {"db": {"condition": condition, "required": required}}}})


def handles() -> dict[str, list[Handle]]:
    return {"db": [Handle("db1", "p-db-1", "db")]}


def test_healthy_after_starting() -> None:
    out = io.StringIO()
    engine = Engine(db1=[running("starting"), running("starting"), running("healthy")])
    wait_dependencies(engine, project("service_healthy"), "web", handles(), Progress("plain", out))  # type: ignore[arg-type]
    assert out.getvalue() == " Container p-db-1  Waiting\n Container p-db-1  Healthy\n"


def test_unhealthy_fails_the_dependant() -> None:
    engine = Engine(db1=[running("starting"), running("unhealthy")])
    with pytest.raises(DependencyError, match="^dependency failed to start: container p-db-1 is unhealthy$"):
        wait_dependencies(engine, project("service_healthy"), "web", handles(), Progress("quiet"))  # type: ignore[arg-type]


def test_no_healthcheck_and_exit_while_waiting_for_health() -> None:
    with pytest.raises(DependencyError, match="has no healthcheck configured"):
        wait_dependencies(Engine(db1=[running()]), project("service_healthy"), "web", handles(),  # type: ignore[arg-type]
                          Progress("quiet"))
    with pytest.raises(DependencyError, match=r"container p-db-1 exited \(2\)"):
        wait_dependencies(Engine(db1=[exited(2)]), project("service_healthy"), "web", handles(),  # type: ignore[arg-type]
                          Progress("quiet"))


def test_completed_successfully() -> None:
    engine = Engine(db1=[running(), exited(0)])
    wait_dependencies(engine, project("service_completed_successfully"), "web", handles(), Progress("quiet"))  # type: ignore[arg-type]
    with pytest.raises(DependencyError, match="^service \"db\" didn't complete successfully: exit 4$"):
        wait_dependencies(Engine(db1=[exited(4)]), project("service_completed_successfully"), "web",  # type: ignore[arg-type]
                          handles(), Progress("quiet"))


def test_optional_dependency_failure_is_skipped() -> None:
    out = io.StringIO()
    wait_dependencies(Engine(db1=[exited(4)]), project("service_completed_successfully", required=False),  # type: ignore[arg-type]
                      "web", handles(), Progress("plain", out))
    assert "Skipped: optional dependency" in out.getvalue()


def test_missing_dependency_and_started_condition() -> None:
    with pytest.raises(DependencyError, match="^web is missing dependency db$"):
        wait_dependencies(Engine(), project("service_healthy"), "web", {"db": []}, Progress("quiet"))  # type: ignore[arg-type]
    # service_started waits for nothing; a dependency outside this run is not waited for
    wait_dependencies(Engine(), project("service_started"), "web", handles(), Progress("quiet"))  # type: ignore[arg-type]
    wait_dependencies(Engine(), project("service_healthy"), "web", {}, Progress("quiet"))  # type: ignore[arg-type]


def test_wait_running_or_healthy_and_timeout() -> None:
    proj = project("service_started")
    engine = Engine(db1=[running("starting"), running("healthy")], web1=[running()])
    both = [Handle("db1", "p-db-1", "db"), Handle("web1", "p-web-1", "web")]
    wait_running_or_healthy(engine, proj, both, Progress("quiet"))  # type: ignore[arg-type]
    with pytest.raises(ComposeError, match="^application not healthy after 0.2s$"):
        wait_running_or_healthy(Engine(db1=[running("starting")]), proj, both[:1], Progress("quiet"),  # type: ignore[arg-type]
                                timeout=0.2)
    with pytest.raises(ComposeError, match=r"^container p-web-1 exited \(0\)$"):
        wait_running_or_healthy(Engine(web1=[exited(0)]), proj, both[1:], Progress("quiet"))  # type: ignore[arg-type]
