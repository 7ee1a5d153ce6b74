"""FROM an image the daemon lacks: pulled from a registry (with the credentials of ``X-Registry-Config``),
pulled again with ``pull``, refused without credentials; FROM --platform."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from e2e.buildhelpers import error, post_build, text
from e2e.containerhelpers import moor, moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess
from moor.testing.registry import TestRegistry

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def registry(moord: DaemonProcess) -> Iterator[TestRegistry]:
    with TestRegistry("htpasswd", users={"moor": "s3cret"}) as running:
        client = docker.APIClient(base_url=moord.host, version="1.41", timeout=120)
        try:
            client.tag("busybox", f"{running.host}/base", "1")
            out = list(client.push(f"{running.host}/base", "1", stream=True, decode=True,
                                   auth_config={"username": "moor", "password": "s3cret"}))
            assert not any("error" in m for m in out), out
            client.remove_image(f"{running.host}/base:1")
        finally:
            client.close()
        yield running


def test_from_pulls_a_missing_image_with_the_build_credentials(moord: DaemonProcess, registry: TestRegistry) -> None:
    auth = {registry.host: {"username": "moor", "password": "s3cret"}}
    dockerfile = f"FROM {registry.host}/base:1\nRUN echo pulled > /p\n"
    refused = post_build(moord, {"Dockerfile": dockerfile})[1]
    assert str(error(refused)).endswith("/v2/base/manifests/1\": no basic auth credentials")  # Docker's words
    status, messages = post_build(moord, {"Dockerfile": dockerfile}, {"t": "from-registry"}, registry_auth=auth)
    assert status == 200 and error(messages) is None, messages
    statuses = [str(m.get("status", "")) for m in messages]
    assert "Pulling from base" in statuses
    assert any(s.startswith("Status: Downloaded newer image for") for s in statuses)
    assert moor(moord, "run", "--rm", "from-registry", "cat", "/p").stdout == "pulled\n"
    # with pull: asked again (up to date), the cache still serves the RUN
    status, again = post_build(moord, {"Dockerfile": dockerfile}, {"pull": "1"}, registry_auth=auth)
    assert status == 200 and error(again) is None, again
    assert any(str(m.get("status", "")).startswith("Status: Image is up to date for") for m in again)
    assert " ---> Using cache" in text(again)


def test_from_with_a_platform(moord: DaemonProcess) -> None:
    status, messages = post_build(moord, {"Dockerfile": "FROM --platform=linux/amd64 busybox\nENV P=1\n"})
    assert status == 200 and error(messages) is None, messages
    status, missing = post_build(moord, {"Dockerfile": "FROM 127.0.0.1:9/none:1\n"})
    assert error(missing) is not None and "\n" not in str(error(missing))
