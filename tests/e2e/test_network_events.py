"""Docker's network events from a real moord: create, connect and disconnect (of a running container) and
destroy, in that order, with the network's name and driver (and the container's ID for connect and disconnect),
as ``docker events`` shows them."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from e2e.containerhelpers import moor, moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def test_network_events_in_dockers_order_and_words(moord: DaemonProcess) -> None:
    since = str(time.time() - 0.5)
    name = f"evnet{secrets.token_hex(3)}"
    created = moor(moord, "network", "create", "--subnet", f"10.206.{secrets.randbelow(250)}.0/24",
                   "-o", f"com.docker.network.bridge.name=me{secrets.token_hex(4)}", name)
    assert created.returncode == 0, created.stderr
    network_id = created.stdout.strip()
    container = moor(moord, "run", "-d", "--name", f"{name}-member", "busybox", "sleep", "60")
    assert container.returncode == 0, container.stderr
    container_id = container.stdout.strip()
    try:
        assert moor(moord, "network", "connect", name, container_id).returncode == 0
        assert moor(moord, "network", "disconnect", name, container_id).returncode == 0
    finally:
        moor(moord, "rm", "-f", container_id)
        assert moor(moord, "network", "rm", name).returncode == 0
    until = str(time.time() + 0.5)
    out = moor(moord, "events", "--since", since, "--until", until, "--filter", f"network={name}",
               "--format", "{{json .}}").stdout.splitlines()
    events = [json.loads(line) for line in out]
    assert [(e["Type"], e["Action"], e["Actor"]["ID"]) for e in events] == [
        ("network", action, network_id) for action in ("create", "connect", "disconnect", "destroy")]
    assert [e["Actor"]["Attributes"] for e in events] == [
        {"name": name, "type": "bridge"},
        {"container": container_id, "name": name, "type": "bridge"},
        {"container": container_id, "name": name, "type": "bridge"},
        {"name": name, "type": "bridge"},
    ]
