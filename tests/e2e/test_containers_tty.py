"""`run -it` in a real terminal (tmux): raw mode, window size, ctrl-c to the container, detach keys."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import import_busybox, moor, moord  # noqa: F401 - fixture
from moor.testing.daemon import DaemonProcess

pytestmark = [pytest.mark.root, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux: make install")]


class Tmux:
    """One detached tmux session running a command in a 100x30 terminal."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.name = f"moor-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", "100", "-y", "30",
                        f"env {exports} {command}; echo EXIT=$?; sleep 30"], check=True)

    def send(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True,
                              text=True).stdout

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on the screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def terminal() -> Iterator[list[Tmux]]:
    sessions: list[Tmux] = []
    yield sessions
    for session in sessions:
        session.close()


def _moor_command(daemon: DaemonProcess, args: str) -> str:
    return f"{sys.executable} -m moor.cli -H {daemon.host} {args}"


def test_moor_run_it_shell(moord: DaemonProcess, terminal: list[Tmux]) -> None:
    session = Tmux(_moor_command(moord, "run -it --rm --name itest busybox sh"), {"TERM": "xterm"})
    terminal.append(session)
    session.wait_for("/ #")
    session.send("stty size; tty", "Enter")
    session.wait_for("30 100")
    session.wait_for("/dev/pts/")
    session.send("sleep 100", "Enter")
    time.sleep(0.5)
    session.send("C-c")
    # the terminal echoes what is typed even while sleep runs: only the shell, once sleep is
    # interrupted, turns this into "after-42"
    session.send("echo after-$((6*7))", "Enter")
    session.wait_for("after-42")
    subprocess.run(["tmux", "resize-window", "-t", session.name, "-x", "80", "-y", "20"], capture_output=True)
    time.sleep(0.5)
    session.send("stty size", "Enter")
    session.wait_for("20 80")
    session.send("exit 5", "Enter")
    session.wait_for("EXIT=5")


def test_detach_keys_leave_the_container_running(moord: DaemonProcess, terminal: list[Tmux]) -> None:
    session = Tmux(_moor_command(moord, "run -it --name detachme busybox sh"), {"TERM": "xterm"})
    terminal.append(session)
    session.wait_for("/ #")
    session.send("C-p", "C-q")
    session.wait_for("EXIT=0")
    state = moor(moord, "inspect", "--format", "{{.State.Running}}", "detachme").stdout.strip()
    assert state == "true"
    moor(moord, "rm", "-f", "detachme")


def test_docker_run_it(moord: DaemonProcess, terminal: list[Tmux], docker_cli: str) -> None:
    env = {"TERM": "xterm", "DOCKER_HOST": moord.host, "DOCKER_CONFIG": moord.root}
    session = Tmux(f"{docker_cli} run -it --rm busybox sh", env)
    terminal.append(session)
    session.wait_for("/ #")
    session.send("echo from-docker-$((6*7))", "Enter")
    session.wait_for("from-docker-42")
    session.send("stty size", "Enter")
    session.wait_for("30 100")
    session.send("exit 3", "Enter")
    session.wait_for("EXIT=3")



@pytest.fixture(scope="module", params=["auto", "python"])
def monitor_moord(request: pytest.FixtureRequest) -> Iterator[DaemonProcess]:
    """A moord whose monitors are moor-shim where it applies (``auto``), or always the Python monitor."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOOR_MONITOR", request.param)
        with DaemonProcess() as daemon:
            import_busybox(daemon)
            yield daemon
            moor(daemon, "rm", "-f", *moor(daemon, "ps", "-aq").stdout.split(), timeout=120)


def test_exec_it_takes_input(monitor_moord: DaemonProcess, terminal: list[Tmux]) -> None:
    """An exec's terminal exists only once it starts: input sent before (the attach comes first) still reaches it."""
    moor(monitor_moord, "run", "-d", "--name", "execit", "busybox", "sleep", "300")
    session = Tmux(_moor_command(monitor_moord, "exec -it execit sh"), {"TERM": "xterm"})
    terminal.append(session)
    session.wait_for("/ #")
    session.send("echo typed-$((6*7)); tty", "Enter")
    session.wait_for("typed-42")
    session.wait_for("/dev/pts/")
    session.send("exit 6", "Enter")
    session.wait_for("EXIT=6")
    moor(monitor_moord, "rm", "-f", "execit")
