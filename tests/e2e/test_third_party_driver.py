"""A driver installed with pip and named in the config works exactly like ours."""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest

from e2e.containerhelpers import import_busybox, moor
from moor.testing.conformance import VolumeDriverConformance, load_driver
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


VOLUME_FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "moor-volume-testdir"
VOLUME_CONFIG = '[volume]\ndrivers = ["local", "testdir"]\n'


@pytest.fixture(scope="module")
def testdir_volume_driver_installed() -> Iterator[None]:
    result = pip("install", "--no-deps", "--no-build-isolation", "--no-index", str(VOLUME_FIXTURE))
    assert result.returncode == 0, result.stderr
    forget_entry_points()
    try:
        yield
    finally:
        pip("uninstall", "-y", "moor-volume-testdir")
        forget_entry_points()


def forget_entry_points() -> None:
    """Make this process see a driver installed after it loaded drivers (the conformance suite loads in-process).

    stevedore keeps the entry points it read in memory (per namespace, and per sys.path beneath);
    moord itself never needs this.
    """
    from stevedore import _cache
    from stevedore.extension import ExtensionManager

    importlib.invalidate_caches()
    ExtensionManager.ENTRY_POINT_CACHE.clear()
    _cache._c._internal.clear()


class TestTestdirVolumeDriverConformance(VolumeDriverConformance):
    """The pip-installed volume driver passes the same suite as the local one."""

    @pytest.fixture
    def driver(self, testdir_volume_driver_installed, tmp_path):
        return load_driver("volume", "testdir", tmp_path)


def test_volume_commands_with_a_third_party_driver(testdir_volume_driver_installed, tmp_path) -> None:
    with DaemonProcess(str(tmp_path / "v"), config_text=VOLUME_CONFIG) as daemon:
        assert daemon.client().get("/info")["Plugins"]["Volume"] == ["local", "testdir"]
        created = moor(daemon, "volume", "create", "-d", "testdir", "-o", "flavour=mint", "--label", "l=1", "tv")
        assert created.stdout == "tv\n", created.stderr
        assert moor(daemon, "volume", "create", "localvol").returncode == 0
        listed = moor(daemon, "volume", "ls").stdout.splitlines()
        assert listed == ["DRIVER    VOLUME NAME", "local     localvol", "testdir   tv"]
        assert moor(daemon, "volume", "ls", "-q", "-f", "driver=testdir").stdout == "tv\n"
        [shown] = json.loads(moor(daemon, "volume", "inspect", "tv").stdout)
        assert shown["Driver"] == "testdir" and shown["Status"] == {"flavour": "mint", "users": 0}
        assert shown["Labels"] == {"l": "1"} and shown["Options"] == {"flavour": "mint"}
        assert shown["Mountpoint"] == os.path.join(daemon.data_root, "volume", "testdir", "vols", "tv")
        refused = moor(daemon, "volume", "create", "-d", "testdir", "-o", "colour=red", "bad")
        assert refused.returncode == 1 and "create bad: testdir: invalid option: 'colour'" in refused.stderr
        clash = moor(daemon, "volume", "create", "-d", "local", "tv")
        assert clash.returncode == 1 and "volume name must be unique" in clash.stderr
        daemon.stop()
        daemon.start()  # which driver owns which volume survives a restart
        assert moor(daemon, "volume", "ls", "-q").stdout == "localvol\ntv\n"
        assert moor(daemon, "volume", "rm", "tv", "localvol").stdout == "tv\nlocalvol\n"
        assert not os.path.exists(shown["Mountpoint"])
        assert moor(daemon, "volume", "ls", "-q").stdout == ""


@pytest.mark.root
def test_run_with_a_third_party_volume_driver(testdir_volume_driver_installed, tmp_path) -> None:
    with DaemonProcess(str(tmp_path / "r"), config_text=VOLUME_CONFIG) as daemon:
        import_busybox(daemon)
        result = moor(daemon, "run", "--name", "vd", "--volume-driver", "testdir", "-v", "drv:/data", "busybox",
                      "sh", "-c", "cat /data/.testdir; echo written > /data/out")
        assert result.stdout == "plain\n", result.stderr
        [shown] = json.loads(moor(daemon, "volume", "inspect", "drv").stdout)
        assert shown["Driver"] == "testdir"
        with open(os.path.join(shown["Mountpoint"], "out")) as handle:
            assert handle.read() == "written\n"
        assert moor(daemon, "rm", "vd").returncode == 0
        assert moor(daemon, "volume", "rm", "drv").returncode == 0
