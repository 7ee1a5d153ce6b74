"""Quiet streams tick: the events bus and a followed json-file log yield ``None`` about once a second, the
moment the HTTP server uses to look whether the client left (and then closes the stream)."""

from __future__ import annotations

import time
from pathlib import Path

from moor.services.events import EventBus
from moor.testing.conformance import load_driver
from moor.types import ContainerRef, LogMessage


def test_a_quiet_events_stream_ticks_and_closing_it_unsubscribes() -> None:
    bus = EventBus()
    stream = bus.stream(0, 0, {})
    assert next(stream) is None  # after the (empty) replay
    started = time.monotonic()
    assert next(stream) is None  # a quiet second
    assert 0.5 < time.monotonic() - started < 5
    bus.publish("volume", "create", "v1")
    event = next(stream)
    assert event is not None and event["Actor"]["ID"] == "v1"
    stream.close()
    assert bus.listeners == 0


def test_a_followed_json_file_log_ticks_while_quiet_and_closes_its_files(tmp_path: Path) -> None:
    driver = load_driver("log", "json-file", tmp_path)
    container = ContainerRef(id="q", name="q", log_path=str(tmp_path / "q.log"))
    writer = driver.open(container=container)
    writer.write(LogMessage(stream="stdout", line=b"hello\n", timestamp=time.time()))
    messages = driver.read(container=container, since=0, until=0, tail=-1, follow=True)
    first = next(messages)
    assert first is not None and first.line == b"hello\n"
    started = time.monotonic()
    assert next(messages) is None
    assert 0.5 < time.monotonic() - started < 5
    writer.write(LogMessage(stream="stdout", line=b"again\n", timestamp=time.time()))
    following = next(messages)
    assert following is not None and following.line == b"again\n"
    messages.close()  # type: ignore[attr-defined]  # the driver's generator
    writer.close()

