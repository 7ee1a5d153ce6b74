"""moor login on a terminal: Docker's prompts, the password not echoed; a pull refused with 401 asks too."""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from unit.fakedaemon import FakeDaemon, error_answer, json_answer, stream_answer


class Terminal:
    """``moor ARGS`` with a pseudo-terminal as stdin, stdout and stderr."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen([sys.executable, "-m", "moor.cli", *args], stdin=slave, stdout=slave,
                                        stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.screen = b""

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.screen:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r} in {self.screen!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    data = os.read(self.master, 4096)
                except OSError:  # the other side closed
                    data = b""
                if not data:
                    assert text.encode() in self.screen, f"never saw {text!r} in {self.screen!r}"
                self.screen += data

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self, timeout: float = 30) -> int:
        try:
            code = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        try:
            while select.select([self.master], [], [], 0.1)[0]:
                data = os.read(self.master, 4096)
                if not data:
                    break
                self.screen += data
        except OSError:
            pass
        os.close(self.master)
        return code


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeDaemon]:
    with FakeDaemon(str(tmp_path)) as daemon:
        yield daemon


def _env(fake: FakeDaemon, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "MOOR_HOST": fake.host, "DOCKER_CONFIG": str(tmp_path / "cfg"), "TERM": "dumb"}


def test_login_prompts_for_user_and_hidden_password(fake: FakeDaemon, tmp_path: Path) -> None:
    fake.on("POST", "/auth", json_answer({"Status": "Login Succeeded"}))
    term = Terminal(["login", "127.0.0.1:5000"], _env(fake, tmp_path))
    term.expect("Username: ")
    term.type("alice\n")
    term.expect("Password: ")
    term.type("hidden-pw\n")
    term.expect("Login Succeeded")
    assert term.finish() == 0
    assert b"hidden-pw" not in term.screen
    assert fake.calls("POST", "/auth")[0].json() == {"username": "alice", "password": "hidden-pw",
                                                     "serveraddress": "127.0.0.1:5000"}
    stored = json.loads((tmp_path / "cfg" / "config.json").read_text())
    assert stored["auths"]["127.0.0.1:5000"]["auth"] == base64.b64encode(b"alice:hidden-pw").decode()


def test_docker_hub_login_says_so_and_offers_the_stored_user(fake: FakeDaemon, tmp_path: Path) -> None:
    fake.on("POST", "/auth", error_answer(401, "unauthorized: incorrect username or password"))
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text(json.dumps(
        {"auths": {"https://index.docker.io/v1/": {"auth": base64.b64encode(b"bob:old").decode()}}}))
    term = Terminal(["login"], _env(fake, tmp_path))
    term.expect("Authenticating with existing credentials...")
    term.expect("Stored credentials invalid or expired")
    term.expect("Login with your Docker ID to push and pull images from Docker Hub. If you don't have a Docker ID, "
                "head over to https://hub.docker.com to create one.")
    term.expect("Username (bob): ")
    term.type("\n")
    term.expect("Password: ")
    term.type("\n")
    term.expect("Error: Password Required")
    assert term.finish() == 1


def test_a_pull_refused_with_401_asks_then_retries(fake: FakeDaemon, tmp_path: Path) -> None:
    fake.on("POST", "/images/create", error_answer(401, "unauthorized"),
            stream_answer([{"status": "Status: Downloaded newer image for 127.0.0.1:5000/app:latest"}]))
    term = Terminal(["pull", "127.0.0.1:5000/app"], _env(fake, tmp_path))
    term.expect("Please login prior to pull:")
    term.expect("Username: ")
    term.type("carol\n")
    term.expect("Password: ")
    term.type("pw\n")
    term.expect("127.0.0.1:5000/app:latest\r\n")
    assert term.finish() == 0
    first, second = fake.calls("POST", "/images/create")
    assert first.headers["x-registry-auth"] == "e30="
    assert json.loads(base64.urlsafe_b64decode(second.headers["x-registry-auth"])) == {
        "username": "carol", "password": "pw", "serveraddress": "127.0.0.1:5000"}
    assert not (tmp_path / "cfg" / "config.json").exists()  # a pull's login is not stored


def test_ctrl_c_leaves_a_pull_quietly_and_the_daemon_sees_it(fake: FakeDaemon, tmp_path: Path) -> None:
    import signal

    answer = stream_answer([{"status": "Pulling from library/busybox", "id": "latest"},
                            {"status": "Downloading", "progressDetail": {"current": 1, "total": 9}, "id": "aa"}])
    answer.open_ended = True
    fake.on("POST", "/images/create", answer)
    term = Terminal(["pull", "busybox"], _env(fake, tmp_path))
    term.expect("aa: Downloading")
    term.process.send_signal(signal.SIGINT)
    assert term.finish() == 130
    assert b"Traceback" not in term.screen and b"KeyboardInterrupt" not in term.screen
    assert fake.left.wait(10)
