"""Profiles: --profile, COMPOSE_PROFILES, services named on the command line, depends_on a disabled service."""

from __future__ import annotations

from pathlib import Path

import pytest

from moor.compose.errors import DependencyError, ServiceNotFound
from moor.compose.loader.profiles import active_profiles
from unit.compose.loaddata import load, write

COMPOSE = """
    services:
      web:
        image: nginx
        depends_on:
          metrics: {condition: service_started, required: false}
      debug:
        image: busybox
        profiles: [debug]
        depends_on: [tools]
      tools:
        image: busybox
        profiles: [tools]
      metrics:
        image: prom
        profiles: [monitoring]
"""


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return write(tmp_path, {"compose.yaml": COMPOSE})


def test_without_profiles_only_the_services_without_profiles_run(project_dir: Path) -> None:
    project = load(project_dir)
    assert sorted(project.services) == ["web"]
    assert sorted(project.disabled_services) == ["debug", "metrics", "tools"]
    # a dependency that is not required is dropped when its service is disabled
    assert "depends_on" not in project.services["web"]
    assert project.profiles == []


def test_profiles_from_the_flag_or_the_environment(project_dir: Path) -> None:
    assert sorted(load(project_dir, profiles=["monitoring"]).services) == ["metrics", "web"]
    project = load(project_dir, environ={"COMPOSE_PROFILES": "monitoring, tools"})
    assert sorted(project.services) == ["metrics", "tools", "web"]
    assert project.profiles == ["monitoring", "tools"]
    assert project.services["web"]["depends_on"]["metrics"]["required"] is False
    assert sorted(load(project_dir, profiles=["*"]).services) == ["debug", "metrics", "tools", "web"]


def test_a_required_dependency_disabled_by_profiles_is_an_error(project_dir: Path) -> None:
    with pytest.raises(DependencyError, match='service "debug" depends on undefined service "tools"'):
        load(project_dir, profiles=["debug"])


def test_services_named_on_the_command_line_are_enabled_with_their_dependencies(project_dir: Path) -> None:
    project = load(project_dir, services=["debug"])
    assert sorted(project.services) == ["debug", "tools", "web"]
    assert sorted(project.disabled_services) == ["metrics"]


def test_naming_an_unknown_service_is_an_error(project_dir: Path) -> None:
    with pytest.raises(ServiceNotFound, match="no such service: nope"):
        load(project_dir, services=["nope"])


def test_depends_on_an_undefined_service(tmp_path: Path) -> None:
    write(tmp_path, {"compose.yaml": "services:\n  web: {image: x, depends_on: [db]}\n"})
    with pytest.raises(DependencyError, match='service "web" depends on undefined service "db": '
                                              "invalid compose project"):
        load(tmp_path)


def test_active_profiles() -> None:
    assert active_profiles(["a", "b,c"], {"COMPOSE_PROFILES": "x"}) == ["a", "b", "c"]
    assert active_profiles([], {"COMPOSE_PROFILES": " x ,, y,x"}) == ["x", "y"]
    assert active_profiles([], {}) == []
