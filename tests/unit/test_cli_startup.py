"""The CLI's start-up path: what its common commands import, and the client's requests sent together.

(Speed is measured by bench/cli_startup.py, never asserted here: these check the structure that makes it.)
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.parse

import pytest

from moor.client import Client, DaemonError, quote, urlencode

#: modules no common command needs before its first request (each costs the start 1-5 ms; click's imports of
#: inspect, platform and datetime stay stand-ins: moor.cli.deferred)
NOT_NEEDED = ("urllib.parse", "ipaddress", "hashlib", "shutil", "re2", "moor.images.healthcheck", "inspect", "ast",
              "platform", "datetime")
#: what only run/create (their ~100 options) and the attached commands need
RUN_ONLY = ("moor.cli.createflags", "moor.cli.createextra")
ATTACH_ONLY = ("moor.streams", "termios")

PROBE = """
import sys
sys.argv = ["moor", *sys.argv[1:]]
from moor.cli.main import main
try:
    main()
except SystemExit:
    pass
print("LOADED", sorted(name for name, module in sys.modules.items() if type(module).__name__ != "Deferred"))
"""


@pytest.mark.parametrize("args", [["version"], ["ps"], ["images"], ["run", "--rm", "busybox", "true"],
                                  ["start", "c"], ["stop", "c"], ["rm", "-f", "c"], ["logs", "c"],
                                  ["exec", "c", "true"], ["inspect", "c"]])
def test_common_commands_import_only_what_they_need(args: list[str]) -> None:
    env = {**os.environ, "MOOR_HOST": "unix:///nonexistent/moor.sock", "DOCKER_CONFIG": tempfile.gettempdir()}
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env,
                            timeout=60)
    loaded = result.stdout.split("LOADED", 1)[1]
    assert "Cannot connect to the moor daemon" in result.stderr
    unwanted = NOT_NEEDED + (() if args[0] == "run" else RUN_ONLY) + (() if args[0] in ("run", "exec") else ATTACH_ONLY)
    assert [name for name in unwanted if f"'{name}'" in loaded] == []


def test_quote_and_urlencode_are_urllibs() -> None:
    rng = random.Random(17)
    alphabet = "aZ09 _.-~/:@?&=+%#\u00e9\u4e2d\U0001f600\"'{}[],\t\n"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        for safe in ("/", "", "/:@"):
            assert quote(text, safe) == urllib.parse.quote(text, safe=safe)
        params = {text: text, "list": [text, "a b"], "number": 3, "flag": True}
        assert urlencode(params) == urllib.parse.urlencode(params, doseq=True)


class TwoRequestServer:
    """A Unix socket that answers nothing until two requests arrived (a client that waits for the first answer
    before sending the second gets none within ``patience``: then it answers them one by one)."""

    def __init__(self, path: str, patience: float = 5.0, status: tuple[int, int] = (200, 200)) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(4)
        self.listener.settimeout(patience)
        self.status = status
        self.both_before_any_answer = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read_request(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(4096)

    def _answer(self, conn: socket.socket, status: int) -> None:
        body = b'{"message": "no"}' if status >= 400 else b"{}"
        conn.sendall(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (status, len(body), body))

    def _serve(self) -> None:
        first, _ = self.listener.accept()
        self._read_request(first)
        try:
            second, _ = self.listener.accept()
        except TimeoutError:
            self._answer(first, self.status[0])
            second, _ = self.listener.accept()
            self._read_request(second)
            self._answer(second, self.status[1])
            return
        self._read_request(second)
        self.both_before_any_answer = True
        self._answer(first, self.status[0])
        self._answer(second, self.status[1])

    def close(self) -> None:
        self.thread.join(10)
        self.listener.close()


def test_open_together_sends_every_request_before_reading_an_answer() -> None:
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "d.sock")
        server = TwoRequestServer(path)
        answers = Client(f"unix://{path}").open_together(("POST", "/containers/c/attach", {"stream": "1"}, None),
                                                         ("POST", "/containers/c/wait", None, None))
        server.close()
        assert [answer.status for answer in answers] == [200, 200]
        assert server.both_before_any_answer
        for answer in answers:
            assert answer.read() == b"{}"
            answer.close()


def test_open_together_raises_the_error_of_an_answer_and_closes_the_others() -> None:
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "d.sock")
        server = TwoRequestServer(path, status=(200, 404))
        with pytest.raises(DaemonError) as raised:
            Client(f"unix://{path}").open_together(("POST", "/a", None, None), ("POST", "/b", None, None))
        server.close()
        assert raised.value.status == 404 and raised.value.message == "no"


def _logs(content_type: str | None, tty: bool) -> tuple[str, list[str]]:
    from click.testing import CliRunner

    from moor.cli.main import cli
    from unit.fakedaemon import Answer, FakeDaemon, json_answer

    framed = b"\x01\x00\x00\x00\x00\x00\x00\x04out\n\x02\x00\x00\x00\x00\x00\x00\x04err\n"
    with tempfile.TemporaryDirectory() as work, FakeDaemon(work) as fake:
        headers = {"Content-Type": content_type} if content_type else {}
        fake.on("GET", "/containers/c/logs", Answer(200, b"raw\n" if tty else framed, headers))
        fake.on("GET", "/containers/c/json", json_answer({"Id": "c" * 64, "Config": {"Tty": tty}}))
        result = CliRunner().invoke(cli, ["-H", fake.host, "logs", "c"], env={"DOCKER_CONFIG": work})
        return result.output, [request.path for request in fake.requests]


def test_logs_reads_the_streams_framing_from_its_type_without_an_inspect() -> None:
    assert _logs("application/vnd.docker.multiplexed-stream", False) == ("out\nerr\n", ["/containers/c/logs"])
    assert _logs("application/vnd.docker.raw-stream", True) == ("raw\n", ["/containers/c/logs"])
    # a daemon that does not say (API < 1.42): the container's Tty, as before
    assert _logs(None, False) == ("out\nerr\n", ["/containers/c/logs", "/containers/c/json"])


GC_PROBE = """
import atexit, gc, sys
import moor.cli.main
seen = []
real_import = moor.cli.main.import_module
moor.cli.main.import_module = lambda name: (seen.append(gc.isenabled()), real_import(name))[1]
atexit.register(lambda: print("GC", seen, gc.isenabled()))
sys.argv = ["moor", "version"]
from moor.cli.entry import main
main()
"""


def test_the_console_script_loads_with_the_collector_off_and_runs_the_command_with_it_on() -> None:
    env = {**os.environ, "MOOR_HOST": "unix:///nonexistent/moor.sock"}
    result = subprocess.run([sys.executable, "-c", GC_PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert "GC [False] True" in result.stdout


EXIT_PROBE = """
import atexit, sys, threading, time
class Teardown:
    def __del__(self):
        print("TEARDOWN", flush=True)
keep = Teardown()  # freed only by the interpreter's teardown
atexit.register(lambda: print("ATEXIT"))
if "--thread" in sys.argv:
    sys.argv.remove("--thread")
    threading.Thread(target=lambda: (time.sleep(0.3), print("THREAD DONE"))).start()
sys.argv = ["moor", *sys.argv[1:]]
from moor.cli.entry import main
main()
"""


def _exit_probe(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MOOR_HOST": "unix:///nonexistent/moor.sock"}
    return subprocess.run([sys.executable, "-c", EXIT_PROBE, *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_the_console_script_ends_without_the_interpreters_teardown() -> None:
    done = _exit_probe("--version")
    assert (done.returncode, done.stdout) == (0, "moor version 0.1.0, build 0.1.0\nATEXIT\n")
    failed = _exit_probe("nosuch")
    assert (failed.returncode, failed.stdout) == (1, "ATEXIT\n")
    assert "'nosuch' is not a moor command" in failed.stderr


def test_the_console_script_exits_the_ordinary_way_while_a_thread_runs() -> None:
    done = _exit_probe("--thread", "--version")
    assert done.returncode == 0
    assert done.stdout.splitlines()[1:3] == ["THREAD DONE", "ATEXIT"]  # the thread waited for
