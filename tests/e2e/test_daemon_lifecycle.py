"""moord's start-up and shutdown: the data-root lock, bad config, missing drivers, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from moor.testing.daemon import DaemonProcess


def run_moord(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moor.daemon", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_second_daemon_on_same_data_root_refuses(tmp_path) -> None:
    with DaemonProcess(str(tmp_path / "a")) as first:
        second = run_moord("--config-file", first.config_file, "--data-root", first.data_root,
                           "--exec-root", str(tmp_path / "exec2"), "-H", f"unix://{tmp_path}/other.sock")
        assert second.returncode == 1
        assert f"moord is already running with data root {first.data_root} (pid {first.process.pid})" \
            in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
        assert first.client().get("/_ping") == b"OK"


def test_stale_lock_of_dead_process_is_recovered(tmp_path) -> None:
    daemon = DaemonProcess(str(tmp_path / "d"))
    os.makedirs(daemon.data_root)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(os.path.join(daemon.data_root, "moord.lock"), "w") as handle:
        handle.write(f"{dead.pid}\n")
    with daemon:
        assert daemon.client().get("/_ping") == b"OK"
        with open(os.path.join(daemon.data_root, "moord.lock")) as handle:
            assert handle.read().strip() == str(daemon.process.pid)


def test_killed_daemon_leaves_a_lock_that_the_next_one_takes(tmp_path) -> None:
    daemon = DaemonProcess(str(tmp_path / "k"))
    daemon.start()
    daemon.kill()
    try:
        daemon.start()
        assert daemon.client().get("/_ping") == b"OK"
    finally:
        daemon.cleanup()


def test_sigterm_stops_cleanly_and_removes_socket_and_pid(tmp_path) -> None:
    with DaemonProcess(str(tmp_path / "t")) as daemon:  # stopped and cleaned up even when an assertion fails
        assert os.path.exists(daemon.socket)
        assert os.path.exists(os.path.join(daemon.exec_root, "moord.pid"))
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(20) == 0
        assert not os.path.exists(daemon.socket)
        assert not os.path.exists(os.path.join(daemon.exec_root, "moord.pid"))
        assert "Traceback" not in daemon.log()


@pytest.mark.parametrize(("config_text", "expected"), [
    ('[storage]\ndriver = "zfs"\n', "storage driver 'zfs' is not installed (installed storage drivers: overlay)"),
    ('[log]\ndriver = "splunk"\n', "log driver 'splunk' is not installed (installed log drivers: "),
    ("colour = 1\n", "invalid config: unknown key 'colour'"),
    ("[log]\ndriver = 3\n", "invalid config: log.driver must be a string"),
    ("version = [\n", "invalid config file"),
])
def test_bad_config_stops_moord_with_one_line(tmp_path, config_text: str, expected: str) -> None:
    config = tmp_path / "moor.toml"
    config.write_text(config_text)
    result = run_moord("--config-file", str(config), "--data-root", str(tmp_path / "data"),
                       "--exec-root", str(tmp_path / "exec"), "-H", f"unix://{tmp_path}/s.sock")
    assert result.returncode == 1
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "s.sock").exists()


def test_flags_override_the_file(tmp_path) -> None:
    config_text = f'data_root = "{tmp_path}/from-file"\nhosts = ["unix://{tmp_path}/file.sock"]\n'
    with DaemonProcess(str(tmp_path / "f"), config_text=config_text) as daemon:
        info = daemon.client().get("/info")
        assert info["DockerRootDir"] == daemon.data_root
        assert not (tmp_path / "file.sock").exists()


def test_config_file_values_are_used(tmp_path) -> None:
    config_text = '[log]\ndriver = "none"\n'
    with DaemonProcess(str(tmp_path / "c"), config_text=config_text) as daemon:
        info = daemon.client().get("/info")
        assert info["LoggingDriver"] == "none"
        assert info["Plugins"]["Log"] == ["none", "json-file"]


def test_bad_host_flag(tmp_path) -> None:
    result = run_moord("--config-file", "/dev/null", "-H", "tcp://0.0.0.0:2375")
    assert result.returncode == 1 and "unix:///path" in result.stderr


def test_debug_flag_logs_requests(tmp_path) -> None:
    with DaemonProcess(str(tmp_path / "g"), extra_args=("--debug",)) as daemon:
        daemon.client().get("/_ping")
        time.sleep(0.1)
        assert "DEBUG" in daemon.log()


def test_sigusr1_writes_every_threads_stack_to_the_log_and_moord_serves_on(tmp_path) -> None:
    with DaemonProcess(root=str(tmp_path / "d")) as daemon:
        assert daemon.process is not None
        os.kill(daemon.process.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 10
        # faulthandler reads each frame from a signal handler: a frame caught mid-call prints as "File ???", so
        # the proof is several threads' stacks with moor's own frames, not one particular frame
        while daemon.log().count("(most recent call first)") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)
        dump = daemon.log()
        assert dump.count("(most recent call first)") >= 2 and "/moor/api/server.py" in dump
        assert daemon.client().get("/_ping") == b"OK"
