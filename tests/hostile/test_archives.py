"""Malicious archives for load, import and the archive API: refused with a 400 or kept inside the
container's or image's own files; nothing written, replaced or removed outside; a refused load or import
leaves the image store exactly as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from hostile.archivecases import CASES, ArchiveCase
from hostile.invariants import Guard, check_answer
from hostile.wire import Answer, call, call_json
from moor.testing.daemon import DaemonProcess

TARGET_CONTENT = b"the host's own file\n"


@pytest.fixture(scope="module")
def sentinel() -> Iterator[str]:
    """A host directory outside the data root, with a file to overwrite and one to delete."""
    path = tempfile.mkdtemp(prefix="hostile-sentinel-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _reset(sentinel: str) -> None:
    for name in os.listdir(sentinel):
        full = os.path.join(sentinel, name)
        shutil.rmtree(full) if os.path.isdir(full) and not os.path.islink(full) else os.unlink(full)
    for name in ("target", "victim"):
        with open(os.path.join(sentinel, name), "wb") as handle:
            handle.write(TARGET_CONTENT)


def _sentinel_state(sentinel: str) -> dict[str, tuple[int, int, str]]:
    state = {}
    for name in sorted(os.listdir(sentinel)):
        info = os.lstat(os.path.join(sentinel, name))
        with open(os.path.join(sentinel, name), "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        state[name] = (info.st_nlink, info.st_mode, digest)
    return state


def _store_state(daemon: DaemonProcess) -> tuple[list[str], list[str]]:
    """The image IDs moord lists and every file name under its image store."""
    listing = call(daemon.socket, "GET", "/images/json?all=1")
    assert listing.status == 200, listing
    names = []
    root = os.path.join(daemon.data_root, "image")
    for directory, _dirs, files in os.walk(root):
        names += [os.path.relpath(os.path.join(directory, name), root) for name in files]
    return sorted(image["Id"] for image in listing.json()), sorted(names)


def _send(daemon: DaemonProcess, case: ArchiveCase, data: bytes, container: str) -> Answer:
    headers = {"Content-Type": "application/x-tar"}
    if case.target == "load":
        return call(daemon.socket, "POST", "/images/load?quiet=1", data, headers, timeout=120)
    if case.target == "import":
        return call(daemon.socket, "POST", "/images/create?fromSrc=-&repo=hostile/import&tag=x", data, headers,
                    timeout=120)
    return call(daemon.socket, "PUT", f"/containers/{container}/archive?path=/", data, headers, timeout=120)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_archive_case(hostile_daemon: DaemonProcess, guard: Guard, sentinel: str, case: ArchiveCase) -> None:
    _reset(sentinel)
    before_sentinel = _sentinel_state(sentinel)
    data = case.build(sentinel)
    container = ""
    if case.target == "put":
        made = call_json(hostile_daemon.socket, "POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"]})
        assert made.status == 201, made
        container = made.json()["Id"]
    before_store = _store_state(hostile_daemon)
    try:
        answer = _send(hostile_daemon, case, data, container)
        check_answer(answer)
        assert _sentinel_state(sentinel) == before_sentinel, "the archive reached a host path outside the data root"
        assert answer.status in case.expect, f"{answer.status}: {answer.body[:400]!r}"
        if answer.status >= 400:
            assert answer.message and "\n" not in answer.message.strip(), answer.body[:400]
            assert case.says in answer.message.lower(), answer.message
            assert _store_state(hostile_daemon) == before_store, "a refused archive left something in the store"
        if container:  # the container's files still read
            listed = call(hostile_daemon.socket, "HEAD", f"/containers/{container}/archive?path=/etc/passwd")
            assert listed.status == 200, listed
    finally:
        if container:
            call(hostile_daemon.socket, "DELETE", f"/containers/{container}?force=1", timeout=60)
        for image in set(_store_state(hostile_daemon)[0]) - set(before_store[0]):
            call(hostile_daemon.socket, "DELETE", f"/images/{image}?force=1", timeout=60)
