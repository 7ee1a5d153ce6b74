"""The json-file log of a container that never started reads as empty, as Docker's does: no error raised
inside the stream (which would cut the answer after its headers; found by tests/hostile)."""

from __future__ import annotations

from pathlib import Path

import pytest

from moor.testing.conformance import load_driver
from moor.types import ContainerRef


@pytest.mark.parametrize("tail", [-1, 0, 5])
def test_log_of_a_never_started_container_is_empty(tmp_path: Path, tail: int) -> None:
    driver = load_driver("log", "json-file", tmp_path)
    container = ContainerRef(id="idle", name="idle", log_path=str(tmp_path / "never-written.log"))
    assert list(driver.read(container=container, since=0, until=0, tail=tail, follow=False)) == []
