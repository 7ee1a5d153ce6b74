"""The volume service over the local driver: names, filters, in-use refusal, prune and restarts."""

from __future__ import annotations

import re

import pytest

from moor import config as config_module
from moor.drivers import load_drivers
from moor.errors import Conflict, InvalidParameter, MoorError, NotFound
from moor.services.volumes import ANONYMOUS_LABEL, VolumeService
from moor.testing.fakes import FakeVolumes, driver_context


class _Users:
    """Which containers reference which volume, as a test sets it (the engine's ContainerQuery in moord)."""

    def __init__(self) -> None:
        self.by_volume: dict[str, list[str]] = {}

    def volume_users(self, name: str) -> list[str]:
        return list(self.by_volume.get(name, []))


def _service(tmp_path, users: _Users | None = None) -> VolumeService:
    config = config_module.parse({"data_root": str(tmp_path / "data"), "exec_root": str(tmp_path / "exec")})
    return VolumeService(config.data_root, load_drivers(config), users=users)


def test_create_inspect_in_dockers_shape(tmp_path) -> None:
    volumes = _service(tmp_path)
    created = volumes.create("data", labels={"a": "b"})
    assert created["Name"] == "data" and created["Driver"] == "local" and created["Scope"] == "local"
    assert created["Mountpoint"] == str(tmp_path / "data" / "volumes" / "data" / "_data")
    assert created["Labels"] == {"a": "b"} and created["Options"] is None
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", created["CreatedAt"])
    assert volumes.inspect("data") == created
    assert volumes.create("data") == created  # an existing name returns the volume


def test_generated_name_and_anonymous_label(tmp_path) -> None:
    volumes = _service(tmp_path)
    anonymous = volumes.create(anonymous=True)
    assert re.fullmatch(r"[0-9a-f]{64}", anonymous["Name"])
    assert anonymous["Labels"] == {ANONYMOUS_LABEL: ""}
    plain = volumes.create("plain")
    assert plain["Labels"] is None and plain["Options"] is None  # Docker shows null, not {}


def test_missing_volume_is_dockers_not_found(tmp_path) -> None:
    volumes = _service(tmp_path)
    with pytest.raises(NotFound, match="^get nope: no such volume$"):
        volumes.inspect("nope")
    with pytest.raises(NotFound, match="^get nope: no such volume$"):
        volumes.remove("nope")
    volumes.remove("nope", force=True)


def test_unknown_driver_is_not_found(tmp_path) -> None:
    with pytest.raises(NotFound):
        _service(tmp_path).create("x", driver="nosuch")


def test_in_use_volume_is_not_removed(tmp_path) -> None:
    users = _Users()
    volumes = _service(tmp_path, users)
    volumes.create("busy")
    users.by_volume = {"busy": ["c" * 64]}
    with pytest.raises(Conflict, match=r"^remove busy: volume is in use - \[c{64}\]$"):
        volumes.remove("busy")
    with pytest.raises(Conflict):
        volumes.remove("busy", force=True)
    assert volumes.inspect("busy")["Name"] == "busy"


def test_list_filters(tmp_path) -> None:
    users = _Users()
    volumes = _service(tmp_path, users)
    volumes.create("alpha", labels={"tier": "db"})
    volumes.create("beta", labels={"tier": "web"})
    volumes.create("gamma")
    users.by_volume = {"alpha": ["c1"]}

    def names(**filters: list[str]) -> list[str]:
        return [v["Name"] for v in volumes.list(filters)["Volumes"]]

    assert names() == ["alpha", "beta", "gamma"]
    assert names(dangling=["true"]) == ["beta", "gamma"]
    assert names(dangling=["false"]) == ["alpha"]
    assert names(name=["et"]) == ["beta"]
    assert names(name=["^.a"]) == ["gamma"]
    assert names(name=["a$"]) == ["alpha", "beta", "gamma"]
    assert names(label=["tier"]) == ["alpha", "beta"]
    assert names(label=["tier=web"]) == ["beta"]
    assert names(driver=["local"]) == ["alpha", "beta", "gamma"]
    assert names(driver=["other"]) == []
    assert volumes.list({})["Warnings"] is None
    with pytest.raises(InvalidParameter, match="Invalid filter 'colour'"):
        volumes.list({"colour": ["red"]})
    with pytest.raises(InvalidParameter, match=r"^Invalid filter 'dangling=\[maybe\]'$"):
        volumes.list({"dangling": ["maybe"]})


