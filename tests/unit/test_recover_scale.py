"""moord started again with many running containers (issue 17: all re-adopted within 5 s at 1000): the
monitors are asked at once, and no container is thawed that its freezer does not hold."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moor.containers import cgroups
from moor.containers.processes import RuncProcesses
from tests.unit.test_container_service import FakeEngine


@pytest.fixture()
def running(tmp_path: Path) -> Iterator[FakeEngine]:
    engine = FakeEngine(tmp_path)
    for number in range(4):
        engine.create(f"c{number}")
        engine.containers.start(f"c{number}")
    yield engine
    engine.processes.end_all()
    engine.close()


def test_the_monitors_are_asked_at_once(running: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four running containers: their four ``state`` requests are in flight together (a barrier of four
    passes only so; one after the other, the first would wait for ever)."""
    together = threading.Barrier(4, timeout=20)
    from moor.testing.fakes import FakeProcesses

    original = FakeProcesses.request

    def request(self: FakeProcesses, state_dir: str, message: dict[str, Any],
                timeout: float | None = None) -> dict[str, Any]:
        if message["op"] == "state":
            together.wait()
        return original(self, state_dir, message, timeout)
    monkeypatch.setattr(FakeProcesses, "request", request)
    successor = running.restart()
    try:
        assert {c.name for c in successor.containers.store.all() if c.state.Running} == {"c0", "c1", "c2", "c3"}
        assert not together.broken
    finally:
        successor.close()


def test_only_a_frozen_container_is_thawed(running: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A container a commit left frozen (moord died meanwhile) is thawed; the others are not touched (one
    ``runc resume`` each cost some 20 ms: 20 s for a thousand)."""
    from moor.testing.fakes import FakeProcesses

    frozen_one = running.containers.get("c2").id
    running.processes.processes[frozen_one].paused = True
    resumed: list[str] = []
    original = FakeProcesses.resume

    def resume(self: FakeProcesses, container_id: str) -> None:
        resumed.append(container_id)
        original(self, container_id)
    monkeypatch.setattr(FakeProcesses, "resume", resume)
    successor = running.restart()
    try:
        assert resumed == [frozen_one]
        assert not successor.processes.processes[frozen_one].paused
    finally:
        successor.close()


def _runc_state(root: Path, container_id: str, paths: dict[str, str]) -> None:
    (root / container_id).mkdir(parents=True)
    (root / container_id / "state.json").write_text(json.dumps({"id": container_id, "cgroup_paths": paths}))


def test_the_freezer_is_read_where_runc_recorded_the_cgroups(tmp_path: Path) -> None:
    runc_root, groups = tmp_path / "runc", tmp_path / "cgroup"
    for name, state in (("thawed", "THAWED\n"), ("frozen", "FROZEN\n"), ("freezing", "FREEZING\n")):
        (groups / "freezer" / name).mkdir(parents=True)
        (groups / "freezer" / name / "freezer.state").write_text(state)
        _runc_state(runc_root, name, {"": str(groups / "unified" / name), "freezer": str(groups / "freezer" / name)})
    (groups / "v2" / "only").mkdir(parents=True)
    (groups / "v2" / "only" / "cgroup.freeze").write_text("1\n")
    _runc_state(runc_root, "v2", {"": str(groups / "v2" / "only")})
    _runc_state(runc_root, "gone", {"freezer": str(groups / "freezer" / "gone")})
    processes = RuncProcesses("runc", str(runc_root))
    assert [processes.frozen(name) for name in ("thawed", "frozen", "freezing", "v2", "gone", "unknown")] == [
        False, True, True, True, None, None]
    assert cgroups.frozen_in(str(runc_root), "thawed") is False


def test_records_loaded_at_start_share_their_keys(tmp_path: Path) -> None:
    from moor.containers.record import ContainerStore

    for number in range(2):
        directory = tmp_path / f"{number:064x}"
        directory.mkdir()
        (directory / "config.v2.json").write_text(json.dumps({
            "id": f"{number:064x}", "name": f"c{number}", "created": "2026-01-01T00:00:00Z", "image_id": "i",
            "image": "busybox", "path": "sh", "args": [], "config": {"Hostname": "h"},
            "host_config": {"Shm" + "Size": number + 1}}))
    first, second = sorted(ContainerStore(str(tmp_path)).all(), key=lambda c: c.name)
    assert first.host_config == {"ShmSize": 1} and second.host_config == {"ShmSize": 2}
    assert next(iter(first.host_config)) is next(iter(second.host_config))
