"""Helpers of the web UI's browser tests (the fixtures are in conftest.py): the UI process, pages, the API.

Import them in a test module with ``from webui_harness import ...`` (this folder is on ``sys.path`` while
its tests run).
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page

from moor.testing.daemon import DaemonProcess, terminate
from moor.testing.registry import TestRegistry

REPO = pathlib.Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("MOOR_TEST_CHROMIUM", "/usr/bin/chromium")
#: Screenshots are copied here (gitignored) so that a person can look at every view after a run.
OUTPUT_ROOT = pathlib.Path(os.environ.get("MOOR_TEST_OUTPUT", str(REPO / "test-output"))) / "web_ui"
#: Generous waits: what must happen, not how fast (the machine is shared).
TIMEOUT_MS = 20_000
DESKTOP = (1280, 800)
PHONE = (390, 844)
#: Nothing leaves the host: names resolve to nothing but localhost, other addresses go to a closed port.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1;localhost",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
]
#: Schemes a page may load without a network request to another origin.
LOCAL_SCHEMES = {"data", "blob", "about"}

#: ``open_page(width=..., height=..., login=True, route="#/dashboard")`` as the fixture gives it.
OpenPage = Callable[..., Page]


# ---------------------------------------------------------------------------------------------------------------
# moord's images


def busybox_rootfs() -> bytes:
    """scripts/busybox-rootfs's tar of a busybox root filesystem."""
    return subprocess.run([str(REPO / "scripts" / "busybox-rootfs")], capture_output=True, check=True).stdout


def import_busybox(daemon: DaemonProcess, repo: str = "busybox", tag: str = "latest") -> None:
    """Import busybox into ``daemon`` as ``repo:tag`` (``CMD ["sh"]``)."""
    daemon.client().call("POST", "/images/create",
                         {"fromSrc": "-", "repo": repo, "tag": tag, "changes": 'CMD ["sh"]'},
                         body=busybox_rootfs())


def seed_image(registry: TestRegistry, daemon: DaemonProcess, repo_tag: str, source: str = "busybox:latest") -> None:
    """Push ``daemon``'s image ``source`` into ``registry`` as ``repo_tag`` (``name:tag``), with skopeo."""
    archive = daemon.client().call("GET", f"/images/{source}/get")
    with tempfile.NamedTemporaryFile(suffix=".tar") as handle:
        handle.write(archive)
        handle.flush()
        registry.seed(handle.name, repo_tag)


def seed_busybox(registry: TestRegistry, daemon: DaemonProcess, repo_tag: str) -> None:
    """Push ``daemon``'s ``busybox:latest`` into ``registry`` as ``repo_tag``."""
    seed_image(registry, daemon, repo_tag)


def layer_tar(files: dict[str, bytes]) -> bytes:
    """A tar of regular files (a layer or a build context)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def seed_fresh_image(registry: TestRegistry, daemon: DaemonProcess, repo_tag: str, size: int = 256 * 1024) -> None:
    """Put a one-layer image of random bytes (a layer ``daemon`` does not have) in ``registry`` as ``repo_tag``:
    pulling it downloads the layer, so the pull shows a layer's progress."""
    local = "web-ui-seed/" + os.urandom(4).hex()
    daemon.client().call("POST", "/images/create", {"fromSrc": "-", "repo": local, "tag": "1"},
                         body=layer_tar({"random.bin": os.urandom(size)}))
    try:
        seed_image(registry, daemon, repo_tag, source=f"{local}:1")
    finally:
        daemon.client().call("DELETE", f"/images/{local}:1")


# ---------------------------------------------------------------------------------------------------------------
# the UI process


