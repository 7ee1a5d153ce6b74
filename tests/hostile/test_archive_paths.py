"""Archive-API tricks in two steps: a symlink the container holds, then a copy in or out through it, and
``path`` parameters that climb. Every path resolves inside the container's root (as Docker's scoped
resolution does): the host's files are neither read nor written."""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from collections.abc import Iterator

import pytest

from hostile.archivecases import file, info, tar
from hostile.invariants import Guard, check_answer
from hostile.wire import call, call_json
from moor.testing.daemon import DaemonProcess

SECRET = b"host secret\n"


@pytest.fixture
def world(hostile_daemon: DaemonProcess) -> Iterator[tuple[str, str]]:
    """(container ID, host directory holding ``secret``); the container holds absolute links to the host dir
    (a relative link that climbs out is refused at PUT, as Docker does: test_archives covers that)."""
    sentinel = tempfile.mkdtemp(prefix="hostile-paths-")
    with open(os.path.join(sentinel, "secret"), "wb") as handle:
        handle.write(SECRET)
    made = call_json(hostile_daemon.socket, "POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"]})
    assert made.status == 201, made
    ident = made.json()["Id"]
    links = tar([info("link", tarfile.SYMTYPE, linkname=sentinel),
                 info("secretlink", tarfile.SYMTYPE, linkname=f"{sentinel}/secret")])
    put = call(hostile_daemon.socket, "PUT", f"/containers/{ident}/archive?path=/", links)
    assert put.status == 200, put
    try:
        yield ident, sentinel
        assert sorted(os.listdir(sentinel)) == ["secret"], "something was written into the host directory"
        with open(os.path.join(sentinel, "secret"), "rb") as handle:
            assert handle.read() == SECRET
    finally:
        call(hostile_daemon.socket, "DELETE", f"/containers/{ident}?force=1", timeout=60)
        for name in os.listdir(sentinel):
            os.unlink(os.path.join(sentinel, name))
        os.rmdir(sentinel)


def _members(data: bytes) -> dict[str, bytes | None]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {m.name: (archive.extractfile(m).read() if m.isreg() else None)  # type: ignore[union-attr]
                for m in archive.getmembers()}


@pytest.mark.parametrize("where", ["/link", "/link/", "/link/sub/..", "/../../link"])
def test_put_through_a_container_symlink(hostile_daemon: DaemonProcess, guard: Guard, world: tuple[str, str],
                                         where: str) -> None:
    ident, _ = world
    answer = call(hostile_daemon.socket, "PUT", f"/containers/{ident}/archive?path={where}",
                  tar([file("pwned"), file("secret", b"overwritten")]))
    check_answer(answer)
    assert answer.status in (200, 404), answer  # into the container's own /<sentinel>, or not found there


@pytest.mark.parametrize("where", ["/link/secret", "/secretlink/", "/link/../link/secret",
                                   "/../../../../../../link/secret"])
def test_get_through_a_container_symlink(hostile_daemon: DaemonProcess, guard: Guard, world: tuple[str, str],
                                         where: str) -> None:
    ident, _ = world
    answer = call(hostile_daemon.socket, "GET", f"/containers/{ident}/archive?path={where}")
    check_answer(answer)
    assert answer.status in (200, 404), answer
    if answer.status == 200:
        assert SECRET not in answer.body, "the host's file came out of the container"


@pytest.mark.parametrize("where", ["/secretlink", "/link"])
def test_get_of_a_symlink_is_the_link(hostile_daemon: DaemonProcess, guard: Guard, world: tuple[str, str],
                                      where: str) -> None:
    ident, _ = world
    answer = call(hostile_daemon.socket, "GET", f"/containers/{ident}/archive?path={where}")
    check_answer(answer)
    assert answer.status == 200, answer
    assert SECRET not in answer.body
    assert list(_members(answer.body).values()) == [None], "a link is copied as a link, not followed"


def test_export_keeps_links_as_links(hostile_daemon: DaemonProcess, guard: Guard, world: tuple[str, str]) -> None:
    ident, _ = world
    answer = call(hostile_daemon.socket, "GET", f"/containers/{ident}/export", timeout=120)
    check_answer(answer)
    assert answer.status == 200
    assert SECRET not in answer.body
