"""The services behind the thin routes, without root: archive (mount released however the stream ends),
the event bus's stream and filters, ``ps`` filtering, ``diff``, and the wiring the engine does.

The engine is built as moord builds it, over the shared fake drivers; nothing here starts a container.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moor import config as config_module
from moor.containers.processes import RuncProcesses
from moor.containers.record import Container
from moor.daemon.engine import Engine
from moor.errors import Conflict, InvalidParameter, NotFound
from moor.services.events import EventBus, event_matches
from moor.testing.fakes import FakeProcesses, add_image, fake_drivers, fake_of


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    config = config_module.parse({"data_root": str(tmp_path / "data"), "exec_root": str(tmp_path / "exec")})
    built = Engine(config, fake_drivers(tmp_path / "drivers"))
    add_image(built.images.store, "busybox", files={"bin/sh": b"#!fake\n", "etc/motd": "hello\n"},
              config={"Cmd": ["sh"], "Labels": {"from": "image"}})
    yield built
    built.close()


def create(engine: Engine, name: str, **body: Any) -> Container:
    return engine.containers.create({"Image": "busybox", **body}, name)


def mounts(engine: Engine, container: Container) -> int:
    return int(fake_of(engine.drivers, "storage").mounts.get(container.storage_key, 0))


def actions(engine: Engine) -> list[str]:
    return [event["Action"] for event in engine.events.subscribe()[0]]


def names_in(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return archive.getnames()


# --------------------------------------------------------------------------- archive


def test_copy_out_holds_the_mount_until_the_stream_ends(engine: Engine) -> None:
    container = create(engine, "web")
    stream, stat = engine.archive.copy_out("web", "/etc/motd")
    assert stat["name"] == "motd" and stat["size"] == 6
    assert mounts(engine, container) == 1
    assert names_in(b"".join(stream)) == ["motd"]
    assert mounts(engine, container) == 0
    assert actions(engine)[-1] == "archive-path"


def test_copy_out_dropped_unread_releases_the_mount(engine: Engine) -> None:
    container = create(engine, "web")
    stream, _stat = engine.archive.copy_out("web", "/etc")
    assert mounts(engine, container) == 1
    del stream
    assert mounts(engine, container) == 0


def test_copy_out_of_a_missing_path_releases_the_mount_and_publishes_nothing(engine: Engine) -> None:
    container = create(engine, "web")
    with pytest.raises(NotFound):
        engine.archive.copy_out("web", "/nope")
    assert mounts(engine, container) == 0
    assert "archive-path" not in actions(engine)


def test_container_first_then_path(engine: Engine) -> None:
    with pytest.raises(NotFound, match="^No such container: ghost$"):
        engine.archive.stat("ghost", "")
    create(engine, "web")
    with pytest.raises(InvalidParameter, match="^bad parameter: path cannot be empty$"):
        engine.archive.stat("web", "")


def test_stat_copy_in_and_export(engine: Engine) -> None:
    container = create(engine, "web")
    assert engine.archive.stat("web", "/etc")["name"] == "etc"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("new.txt")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"new"))
    buffer.seek(0)
    engine.archive.copy_in("web", "/etc", buffer, no_overwrite_dir_non_dir=False, copy_uid_gid=False)
    assert mounts(engine, container) == 0
    assert actions(engine)[-1] == "extract-to-dir"
    exported = names_in(b"".join(engine.archive.export("web")))
    assert "etc/new.txt" in exported and "etc/motd" in exported
    assert mounts(engine, container) == 0
    assert actions(engine)[-1] == "export"


def test_changes_lists_the_paths_a_container_changed(engine: Engine) -> None:
    create(engine, "web")
    assert engine.commits.changes("web") == []
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("added")
        archive.addfile(info, io.BytesIO(b""))
    buffer.seek(0)
    engine.archive.copy_in("web", "/", buffer, no_overwrite_dir_non_dir=False, copy_uid_gid=False)
    assert [(c.path, c.kind) for c in engine.commits.changes("web")] == [("/added", 1)]


# --------------------------------------------------------------------------- events


def test_container_events_carry_image_name_labels_then_extras() -> None:
    bus = EventBus()
    container = Container(id="c" * 64, name="web", created="", image_id="", image="busybox", path="sh", args=[],
                          config={"Labels": {"role": "db"}}, host_config={})
    bus.publish_container(container, "kill", signal="9")
    event = bus.subscribe()[0][-1]
    assert event["Actor"]["Attributes"] == {"image": "busybox", "name": "web", "role": "db", "signal": "9"}
    assert list(event["Actor"]["Attributes"]) == ["image", "name", "role", "signal"]
    assert (event["status"], event["id"], event["from"]) == ("kill", "c" * 64, "busybox")


def test_stream_replays_from_since_marks_the_replay_and_follows() -> None:
    bus = EventBus()
    bus.publish("volume", "create", "old", {"driver": "local"})
    stream = bus.stream(since_ns=1, until_ns=0, filters={"type": ["volume"]})
    assert bus.listeners == 1  # subscribed before the first next()
    bus.publish("network", "create", "n1", {"name": "n1"})
    bus.publish("volume", "create", "new", {"driver": "local"})
    assert next(stream)["Actor"]["ID"] == "old"
    assert next(stream) is None
    assert next(stream)["Actor"]["ID"] == "new"
    stream.close()
    assert bus.listeners == 0


def test_stream_without_since_replays_nothing_and_ends_at_until() -> None:
    bus = EventBus()
    bus.publish("volume", "create", "old", {})
    stream = bus.stream(since_ns=0, until_ns=1, filters={})
    assert list(stream) == [None]
    assert bus.listeners == 0


def test_event_filters_match_ids_and_name_prefixes() -> None:
    bus = EventBus()
    bus.publish("network", "connect", "abc123", {"name": "appnet", "container": "c1"})
    event = bus.subscribe()[0][-1]
    assert event_matches(event, {"network": ["app"]}) and event_matches(event, {"network": ["abc"]})
    assert not event_matches(event, {"network": ["other"]}) and not event_matches(event, {"container": ["c1"]})
    assert event_matches(event, {"event": ["connect"], "label": ["container=c1"]})
    with pytest.raises(InvalidParameter, match="^invalid filter 'colour'$"):
        event_matches(event, {"colour": ["red"]})


# --------------------------------------------------------------------------- ps


def test_list_containers_filters_sorts_and_limits(engine: Engine) -> None:
    first = create(engine, "first", Labels={"tier": "db"})
    second = create(engine, "second")
    assert engine.containers.list_containers() == []  # running ones only
    listed = engine.containers.list_containers(all_containers=True)
    assert [c.name for c in listed] == ["second", "first"]  # newest first
    assert [c.id for c in engine.containers.list_containers(True, {"label": ["tier=db"]})] == [first.id]
    assert [c.id for c in engine.containers.list_containers(True, {"name": ["^/sec"]})] == [second.id]
    assert [c.id for c in engine.containers.list_containers(False, {"status": ["created"]})] == [second.id, first.id]
    assert [c.id for c in engine.containers.list_containers(True, {"since": ["first"]})] == [second.id]
    assert [c.id for c in engine.containers.list_containers(True, {"ancestor": ["busybox"]}, limit=1)] == [second.id]
    with pytest.raises(InvalidParameter, match="^Invalid filter 'colour'$"):
        engine.containers.list_containers(True, {"colour": ["red"]})
    with pytest.raises(InvalidParameter, match="^Invalid filter 'status=asleep'$"):
        engine.containers.list_containers(True, {"status": ["asleep"]})


# --------------------------------------------------------------------------- wiring


def test_image_and_volume_services_see_the_containers_through_the_shared_query(engine: Engine) -> None:
    container = create(engine, "web", HostConfig={"Binds": ["data:/data"]})
    image_id = container.image_id
    assert [user.container_id for user in engine.images.users(image_id)] == [container.id]
    with pytest.raises(Conflict, match="must be forced"):
        engine.images.remove(image_id)
    assert engine.volumes.users("data") == [container.id]
    with pytest.raises(Conflict, match="volume is in use"):
        engine.volumes.remove("data")
    engine.containers.remove("web", volumes=True)
    assert engine.images.users(image_id) == [] and engine.volumes.users("data") == []


def test_the_engine_gives_its_one_process_layer_to_every_service_that_touches_a_process(tmp_path: Path) -> None:
    config = config_module.parse({"data_root": str(tmp_path / "data"), "exec_root": str(tmp_path / "exec")})
    default = Engine(config, fake_drivers(tmp_path / "drivers"))
    assert isinstance(default.processes, RuncProcesses)
    assert default.processes.runtime.root == str(tmp_path / "exec" / "runc")
    default.close()
    given = FakeProcesses()
    engine = Engine(config, fake_drivers(tmp_path / "drivers"), given)
    users = (engine.containers, engine.container_io, engine.resources, engine.commits)
    assert [service.processes for service in users] == [given] * len(users)
    engine.close()
    assert given.closed
