"""What a moord killed half-way through an operation leaves, and what the next moord makes of it (no root).

Found by ``scripts/crash-points`` (``moor.testing.crashpoints``): each test sets up the state a kill -9
leaves at one point, starts a new engine over it and checks that nothing is half there.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from moor.testing.fakes import fake_of
from unit.test_container_service import FakeEngine


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeEngine]:
    engine = FakeEngine(tmp_path)
    yield engine
    for current in (engine, engine.successor):
        if current is not None:
            current.processes.end_all()
    engine.close()


def test_a_start_killed_after_the_process_started_is_undone(fake: FakeEngine) -> None:
    """moord died after the monitor started the process, before the record said running: the next moord
    stops the process and undoes the start (endpoint, mounts, state directory), as a failed start would."""
    container = fake.create("half")
    state_dir = fake.containers.state_dir(container.id)
    os.makedirs(state_dir)
    fake.drivers.storage.mount(key=container.storage_key)
    monitor = fake.processes.launch(container, state_dir, os.path.join(state_dir, "bundle"))
    fake.containers.networking.join(container, monitor.container_pid)  # in memory only, as _start does
    monitor.start()
    bridge = fake.engine.networks.find("bridge")
    assert bridge is not None and container.id in bridge.endpoints
    fake.processes.down = True
    again = fake.restart()
    process = again.processes.processes[container.id]
    assert not process.alive
    assert (container.id, "KILL") in again.processes.signals
    assert not os.path.exists(state_dir)
    assert ("unmount", {"key": container.storage_key}) in fake_of(again.drivers, "storage").calls
    bridge = again.engine.networks.find("bridge")
    assert bridge is not None and container.id not in bridge.endpoints
    driver_network = fake_of(again.drivers, "network", "bridge").networks[bridge.id]
    assert driver_network.endpoints == {}  # the address is free again
    revived = again.containers.get("half")
    assert not revived.state.Running
    again.containers.start("half")  # and it starts again
    assert again.containers.get("half").state.Running


def test_a_start_killed_before_the_process_started_is_undone(fake: FakeEngine) -> None:
    container = fake.create("created")
    state_dir = fake.containers.state_dir(container.id)
    os.makedirs(state_dir)
    fake.processes.launch(container, state_dir, os.path.join(state_dir, "bundle"))
    fake.processes.down = True
    again = fake.restart()
    assert not os.path.exists(state_dir)
    again.containers.remove("created")
    assert again.containers.list_containers(all_containers=True) == []


def test_an_exited_container_keeps_its_state_directory(fake: FakeEngine) -> None:
    container = fake.create("done")
    fake.containers.start("done")
    fake.processes.exit(container.id, 3)
    fake.wait_for(lambda: not fake.containers.get("done").state.Running)
    state_dir = fake.containers.state_dir(container.id)
    with open(os.path.join(state_dir, "exit.json"), "w") as handle:
        json.dump({"exit_code": 3, "finished_at": fake.processes.processes[container.id].finished_at}, handle)
    again = fake.restart()
    assert os.path.exists(state_dir)
    assert again.containers.get("done").state.ExitCode == 3


def test_a_container_paused_by_an_interrupted_commit_is_thawed(fake: FakeEngine) -> None:
    container = fake.create("frozen")
    fake.containers.start("frozen")
    fake.processes.pause(container.id)  # the commit's pause: the record does not say paused
    again = fake.restart()
    assert not again.processes.processes[container.id].paused
    assert again.containers.get("frozen").state.Running


def test_a_user_paused_container_stays_paused(fake: FakeEngine) -> None:
    container = fake.create("held")
    fake.containers.start("held")
    fake.processes.pause(container.id)
    container.state.Paused = True
    fake.containers.store.save(container)
    again = fake.restart()
    assert again.processes.processes[container.id].paused


def test_a_remove_killed_half_way_leaves_no_record(fake: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The record goes first: a remove killed after it leaves a directory and a snapshot, which the next
    moord removes; never a record whose snapshot is gone."""
    container = fake.create("going")

    class Killed(BaseException):
        pass

    def killed(**_kwargs: object) -> bool:
        raise Killed

    monkeypatch.setattr(fake.drivers.storage, "remove", killed)
    with pytest.raises(Killed):
        fake.containers.remove("going")
    monkeypatch.undo()
    again = fake.restart()
    assert again.containers.list_containers(all_containers=True) == []
    assert not os.path.exists(again.containers.store.directory(container.id))
    assert ("remove", {"key": container.id}) in fake_of(again.drivers, "storage").calls


def test_a_create_killed_before_its_record_leaves_nothing(fake: FakeEngine) -> None:
    container_id = secrets.token_hex(32)
    os.makedirs(fake.containers.store.directory(container_id))
    fake.drivers.storage.prepare(key=container_id, parent=fake.image.top_layer.split(":", 1)[1])
    again = fake.restart()
    assert not os.path.exists(again.containers.store.directory(container_id))
    assert not again.drivers.storage.exists(key=container_id)
