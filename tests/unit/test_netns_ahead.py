"""Network namespaces made ahead of runc: which containers get one, and the namespace itself (root)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from moor.config import Config
from moor.containers.record import Container, ContainerStore
from moor.networks import netns
from moor.services.container_networking import ContainerNetworking
from moor.services.events import EventBus
from moor.services.networks import NetworkService
from moor.testing.fakes import FakeProcesses, fake_drivers


class Made:
    """A stand-in for :func:`moor.networks.netns.make` that counts its calls (or fails with ``error``)."""

    def __init__(self, error: OSError | None = None) -> None:
        self.calls = 0
        self.error = error

    def __call__(self) -> netns.PremadeNetns:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return netns.PremadeNetns(os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC))


def networking(tmp_path: Path, make: Made | None) -> ContainerNetworking:
    events = EventBus()
    store = ContainerStore(str(tmp_path / "containers"))
    networks = NetworkService(str(tmp_path), fake_drivers(tmp_path / "drivers"), events)
    return ContainerNetworking(Config(data_root=str(tmp_path)), networks, store, events, FakeProcesses(),
                               lambda ident: container("none", {}), make)


def container(mode: str, networks: dict[str, dict[str, object]]) -> Container:
    return Container(id="c" * 64, name="c", created="", image_id="", image="busybox", path="sh", args=[],
                     config={"Hostname": "c"}, host_config={"NetworkMode": mode}, networks=networks)


@pytest.mark.parametrize(("mode", "networks", "made"), [
    ("bridge", {"bridge": {}}, True),
    ("appnet", {"appnet": {}}, True),
    ("none", {}, False),
    ("host", {}, False),
    ("container:other", {}, False),
])
def test_a_namespace_is_made_ahead_only_for_a_container_joining_networks(tmp_path: Path, mode: str,
                                                                         networks: dict[str, dict[str, object]],
                                                                         made: bool) -> None:
    make = Made()
    premade = networking(tmp_path, make).prepare(container(mode, networks))
    assert (premade is not None) == made and make.calls == int(made)
    if premade is not None:
        premade.close()


def test_without_a_maker_or_when_it_fails_runc_makes_the_namespace(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    assert networking(tmp_path / "a", None).prepare(container("bridge", {"bridge": {}})) is None
    failing = Made(PermissionError(1, "Operation not permitted"))
    assert networking(tmp_path / "b", failing).prepare(container("bridge", {"bridge": {}})) is None
    assert failing.calls == 1 and "ahead of runc" in caplog.text


@pytest.mark.root
def test_a_made_namespace_is_new_empty_and_joined_through_its_path() -> None:
    premade = netns.make()
    try:
        assert premade.inode != os.stat("/proc/self/ns/net").st_ino
        assert not premade.joined_by(os.getpid())
        with subprocess.Popen(["nsenter", f"--net={premade.path}", "sleep", "30"]) as inside:
            try:
                for _ in range(100):  # nsenter has joined once it execs sleep
                    if premade.joined_by(inside.pid):
                        break
                    subprocess.run(["sleep", "0.02"])
                assert premade.joined_by(inside.pid)
                links = subprocess.run(["nsenter", f"--net={premade.path}", "ip", "-o", "link"], capture_output=True,
                                       text=True, check=True).stdout
                assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
            finally:
                inside.kill()
    finally:
        premade.close()
        premade.close()  # idempotent
    assert premade.fd == -1
