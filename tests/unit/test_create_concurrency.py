"""Creates overlap: a container's layers are made outside the store lock, its name taken before."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from moor.errors import Conflict
from unit.test_container_service import FakeEngine


def test_a_create_making_its_layers_blocks_neither_others_nor_its_name(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FakeEngine(tmp_path)
    storage = engine.drivers.storage
    prepare = storage.prepare
    inside, release = threading.Event(), threading.Event()

    def slow_prepare(**arguments: Any) -> bool:
        if not made:  # the first create only
            made.append(arguments["key"])
            inside.set()
            assert release.wait(10)
        return prepare(**arguments)

    made: list[str] = []
    monkeypatch.setattr(storage, "prepare", slow_prepare)
    first: list[Any] = []
    thread = threading.Thread(target=lambda: first.append(engine.create("slow")))
    thread.start()
    try:
        assert inside.wait(5)
        with pytest.raises(Conflict, match=rf'name "/slow" is already in use by container "{made[0]}"'):
            engine.create("slow")  # the name is taken while its layers are made
        other = engine.create("quick")  # and another create goes through meanwhile
        assert engine.containers.get("quick").id == other.id
        with pytest.raises(Conflict, match="already in use"):
            engine.containers.rename("quick", "slow")
    finally:
        release.set()
        thread.join(10)
    assert first and first[0].id == made[0] and engine.containers.get("slow").id == made[0]
    engine.processes.end_all()
    engine.close()
