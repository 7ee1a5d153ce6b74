"""ContainerNetworking without namespaces: which /etc/hosts files a container's start or exit rewrites."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from moor.config import Config
from moor.containers.record import Container, ContainerStore
from moor.errors import InvalidParameter, NotFound
from moor.networks.model import Endpoint, Network
from moor.services.container_networking import ContainerNetworking
from moor.services.events import EventBus
from moor.services.networks import NetworkService
from moor.testing.fakes import FakeProcesses, fake_drivers

UNTOUCHED = "untouched\n"


def networking_of(tmp_path: Path, store: ContainerStore, get: Callable[[str], Container]) -> ContainerNetworking:
    """A ContainerNetworking over a network service without drivers (and so without predefined networks)."""
    events = EventBus()
    networks = NetworkService(str(tmp_path), fake_drivers(tmp_path / "drivers", without=("network",)), events)
    return ContainerNetworking(Config(data_root=str(tmp_path)), networks, store, events, FakeProcesses(), get)


def make(store: ContainerStore, tmp_path: Path, name: str, address: str, links: list[str] | None = None) -> Container:
    container = Container(id=name * 64, name=name, created="", image_id="", image="busybox", path="sh", args=[],
                          config={"Hostname": name}, host_config={"NetworkMode": "appnet", "Links": links},
                          networks={"appnet": {"IPAddress": address}})
    container.hosts_path = str(tmp_path / f"{name}.hosts")
    Path(container.hosts_path).write_text(UNTOUCHED)
    store.save(container)
    return container


def test_hosts_of_the_container_and_its_linkers_only(tmp_path: Path) -> None:
    store = ContainerStore(str(tmp_path / "containers"))
    networking = networking_of(tmp_path, store, store.find)  # type: ignore[arg-type]
    target = make(store, tmp_path, "a", "10.9.0.2")
    linker = make(store, tmp_path, "b", "10.9.0.3", links=["/a:/b/primary"])
    bystander = make(store, tmp_path, "c", "10.9.0.4")
    networking.networks.networks = {"n": Network(id="n", name="appnet", driver="bridge", created="", endpoints={
        c.id: Endpoint(name=c.name, endpoint_id="e" * 64) for c in (target, linker, bystander)})}
    networking.refresh_hosts(target)
    assert Path(target.hosts_path).read_text().endswith("10.9.0.2\ta\n")
    assert f"10.9.0.2\tprimary {target.short_id} a\n" in Path(linker.hosts_path).read_text()
    assert Path(bystander.hosts_path).read_text() == UNTOUCHED  # names no one: not rewritten


def test_an_unknown_network_is_kept_by_name_until_the_start(tmp_path: Path) -> None:
    store = ContainerStore(str(tmp_path / "containers"))
    networking = networking_of(tmp_path, store, store.find)  # type: ignore[arg-type]
    wanted = networking.wanted_networks({"NetworkMode": "later"},
                                        {"EndpointsConfig": {"later": {"Aliases": ["web"]}, "other": {}}})
    assert wanted == {"later": {"IPAMConfig": None, "Aliases": ["web"]}, "other": {"IPAMConfig": None, "Aliases": None}}


@pytest.mark.parametrize(("config", "host_config", "message"), [
    ({"Hostname": "x"}, {"NetworkMode": "container:a"}, "conflicting options: hostname and the network mode"),
    ({}, {"NetworkMode": "container:a", "Links": ["b:c"]},
     "conflicting options: container type network can't be used with links. This would result in undefined behavior"),
    ({}, {"NetworkMode": "container:a", "Dns": ["10.0.0.1"]}, "conflicting options: dns and the network mode"),
    ({}, {"NetworkMode": "container:a", "ExtraHosts": ["h:10.0.0.1"]},
     "conflicting options: custom host-to-IP mapping and the network mode"),
    ({}, {"NetworkMode": "container:a", "PublishAllPorts": True},
     "conflicting options: port publishing and the container type network mode"),
    ({"ExposedPorts": {"80/tcp": {}}}, {"NetworkMode": "container:a"},
     "conflicting options: port exposing and the container type network mode"),
    ({}, {"NetworkMode": "container:"}, "Invalid network mode: invalid container format container:<name|id>"),
    ({}, {"NetworkMode": "host", "Links": ["b:c"]},
     "conflicting options: host type networking can't be used with links. This would result in undefined behavior"),
])
def test_what_the_network_mode_leaves_no_room_for(config: dict, host_config: dict, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        ContainerNetworking.check_network_mode(config, host_config)
    assert str(caught.value) == message
    ContainerNetworking.check_network_mode({"Domainname": "x"}, {"NetworkMode": "container:a", "DnsSearch": ["s"]})


def test_a_link_to_an_unknown_container_is_a_bad_request(tmp_path: Path) -> None:
    store = ContainerStore(str(tmp_path / "containers"))

    def get(ident: str) -> Container:
        raise NotFound(f"No such container: {ident}")

    networking = networking_of(tmp_path, store, get)
    with pytest.raises(InvalidParameter, match="^could not get container for nosuch: No such container: nosuch$"):
        networking.check_host_config({"Links": ["nosuch:x"]})
