"""Driver loading: the configured drivers load through entry points; missing ones stop moord."""

from __future__ import annotations

import pytest

from moor import config as config_module
from moor.drivers import installed_drivers, load_drivers
from moor.errors import DriverLoadError, InvalidParameter
from moor.types import ContainerRef


def _config(tmp_path, document: dict[str, object] | None = None) -> config_module.Config:
    document = dict(document or {})
    document.setdefault("data_root", str(tmp_path / "data"))
    document.setdefault("exec_root", str(tmp_path / "exec"))
    return config_module.parse(document)


def test_default_drivers_load_and_register_under_kind_and_name(tmp_path) -> None:
    drivers = load_drivers(_config(tmp_path))
    names = {name for name, _ in drivers.manager.list_name_plugin()}
    assert {"storage.overlay", "network.bridge", "network.host", "network.none",
            "volume.local", "log.json-file", "log.none"} <= names
    assert drivers.storage.name == "overlay"
    assert drivers.driver("log").name == "json-file"


def test_core_log_drivers_are_ordinary_entry_points() -> None:
    assert {"json-file", "none"} <= set(installed_drivers("log"))


def test_missing_driver_names_it_and_lists_installed(tmp_path) -> None:
    with pytest.raises(DriverLoadError) as caught:
        load_drivers(_config(tmp_path, {"storage": {"driver": "zfs"}}))
    message = str(caught.value)
    assert "'zfs'" in message and "not installed" in message and "overlay" in message
    assert "\n" not in message


def test_driver_rejecting_its_options_stops_loading(tmp_path) -> None:
    with pytest.raises(DriverLoadError, match="unknown log opt 'colour' for json-file"):
        load_drivers(_config(tmp_path, {"log": {"json-file": {"colour": "red"}}}))


def test_operations_go_to_the_chosen_driver_only(tmp_path) -> None:
    drivers = load_drivers(_config(tmp_path))
    container = ContainerRef(id="c1", name="c1", log_path=str(tmp_path / "c1.log"))
    assert drivers.driver("log", "json-file").validate(options={"max-size": "1m"}) is True
    with pytest.raises(InvalidParameter, match="for none log driver"):
        drivers.driver("log", "none").validate(options={"max-size": "1m"})
    writer = drivers.driver("log", "none").open(container=container)
    writer.close()
    assert not (tmp_path / "c1.log").exists()


def test_unknown_log_driver_at_call_time_is_dockers_error(tmp_path) -> None:
    drivers = load_drivers(_config(tmp_path))
    with pytest.raises(InvalidParameter, match="no log driver named 'syslog' is registered"):
        drivers.driver("log", "syslog")


def test_lifecycle_notifications_reach_every_plugin_and_survive_failures(tmp_path) -> None:
    from moor import hookimpl

    seen: list[str] = []

    class Broken:
        @hookimpl
        def moor_container_started(self, container: ContainerRef) -> None:
            raise RuntimeError("boom")

    class Recorder:
        @hookimpl
        def moor_container_created(self, container: ContainerRef) -> None:
            seen.append(f"created {container.id}")

        @hookimpl
        def moor_container_started(self, container: ContainerRef) -> None:
            seen.append(f"started {container.id}")

        @hookimpl
        def moor_container_stopped(self, container: ContainerRef) -> None:
            seen.append(f"stopped {container.id} {container.exit_code}")

        @hookimpl
        def moor_container_removed(self, container: ContainerRef) -> None:
            seen.append(f"removed {container.id}")

    drivers = load_drivers(_config(tmp_path))
    drivers.manager.register(Broken(), name="broken")
    drivers.manager.register(Recorder(), name="recorder")
    ref = ContainerRef(id="abc", name="x", exit_code=3)
    drivers.notify("created", container=ref)
    drivers.notify("started", container=ref)
    drivers.notify("stopped", container=ref)
    drivers.notify("removed", container=ref)
    assert seen == ["created abc", "started abc", "stopped abc 3", "removed abc"]


def test_incomplete_driver_is_refused(tmp_path) -> None:
    from moor.drivers import _check_required

    class HalfVolume:
        def moor_volume_create(self) -> None: ...

    with pytest.raises(DriverLoadError, match="does not implement moor_volume_remove"):
        _check_required("volume", "half", HalfVolume())


def test_moor_hookimpl_marks_what_pluggys_marker_marks() -> None:
    import pluggy

    from moor import hookimpl

    def ours() -> None: ...

    def theirs() -> None: ...

    hookimpl(tryfirst=True)(ours)
    pluggy.HookimplMarker("moor")(tryfirst=True)(theirs)
    assert ours.moor_impl == theirs.moor_impl
    hookimpl(ours)
    pluggy.HookimplMarker("moor")(theirs)
    assert ours.moor_impl == theirs.moor_impl
