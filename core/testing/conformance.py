"""Conformance suites: the behaviour every driver of a kind must show.

A driver package runs a suite by subclassing it in its tests and providing
the ``driver`` fixture (a :class:`moor.drivers.Driver`, for example from
:func:`load_driver`)::

    class TestMyVolumes(VolumeDriverConformance):
        @pytest.fixture
        def driver(self, tmp_path):
            return load_driver("volume", "mine", tmp_path)
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from moor.config import parse
from moor.drivers import Driver, load_drivers
from moor.errors import Conflict, InvalidParameter, NotFound
from moor.types import ContainerRef, LogMessage


def load_driver(kind: str, name: str, root: Any, options: dict[str, Any] | None = None) -> Driver:
    """Load the installed driver ``name`` of ``kind`` with a data root under ``root``."""
    document: dict[str, Any] = {"data_root": f"{root}/data", "exec_root": f"{root}/exec"}
    document[kind] = {"driver": name, "drivers": [name]}
    if options:
        document[kind][name] = options
    return load_drivers(parse(document)).driver(kind, name)


class VolumeDriverConformance:
    """Create, get, list, mount (counted), unmount and remove."""

    def test_create_get_list_remove(self, driver: Driver) -> None:
        info = driver.create(name="vol1", options={}, labels={"a": "b"})
        assert info.name == "vol1" and info.labels == {"a": "b"}
        assert os.path.isdir(info.mountpoint)
        again = driver.create(name="vol1", options={}, labels={})
        assert again.mountpoint == info.mountpoint
        assert driver.get(name="vol1").name == "vol1"
        assert [v.name for v in driver.list()] == ["vol1"]
        assert driver.remove(name="vol1", force=False) is True
        assert driver.get(name="vol1") is None
        assert driver.list() == []

    def test_remove_missing(self, driver: Driver) -> None:
        with pytest.raises(NotFound):
            driver.remove(name="absent", force=False)
        assert driver.remove(name="absent", force=True) is False

    def test_mounted_volume_cannot_be_removed(self, driver: Driver) -> None:
        driver.create(name="busy", options={}, labels={})
        path = driver.mount(name="busy", mount_id="c1")
        assert os.path.isdir(path)
        assert driver.mount(name="busy", mount_id="c1") == path
        with pytest.raises(Conflict):
            driver.remove(name="busy", force=False)
        assert driver.unmount(name="busy", mount_id="c1") is True
        assert driver.unmount(name="busy", mount_id="c1") is False
        assert driver.remove(name="busy", force=False) is True

    def test_mount_missing_volume(self, driver: Driver) -> None:
        with pytest.raises(NotFound):
            driver.mount(name="ghost", mount_id="c1")

    def test_invalid_name(self, driver: Driver) -> None:
        with pytest.raises(InvalidParameter):
            driver.create(name="../escape", options={}, labels={})


class LogDriverConformance:
    """Validate options, write messages, and read them back when the driver can."""

    def test_unknown_option_is_refused(self, driver: Driver) -> None:
        with pytest.raises(InvalidParameter, match="unknown log opt 'no-such-option'"):
            driver.validate(options={"no-such-option": "1"})

    def test_write_then_read(self, driver: Driver, tmp_path: Any) -> None:
        container = ContainerRef(id="c" * 64, name="c", log_path=str(tmp_path / "c.log"))
        writer = driver.open(container=container)
        start = time.time()
        writer.write(LogMessage(stream="stdout", line=b"hello\n", timestamp=start))
        writer.write(LogMessage(stream="stderr", line=b"oops\n", timestamp=start + 1))
        writer.close()
        if not driver.implements("read"):
            return
        messages = list(driver.read(container=container, since=0, until=0, tail=-1, follow=False))
        assert [(m.stream, m.line) for m in messages] == [("stdout", b"hello\n"), ("stderr", b"oops\n")]
        last = list(driver.read(container=container, since=0, until=0, tail=1, follow=False))
        assert [m.line for m in last] == [b"oops\n"]
        later = list(driver.read(container=container, since=start + 0.5, until=0, tail=-1, follow=False))
        assert [m.line for m in later] == [b"oops\n"]
        if driver.implements("remove"):
            assert driver.remove(container=container) is True
            assert not os.path.exists(container.log_path)
