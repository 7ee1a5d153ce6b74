"""Health checks: starting -> healthy -> unhealthy -> healthy again, in ps, inspect and events."""

from __future__ import annotations

import json
import time

import pytest

from e2e.containerhelpers import moor, moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root


def health(daemon: DaemonProcess, name: str) -> dict:
    return json.loads(moor(daemon, "inspect", name).stdout)[0]["State"].get("Health") or {}


def wait_status(daemon: DaemonProcess, name: str, status: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = health(daemon, name)
        if current.get("Status") == status:
            return current
        time.sleep(0.2)
    raise AssertionError(f"{name} never became {status}: {health(daemon, name)}")


def test_health_goes_unhealthy_and_healthy_again(moord: DaemonProcess) -> None:
    since = str(time.time() - 1)
    # /tmp/ok is missing at first: every probe fails, and inside the start period failures do not count,
    # so the container stays "starting" (no race with the first probe) until the file appears.
    result = moor(moord, "run", "-d", "--name", "doc", "--health-cmd", "cat /tmp/ok",
                  "--health-interval", "300ms", "--health-retries", "2", "--health-timeout", "2s",
                  "--health-start-period", "5s", "busybox", "sleep", "300")
    assert result.returncode == 0, result.stderr
    assert "(health: starting)" in moor(moord, "ps", "--filter", "name=doc").stdout
    starting = health(moord, "doc")
    assert starting["Status"] == "starting" and starting["FailingStreak"] == 0
    moor(moord, "exec", "doc", "touch", "/tmp/ok")
    wait_status(moord, "doc", "healthy")
    assert "(healthy)" in moor(moord, "ps", "--filter", "name=doc").stdout
    moor(moord, "exec", "doc", "rm", "/tmp/ok")
    unhealthy = wait_status(moord, "doc", "unhealthy")
    assert unhealthy["FailingStreak"] >= 2
    assert unhealthy["Log"][-1]["ExitCode"] == 1 and "No such file" in unhealthy["Log"][-1]["Output"]
    assert len(unhealthy["Log"]) <= 5
    moor(moord, "exec", "doc", "touch", "/tmp/ok")
    healthy = wait_status(moord, "doc", "healthy")
    assert healthy["FailingStreak"] == 0
    events = moor(moord, "events", "--since", since, "--until", str(time.time()), "--filter", "container=doc",
                  "--format", "{{.Action}}").stdout.split("\n")
    assert "health_status: healthy" in events and "health_status: unhealthy" in events
    moor(moord, "rm", "-f", "doc")


def test_timeout_and_no_healthcheck(moord: DaemonProcess) -> None:
    moor(moord, "run", "-d", "--name", "slowdoc", "--health-cmd", "sleep 5", "--health-interval", "200ms",
         "--health-timeout", "300ms", "--health-retries", "1", "busybox", "sleep", "300")
    result = wait_status(moord, "slowdoc", "unhealthy")
    assert result["Log"][-1]["ExitCode"] == -1 and "exceeded timeout" in result["Log"][-1]["Output"]
    moor(moord, "rm", "-f", "slowdoc")
    moor(moord, "run", "-d", "--name", "nodoc", "--no-healthcheck", "busybox", "sleep", "300")
    config = json.loads(moor(moord, "inspect", "nodoc").stdout)[0]
    assert config["Config"]["Healthcheck"] == {"Test": ["NONE"]} and "Health" not in config["State"]
    moor(moord, "rm", "-f", "nodoc")
