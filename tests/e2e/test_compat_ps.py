"""``docker ps`` as Docker 20.10 answers it (issue 15): order, ``--last``/``-l``, the filters, ``--size``.

Each expectation was checked against a private dockerd 20.10 with the same containers.
"""

from __future__ import annotations

import json
import socket

import pytest

from e2e.containerhelpers import inspect, moor, moord, ok, wait_for  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def three(moord: DaemonProcess) -> int:
    """``one`` (running), ``two`` (running, publishes 80 on a host port, exposes 90), ``three`` (created)."""
    port = _free_port()
    ok(moor(moord, "run", "-d", "--name", "one", "busybox", "sleep", "300"))
    ok(moor(moord, "run", "-d", "--name", "two", "-p", f"127.0.0.1:{port}:80", "--expose", "90", "busybox",
            "sleep", "300"))
    ok(moor(moord, "create", "--name", "three", "busybox", "true"))
    return port


def _names(daemon: DaemonProcess, *args: str) -> list[str]:
    return ok(moor(daemon, "ps", "--format", "{{.Names}}", *args)).split()


def test_newest_first_and_last(moord: DaemonProcess, three: int) -> None:
    assert _names(moord, "-a") == ["three", "two", "one"]
    assert _names(moord) == ["two", "one"]
    assert _names(moord, "-n", "1") == ["three"]  # --last includes every state
    assert _names(moord, "--last", "2") == ["three", "two"]
    assert _names(moord, "-l") == ["three"]


@pytest.mark.parametrize(("filters", "expected"), [
    (("publish={port}",), ["two"]),
    (("publish={port}/tcp",), ["two"]),
    (("publish=80",), []),
    (("expose=80",), ["two"]),
    (("expose=85-95",), ["two"]),
    (("network=bridge", "-a"), ["three", "two", "one"]),
    (("network=none", "-a"), []),
    (("health=none",), ["two", "one"]),
    (("health=healthy",), []),
    (("is-task=true", "-a"), []),
    (("is-task=false", "-a"), ["three", "two", "one"]),
    (("since=one", "-a"), ["three", "two"]),
    (("before=three",), ["two", "one"]),
    (("ancestor=busybox", "-a"), ["three", "two", "one"]),
])
def test_filters(moord: DaemonProcess, three: int, filters: tuple[str, ...],
                 expected: list[str]) -> None:
    args = [arg if arg.startswith("-") else "--filter=" + arg.format(port=three) for arg in filters]
    assert _names(moord, *args) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("status=rubbish", "Invalid filter 'status=rubbish'"),
    ("health=bogus", "Unrecognised filter value for health: bogus"),
    ("is-task=maybe", "Invalid filter 'is-task=[maybe]'"),
    ("publish=abc", 'error while looking up for publish abc: strconv.ParseUint: parsing "abc": invalid syntax'),
])
def test_bad_filters_in_dockers_words(moord: DaemonProcess, value: str, message: str) -> None:
    result = moor(moord, "ps", "--filter", value)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_size(moord: DaemonProcess, three: int) -> None:
    ok(moor(moord, "run", "--name", "writer", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /big"))
    try:
        rows = {row["Names"]: row for row in map(json.loads, ok(moor(
            moord, "ps", "-a", "--size", "--format", "{{json .}}")).splitlines())}
        assert rows["writer"]["Size"].startswith("100kB (virtual ")
        info = json.loads(ok(moor(moord, "inspect", "--size", "writer")))[0]
        assert info["SizeRw"] == 100000 and info["SizeRootFs"] > 100000
        quiet = json.loads(ok(moor(moord, "inspect", "--size", "three")))[0]
        assert quiet["SizeRw"] == 0 and quiet["SizeRootFs"] > 0
    finally:
        moor(moord, "rm", "-f", "writer")


def test_ancestor_includes_images_made_on_it(moord: DaemonProcess, three: int) -> None:
    ok(moor(moord, "run", "--name", "parent-run", "busybox", "touch", "/x"))
    ok(moor(moord, "commit", "parent-run", "descendant:1"))
    ok(moor(moord, "create", "--name", "on-descendant", "descendant:1", "true"))
    try:
        found = _names(moord, "-a", "--filter", "ancestor=busybox")
        assert "on-descendant" in found and "parent-run" in found
        assert _names(moord, "-a", "--filter", "ancestor=descendant:1") == ["on-descendant"]
    finally:
        moor(moord, "rm", "-f", "parent-run", "on-descendant")
        moor(moord, "rmi", "descendant:1")


def test_health_filter_follows_the_checks(moord: DaemonProcess, three: int) -> None:
    ok(moor(moord, "run", "-d", "--name", "fine", "--health-cmd", "true", "--health-interval", "1s", "busybox",
            "sleep", "60"))
    ok(moor(moord, "run", "-d", "--name", "ailing", "--health-cmd", "false", "--health-interval", "1s",
            "--health-retries", "1", "busybox", "sleep", "60"))
    ok(moor(moord, "create", "--name", "unchecked", "--health-cmd", "true", "busybox", "sleep", "60"))
    try:
        assert wait_for(lambda: _names(moord, "-a", "--filter", "health=healthy") == ["fine"]
                        and _names(moord, "-a", "--filter", "health=unhealthy") == ["ailing"], timeout=30)
        assert "unchecked" in _names(moord, "-a", "--filter", "health=none")  # not started: no status yet
        assert _names(moord, "-a", "--filter", "health=starting") == []
    finally:
        moor(moord, "rm", "-f", "fine", "ailing", "unchecked")
