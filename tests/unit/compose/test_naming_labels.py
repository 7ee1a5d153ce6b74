"""Compose's names and labels: PROJECT-SERVICE-N, one-off names, built image names, com.docker.compose.*."""

from __future__ import annotations

import re

import pytest

from moor.compose import labels as L
from moor.compose.errors import ServiceNotFound
from moor.compose.labels import container_labels
from moor.compose.naming import container_name, oneoff_container_name, resource_labels, service_image
from unit.compose.convertdata import project


def test_container_names() -> None:
    p = project(web={"image": "busybox"}, db={"image": "busybox", "container_name": "the-db"})
    assert container_name(p, "web", 1) == "demo-web-1"
    assert container_name(p, "web", 12) == "demo-web-12"
    assert container_name(p, "db", 1) == "the-db"
    assert re.fullmatch(r"demo-web-run-[0-9a-f]{12}", oneoff_container_name(p, "web"))
    assert oneoff_container_name(p, "web", "0123456789abcdef" * 4) == "demo-web-run-0123456789ab"
    with pytest.raises(ServiceNotFound, match="no such service: nope"):
        container_name(p, "nope", 1)


def test_disabled_services_are_named_too() -> None:
    p = project(web={"image": "busybox"})
    p.disabled_services["tool"] = {"build": {"context": "/x"}}
    assert container_name(p, "tool", 1) == "demo-tool-1"
    assert service_image(p, "tool") == "demo-tool"


def test_service_image() -> None:
    p = project(web={"image": "nginx:1"}, app={"build": {"context": "/srv/demo", "dockerfile": "Dockerfile"}})
    assert service_image(p, "web") == "nginx:1"
    assert service_image(p, "app") == "demo-app"


def test_resource_labels() -> None:
    p = project()
    assert resource_labels(p, "network", "default") == {
        "com.docker.compose.network": "default", "com.docker.compose.project": "demo",
        "com.docker.compose.version": L.COMPOSE_VERSION}
    assert resource_labels(p, "volume", "data")["com.docker.compose.volume"] == "data"
    with pytest.raises(ValueError):
        resource_labels(p, "secret", "x")


def test_container_labels_service() -> None:
    p = project(web={"image": "busybox", "labels": {"mine": "1", "com.docker.compose.project": "forged"},
                     "depends_on": {"db": {"condition": "service_healthy", "required": True, "restart": True},
                                    "cache": {"condition": "service_started", "required": True,
                                              "restart": False}}})
    p.env_files, p.env_files_explicit = ["/srv/demo/.env"], True
    labels = container_labels(p, "web", 2, config_hash="abc", image_id="sha256:123")
    assert labels == {
        "mine": "1",
        "com.docker.compose.project": "demo",
        "com.docker.compose.service": "web",
        "com.docker.compose.version": L.COMPOSE_VERSION,
        "com.docker.compose.project.working_dir": "/srv/demo",
        "com.docker.compose.project.config_files": "/srv/demo/compose.yaml",
        "com.docker.compose.project.environment_file": "/srv/demo/.env",
        "com.docker.compose.oneoff": "False",
        "com.docker.compose.config-hash": "abc",
        "com.docker.compose.container-number": "2",
        "com.docker.compose.depends_on": "db:service_healthy:true,cache:service_started:false",
        "com.docker.compose.image": "sha256:123",
    }


def test_container_labels_oneoff_and_replace() -> None:
    p = project(web={"image": "busybox"})
    p.config_files = ["/a/compose.yaml", "/a/override.yaml"]
    labels = container_labels(p, "web", 0, oneoff=True, config_hash="h", slug="s" * 64)
    assert labels["com.docker.compose.oneoff"] == "True"
    assert labels["com.docker.compose.slug"] == "s" * 64
    assert "com.docker.compose.container-number" not in labels
    assert labels["com.docker.compose.depends_on"] == ""
    assert labels["com.docker.compose.project.config_files"] == "/a/compose.yaml,/a/override.yaml"
    assert "com.docker.compose.project.environment_file" not in labels
    assert "com.docker.compose.image" not in labels
    replaced = container_labels(p, "web", 1, config_hash="h", replace="web-1")
    assert replaced["com.docker.compose.replace"] == "web-1"
