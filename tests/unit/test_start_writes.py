"""What a container's create and start write, and which of it is fsynced: only what must survive a power loss."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from moor import fsutil
from moor.containers.etcfiles import write_etc_files
from moor.containers.record import Container, ContainerStore
from unit.test_container_service import FakeEngine


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every fsync from now on, as ``file <path>`` or ``dir <path>``."""
    seen: list[str] = []
    real = os.fsync

    def recording(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        seen.append(("dir " if stat.S_ISDIR(os.fstat(fd).st_mode) else "file ") + path)
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return seen


def test_atomic_write_is_durable_by_default(tmp_path: Path, fsyncs: list[str]) -> None:
    fsutil.atomic_write(str(tmp_path / "f"), b"x")
    assert [entry.split()[0] for entry in fsyncs] == ["file", "dir"] and fsyncs[1] == f"dir {tmp_path}"
    assert (tmp_path / "f").read_bytes() == b"x"


def test_a_container_record_is_fsynced_but_not_its_directory(tmp_path: Path, fsyncs: list[str]) -> None:
    store = ContainerStore(str(tmp_path / "containers"))
    container = Container(id="c" * 64, name="n", created="", image_id="", image="busybox", path="true", args=[],
                          config={}, host_config={})
    store.save(container)
    record = tmp_path / "containers" / ("c" * 64) / "config.v2.json"
    assert [entry.split()[0] for entry in fsyncs] == ["file"]  # the temp file, renamed to the record afterwards
    assert ContainerStore(str(tmp_path / "containers")).find("n") is not None and record.exists()


def test_etc_files_are_written_whole_without_fsync(tmp_path: Path, fsyncs: list[str]) -> None:
    """They are made again at each start."""
    written = write_etc_files(str(tmp_path), "box", False)
    assert fsyncs == []
    assert Path(written["/etc/hostname"]).read_text() == "box\n"
    assert sorted(os.listdir(tmp_path)) == ["hostname", "hosts", "resolv.conf"]  # no temp file left


def test_a_start_writes_its_bundle_without_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle is run-time state in a fresh directory: written once, no temp file, no fsync."""
    engine = FakeEngine(tmp_path)
    try:
        container = engine.create("bundled")
        seen: list[str] = []
        real = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (seen.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
        engine.containers.start("bundled")
        bundle = os.path.join(engine.containers.state_dir(container.id), "bundle")
        assert os.listdir(bundle) == ["config.json"]
        assert json.loads(Path(bundle, "config.json").read_text())["process"]["args"] == ["sh"]
        assert not [path for path in seen if path.startswith(bundle)]
    finally:
        engine.processes.end_all()
        engine.close()


def test_a_record_is_synced_outside_the_store_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ContainerStore(str(tmp_path / "containers"))
    held: list[bool] = []
    real = os.fsync

    def recording(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path)):  # not another test's thread's
            held.append(store.lock._is_owned())  # type: ignore[attr-defined]
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    container = _container("e" * 64)
    store.write(store.prepare(container))
    assert held == [False]
    assert json.loads((tmp_path / "containers" / container.id / "config.v2.json").read_text())["id"] == container.id


def test_a_save_prepared_before_another_never_overwrites_it(tmp_path: Path) -> None:
    store = ContainerStore(str(tmp_path / "containers"))
    container = _container("d" * 64)
    older = store.prepare(container)
    container.name = "/b"
    newer = store.prepare(container)
    store.write(newer)
    store.write(older)  # its fsync ended last: the later state stays
    record = tmp_path / "containers" / container.id / "config.v2.json"
    assert json.loads(record.read_text())["name"] == "/b"
    late = store.prepare(container)
    store.delete(container.id)
    store.write(late)  # a save racing the removal brings nothing back
    assert not record.exists() and os.listdir(record.parent) == []


def _container(container_id: str) -> Container:
    return Container(id=container_id, name="/a", created="", image_id="", image="busybox", path="true", args=[],
                     config={}, host_config={})


def test_an_rm_container_exit_writes_no_record_before_its_removal(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``run --rm`` waits for the removal: the exit's synced write of a record about to go is skipped (the next
    start of moord finds an exit it missed and removes the container then). A plain container's exit is saved."""
    engine = FakeEngine(tmp_path)
    try:
        writes: list[str] = []
        real = engine.containers.store.write
        monkeypatch.setattr(engine.containers.store, "write",
                            lambda pending: (writes.append(pending.container_id), real(pending)))
        kept, removed = engine.create("kept"), engine.create("removed", HostConfig={"AutoRemove": True})
        for container in (kept, removed):
            engine.containers.start(container.id)
            writes.clear()
            engine.processes.exit(container.id, 0)
            engine.containers.wait(container.id, "removed" if container is removed else "not-running")
            assert writes == ([] if container is removed else [container.id])
        assert engine.containers.store.find(removed.id) is None and not os.path.exists(
            engine.containers.store.directory(removed.id))
    finally:
        engine.processes.end_all()
        engine.close()


def test_a_write_racing_the_removal_of_its_directory_is_no_error(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``rm -f`` of a container whose create is still writing its record (outside the store lock) deletes the
    directory under the temp file: the create ends as if the removal came right after it (it was a 500)."""
    import shutil

    store = ContainerStore(str(tmp_path / "containers"))
    container = _container("f" * 64)
    pending = store.prepare(container)
    real = os.fsync

    def removed_meanwhile(fd: int) -> None:
        real(fd)
        store.delete(container.id)
        shutil.rmtree(store.directory(container.id))

    monkeypatch.setattr(os, "fsync", removed_meanwhile)
    store.write(pending)
    assert not os.path.exists(store.directory(container.id)) and store.find(container.id) is None
