"""The core's json-file and none log drivers pass the log conformance suite."""

from __future__ import annotations

import json
import os

import pytest

from moor.testing.conformance import LogDriverConformance, load_driver
from moor.testing.deadline import answer_within
from moor.types import ContainerRef, LogMessage


class TestJsonFile(LogDriverConformance):
    @pytest.fixture
    def driver(self, tmp_path):
        return load_driver("log", "json-file", tmp_path)

    def test_dockers_line_format(self, driver, tmp_path) -> None:
        container = ContainerRef(id="x", name="x", log_path=str(tmp_path / "x.log"))
        writer = driver.open(container=container)
        writer.write(LogMessage(stream="stdout", line=b"hi\n", timestamp=1700000000.5))
        writer.close()
        record = json.loads((tmp_path / "x.log").read_text())
        assert record == {"log": "hi\n", "stream": "stdout", "time": "2023-11-14T22:13:20.500000000Z"}

    def test_rotation_keeps_max_file(self, driver, tmp_path) -> None:
        container = ContainerRef(id="r", name="r", log_path=str(tmp_path / "r.log"),
                                 log_options={"max-size": "200", "max-file": "2"})
        writer = driver.open(container=container)
        for index in range(20):
            writer.write(LogMessage(stream="stdout", line=f"line {index}\n".encode(), timestamp=1.0 + index))
        writer.close()
        assert (tmp_path / "r.log").stat().st_size <= 200
        assert (tmp_path / "r.log.1").exists() and not (tmp_path / "r.log.2").exists()
        lines = [m.line for m in driver.read(container=container, since=0, until=0, tail=-1, follow=False)]
        assert lines[-1] == b"line 19\n" and len(lines) < 20

    def test_a_follow_ends_when_the_log_is_removed_with_its_container(self, driver, tmp_path) -> None:
        container = ContainerRef(id="f", name="f", log_path=str(tmp_path / "f.log"))
        writer = driver.open(container=container)
        writer.write(LogMessage(stream="stdout", line=b"py\n", timestamp=1.0))
        followed = driver.read(container=container, since=0, until=0, tail=-1, follow=True)
        assert next(followed).line == b"py\n"
        writer.close()
        driver.remove(container=container)  # before the follower saw the writer close: it must end all the same
        lines = [m.line for m in answer_within(10, lambda: list(followed)) if m is not None]
        assert lines == []

    def test_a_follow_goes_on_while_a_rotation_has_renamed_the_log(self, driver, tmp_path) -> None:
        container = ContainerRef(id="g", name="g", log_path=str(tmp_path / "g.log"))
        writer = driver.open(container=container)
        writer.write(LogMessage(stream="stdout", line=b"before\n", timestamp=1.0))
        followed = driver.read(container=container, since=0, until=0, tail=-1, follow=True)
        assert next(followed).line == b"before\n"
        os.rename(tmp_path / "g.log", tmp_path / "g.log.1")  # a rotation, caught before the new file exists
        assert answer_within(10, lambda: next(followed)) is None  # a quiet second's tick: still following
        followed.close()
        writer.close()

    @pytest.mark.parametrize(("options", "error"), [
        ({"max-size": "lots"}, "invalid max-size"),
        ({"max-file": "0", "max-size": "1m"}, "max-file cannot be less than 1"),
    ])
    def test_bad_values(self, driver, options, error) -> None:
        with pytest.raises(Exception, match=error):
            driver.validate(options=options)

    def test_max_file_without_max_size_is_accepted_and_never_rotates(self, driver, tmp_path) -> None:
        """Docker 20.10 accepts ``--log-opt max-file=3`` alone; without a size limit the log never rotates."""
        assert driver.validate(options={"max-file": "3"})
        container = ContainerRef(id="m", name="m", log_path=str(tmp_path / "m.log"), log_options={"max-file": "3"})
        writer = driver.open(container=container)
        for index in range(200):
            writer.write(LogMessage(stream="stdout", line=b"x" * 100 + b"\n", timestamp=1.0 + index))
        writer.close()
        assert not [name for name in os.listdir(tmp_path) if name.startswith("m.log.")
                    and name[len("m.log."):].isdigit()]  # no rotated m.log.1
        assert len(list(driver.read(container=container, since=0, until=0, tail=-1, follow=False))) == 200


class TestNone(LogDriverConformance):
    @pytest.fixture
    def driver(self, tmp_path):
        return load_driver("log", "none", tmp_path)

    def test_cannot_read_back(self, driver) -> None:
        assert not driver.implements("read")


def test_compress_gzips_older_rotated_files_and_reads_them(tmp_path) -> None:
    from moor.testing.conformance import load_driver

    driver = load_driver("log", "json-file", tmp_path)
    container = ContainerRef(id="z", name="z", log_path=str(tmp_path / "z.log"),
                             log_options={"max-size": "300", "max-file": "4", "compress": "true"})
    writer = driver.open(container=container)
    for index in range(40):
        writer.write(LogMessage(stream="stdout", line=f"line {index}\n".encode(), timestamp=1.0 + index))
    writer.close()
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("z.log"))
    assert "z.log.1" in names and "z.log.2.gz" in names and "z.log.3.gz" in names and "z.log.2" not in names
    lines = [m.line for m in driver.read(container=container, since=0, until=0, tail=-1, follow=False)]
    assert lines[-1] == b"line 39\n"
    assert lines == [f"line {i}\n".encode() for i in range(40 - len(lines), 40)]
    assert driver.remove(container=container) is True
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("z.log")]


@pytest.mark.parametrize(("options", "error"), [
    ({"compress": "maybe", "max-size": "1m", "max-file": "2"}, "compress"),
    ({"compress": "true", "max-size": "1m"}, "compress cannot be true when max-file is less than 2"),
])
def test_bad_compress(tmp_path, options, error) -> None:
    from moor.testing.conformance import load_driver

    with pytest.raises(Exception, match=error):
        load_driver("log", "json-file", tmp_path).validate(options=options)
