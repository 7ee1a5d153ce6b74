"""moord with ``[web_ui] enabled = true``: it starts the UI, the UI's changes carry ``moor.actor`` in moord's
events, and the UI ends with moord (stopped, or killed with SIGKILL)."""

from __future__ import annotations

import http.cookiejar
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from moor.testing.daemon import DaemonProcess, processes_under

pytestmark = pytest.mark.root

PASSWORD = "frontend-pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


class Browser:
    """Just enough of a browser: cookies, JSON, the CSRF header."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.csrf:
            request.add_header("X-CSRF-Token", self.csrf)
        try:
            with self.opener.open(request, timeout=30) as reply:
                raw = reply.read()
                return reply.status, json.loads(raw) if raw.strip() else None
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def answers(self) -> bool:
        try:
            return self.call("GET", "/api/session")[0] in (200, 401)
        except OSError:
            return False


def ui_pids(root: str) -> list[int]:
    return [pid for pid in processes_under(root) if b"moor_web_ui" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def daemon_with_ui() -> Iterator[tuple[DaemonProcess, Browser, str]]:
    root = tempfile.mkdtemp(prefix="moor-test-")
    data_dir = os.path.join(root, "ui")
    made = subprocess.run([sys.executable, "-m", "moor_web_ui", "passwd", "admin", "--data-dir", data_dir],
                          input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    port = free_port()
    daemon = DaemonProcess(root, config_text=f'[web_ui]\nenabled = true\nlisten = "127.0.0.1:{port}"\n'
                                             f'data_dir = "{data_dir}"\n')
    daemon.start()
    try:
        browser = Browser(f"http://127.0.0.1:{port}")
        wait_for(browser.answers)
        yield daemon, browser, root
    finally:
        daemon.cleanup()


def test_moord_starts_the_ui_and_events_name_the_acting_user(daemon_with_ui: tuple[DaemonProcess, Browser, str]
                                                             ) -> None:
    daemon, browser, _root = daemon_with_ui
    status, reply = browser.call("POST", "/api/login", {"username": "admin", "password": PASSWORD})
    assert status == 200, reply
    browser.csrf = reply["csrf"]
    since = time.time() - 1
    name = "webui-actor-" + os.urandom(4).hex()
    status, _ = browser.call("POST", "/api/docker/volumes/create", {"Name": name})
    assert status == 201
    status, _ = browser.call("DELETE", f"/api/docker/volumes/{name}")
    assert status == 204
    client = daemon.client()
    client.call("POST", "/volumes/create", body={"Name": name + "-cli"})  # not through the UI: no actor
    client.call("DELETE", f"/volumes/{name}-cli")
    until = time.time() + 1

    def events(filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        answer = client.open("GET", "/events", {"since": f"{since:.3f}", "until": f"{until:.3f}",
                                                "filters": json.dumps(filters)})
        try:
            raw = answer.read()
        finally:
            answer.close()
        return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]

    actors = {(e["Action"], e["Actor"]["ID"]): e["Actor"]["Attributes"].get("moor.actor")
              for e in events({"type": ["volume"]})}
    assert actors[("create", name)] == "admin"
    assert actors[("destroy", name)] == "admin"
    assert actors[("create", name + "-cli")] is None
    by_admin = {(e["Action"], e["Actor"]["ID"]) for e in events({"label": ["moor.actor=admin"]})}
    assert by_admin == {("create", name), ("destroy", name)}  # what `moor events --filter label=...` shows


def test_the_ui_ends_with_moord(daemon_with_ui: tuple[DaemonProcess, Browser, str]) -> None:
    daemon, browser, root = daemon_with_ui
    [pid] = ui_pids(root)
    daemon.stop()
    wait_for(lambda: not alive(pid), timeout=20)
    assert not browser.answers()


def test_the_ui_ends_when_moord_is_killed(daemon_with_ui: tuple[DaemonProcess, Browser, str]) -> None:
    daemon, browser, root = daemon_with_ui
    [pid] = ui_pids(root)
    daemon.kill()  # SIGKILL: no supervisor stops it; the end of its stdin does
    wait_for(lambda: not alive(pid), timeout=20)
    assert not browser.answers()


def test_a_killed_ui_is_restarted(daemon_with_ui: tuple[DaemonProcess, Browser, str]) -> None:
    _daemon, browser, root = daemon_with_ui
    [pid] = ui_pids(root)
    os.kill(pid, 9)
    wait_for(lambda: not alive(pid), timeout=20)
    wait_for(lambda: any(p != pid for p in ui_pids(root)) and browser.answers(), timeout=30)
