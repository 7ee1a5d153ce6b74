"""The moor CLI against a private moord: version, info, config default, errors, start-up cost."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from e2e.containerhelpers import run_cli as moor
from moor.testing.daemon import DaemonProcess


def test_version_shows_client_and_server(daemon: DaemonProcess) -> None:
    result = moor("-H", daemon.host, "version")
    assert result.returncode == 0, result.stderr
    assert "Client:" in result.stdout and "Server: moor Engine" in result.stdout
    assert "API version:      1.44 (minimum version 1.12)" in result.stdout


def test_moor_host_environment_variable(daemon: DaemonProcess) -> None:
    result = moor("version", "--format", "{{.Server.ApiVersion}}", env={"MOOR_HOST": daemon.host})
    assert (result.returncode, result.stdout) == (0, "1.44\n")


def test_info_lists_drivers(daemon: DaemonProcess) -> None:
    result = moor("-H", daemon.host, "info")
    assert result.returncode == 0, result.stderr
    assert " Storage Driver: overlay" in result.stdout
    assert "  Log: json-file none" in result.stdout
    formatted = moor("-H", daemon.host, "info", "--format", "{{.Driver}} {{json .Plugins.Network}}")
    assert formatted.stdout == 'overlay ["bridge","host","none"]\n'


def test_daemon_not_running(tmp_path) -> None:
    host = f"unix://{tmp_path}/absent.sock"
    for command in (["info"], ["version"]):
        result = moor("-H", host, *command)
        assert result.returncode == 1
        assert f"Cannot connect to the moor daemon at {host}. Is the moor daemon running?" in result.stderr
        assert "Traceback" not in result.stderr


def test_unknown_flag_is_dockers_usage_error(daemon: DaemonProcess) -> None:
    result = moor("-H", daemon.host, "version", "--frobnicate")
    assert result.returncode == 125
    assert result.stderr.startswith("unknown flag: --frobnicate\nSee 'moor version --help'.")


def test_config_default_is_commented_valid_toml() -> None:
    result = moor("config", "default")
    assert result.returncode == 0
    parsed = tomllib.loads(result.stdout)
    assert parsed["data_root"] == "/var/lib/moor" and parsed["log"]["driver"] == "json-file"
    assert result.stdout.count("\n#") >= 5


def test_client_path_imports_nothing_heavy(daemon: DaemonProcess) -> None:
    code = (
        "import sys\n"
        "from moor.cli.main import cli\n"
        f"cli.main(['-H', {daemon.host!r}, 'version'], standalone_mode=False)\n"
        "heavy = [m for m in ('pluggy', 'stevedore', 'pyroute2', 'moor.drivers', 'moor.hookspecs')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
