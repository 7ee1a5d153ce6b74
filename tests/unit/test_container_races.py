"""Reads of a container's networks while another request connects it (found by ``scripts/concurrency``).

``start`` of a container while ``network connect`` adds to its networks answered 500 ("dictionary changed
size during iteration"); so could ``inspect``. Each test changes the networks in the middle of the read.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moor.containers import views
from moor.errors import Conflict, MoorError, NotFound
from moor.networks.model import NetworkRequest
from unit.test_container_service import FakeEngine


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeEngine]:
    engine = FakeEngine(tmp_path)
    yield engine
    engine.processes.end_all()
    engine.close()


def test_embedded_dns_reads_networks_that_a_connect_changes(fake: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    container = fake.create("racing")
    networks = fake.containers.networking.networks
    find = networks.find

    def connect_meanwhile(name: str) -> Any:
        container.networks.setdefault("other", {})  # another request connects the container
        return find(name)

    monkeypatch.setattr(networks, "find", connect_meanwhile)
    assert fake.containers.networking.embedded_dns(container) is False


def test_inspect_reads_networks_that_a_connect_changes(fake: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    container = fake.create("racing")
    endpoint = views._endpoint

    def connect_meanwhile(settings: dict[str, Any]) -> dict[str, Any]:
        container.networks.setdefault("other", {})
        return endpoint(settings)

    monkeypatch.setattr(views, "_endpoint", connect_meanwhile)
    assert list(views.network_settings(container)["Networks"]) == ["bridge"]


def test_start_joins_networks_that_a_disconnect_changes(fake: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.engine.networks.create(NetworkRequest(name="first"))
    fake.engine.networks.create(NetworkRequest(name="second"))
    container = fake.create("racing", HostConfig={"NetworkMode": "first"})
    fake.containers.connect_network("racing", "second", {})
    networks = fake.containers.networking.networks
    connect = networks.connect

    def disconnect_meanwhile(*args: Any, **kwargs: Any) -> Any:
        fake.containers.disconnect_network("racing", "second", False)  # another request
        monkeypatch.setattr(networks, "connect", connect)
        return connect(*args, **kwargs)

    monkeypatch.setattr(networks, "connect", disconnect_meanwhile)
    fake.containers.start("racing")
    assert list(fake.containers.get(container.id).networks) == ["first"]


def test_a_save_racing_the_removal_does_not_bring_the_record_back(fake: FakeEngine) -> None:
    container = fake.create("going")  # a connect (or stop) holds this object while rm -f removes it
    fake.containers.remove("going")
    with pytest.raises(NotFound, match=f"^No such container: {container.id}$"):
        fake.containers.store.save(container)
    assert not os.path.exists(fake.containers.store.directory(container.id))
    again = fake.restart()
    assert again.containers.list_containers(all_containers=True) == []


def test_hosts_of_a_container_being_removed_are_not_rewritten(fake: FakeEngine, tmp_path: Path) -> None:
    """A disconnect racing rm -f rewrote /etc/hosts after the removal took the container's directory: 500."""
    container = fake.create("going")
    container.hosts_path = str(tmp_path / "gone" / "hosts")
    fake.containers.networking.refresh_hosts(container)  # no error
    assert not os.path.exists(container.hosts_path)


def test_an_exit_during_a_connect_leaves_no_endpoint(fake: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The container exits (its networks are left) while a connect is making its endpoint: that endpoint
    must go with the others, or the network keeps an active endpoint of a removed container."""
    network = fake.engine.networks.create(NetworkRequest(name="late"))
    container = fake.create("exiting")
    fake.containers.start("exiting")
    networking = fake.containers.networking
    connect = networking.networks.connect
    exits: list[threading.Thread] = []

    def exit_meanwhile(*args: Any, **kwargs: Any) -> Any:
        exits.append(threading.Thread(target=networking.leave, args=(container,)))
        exits[0].start()
        exits[0].join(0.3)
        return connect(*args, **kwargs)

    monkeypatch.setattr(networking.networks, "connect", exit_meanwhile)
    fake.containers.connect_network("exiting", "late", {})
    exits[0].join(5)
    assert container.id not in network.endpoints


def test_pause_of_a_container_whose_exit_is_not_yet_recorded_is_a_conflict(fake: FakeEngine) -> None:
    """runc no longer knows the container (killed by another request) while its record still says running:
    Docker's 409, not a 500."""
    container = fake.create("ending")
    fake.containers.start("ending")
    fake.processes.down = True  # the exit is not recorded yet
    fake.processes.exit(container.id, 137)
    with pytest.raises(Conflict, match=f"^Container {container.id} is not running$"):
        fake.engine.resources.pause("ending")


def test_unpause_racing_a_stop_that_resumed_the_container_is_a_conflict(fake: FakeEngine,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    container = fake.create("thawed")
    fake.containers.start("thawed")
    fake.engine.resources.pause("thawed")

    def resumed_meanwhile(container_id: str) -> None:  # stop resumed it first (it resumes a paused container)
        raise MoorError("runtime resume failed: container not paused")

    monkeypatch.setattr(fake.processes, "resume", resumed_meanwhile)
    with pytest.raises(Conflict, match=f"^Container {container.id} is not paused$"):
        fake.engine.resources.unpause("thawed")
