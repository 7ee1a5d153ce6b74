"""Health checks: run the container's HEALTHCHECK on its interval and keep ``State.Health``.

Docker's rules: ``starting`` until the first verdict; exit 0 is healthy and
resets the failing streak; any other exit (or a timeout, reported as -1)
extends the streak, which turns the container ``unhealthy`` once it reaches
the retries — failures inside the start period do not count. The last five
results are kept, each output cut at 4 KiB; every change of status is a
``health_status: <status>`` event.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from moor.errors import NotFound
from moor.timefmt import format_timestamp

if TYPE_CHECKING:
    from moor.containers.record import Container, ContainerStore
    from moor.services.container_io import ContainerIO
    from moor.services.events import EventBus

log = logging.getLogger(__name__)

SECOND = 1_000_000_000
DEFAULTS = {"Interval": 30 * SECOND, "Timeout": 30 * SECOND, "StartPeriod": 0, "Retries": 3, "StartInterval": 0}
KEEP_RESULTS = 5


def probe_command(test: list[str]) -> list[str] | None:
    """The command of a Healthcheck.Test, or None when checks are off."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    if test[0] == "CMD":
        return list(test[1:]) or None
    return list(test)


def settings(check: dict[str, Any]) -> dict[str, float]:
    return {key: (check.get(key) or default) / SECOND if key != "Retries" else float(check.get(key) or default)
            for key, default in DEFAULTS.items()}


class HealthChecker:
    """One thread per running container that has a health check.

    The engine adds :meth:`watch` to the listeners the container service tells of each start
    (:class:`~moor.services.start_hooks.StartListeners`); the checks run through ``io`` (an exec
    each), the verdicts are kept in the container records of ``store`` and published on ``events``.
    """

    def __init__(self, store: ContainerStore, io: ContainerIO, events: EventBus) -> None:
        self.store = store
        self.io = io
        self.events = events

    def watch(self, container: Container) -> None:
        check = container.config.get("Healthcheck") or {}
        command = probe_command(list(check.get("Test") or []))
        if command is None:
            return
        if container.state.Health is None or container.state.Health.get("Status") != "starting":
            container.state.Health = {"Status": "starting", "FailingStreak": 0, "Log": []}
            self.store.save(container)
        thread = threading.Thread(target=self._loop, args=(container.id, container.state.StartedAt, command,
                                                           settings(check)), daemon=True,
                                  name=f"health-{container.short_id}")
        thread.start()

    def _loop(self, container_id: str, started_at: str, command: list[str], config: dict[str, float]) -> None:
        began = time.monotonic()
        while True:
            time.sleep(self._interval(container_id, config, time.monotonic() - began))
            container = self.store.find(container_id)
            if container is None or not container.state.Running or container.state.StartedAt != started_at:
                return
            if container.state.Paused:
                continue
            start = time.time()
            exit_code, output = self.io.exec_capture(container, command, config["Timeout"])
            current = self.store.find(container_id)
            if current is None or not current.state.Running or current.state.StartedAt != started_at:
                return
            in_start_period = time.monotonic() - began < config["StartPeriod"]
            try:
                self._record(current, exit_code, output, start, time.time(), int(config["Retries"]),
                             in_start_period)
            except NotFound:  # removed meanwhile
                return

    def _interval(self, container_id: str, config: dict[str, float], running_for: float) -> float:
        """The wait before the next probe: ``StartInterval`` (API 1.44) while the start period lasts and the
        container is still starting, else ``Interval`` (also when no StartInterval was given, as Docker 20.10)."""
        if not config["StartInterval"] or running_for >= config["StartPeriod"]:
            return config["Interval"]
        container = self.store.find(container_id)
        status = ((container.state.Health or {}).get("Status") if container is not None else None)
        return config["StartInterval"] if status == "starting" else config["Interval"]

    def _record(self, container: Container, exit_code: int, output: str, start: float, end: float, retries: int,
                in_start_period: bool) -> None:
        health = dict(container.state.Health or {"Status": "starting", "FailingStreak": 0, "Log": []})
        entry = {"Start": format_timestamp(start), "End": format_timestamp(end), "ExitCode": exit_code,
                 "Output": output}
        health["Log"] = (list(health.get("Log") or []) + [entry])[-KEEP_RESULTS:]
        previous = health.get("Status")
        if exit_code == 0:
            health["Status"], health["FailingStreak"] = "healthy", 0
        elif not in_start_period:
            health["FailingStreak"] = int(health.get("FailingStreak") or 0) + 1
            if health["FailingStreak"] >= retries:
                health["Status"] = "unhealthy"
        container.state.Health = health
        self.store.save(container)
        if health["Status"] != previous:
            self.events.publish_container(container, f"health_status: {health['Status']}")