def test_prune_anonymous_only_unless_all(tmp_path) -> None:
    users = _Users()
    volumes = _service(tmp_path, users)
    anonymous = volumes.create(anonymous=True)["Name"]
    used_anonymous = volumes.create(anonymous=True)["Name"]
    volumes.create("named")
    volumes.create("keep", labels={"keep": "yes"})
    users.by_volume = {used_anonymous: ["c1"]}
    with open(volumes.inspect(anonymous)["Mountpoint"] + "/file", "wb") as handle:
        handle.write(b"x" * 10000)
    report = volumes.prune({})
    assert report["VolumesDeleted"] == [anonymous] and report["SpaceReclaimed"] >= 10000
    assert volumes.prune({"label!": ["keep"]}, all_volumes=True)["VolumesDeleted"] == ["named"]
    assert volumes.prune({"all": ["true"]})["VolumesDeleted"] == ["keep"]
    assert [v["Name"] for v in volumes.list({})["Volumes"]] == [used_anonymous]
    assert volumes.prune({})["VolumesDeleted"] == []  # Docker 20.10 answers an empty list, never null
    with pytest.raises(InvalidParameter):
        volumes.prune({"dangling": ["true"]})


def test_volumes_and_their_drivers_survive_a_restart(tmp_path) -> None:
    _service(tmp_path).create("kept", labels={"k": "v"})
    again = _service(tmp_path)
    assert again.inspect("kept")["Labels"] == {"k": "v"}
    assert again.owners == {"kept": "local"}


def test_mount_and_unmount_through_the_driver(tmp_path) -> None:
    volumes = _service(tmp_path)
    mountpoint = volumes.create("mm")["Mountpoint"]
    assert volumes.mount("mm", "c1") == mountpoint
    volumes.unmount("mm", "c1")
    volumes.unmount("gone", "c1")
    with pytest.raises(NotFound):
        volumes.mount("gone", "c1")


def test_a_driver_that_cannot_list_is_a_warning(tmp_path) -> None:
    volumes = _service(tmp_path)
    broken = FakeVolumes(driver_context("volume", "broken", tmp_path))
    volumes.drivers.add("volume", "broken", broken)
    broken.fail_next("list", MoorError("backend unreachable"))
    volumes.create("fine")
    listed = volumes.list({})
    assert [v["Name"] for v in listed["Volumes"]] == ["fine"]
    assert listed["Warnings"] == ["broken: backend unreachable"]


def test_volume_events_as_docker_publishes_them(tmp_path) -> None:
    from moor.services.events import EventBus

    config = config_module.parse({"data_root": str(tmp_path / "data"), "exec_root": str(tmp_path / "exec")})
    bus = EventBus()
    volumes = VolumeService(config.data_root, load_drivers(config), bus)
    volumes.create("ev")
    volumes.create("ev")  # Docker logs create each time a volume is asked for, existing or not
    volumes.mount("ev", "c1", "/data", rw=False)
    volumes.unmount("ev", "c1")
    volumes.remove("ev")
    volumes.remove("ev", force=True)  # nothing removed: no event
    volumes.prune()
    seen = [(e["Type"], e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"]) for e in bus.subscribe()[0]]
    assert seen == [
        ("volume", "create", "ev", {"driver": "local"}),
        ("volume", "create", "ev", {"driver": "local"}),
        ("volume", "mount", "ev", {"container": "c1", "destination": "/data", "driver": "local",
                                   "propagation": "", "read/write": "false"}),
        ("volume", "unmount", "ev", {"container": "c1", "driver": "local"}),
        ("volume", "destroy", "ev", {"driver": "local"}),
        ("volume", "prune", "", {"reclaimed": "0"}),
    ]
