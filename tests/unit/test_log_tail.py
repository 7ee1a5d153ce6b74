"""``logs --tail N`` reads the json-file log from its end in bounded memory (issue 12, resource exhaustion)."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from moor.logdrivers.jsonfile import parse_time, rotated_files
from moor.testing.conformance import load_driver
from moor.types import ContainerRef, LogMessage

START = 1_700_000_000.0


def _write(driver: Any, container: ContainerRef, count: int, width: int = 40) -> None:
    writer = driver.open(container=container)
    for index in range(count):
        stream = "stderr" if index % 7 == 0 else "stdout"
        line = f"line {index} {'x' * (index % width)}\n".encode()
        writer.write(LogMessage(stream=stream, line=line, timestamp=START + index * 0.5))
    writer.close()


def _everything(container: ContainerRef, max_file: int) -> list[LogMessage]:
    """The reference: every record of every file, oldest first, decoded the plain way."""
    messages = []
    for path in [*rotated_files(container.log_path, max_file), container.log_path]:
        opener: Any = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as handle:
            for raw in handle:
                record = json.loads(raw)
                messages.append(LogMessage(stream=record["stream"], line=record["log"].encode(),
                                           timestamp=parse_time(record["time"])))
    return messages


@pytest.mark.parametrize("options", [
    {},
    {"max-size": "3k", "max-file": "4"},
    {"max-size": "3k", "max-file": "5", "compress": "true"},
], ids=["one-file", "rotated", "rotated-gzip"])
def test_tail_since_until_give_what_they_gave_before(tmp_path: Path, options: dict[str, str]) -> None:
    driver = load_driver("log", "json-file", tmp_path)
    container = ContainerRef(id="t", name="t", log_path=str(tmp_path / "t.log"), log_options=options)
    _write(driver, container, 600)
    everything = _everything(container, int(options.get("max-file", "1")))
    assert len(everything) > 20
    for since, until in ((0, 0), (START + 100, 0), (0, START + 200), (START + 100, START + 200)):
        kept = [m for m in everything if m.timestamp >= since and (not until or m.timestamp < until)]
        for tail in (-1, 0, 1, 2, 5, 37, 150, 599, 600, 10_000):
            got = list(driver.read(container=container, since=since, until=until, tail=tail, follow=False))
            expected = kept if tail < 0 else kept[max(0, len(kept) - tail):] if tail else []
            assert got == expected, (since, until, tail)


def test_a_partial_last_line_is_left_for_follow(tmp_path: Path) -> None:
    driver = load_driver("log", "json-file", tmp_path)
    container = ContainerRef(id="p", name="p", log_path=str(tmp_path / "p.log"))
    _write(driver, container, 3)
    with open(container.log_path, "ab") as handle:
        handle.write(b'{"log":"half')
    got = list(driver.read(container=container, since=0, until=0, tail=2, follow=False))
    assert [m.line for m in got] == [b"line 1 x\n", b"line 2 xx\n"]


def test_tail_of_a_big_log_stays_in_bounded_memory(tmp_path: Path) -> None:
    driver = load_driver("log", "json-file", tmp_path)
    container = ContainerRef(id="b", name="b", log_path=str(tmp_path / "b.log"))
    _write(driver, container, 60_000, width=100)  # about 8 MB of log
    tracemalloc.start()
    try:
        got = list(driver.read(container=container, since=0, until=0, tail=10, follow=False))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [m.line.split()[1] for m in got] == [str(i).encode() for i in range(59_990, 60_000)]
    assert peak < 2 << 20, f"logs --tail 10 peaked at {peak} bytes"
