"""The ``labels``/``env`` log options and ``logs --details``, as Docker's json-file records and prints them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moor.errors import InvalidParameter
from moor.logdrivers import backlog
from moor.logdrivers.attrs import check_options, details_prefix, extra_attributes
from moor.logdrivers.jsonfile import JsonFileWriter, parse_time
from moor.types import LogMessage

LABELS = {"foo": "a b,c=d", "zz": "1", "other": "x"}
ENV = ["E1=x&y", "E2=2", "PATH=/bin", "NOVALUE"]


def test_extra_attributes_pick_what_the_options_name() -> None:
    assert extra_attributes({}, LABELS, ENV) == {}
    picked = extra_attributes({"labels": "foo,missing", "env": "E2,NOVALUE"}, LABELS, ENV)
    assert picked == {"foo": "a b,c=d", "E2": "2"}
    assert extra_attributes({"labels-regex": "^z", "env-regex": "^E"}, LABELS, ENV) == {
        "zz": "1", "E1": "x&y", "E2": "2"}


def test_details_prefix_as_docker_prints_it() -> None:
    attrs = tuple(sorted(extra_attributes({"labels": "foo", "labels-regex": "^z", "env-regex": "^E1"},
                                          LABELS, ENV).items()))
    assert details_prefix(attrs) == b"E1=x%26y,foo=a+b%2Cc%3Dd,zz=1 "  # checked against dockerd 20.10
    assert details_prefix(()) == b" "


def test_a_bad_regex_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="error parsing regexp"):
        check_options({"labels-regex": "("})
    check_options({"env-regex": "^E", "labels": "("})


def test_json_file_records_attrs_and_reads_them_back(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    writer = JsonFileWriter(str(path), -1, 1, attrs={"zz": "1", "E1": "v"})
    writer.write(LogMessage(stream="stdout", line=b"hi\n", timestamp=1.5))
    writer.close()
    raw = path.read_bytes()
    assert list(json.loads(raw)) == ["log", "stream", "attrs", "time"]
    message = backlog.decode(raw, parse_time)
    assert message.attrs == (("E1", "v"), ("zz", "1")) and message.line == b"hi\n"
    plain = JsonFileWriter(str(tmp_path / "d-json.log"), -1, 1)
    plain.write(LogMessage(stream="stdout", line=b"hi\n", timestamp=1.5))
    plain.close()
    assert "attrs" not in json.loads((tmp_path / "d-json.log").read_bytes())
