"""The config hash: what recreates a container and what does not."""

from __future__ import annotations

import copy

from moor.compose.confighash import config_hash
from unit.compose.convertdata import project

BASE = {"image": "busybox", "command": ["sleep", "60"], "environment": {"A": "1"},
        "networks": {"default": None}, "volumes": [{"type": "volume", "source": "data", "target": "/d"}],
        "secrets": [{"source": "token"}], "deploy": {"replicas": 2, "resources": {"limits": {"memory": 1024}}}}


def _hash(**changes: object) -> str:
    service = copy.deepcopy(BASE)
    service.update(changes)
    return config_hash(project(web=service), "web")


def test_stable_and_hex() -> None:
    assert _hash() == _hash()
    assert len(_hash()) == 64
    int(_hash(), 16)


def test_key_order_does_not_matter() -> None:
    reordered = dict(reversed(list(BASE.items())))
    assert config_hash(project(web=reordered), "web") == _hash()


def test_what_recreates() -> None:
    base = _hash()
    assert _hash(image="busybox:1") != base
    assert _hash(command=["sleep", "61"]) != base
    assert _hash(environment={"A": "2"}) != base
    assert _hash(deploy={"replicas": 2, "resources": {"limits": {"memory": 2048}}}) != base
    assert _hash(labels={"x": "y"}) != base


def test_what_does_not_recreate() -> None:
    base = _hash()
    assert _hash(scale=3) == base
    assert _hash(deploy={"replicas": 5, "resources": {"limits": {"memory": 1024}}}) == base
    assert _hash(build={"context": "/x", "dockerfile": "Dockerfile"}) == base
    assert _hash(pull_policy="always") == base
    assert _hash(profiles=["debug"]) == base
    assert _hash(depends_on={"db": {"condition": "service_started", "required": True, "restart": False}}) == base


def test_resources_it_uses_count() -> None:
    p = project(web=copy.deepcopy(BASE))
    base = config_hash(p, "web")
    p.networks["default"]["name"] = "elsewhere"
    renamed_network = config_hash(p, "web")
    assert renamed_network != base
    p.volumes["data"]["name"] = "other"
    assert config_hash(p, "web") != renamed_network
    p2 = project(web=copy.deepcopy(BASE))
    p2.secrets["token"]["file"] = "/elsewhere"
    assert config_hash(p2, "web") != base
    p3 = project(web=copy.deepcopy(BASE))
    p3.networks["back"]["name"] = "unused-by-web"
    assert config_hash(p3, "web") == base
