"""Attached ``moor compose up`` on a real moord, as docker compose v2: ``Attaching to ...``, every container's
output behind its prefix (what it printed before we attached too), ``NAME exited with code N`` (``(restarting)``
under a restart policy), --abort-on-container-exit, --exit-code-from, --no-log-prefix, --timestamps, and Ctrl-C:
a graceful stop, then a kill on the second one, exit code 130."""

from __future__ import annotations

import json
import re

import pytest

from e2e.composehelpers import ProjectDir, compose, compose_moord, project, services_yaml, shell, state, write_project  # noqa: F401 - fixtures
from e2e.composeproc import Running
from e2e.containerhelpers import moor
from moor.client import Client

pytestmark = pytest.mark.root

#: runs until SIGTERM, then says so and exits 0
STOPPABLE = ["sh", "-c", "trap 'echo stopping; exit 0' TERM; echo ready; while true; do sleep 0.1; done"]


def test_up_prints_every_container_until_all_exit(project: ProjectDir) -> None:
    daemon, directory, _ = project
    write_project(directory, services_yaml({"web": shell("echo web first; sleep 0.5; echo web second"),
                                            "database": shell("echo db says hi; echo db complains >&2; exit 2")}))
    result = compose(daemon, directory, "up")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "Attaching to database-1, web-1"
    assert "database-1  | db says hi" in out  # printed before up attached: not lost
    assert "web-1       | web first" in out and "web-1       | web second" in out
    assert out.index("web-1       | web second") < out.index("web-1 exited with code 0")
    assert out.index("database-1  | db says hi") < out.index("database-1 exited with code 2")
    assert "database-1  | db complains" in result.stderr.splitlines()  # the container's stderr on ours
    assert "\x1b[" not in result.stdout  # no colours off a terminal
    again = compose(daemon, directory, "up", "--no-log-prefix", "database")
    assert again.returncode == 0, again.stderr
    # restarted, not recreated: only this run's output, no replay of the last one
    assert again.stdout.splitlines() == ["Attaching to database-1", "db says hi", "database-1 exited with code 2"]


def test_up_timestamps_and_colours(project: ProjectDir) -> None:
    daemon, directory, _ = project
    write_project(directory, services_yaml({"one": {"command": ["echo", "hello"]}}))
    result = compose(daemon, directory, "up", "--timestamps")
    assert result.returncode == 0, result.stderr
    line = next(item for item in result.stdout.splitlines() if item.startswith("one-1  |"))
    assert re.fullmatch(r"one-1  \| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) hello", line), line
    coloured = compose(daemon, directory, "--ansi", "always", "up")
    assert coloured.returncode == 0, coloured.stderr
    assert "\x1b[36mone-1  | \x1b[0mhello" in coloured.stdout.splitlines()


def test_abort_on_container_exit_stops_the_rest(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, services_yaml({"quick": shell("echo quick done; exit 3"),
                                            "server": {"command": STOPPABLE}}))
    result = compose(daemon, directory, "up", "--abort-on-container-exit")
    assert result.returncode == 3, result.stdout + result.stderr
    out = result.stdout.splitlines()
    assert "quick-1 exited with code 3" in out
    assert "Aborting on container exit..." in result.stderr.splitlines()  # compose's messages: stderr
    assert "server-1 exited with code 0" in out
    assert state(daemon, f"{name}-server-1") == "exited"


def test_abort_stops_services_not_attached_too(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, services_yaml({"quick": shell("echo quick done; exit 0"),
                                            "hidden": {"command": STOPPABLE, "attach": False}}))
    result = compose(daemon, directory, "up", "--abort-on-container-exit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == "Attaching to quick-1"
    assert "hidden" not in result.stdout  # not attached: no output, no exit line
    assert state(daemon, f"{name}-hidden-1") == "exited"  # but stopped with the rest, as compose


def test_exit_code_from_names_the_service(project: ProjectDir) -> None:
    daemon, directory, _ = project
    write_project(directory, services_yaml({
        "quick": shell("exit 3"), "server": shell("trap 'exit 7' TERM; echo ready; while true; do sleep 0.1; done")}))
    result = compose(daemon, directory, "up", "--exit-code-from", "server")
    assert result.returncode == 7, result.stdout + result.stderr
    assert "Aborting on container exit..." in result.stderr.splitlines()
    assert "server-1 exited with code 7" in result.stdout.splitlines()


def test_restart_policy_exits_are_marked_and_followed(project: ProjectDir) -> None:
    daemon, directory, _ = project
    write_project(directory, services_yaml({"flaky": {**shell("echo attempt; exit 1"), "restart": "on-failure:2"}}))
    result = compose(daemon, directory, "up")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout.splitlines()
    assert out.count("flaky-1  | attempt") == 3  # each run's output once: no gap, no replay
    assert out.count("flaky-1 exited with code 1 (restarting)") == 2
    assert out[-1] == "flaky-1 exited with code 1"


def test_ctrl_c_stops_gracefully_then_kills(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, services_yaml({
        "polite": {"command": STOPPABLE},
        "stubborn": {**shell("trap '' TERM; echo stubborn here; while true; do sleep 0.1; done"),
                     "stop_grace_period": "2m"}}))
    with Running(daemon, directory, "--progress", "plain", "up") as up:
        up.wait_output("polite-1    | ready")
        up.wait_output("stubborn-1  | stubborn here")
        up.interrupt()
        up.wait_output("Gracefully stopping... (press Ctrl+C again to force)", stderr=True)
        up.wait_output("polite-1 exited with code 0")
        assert state(daemon, f"{name}-stubborn-1") == "running"  # still in its grace period
        up.interrupt()
        assert up.wait(timeout=60) == 130
        out = up.stdout.splitlines()
    assert "polite-1    | stopping" in out
    assert "stubborn-1 exited with code 137" in out
    assert state(daemon, f"{name}-polite-1") == "exited"
    assert state(daemon, f"{name}-stubborn-1") == "exited"


def test_a_die_event_finds_a_policy_restart_already_decided(project: ProjectDir) -> None:
    """What compose's monitor relies on (Docker's order): when ``die`` is published, a container its policy
    brings back is already ``restarting``; the last exit is plain ``exited``."""
    daemon, _, name = project
    client = Client(daemon.host)
    events = client.open("GET", "/events", {"filters": json.dumps({"type": ["container"], "event": ["die"],
                                                                   "container": [name]})})
    try:
        created = moor(daemon, "run", "-d", "--name", name, "--restart", "on-failure:2", "busybox:latest", "sh", "-c",
                       "exit 1")
        assert created.returncode == 0, created.stderr
        seen = []
        for _message in client.stream_json(events):
            state = client.get(f"/containers/{name}/json")["State"]
            seen.append(bool(state["Restarting"]))
            if len(seen) == 3:
                break
    finally:
        events.close()
    assert seen == [True, True, False]