def web_ui_command() -> list[str]:
    """How to run ``moor-web-ui``: the console script beside the interpreter, else the module."""
    script = pathlib.Path(sys.executable).with_name("moor-web-ui")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "moor_web_ui"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class WebUI:
    """A running ``moor-web-ui serve``: where it listens and the admin account it has."""

    url: str
    user: str
    password: str
    data_dir: str
    moord_host: str
    log_file: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``: the only origin a page may reach."""
        return self.url.rstrip("/")

    def log(self) -> str:
        try:
            return pathlib.Path(self.log_file).read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is not None:
            terminate(self.process, timeout)


def make_admin(data_dir: str, user: str, password: str) -> None:
    """``moor-web-ui passwd USER --data-dir DIR`` with the password on stdin."""
    result = subprocess.run([*web_ui_command(), "passwd", user, "--data-dir", data_dir],
                            input=password + "\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"moor-web-ui passwd failed: {result.stderr or result.stdout}"


def answers(url: str) -> bool:
    """Whether the UI server answers HTTP at ``url`` (any status: 401 before a login is an answer)."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an HTTP_PROXY
    try:
        with direct.open(url + "/api/session", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def start_web_ui(moord_host: str, data_dir: str, user: str, password: str, log_file: str,
                 extra_args: tuple[str, ...] = (), timeout: float = 30.0) -> WebUI:
    """Start ``moor-web-ui serve`` on a free port (a few ports tried: another process may take one first)."""
    last_log = ""
    for _ in range(5):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with open(log_file, "ab") as log:
            process = subprocess.Popen(
                [*web_ui_command(), "serve", "--host", moord_host, "--listen", f"127.0.0.1:{port}",
                 "--data-dir", data_dir, *extra_args],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        running = WebUI(url, user, password, data_dir, moord_host, log_file, process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if answers(url):
                return running
            time.sleep(0.1)
        running.stop()
        last_log = running.log()
        if "address already in use" not in last_log.lower():
            break
    raise RuntimeError(f"moor-web-ui serve did not start: {last_log[-4000:]}")


# ---------------------------------------------------------------------------------------------------------------
# pages


def same_origin(url: str, origin: str) -> bool:
    """Whether ``url`` (http or ws) is on ``origin``, or a scheme that makes no network request."""
    parts, home = urlsplit(url), urlsplit(origin)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return scheme == home.scheme and parts.netloc == home.netloc


@dataclass
class PageWatch:
    """What the pages of one test did: every URL requested, uncaught errors, console errors."""

    origin: str
    requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def watch_context(self, context: BrowserContext) -> None:
        """Record what every page of ``context`` does, pages it opens itself included."""
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("page", self.watch_page)

    def watch_page(self, page: Page) -> None:
        page.on("websocket", lambda ws: self.requests.append(ws.url))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("console", lambda message: self._console(message.type, message.text))

    def _console(self, kind: str, text: str) -> None:
        if kind == "error":
            self.console_errors.append(text)

    def foreign(self) -> list[str]:
        """The URLs requested that are not on the UI's origin."""
        return [url for url in self.requests if not same_origin(url, self.origin)]


def log_in(context: BrowserContext, web_ui: WebUI) -> None:
    """Log the context in through the UI's API (the session cookie lands in the context)."""
    answer = context.request.post(web_ui.url + "/api/login",
                                  data={"username": web_ui.user, "password": web_ui.password})
    assert answer.status == 200, f"login failed: {answer.status} {answer.text()}"


def safe_name(text: str) -> str:
    """``text`` as a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "shot"


def save_screenshot(page: Page, path: pathlib.Path, copy_dir: pathlib.Path) -> pathlib.Path:
    """The whole page as a PNG at ``path``, copied into ``copy_dir``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top of the picture, not in its middle
    page.screenshot(path=str(path), full_page=True)
    copy_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, copy_dir / path.name)
    return path


# ---------------------------------------------------------------------------------------------------------------
# the UI's API, in a page's session


def csrf_token(page: Page) -> str:
    """The session's CSRF token, as the page gets it."""
    answer = page.request.get("/api/session")
    assert answer.status == 200, answer.text()
    token: str = answer.json()["csrf"]
    return token


def api_call(page: Page, method: str, path: str, body: Any = None) -> Any:
    """A request to the UI's API in the page's session (with the CSRF header); its JSON answer (or None)."""
    headers = {} if method in {"GET", "HEAD"} else {"X-CSRF-Token": csrf_token(page),
                                                     "Content-Type": "application/json"}
    answer = page.request.fetch(path, method=method, headers=headers,
                                data=json.dumps(body) if body is not None else None)
    assert answer.ok, f"{method} {path}: {answer.status} {answer.text()}"
    text = answer.text()
    return json.loads(text) if text else None


def module_eval(page: Page, module: str, body: str) -> Any:
    """Import ``/static/js/<module>`` in the page and run ``body`` (a function body) with it bound to ``m``."""
    return page.evaluate(f"async () => {{ const m = await import('/static/js/{module}'); {body} }}")
