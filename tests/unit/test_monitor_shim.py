"""moor-shim (the compiled monitor) and the Python monitor, side by side on the same process: the same json-file
log (records, escaping, invalid UTF-8, rotation), the same exit record and replies. No root: a fake runtime stands in
for runc (``create`` starts a shell that waits for ``start``, as ``runc init`` waits on its FIFO). And the choice
between them, made in one place (:func:`moor.containers.launch.select_monitor_command`)."""

from __future__ import annotations

import json
import os
import random
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from moor.containers import launch
from moor.containers.runtime import Runtime
from moor.driverbuild import DriverRecipe
from moor.monitor.protocol import connect, encode, read_line
from moor.types import DriverContext

pytestmark = pytest.mark.skipif(not os.access(launch.SHIM_PATH, os.X_OK), reason="moor-shim not built (make install)")

FAKE_RUNC = r"""#!/bin/sh
# a stand-in for runc: global flags (--root R --log L --log-format F), then the command
while [ "${1#--}" != "$1" ]; do shift 2; done
command=$1; shift
case $command in
create)
    while [ $# -gt 1 ]; do
        case $1 in --pid-file) pidfile=$2;; esac
        shift 2
    done
    mkfifo go
    sh -c 'read x < go; cat out.bin; cat err.bin >&2; exit 3' &
    echo $! > "$pidfile";;
start) echo go > go;;
esac
exit 0
"""

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def _recipe(tmp: Path) -> DriverRecipe:
    return DriverRecipe(factory="moor.logdrivers.jsonfile:JsonFileLogDriver",
                        context=DriverContext(kind="log", name="json-file", home=str(tmp / "home"),
                                              exec_home=str(tmp / "exec"), options={}))


