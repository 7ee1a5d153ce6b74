"""Frontends moord starts and supervises: processes of their own that talk to moord's API (the web UI).

A frontend is the entry point ``<name>`` of the group ``moor.frontends``: a callable taking its options (from
``moor.toml``) and moord's socket (``unix:///path``) and returning the argv of its process. moord starts it once
its socket answers, restarts it with a growing delay (1 s doubling up to 30 s, back to 1 s after a minute of life)
when it exits, and stops it (SIGTERM, then SIGKILL) when moord stops. An exit with code 2 is a setting the
frontend refuses: it is logged and not retried. The process's standard input is a pipe that only moord holds: a
frontend ends when it reads end-of-file there, so it never outlives a moord that was killed.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import IO, Any

from moor.errors import ConfigError

log = logging.getLogger("moord.frontends")

GROUP = "moor.frontends"
EXIT_REFUSED = 2
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
HEALTHY_AFTER = 60.0
STOP_TIMEOUT = 5.0

FrontendCommand = Callable[[Mapping[str, Any], str], list[str]]


def frontend_command(name: str) -> FrontendCommand:
    """The entry point ``name`` of ``moor.frontends`` (ConfigError naming the plugin when it is not installed)."""
    found = entry_points(group=GROUP, name=name)
    if not found:
        raise ConfigError(f"{name} is enabled in moor.toml but no frontend {name!r} is installed "
                          f"(entry point group {GROUP}; the web UI is the moor-web-ui package)")
    try:
        command: FrontendCommand = next(iter(found)).load()
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"frontend {name!r} cannot be loaded: {err}") from None
    return command


class Supervisor:
    """One frontend process, restarted until :meth:`stop`."""

    def __init__(self, name: str, argv: list[str], *, first_delay: float = FIRST_DELAY,
                 max_delay: float = MAX_DELAY) -> None:
        self.name = name
        self.argv = argv
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.starts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name=f"frontend-{name}", daemon=True)

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            try:
                process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
            except OSError as err:
                log.error("frontend %s cannot start: %s", self.name, err)
                return None
            self._process = process
            self.starts += 1
        log.info("frontend %s started (pid %d)", self.name, process.pid)
        return process

    def _run(self) -> None:
        delay = self.first_delay
        while not self._stopping.is_set():
            started = time.monotonic()
            process = self._spawn()
            last_line = ""
            if process is not None:
                last_line = self._relay(process.stderr)
                code = process.wait()
                if self._stopping.is_set():
                    break
                if code == EXIT_REFUSED:
                    log.error("frontend %s refused to start: %s", self.name, last_line or "exit code 2")
                    return
                log.warning("frontend %s exited with code %s; restarting in %.0f s", self.name, code, delay)
            if time.monotonic() - started > HEALTHY_AFTER:
                delay = self.first_delay
            if self._stopping.wait(delay):
                break
            delay = min(delay * 2, self.max_delay)

    def _relay(self, stream: IO[bytes] | None) -> str:
        """Log the frontend's stderr line by line until it closes; its last line."""
        last = ""
        if stream is None:
            return last
        with stream:
            for raw in stream:
                line = raw.decode(errors="replace").rstrip()
                if line:
                    last = line
                    log.info("%s: %s", self.name, line)
        return last.removeprefix("moor-web-ui: ")

    def stop(self) -> None:
        """End the process (SIGTERM, SIGKILL after a few seconds) and stop restarting it (started or not)."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        if process is not None and process.stdin is not None:
            process.stdin.close()
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT)


def make_frontends(web_ui_enabled: bool, web_ui_options: Mapping[str, Any], host: str) -> list[Supervisor]:
    """The supervisors (not started) of the frontends enabled in the configuration (today: the web UI)."""
    supervisors: list[Supervisor] = []
    if web_ui_enabled:
        supervisors.append(Supervisor("web_ui", frontend_command("web_ui")(web_ui_options, host)))
    return supervisors
