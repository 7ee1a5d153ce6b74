"""The shared fake drivers behave as the conformance suites say a driver of their kind must (without root)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from moor.drivers import Driver
from moor.errors import Conflict, Forbidden, NotFound
from moor.hookspecs import REQUIRED_HOOKS
from moor.testing.conformance import LogDriverConformance, StorageDriverConformance, VolumeDriverConformance
from moor.testing.fakes import (
    DEFAULT_FAKES,
    FakeNetworks,
    LifecycleRecorder,
    driver_context,
    fake_drivers,
    fake_of,
    layer_tar,
)
from moor.types import ContainerRef, EndpointSpec, NetworkSpec, PortMapping


class TestFakeVolumes(VolumeDriverConformance):
    @pytest.fixture
    def driver(self, tmp_path: Path) -> Driver:
        return fake_drivers(tmp_path).driver("volume")


class TestFakeLog(LogDriverConformance):
    @pytest.fixture
    def driver(self, tmp_path: Path) -> Driver:
        return fake_drivers(tmp_path).driver("log")


class TestFakeStorage:
    """The storage suite's tests that need no real mount, no device node and no restart."""

    apply = staticmethod(StorageDriverConformance.apply)
    test_status = StorageDriverConformance.test_status
    test_whiteouts_and_opaque_directories_hide_lower_content = \
        StorageDriverConformance.test_whiteouts_and_opaque_directories_hide_lower_content
    test_absolute_names_are_confined = StorageDriverConformance.test_absolute_names_are_confined
    test_exists_and_usage = StorageDriverConformance.test_exists_and_usage
    test_layer_diff_reproduces_the_applied_tar = StorageDriverConformance.test_layer_diff_reproduces_the_applied_tar
    test_snapshot_without_parent = StorageDriverConformance.test_snapshot_without_parent
    test_prepare_mount_and_read_errors = StorageDriverConformance.test_prepare_mount_and_read_errors
    test_remove = StorageDriverConformance.test_remove

    @pytest.fixture
    def driver(self, tmp_path: Path) -> Driver:
        return fake_drivers(tmp_path).storage


def test_every_fake_is_a_complete_driver_of_its_kind(tmp_path: Path) -> None:
    drivers = fake_drivers(tmp_path)
    for kind, (name, _factory) in DEFAULT_FAKES.items():
        assert drivers.defaults[kind] == name
        assert drivers.driver(kind).plugin.context.home == os.path.join(tmp_path, "data", kind, name)
        assert set(REQUIRED_HOOKS[kind]) <= {n for n in dir(drivers.driver(kind).plugin) if n.startswith("moor_")}
    assert sorted(drivers.names("network")) == ["bridge", "host", "none"]


def test_fakes_record_the_operations_called(tmp_path: Path) -> None:
    drivers = fake_drivers(tmp_path)
    drivers.storage.prepare(key="c1", parent=None)
    drivers.storage.mount(key="c1")
    assert fake_of(drivers, "storage").operations() == ["prepare", "mount"]
    assert fake_of(drivers, "storage").calls[0] == ("prepare", {"key": "c1", "parent": None})


def test_lifecycle_notifications_reach_the_recorder(tmp_path: Path) -> None:
    drivers = fake_drivers(tmp_path)
    drivers.notify("created", container=ContainerRef(id="c1", name="one"))
    drivers.notify("removed", container=ContainerRef(id="c1", name="one"))
    recorder = drivers.manager.get_plugin("lifecycle")
    assert isinstance(recorder, LifecycleRecorder)
    assert recorder.seen == ["created c1", "removed c1"]


def test_snapshot_changes_and_usage(tmp_path: Path) -> None:
    storage = fake_drivers(tmp_path).storage
    storage.apply_layer(key="base", parent=None, diff=io.BytesIO(layer_tar({"etc/motd": b"hi", "etc/os": b"moor"})))
    storage.prepare(key="snap", parent="base")
    root = storage.mount(key="snap")
    assert storage.mount(key="snap") == root
    Path(root, "etc", "motd").unlink()
    Path(root, "etc", "os").write_bytes(b"changed")
    Path(root, "new").write_bytes(b"n" * 100)
    assert storage.unmount(key="snap") is False and storage.unmount(key="snap") is True
    assert storage.unmount(key="snap") is False
    changes = [(c.path, c.kind) for c in storage.changes(key="snap")]
    assert changes == [("/etc", 0), ("/etc/motd", 2), ("/etc/os", 0), ("/new", 1)]
    assert storage.usage(key="snap") == 107


def test_fake_networks_hand_out_addresses_and_refuse_busy_removal(tmp_path: Path) -> None:
    network = NetworkSpec(id="n1", name="net", driver="bridge", subnet="10.5.0.0/29")
    bridge = fake_drivers(tmp_path).driver("network")
    assert bridge.create(network=network) == {"subnet": "10.5.0.0/29"}
    one = EndpointSpec(id="e1", container_id="c1")
    first = bridge.connect(network=network, endpoint=one, netns_path="/proc/1/ns/net")
    assert (first.ipv4_address, first.prefix_len, first.gateway) == ("10.5.0.2", 29, "10.5.0.1")
    with pytest.raises(Conflict):
        bridge.connect(network=network, endpoint=EndpointSpec(id="e2", container_id="c2", ipv4_address="10.5.0.2"),
                       netns_path="")
    assert bridge.publish(network=network, endpoint=one, ports=[PortMapping("tcp", 80, 8080)]) is True
    with pytest.raises(NotFound):
        bridge.publish(network=network, endpoint=EndpointSpec(id="nope", container_id="c"), ports=[])
    with pytest.raises(Conflict, match="has active endpoints"):
        bridge.remove(network=network)
    assert bridge.unpublish(network=network, endpoint=one) is True
    assert bridge.disconnect(network=network, endpoint=one, netns_path=None) is True
    assert bridge.disconnect(network=network, endpoint=one, netns_path=None) is False
    assert bridge.remove(network=network) is True and bridge.remove(network=network) is False


def test_single_instance_network_drivers(tmp_path: Path) -> None:
    host = FakeNetworks(driver_context("network", "host", tmp_path), single=True)
    host.moor_network_create(network=NetworkSpec(id="h", name="host", driver="host"))
    with pytest.raises(Forbidden):
        host.moor_network_create(network=NetworkSpec(id="h2", name="host2", driver="host"))


def test_a_kind_can_be_left_without_drivers(tmp_path: Path) -> None:
    drivers = fake_drivers(tmp_path, without=("network",))
    assert drivers.names("network") == [] and drivers.names("volume") == ["local"]
    with pytest.raises(NotFound):
        drivers.driver("network")