def _run_monitor(tmp: Path, which: str, out: bytes, err: bytes, max_size: int = -1, max_file: int = 1,
                 attrs: dict[str, str] | None = None, wrapper: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run one monitor over the fake runtime until its process exits; what it left behind. ``wrapper``: a
    command (an absolute path, then its arguments) that runs the monitor (strace)."""
    state = tmp / which
    state.mkdir()
    (state / "out.bin").write_bytes(out)
    (state / "err.bin").write_bytes(err)
    runtime = tmp / "fake-runc"
    runtime.write_text(FAKE_RUNC)
    runtime.chmod(0o755)
    log_path = str(state / "logs" / "c-json.log")
    common = ["--id", "c", "--state-dir", str(state), "--bundle", str(state), "--runtime", str(runtime),
              "--runtime-root", str(tmp / "root")]
    if which == "shim":
        command = [launch.SHIM_PATH, *common, "--log-path", log_path, "--log-max-size", str(max_size),
                   "--log-max-file", str(max_file)]
        if attrs:
            command += ["--log-attrs", json.dumps(dict(sorted(attrs.items())), ensure_ascii=False)]
    else:
        options = {"max-size": str(max_size), "max-file": str(max_file)} if max_size > 0 else {}
        command = [sys.executable, "-m", "moor.monitor", *common, "--log-driver", "json-file",
                   "--log-driver-recipe", _recipe(tmp).to_json(), "--log-opts", json.dumps(options),
                   "--log-path", log_path, "--name", "c", "--log-attrs", json.dumps(attrs or {})]
    pid, readiness = _spawn([*wrapper, *command])
    assert readiness["ok"], readiness
    waiter = connect(str(state), 10)  # waiting before the start, as moord's attach-and-wait does
    waiter.sendall(encode({"op": "wait"}))
    started = _ask(str(state), {"op": "start"})
    waited = json.loads(read_line(waiter))
    waiter.close()
    deadline = time.monotonic() + 10
    while (state / "control.sock").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    os.waitpid(pid, 0)
    logs = {}
    for name in sorted(os.listdir(state / "logs")):
        logs[name] = (state / "logs" / name).read_bytes()
    return {"started": started, "waited": waited, "exit": json.loads((state / "exit.json").read_text()),
            "exit_text": (state / "exit.json").read_text(), "logs": logs}


def _spawn(command: list[str]) -> tuple[int, dict[str, Any]]:
    """Start a monitor as moord does (its readiness pipe on fd 3, a session of its own); its pid and report."""
    read_end, write_end = os.pipe()
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        pid = os.posix_spawn(command[0], command, os.environ, setsid=True,
                             file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, write_end, 3)])
    finally:
        os.close(write_end)
        os.close(devnull)
    with os.fdopen(read_end, "rb") as ready:
        return pid, json.loads(ready.readline())


def _ask(state_dir: str, message: dict[str, Any]) -> dict[str, Any]:
    sock = connect(state_dir, 10)
    try:
        sock.sendall(encode(message))
        return json.loads(read_line(sock))
    finally:
        sock.close()


def _records(data: bytes) -> list[dict[str, Any]]:
    """The log's records, each stamp checked for Docker's format and then left out."""
    records = []
    for line in data.splitlines(keepends=True):
        assert line.endswith(b"\n")
        record = json.loads(line)
        assert STAMP.match(record.pop("time"))
        records.append(record)
    return records


def _same_text_but_time(shim: bytes, python: bytes) -> None:
    """Each stream's records are the same bytes but for their time. Between stdout and stderr the order is the one
    in which the monitor found data on two pipes: either may come first."""
    strip = re.compile(rb'"time": "[^"]*"')

    def per_stream(data: bytes) -> dict[str, list[bytes]]:
        streams: dict[str, list[bytes]] = {}
        for line in data.split(b"\n")[:-1]:
            streams.setdefault(json.loads(line)["stream"], []).append(strip.sub(b"T", line))
        return streams

    assert all(not data or data.endswith(b"\n") for data in (shim, python))  # whole records only
    assert per_stream(shim) == per_stream(python)


def _compare(tmp_path: Path, out: bytes, err: bytes, **options: Any) -> dict[str, Any]:
    shim = _run_monitor(tmp_path, "shim", out, err, **options)
    python = _run_monitor(tmp_path, "python", out, err, **options)
    assert shim["logs"].keys() == python["logs"].keys()
    for name in shim["logs"]:
        if name.endswith(".closed"):
            continue
        _same_text_but_time(shim["logs"][name], python["logs"][name])
        _records(shim["logs"][name])
    assert shim["waited"].keys() == python["waited"].keys()
    assert shim["waited"]["exit_code"] == python["waited"]["exit_code"] == 3
    assert shim["exit"].keys() == python["exit"].keys()
    assert {k: v for k, v in shim["exit"].items() if not k.endswith("_at")} == \
        {k: v for k, v in python["exit"].items() if not k.endswith("_at")}
    assert re.sub(r"[\d.]+", "N", shim["exit_text"]) == re.sub(r"[\d.]+", "N", python["exit_text"])
    assert shim["started"]["ok"] and python["started"]["ok"]
    return shim


def test_the_json_file_log_is_the_python_monitors(tmp_path: Path) -> None:
    out = ("plain line\n"
           "quotes \" and \\ backslash\ttab\r\n"
           "unicode: é ü 你好 😀 \u2028\n"
           "controls: \x00\x01\x1b[1m\x7f\n").encode() \
        + b"invalid: \xff \xc3( \xe2\x28\xa1 \xed\xa0\x80 \xf0\x90\x28 \xf4\x90\x80\x80 \xe0\x80\x80 \xc0\xaf\n" \
        + b"truncated at the end \xe2\x82"
    err = b"an error line\nno newline at the end"
    shim = _compare(tmp_path, out, err)
    lines = [record["log"] for record in _records(shim["logs"]["c-json.log"]) if record["stream"] == "stdout"]
    assert lines[0] == "plain line\n" and lines[-1] == "truncated at the end \ufffd"
    assert "c-json.log.closed" in shim["logs"]


def test_random_bytes_are_logged_as_the_python_monitor_logs_them(tmp_path: Path) -> None:
    chance = random.Random(17)
    out = b"\n".join(bytes(chance.randrange(256) for _ in range(chance.randrange(1, 80))) for _ in range(200))
    _compare(tmp_path, out, b"")


def test_long_lines_are_split_and_attributes_recorded_as_json_file_does(tmp_path: Path) -> None:
    out = b"a" * 20000 + b"\n" + b"b" * 5000 + b"\n"
    shim = _compare(tmp_path, out, b"", attrs={"zeta": "1", "alpha": "é\"x"})
    first = json.loads(shim["logs"]["c-json.log"].splitlines()[0])
    assert list(first) == ["log", "stream", "attrs", "time"] and list(first["attrs"]) == ["alpha", "zeta"]


def test_rotation_keeps_the_same_files_as_json_file(tmp_path: Path) -> None:
    out = b"".join(b"line %03d of the rotated log\n" % i for i in range(60))
    shim = _compare(tmp_path, out, b"", max_size=400, max_file=3)
    assert sorted(shim["logs"]) == ["c-json.log", "c-json.log.1", "c-json.log.2", "c-json.log.closed"]


# ---------------------------------------------------------------------------------------------- the choice


class _Process:
    def __init__(self, log_options: dict[str, str] | None = None, tty: bool = False) -> None:
        self.id, self.name, self.tty, self.log_path = "c" * 64, "n", tty, "/tmp/x-json.log"
        self.config: dict[str, Any] = {"Labels": {"a": "1"}, "Env": ["E=2"]}
        self.log_options = log_options or {}


def _choose(tmp_path: Path, driver: str = "json-file", factory: str = "moor.logdrivers.jsonfile:JsonFileLogDriver",
            exec_process: str = "", **process: Any) -> list[str]:
    recipe = DriverRecipe(factory=factory, context=DriverContext(kind="log", name=driver, home="", exec_home="",
                                                                 options={"max-size": "1k"}))
    return launch.select_monitor_command(_Process(**process), str(tmp_path), str(tmp_path),
                                         Runtime("runc", str(tmp_path)), driver, exec_process=exec_process,
                                         log_recipe=recipe)


def test_the_shim_runs_the_common_case(tmp_path: Path) -> None:
    command = _choose(tmp_path, log_options={"max-file": "3", "labels": "a", "env": "E"}, tty=True)
    assert command[0] == launch.SHIM_PATH and "--tty" in command
    assert command[command.index("--log-max-size") + 1] == "1024"
    assert command[command.index("--log-max-file") + 1] == "3"
    assert json.loads(command[command.index("--log-attrs") + 1]) == {"E": "2", "a": "1"}
    assert "--log-path" not in _choose(tmp_path, driver="none", factory="moor.logdrivers.none:NoneLogDriver")
    assert _choose(tmp_path, exec_process="p.json")[0] == launch.SHIM_PATH


def test_the_python_monitor_runs_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = [sys.executable, "-m", "moor.monitor"]
    assert _choose(tmp_path, log_options={"compress": "true", "max-file": "2"})[:3] == python
    assert _choose(tmp_path, driver="syslogish", factory="someplugin:Driver")[:3] == python
    monkeypatch.setenv(launch.MONITOR_ENV, "python")
    assert _choose(tmp_path)[:3] == python
    monkeypatch.delenv(launch.MONITOR_ENV)
    monkeypatch.setattr(launch, "SHIM_PATH", str(tmp_path / "missing"))
    assert _choose(tmp_path)[:3] == python


def test_the_shim_answers_its_control_requests_as_the_python_monitor(tmp_path: Path) -> None:
    """state before and after start, resize without a terminal, unknown ops, publish errors."""
    state = tmp_path / "s"
    state.mkdir()
    (state / "out.bin").write_bytes(b"")
    (state / "err.bin").write_bytes(b"")
    runtime = tmp_path / "fake-runc"
    runtime.write_text(FAKE_RUNC)
    runtime.chmod(0o755)
    first, readiness = _spawn([launch.SHIM_PATH, "--id", "c", "--state-dir", str(state), "--bundle", str(state),
                               "--runtime", str(runtime), "--runtime-root", str(tmp_path)])
    os.waitpid(first, 0)
    pid = readiness["pid"]
    assert _ask(str(state), {"op": "state"}) == {"ok": True, "pid": pid, "running": False, "exit_code": None}
    assert _ask(str(state), {"op": "resize", "height": 5, "width": 5}) == \
        {"ok": False, "error": "the process has no terminal"}
    assert _ask(str(state), {"op": "nonsense"}) == {"ok": False, "error": "unknown op"}
    assert _ask(str(state), {"op": "publish", "protocol": "sctp", "target": "127.0.0.1", "target_port": 1}) == \
        {"ok": False, "error": "unsupported protocol 'sctp'"}
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        assert _ask(str(state), {"op": "publish", "protocol": "tcp", "host_ip": "127.0.0.1", "host_port": port,
                                 "target": "127.0.0.1", "target_port": 1}) == \
            {"ok": False, "error": f"Error starting userland proxy: listen tcp4 127.0.0.1:{port}: bind: "
                                   "address already in use"}
    finally:
        taken.close()
    waiter = connect(str(state), 10)
    waiter.sendall(encode({"op": "wait"}))
    assert _ask(str(state), {"op": "start"}) == {"ok": True, "pid": pid}
    assert json.loads(read_line(waiter))["exit_code"] == 3
    waiter.close()
