"""``moor compose logs`` on a real moord, as docker compose v2 prints them: ``web-1  | line`` padded to the
longest name, colours only when asked (or on a terminal), --no-log-prefix, --tail, -t, --index, services
named, one-off containers left out, and -f following containers that start later until none is left."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from e2e.composehelpers import (  # noqa: F401 - fixtures
    ProjectDir,
    compose,
    compose_moord,
    compose_ok,
    failed,
    project,
    services_yaml,
    shell,
    state,
    write_project,
)
from e2e.composeproc import Running
from e2e.containerhelpers import moor, wait_for
from moor.testing.daemon import DaemonProcess

pytestmark = pytest.mark.root

PRINTERS = services_yaml({"web": shell("echo web one; echo web two; echo web err >&2"),
                          "database": shell("echo db one; echo db two; echo db three")})
#: the database's logs, prefixed
DATABASE_LINES = ["database-1  | db one", "database-1  | db two", "database-1  | db three"]


def ok(daemon: DaemonProcess, directory: Path, *args: str) -> str:
    """``moor compose ARGS``, which must succeed; its stdout."""
    return compose_ok(daemon, directory, *args).stdout


def exited(daemon: DaemonProcess, *names: str) -> None:
    """Wait until the containers have exited."""
    for name in names:
        wait_for(lambda name=name: state(daemon, name) == "exited", timeout=30)


def up_printers(daemon: DaemonProcess, directory: Path, name: str) -> None:
    write_project(directory, PRINTERS)
    ok(daemon, directory, "up", "-d")
    exited(daemon, f"{name}-web-1", f"{name}-database-1")


def test_logs_prefixes_padded_to_the_longest_name(project: ProjectDir) -> None:
    daemon, directory, name = project
    up_printers(daemon, directory, name)
    lines = ok(daemon, directory, "logs").splitlines()
    # each container's lines in order, both streams on stdout, no colour off a terminal
    assert [line for line in lines if line.startswith("database-1")] == DATABASE_LINES
    web = [line for line in lines if line.startswith("web-1")]
    assert [line for line in web if "err" not in line] == ["web-1       | web one", "web-1       | web two"]
    assert "web-1       | web err" in web  # stderr's order against stdout's is the log's, not fixed
    assert len(lines) == 6
    assert "\x1b[" not in "".join(lines)


def test_logs_of_named_services_without_prefix_and_tail(project: ProjectDir) -> None:
    daemon, directory, name = project
    up_printers(daemon, directory, name)
    assert ok(daemon, directory, "logs", "database").splitlines() == DATABASE_LINES
    assert ok(daemon, directory, "logs", "--no-log-prefix", "database").splitlines() == ["db one", "db two",
                                                                                          "db three"]
    assert ok(daemon, directory, "logs", "--tail", "1", "database").splitlines() == ["database-1  | db three"]
    assert ok(daemon, directory, "logs", "-n", "2", "--no-log-prefix", "database").splitlines() == [
        "db two", "db three"]


def test_logs_timestamps_and_colours(project: ProjectDir) -> None:
    daemon, directory, name = project
    up_printers(daemon, directory, name)
    stamped = ok(daemon, directory, "logs", "-t", "database").splitlines()
    assert len(stamped) == 3
    for line, text in zip(stamped, ("db one", "db two", "db three")):
        assert re.fullmatch(r"database-1  \| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z " + text, line), line
    coloured = ok(daemon, directory, "--ansi", "always", "logs").splitlines()
    assert "\x1b[36mdatabase-1  | \x1b[0mdb one" in coloured  # sorted names take the cycle in order
    assert "\x1b[33mweb-1       | \x1b[0mweb one" in coloured
    plain = ok(daemon, directory, "--ansi", "always", "logs", "--no-color")
    assert "\x1b[" not in plain and "database-1  | db one" in plain


def test_logs_leave_one_off_containers_out_and_work_with_p_alone(project: ProjectDir,
                                                                 tmp_path: Path) -> None:
    daemon, directory, name = project
    up_printers(daemon, directory, name)
    result = compose(daemon, directory, "run", "-T", "web", "echo", "from a one-off")
    assert result.returncode == 0, result.stderr
    assert "from a one-off" in result.stdout
    assert "one-off" not in ok(daemon, directory, "logs")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    lines = ok(daemon, elsewhere, "-p", name, "logs", "database").splitlines()
    assert lines == DATABASE_LINES


def test_logs_index_picks_one_replica(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, services_yaml({"web": shell("echo I am $$(hostname)")}))
    ok(daemon, directory, "up", "-d", "--scale", "web=2")
    exited(daemon, f"{name}-web-1", f"{name}-web-2")
    second = moor(daemon, "inspect", "-f", "{{.Config.Hostname}}", f"{name}-web-2").stdout.strip()
    assert ok(daemon, directory, "logs", "--index", "2", "web").splitlines() == [f"web-2  | I am {second}"]
    both = ok(daemon, directory, "logs").splitlines()
    assert sorted(line.split(" |")[0] for line in both) == ["web-1 ", "web-2 "]
    assert "--index requires one service to be selected" in failed(compose(daemon, directory, "logs", "--index", "2"))


def test_logs_unknown_service_is_one_line(project: ProjectDir) -> None:
    daemon, directory, _ = project
    write_project(directory, PRINTERS)
    assert failed(compose(daemon, directory, "logs", "nope")).endswith("no such service: nope")


def test_logs_follow_prints_exits_follows_new_containers_and_ends(project: ProjectDir
                                                                  ) -> None:
    daemon, directory, name = project
    write_project(directory, services_yaml({
        "ticker": shell("trap 'echo ticker stops; exit 0' TERM; echo ticker up; while true; do sleep 0.2; done"),
        "late": shell("echo late says hello; sleep 0.5; echo late done; exit 4")}))
    ok(daemon, directory, "up", "-d", "ticker")
    with Running(daemon, directory, "logs", "-f") as follower:
        follower.wait_output("ticker-1  | ticker up")
        ok(daemon, directory, "up", "-d", "late")  # started after logs -f began: followed from its start
        follower.wait_output("late-1 exited with code 4")
        assert follower.process.poll() is None  # ticker still runs
        assert moor(daemon, "stop", f"{name}-ticker-1").returncode == 0
        assert follower.wait() == 0
        out = follower.stdout.splitlines()
    assert "late-1    | late says hello" in out and "late-1    | late done" in out
    assert out.index("late-1    | late done") < out.index("late-1 exited with code 4")
    assert "ticker-1  | ticker stops" in out
    assert out[-1] == "ticker-1 exited with code 0"


def test_logs_follow_of_a_stopped_project_returns(project: ProjectDir) -> None:
    daemon, directory, name = project
    up_printers(daemon, directory, name)
    result = compose(daemon, directory, "logs", "-f", "database", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == DATABASE_LINES


def test_logs_of_a_container_without_readable_logs_warn(project: ProjectDir) -> None:
    daemon, directory, name = project
    write_project(directory, services_yaml({"quiet": {"command": ["echo", "nowhere"], "logging": {"driver": "none"}},
                                            "loud": {"command": ["echo", "somewhere"]}}))
    ok(daemon, directory, "up", "-d")
    exited(daemon, f"{name}-quiet-1", f"{name}-loud-1")
    result = compose(daemon, directory, "logs")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["loud-1  | somewhere"]
    assert f'Can\'t retrieve logs for "{name}-quiet-1"' in result.stderr
