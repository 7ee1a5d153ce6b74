"""Exec records are forgotten with their container, after a while, and beyond a cap (issue 12)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from moor.errors import NotFound
from moor.services import exec_registry
from moor.services.container_io import ContainerIO, ExecRecord
from moor.services.events import EventBus


class _Containers:
    """Just enough of the container service: ``get`` by full ID."""

    def __init__(self) -> None:
        self.live: dict[str, Any] = {}

    def add(self, container_id: str) -> Any:
        container = SimpleNamespace(id=container_id, name=container_id[:8], image="busybox",
                                    config={"Labels": {}},
                                    state=SimpleNamespace(Running=True, Paused=False, StartedAt=""))
        self.live[container_id] = container
        return container

    def get(self, ident: str) -> Any:
        try:
            return self.live[ident]
        except KeyError:
            raise NotFound(f"No such container: {ident}") from None


def _io(containers: _Containers) -> ContainerIO:
    return ContainerIO(containers, EventBus(), processes=None, attaches=None)  # type: ignore[arg-type]


def _finish(io: ContainerIO, record: ExecRecord) -> None:
    """What the exec waiter does when the process ends."""
    record.exit_code = 0
    io.execs.finished(record)


def test_records_of_a_removed_container_are_gone() -> None:
    containers = _Containers()
    io = _io(containers)
    doomed, other = containers.add("a" * 64), containers.add("b" * 64)
    record = io.exec_create(doomed, {"Cmd": ["true"]})
    assert io.get_exec(record.id) is record
    del containers.live[doomed.id]  # docker rm
    with pytest.raises(NotFound, match="No such exec instance"):
        io.get_exec(record.id)
    for _ in range(10):
        io.exec_create(other, {"Cmd": ["true"]})
    assert len(io.execs) == 10


def test_the_store_does_not_grow_with_execs_of_removed_containers() -> None:
    containers = _Containers()
    io = _io(containers)
    for number in range(200):
        container = containers.add(f"{number:064x}")
        for _ in range(3):
            _finish(io, io.exec_create(container, {"Cmd": ["true"]}))
        del containers.live[container.id]
    assert len(io.execs) <= 3


def test_finished_records_are_capped_per_container() -> None:
    containers = _Containers()
    io = _io(containers)
    container = containers.add("c" * 64)
    running = io.exec_create(container, {"Cmd": ["sleep", "1000"]})  # never finishes: kept
    made = []
    for _ in range(exec_registry.MAX_FINISHED_PER_CONTAINER * 3):
        record = io.exec_create(container, {"Cmd": ["true"]})
        _finish(io, record)
        made.append(record)
    assert len(io.execs) <= exec_registry.MAX_FINISHED_PER_CONTAINER + 2
    assert io.get_exec(running.id) is running
    assert io.get_exec(made[-1].id) is made[-1]
    with pytest.raises(NotFound):
        io.get_exec(made[0].id)


def test_finished_records_expire() -> None:
    now = [1000.0]
    registry: exec_registry.ExecRegistry[Any] = exec_registry.ExecRegistry(lambda _c: True, clock=lambda: now[0])
    done = SimpleNamespace(id="1", container_id="c", finished_at=None)
    live = SimpleNamespace(id="2", container_id="c", finished_at=None)
    registry.add(done)
    registry.add(live)
    registry.finished(done)
    now[0] += exec_registry.FINISHED_RETENTION - 1
    assert registry.get("1") is done
    now[0] += 2
    assert registry.get("1") is None
    assert registry.get("2") is live
    registry.prune()
    assert len(registry) == 1



def test_active_ids_are_the_execs_not_ended() -> None:
    registry: exec_registry.ExecRegistry[ExecRecord] = exec_registry.ExecRegistry(lambda _: True)
    first, second, other = ExecRecord("e1", "c1", {}), ExecRecord("e2", "c1", {}), ExecRecord("e3", "c2", {})
    for record in (first, second, other):
        registry.add(record)
    assert registry.active_ids("c1") == ["e1", "e2"]
    registry.finished(first)
    assert registry.active_ids("c1") == ["e2"]
    assert registry.active_ids("c3") == []
