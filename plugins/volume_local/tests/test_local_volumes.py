"""The local volume driver passes the volume conformance suite."""

from __future__ import annotations

import os

import pytest

from moor.errors import Conflict, DriverLoadError, InvalidParameter, MoorError
from moor.testing.conformance import VolumeDriverConformance, load_driver
from moor.testing.daemon import unmount_under


class TestLocalVolumes(VolumeDriverConformance):
    @pytest.fixture
    def driver(self, tmp_path):
        return load_driver("volume", "local", tmp_path)

    def test_volumes_survive_a_reload(self, driver, tmp_path) -> None:
        driver.create(name="kept", options={}, labels={"k": "v"})
        again = load_driver("volume", "local", tmp_path)
        assert again.get(name="kept").labels == {"k": "v"}


def test_unknown_driver_option(tmp_path) -> None:
    with pytest.raises(DriverLoadError, match="unknown option 'size'"):
        load_driver("volume", "local", tmp_path, {"size": "1g"})


def test_volumes_live_where_docker_puts_them(tmp_path) -> None:
    driver = load_driver("volume", "local", tmp_path)
    info = driver.create(name="where", options={}, labels={})
    assert info.mountpoint == f"{tmp_path}/data/volumes/where/_data"
    assert driver.get(name="../where") is None and driver.get(name="x\x00") is None


def test_unknown_volume_option_is_dockers_error(tmp_path) -> None:
    driver = load_driver("volume", "local", tmp_path)
    with pytest.raises(InvalidParameter, match='^invalid option: "foo"$'):
        driver.create(name="opts", options={"foo": "bar"}, labels={})
    assert driver.get(name="opts") is None


def test_users_survive_a_reload(tmp_path) -> None:
    driver = load_driver("volume", "local", tmp_path)
    driver.create(name="counted", options={}, labels={})
    driver.mount(name="counted", mount_id="c1")
    again = load_driver("volume", "local", tmp_path)
    with pytest.raises(Conflict):
        again.remove(name="counted", force=False)
    assert again.unmount(name="counted", mount_id="c1") is True
    assert again.remove(name="counted", force=False) is True


@pytest.fixture
def cleanup_mounts(tmp_path):
    yield
    unmount_under(str(tmp_path))


@pytest.mark.root
def test_tmpfs_volume_is_mounted_by_its_first_user_and_unmounted_by_its_last(tmp_path, cleanup_mounts) -> None:
    driver = load_driver("volume", "local", tmp_path)
    info = driver.create(name="scratch", labels={},
                         options={"type": "tmpfs", "device": "tmpfs", "o": "size=4m,mode=0750"})
    assert not is_mounted(info.mountpoint)
    path = driver.mount(name="scratch", mount_id="c1")
    assert is_mounted(path) and mount_type(path) == "tmpfs"
    assert oct(os.stat(path).st_mode & 0o777) == "0o750"
    (tmp_path / "data/volumes/scratch/_data/file").write_text("in tmpfs")
    driver.mount(name="scratch", mount_id="c2")
    assert driver.unmount(name="scratch", mount_id="c1") is True
    assert is_mounted(path)
    reloaded = load_driver("volume", "local", tmp_path)  # a moord restart keeps the mount and its users
    assert reloaded.unmount(name="scratch", mount_id="c2") is True
    assert not is_mounted(path) and os.listdir(path) == []
    assert reloaded.remove(name="scratch", force=False) is True


@pytest.mark.root
def test_bind_volume_shows_the_host_directory_and_removal_keeps_it(tmp_path, cleanup_mounts) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "kept").write_text("host file")
    driver = load_driver("volume", "local", tmp_path)
    driver.create(name="bound", labels={}, options={"type": "none", "device": str(host), "o": "bind"})
    path = driver.mount(name="bound", mount_id="c1")
    assert open(os.path.join(path, "kept")).read() == "host file"
    driver.unmount(name="bound", mount_id="c1")
    driver.mount(name="bound", mount_id="c2")
    (tmp_path / "exec/volume/local/users.json").unlink()  # lost counts (a crash): the mount is still there
    reloaded = load_driver("volume", "local", tmp_path)
    assert reloaded.remove(name="bound", force=False) is True  # unmounts first, never deletes through it
    assert (host / "kept").read_text() == "host file"


@pytest.mark.root
def test_a_failing_mount_counts_no_user(tmp_path, cleanup_mounts) -> None:
    driver = load_driver("volume", "local", tmp_path)
    driver.create(name="broken", labels={}, options={"type": "none", "device": str(tmp_path / "absent"), "o": "bind"})
    with pytest.raises(MoorError, match="error while mounting volume"):
        driver.mount(name="broken", mount_id="c1")
    assert driver.remove(name="broken", force=False) is True


def is_mounted(path: str) -> bool:
    return mount_type(path) != ""


def mount_type(path: str) -> str:
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            if fields[4] == path:
                return fields[fields.index("-") + 1]
    return ""
