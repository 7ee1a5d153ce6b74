"""up's convergence decisions, without a daemon: which containers are kept, recreated, removed or created."""

from __future__ import annotations

import io
import tarfile
from typing import Any

from moor.compose.model import Project
from moor.compose.runtime.down import removal_graph
from moor.compose.runtime.up import (
    DIVERGED,
    FORCE,
    NEVER,
    inherit_anonymous_volumes,
    is_obsolete,
    orphans_of,
    plan_service,
    tar_of,
)
from moor.compose.runtime.waits import scale_of


def container(number: int, config_hash: str = "h1", image: str = "sha256:a", service: str = "web",
              running: bool = True) -> dict[str, Any]:
    return {"Id": f"id{number}{config_hash}", "Names": [f"/p-{service}-{number}"],
            "State": "running" if running else "exited",
            "Labels": {"com.docker.compose.service": service, "com.docker.compose.container-number": str(number),
                       "com.docker.compose.config-hash": config_hash, "com.docker.compose.image": image}}


def numbers(items: list[dict[str, Any]]) -> list[int]:
    return [int(item["Labels"]["com.docker.compose.container-number"]) for item in items]


def test_nothing_there_creates_from_one() -> None:
    plan = plan_service([], 3, "h1", "sha256:a", DIVERGED)
    assert plan.create == [1, 2, 3] and not plan.keep and not plan.recreate and not plan.remove


def test_up_to_date_is_kept() -> None:
    plan = plan_service([container(1), container(2)], 2, "h1", "sha256:a", DIVERGED)
    assert numbers(plan.keep) == [1, 2] and not plan.recreate and not plan.create


def test_changed_hash_or_image_recreates() -> None:
    assert is_obsolete(container(1, "old"), "h1", "sha256:a", DIVERGED)
    assert is_obsolete(container(1, image="sha256:b"), "h1", "sha256:a", DIVERGED)
    assert not is_obsolete(container(1), "h1", "sha256:a", DIVERGED)
    plan = plan_service([container(1, "old"), container(2)], 2, "h1", "sha256:a", DIVERGED)
    assert numbers(plan.recreate) == [1] and numbers(plan.keep) == [2]


def test_force_and_never() -> None:
    assert numbers(plan_service([container(1)], 1, "h1", "sha256:a", FORCE).recreate) == [1]
    assert numbers(plan_service([container(1, "old")], 1, "h1", "sha256:a", NEVER).keep) == [1]


def test_scale_down_removes_obsolete_first_then_highest_numbers() -> None:
    plan = plan_service([container(1), container(2, "old"), container(3), container(4)], 2, "h1", "sha256:a",
                        DIVERGED)
    assert numbers(plan.keep) == [1, 3]
    assert sorted(numbers(plan.remove)) == [2, 4]


def test_scale_up_numbers_after_the_highest() -> None:
    plan = plan_service([container(2)], 3, "h1", "sha256:a", DIVERGED)
    assert plan.create == [3, 4]


def test_scale_of() -> None:
    assert scale_of({}) == 1
    assert scale_of({"deploy": {"replicas": 3}}) == 3
    assert scale_of({"scale": 2, "deploy": {"replicas": 3}}) == 2
    assert scale_of({"scale": 2}, 0) == 0


def test_orphans() -> None:
    project = Project("p", "/tmp", [], services={"web": {}}, disabled_services={"tools": {}})
    items = [container(1), container(1, service="tools"), container(1, service="gone")]
    assert [item["Labels"]["com.docker.compose.service"] for item in orphans_of(project, items)] == ["gone"]


def test_recreate_keeps_anonymous_volumes_unless_named_there() -> None:
    body: dict[str, Any] = {"Volumes": {"/anon": {}}, "HostConfig": {"Binds": ["p_data:/data:rw"]}}
    old = {"Mounts": [{"Type": "volume", "Name": "abc123", "Destination": "/anon", "RW": True},
                      {"Type": "volume", "Name": "p_data", "Destination": "/data", "RW": True},
                      {"Type": "bind", "Source": "/x", "Destination": "/x"}]}
    inherit_anonymous_volumes(body, old)
    assert body["HostConfig"]["Mounts"] == [{"Type": "volume", "Source": "abc123", "Target": "/anon",
                                             "ReadOnly": False}]
    assert body["Volumes"] == {}


def test_tar_of_injected_files() -> None:
    data = tar_of([("/run/secrets/token", b"s3cret", 0o400)])
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.getmember("run/secrets/token")
        assert member.mode == 0o400
        extracted = archive.extractfile(member)
        assert extracted is not None and extracted.read() == b"s3cret"


def test_down_order_from_labels_alone() -> None:
    web = container(1, service="web")
    web["Labels"]["com.docker.compose.depends_on"] = "db:service_healthy:false,gone:service_started:false"
    graph = removal_graph(None, [web, container(1, service="db")])
    seen: list[str] = []
    graph.walk(seen.append, reverse=True)
    assert seen == ["web", "db"]
