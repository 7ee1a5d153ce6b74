"""Hostile build contexts through a real moord (``POST /build``): entries climbing out, links leading out,
writes through links, hard links to host files and oversized headers are refused with one line; nothing
lands outside the context, and no context directory is left behind."""

from __future__ import annotations

import io
import json
import os
import secrets
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.containerhelpers import moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess, UnixHTTPConnection
from moor.testing.hostiletar import MiB, header_block

pytestmark = pytest.mark.root

DOCKERFILE = b"FROM busybox\nCOPY . /ctx/\n"


def entry(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info


def tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(entry("Dockerfile", DOCKERFILE), io.BytesIO(DOCKERFILE))
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def post(daemon: DaemonProcess, body: bytes) -> tuple[int, list[dict[str, Any]]]:
    connection = UnixHTTPConnection(daemon.socket, timeout=300)
    try:
        connection.request("POST", "/v1.41/build?rm=1&forcerm=1", body=body,
                           headers={"Content-Type": "application/x-tar"})
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    if response.status != 200:
        return response.status, [json.loads(text)]
    return response.status, [json.loads(line) for line in text.splitlines() if line.strip()]


def failure(status: int, messages: list[dict[str, Any]]) -> str:
    """The one-line refusal: a 4xx answer, or an errorDetail message in a 200 stream."""
    if status != 200:
        assert 400 <= status < 500, (status, messages)
        return str(messages[0]["message"])
    errors = [m["error"] for m in messages if "error" in m]
    assert errors, messages
    return str(errors[0])


@pytest.fixture
def canary() -> Iterator[Path]:
    """A host path the hostile entries aim at; it must not appear."""
    path = Path("/tmp") / f"moor-hostile-{secrets.token_hex(6)}"
    yield path
    assert not path.exists()


def leftovers(daemon: DaemonProcess) -> list[str]:
    work = Path(daemon.data_root) / "build" / "tmp"
    return sorted(os.listdir(work)) if work.exists() else []


CASES = {
    "dotdot": lambda c: [(entry("../../../../../../../.." + str(c), b"x"), b"x")],
    "symlink-out-then-write": lambda c: [(entry("l", kind=tarfile.SYMTYPE, link="../../../../../../../../tmp"), b""),
                                         (entry(f"l/{c.name}", b"x"), b"x")],
    "absolute-symlink-then-write": lambda c: [(entry("l", kind=tarfile.SYMTYPE, link="/tmp"), b""),
                                              (entry(f"l/{c.name}", b"x"), b"x")],
    "hardlink-to-host": lambda c: [(entry("h", kind=tarfile.LNKTYPE, link="/etc/shadow"), b"")],
    "hardlink-dotdot": lambda c: [(entry("h", kind=tarfile.LNKTYPE, link="../../../../../../../etc/shadow"), b"")],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_contexts_are_refused(moord: DaemonProcess, canary: Path, case: str) -> None:
    status, messages = post(moord, tar(*CASES[case](canary)))
    message = failure(status, messages)
    assert "\n" not in message.strip() and "Traceback" not in message
    assert leftovers(moord) == []


def test_an_oversized_header_is_refused(moord: DaemonProcess) -> None:
    body = header_block(tarfile.XHDTYPE, 64 * MiB) + bytes(2 * MiB)
    assert "archive header too large" in failure(*post(moord, body))
    assert leftovers(moord) == []


def test_absolute_names_and_links_stay_inside(moord: DaemonProcess) -> None:
    """Absolute entry names land inside the context; a link to /etc/passwd is copied as a link, not followed."""
    body = tar((entry("/abs/file", b"inside"), b"inside"), (entry("pw", kind=tarfile.SYMTYPE, link="/etc/passwd"), b""))
    status, messages = post(moord, body)
    assert status == 200 and not [m for m in messages if "error" in m], messages
    assert leftovers(moord) == []
