"""A driver installed with pip and named in the config works exactly like ours."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from typing import Iterator

import pytest

from e2e.containerhelpers import import_busybox, moor
from moor.testing.daemon import DaemonProcess

FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "moor-log-textfile"


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def textfile_driver_installed() -> Iterator[None]:
    result = pip("install", "--no-deps", "--no-build-isolation", "--no-index", str(FIXTURE))
    assert result.returncode == 0, result.stderr
    try:
        yield
    finally:
        pip("uninstall", "-y", "moor-log-textfile")


def test_moord_loads_and_uses_the_pip_installed_driver(textfile_driver_installed, tmp_path) -> None:
    log_file = tmp_path / "logs" / "all.log"
    config = f'[log]\ndriver = "textfile"\n[log.textfile]\npath = "{log_file}"\n'
    with DaemonProcess(str(tmp_path / "d"), config_text=config) as daemon:
        info = daemon.client().get("/info")
        assert info["LoggingDriver"] == "textfile"
        assert "textfile" in info["Plugins"]["Log"]
        assert log_file.read_text() == f"textfile driver loaded by pid {daemon.process.pid}\n"
        if os.geteuid() == 0:  # containers need root: the driver receives a real container's output
            import_busybox(daemon)
            result = moor(daemon, "run", "--name", "logged", "busybox", "sh", "-c", "echo to-textfile")
            assert result.stdout == "to-textfile\n", result.stderr
            assert "logged stdout: to-textfile\n" in log_file.read_text()
            refused = moor(daemon, "logs", "logged")
            assert refused.returncode == 1 and "does not support reading" in refused.stderr
            assert moor(daemon, "rm", "logged").returncode == 0


def test_third_party_driver_validates_its_options(textfile_driver_installed, tmp_path) -> None:
    config = '[log]\ndriver = "textfile"\n[log.textfile]\ncolour = "red"\n'
    daemon = DaemonProcess(str(tmp_path / "e"), config_text=config)
    with pytest.raises(RuntimeError, match="log driver 'textfile': unknown log opt 'colour' for textfile"):
        daemon.start()
    daemon.cleanup()


def test_uninstalled_driver_is_named_with_the_installed_ones(tmp_path) -> None:
    config = '[log]\ndriver = "textfile-absent"\n'
    daemon = DaemonProcess(str(tmp_path / "f"), config_text=config)
    with pytest.raises(RuntimeError) as caught:
        daemon.start()
    assert "log driver 'textfile-absent' is not installed (installed log drivers: json-file, none" in str(caught.value)
    daemon.cleanup()
