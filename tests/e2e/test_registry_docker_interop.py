"""Interop with Docker itself through one registry: what moor pushes Docker pulls, and what Docker pushes moor
pulls, with the same image ID and the same manifest digest on both sides.

It needs Debian's docker.io (``make install`` installs it) and skips without it: the suite never needs Docker.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.imagehelpers import FIXTURES
from moor.registry.authconfig import AuthConfig, encode_registry_auth
from moor.testing.daemon import DaemonProcess
from moor.testing.dockerd import private_dockerd
from moor.testing.registry import TestRegistry

pytestmark = pytest.mark.root

IMAGE = "moor-fixture:whiteouts"
NO_AUTH = {"X-Registry-Auth": encode_registry_auth(AuthConfig())}


@pytest.fixture(scope="module")
def dockerd() -> Iterator[str]:
    with private_dockerd() as host:
        if host is None:
            pytest.skip("dockerd is not installed (make install installs Debian's docker.io)")
        yield host


def docker(host: str, *args: str) -> str:
    done = subprocess.run(["docker", "-H", host, *args], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout


def docker_inspect(host: str, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(docker(host, "image", "inspect", name))
    return found[0]


def last_status(messages: list[dict[str, Any]]) -> str:
    errors = [m for m in messages if "error" in m]
    assert not errors, errors
    return str(messages[-1].get("status", ""))


def test_docker_pulls_what_moor_pushed_and_moor_pulls_what_docker_pushed(dockerd: str, tmp_path: Any) -> None:
    with TestRegistry("plain") as registry, DaemonProcess(str(tmp_path / "moord")) as moord:
        client = moord.client()
        with open(FIXTURES / "docker-save-whiteouts.tar", "rb") as archive:
            client.call("POST", "/images/load", body=archive.read())
        image_id = client.get(f"/images/{IMAGE}/json")["Id"]

        # moor -> registry -> Docker
        client.call("POST", f"/images/{IMAGE}/tag", {"repo": f"{registry.host}/from-moor", "tag": "v1"})
        pushed = list(client.stream("POST", f"/images/{registry.host}/from-moor/push", {"tag": "v1"},
                                    headers=NO_AUTH))
        assert not [m for m in pushed if "error" in m], pushed
        pushed_digest = pushed[-1]["aux"]["Digest"]
        moor_digests = client.get(f"/images/{IMAGE}/json")["RepoDigests"]
        assert f"{registry.host}/from-moor@{pushed_digest}" in moor_digests
        docker(dockerd, "pull", f"{registry.host}/from-moor:v1")
        seen_by_docker = docker_inspect(dockerd, f"{registry.host}/from-moor:v1")
        assert seen_by_docker["Id"] == image_id
        assert [d for d in seen_by_docker["RepoDigests"] if "from-moor" in d] == \
            [d for d in moor_digests if "from-moor" in d]

        # Docker -> registry -> moor (Docker compresses the layers itself: other blob digests, same image)
        docker(dockerd, "tag", f"{registry.host}/from-moor:v1", f"{registry.host}/from-docker:v1")
        docker(dockerd, "push", f"{registry.host}/from-docker:v1")
        docker_digests = [d for d in docker_inspect(dockerd, f"{registry.host}/from-docker:v1")["RepoDigests"]
                          if "from-docker" in d]
        client.call("DELETE", f"/images/{IMAGE}", {"force": "1"})
        pulled = list(client.stream("POST", "/images/create", {"fromImage": f"{registry.host}/from-docker",
                                                               "tag": "v1"}, headers=NO_AUTH))
        assert last_status(pulled) == f"Status: Downloaded newer image for {registry.host}/from-docker:v1"
        seen_by_moor = client.get(f"/images/{registry.host}/from-docker:v1/json")
        assert seen_by_moor["Id"] == image_id
        assert [d for d in seen_by_moor["RepoDigests"] if "from-docker" in d] == docker_digests
        # and the pulled image runs the same files: the fixture's whiteouts are applied as Docker applies them
        assert client.get(f"/images/{registry.host}/from-docker:v1/json")["RootFS"] == seen_by_docker["RootFS"]
