"""Drivers: loading through entry points (missing ones stop moord), typed facades over pluggy, one build path."""

from __future__ import annotations

import inspect
import typing

import pytest

from moor import config as config_module
from moor import driverapi, hookspecs
from moor.driverbuild import DriverRecipe, build_driver, call_hook, driver_context
from moor.drivers import FACADES, installed_drivers, load_drivers
from moor.errors import DriverLoadError, InvalidParameter
from moor.types import ContainerRef, DriverContext


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
    from moor.testing.fakes import LifecycleRecorder

    class Broken:
        @hookimpl
        def moor_container_started(self, container: ContainerRef) -> None:
            raise RuntimeError("boom")

    drivers = load_drivers(_config(tmp_path))
    recorder = LifecycleRecorder()
    drivers.manager.register(Broken(), name="broken")
    drivers.manager.register(recorder, name="recorder")
    ref = ContainerRef(id="abc", name="x", exit_code=3)
    drivers.notify("created", container=ref)
    drivers.notify("started", container=ref)
    drivers.notify("stopped", container=ref)
    drivers.notify("removed", container=ref)
    assert recorder.seen == ["created abc", "started abc", "stopped abc 3", "removed abc"]


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


# --------------------------------------------------------------------------- dispatch keeps pluggy's semantics


class LeanVolumes:
    """A volume driver written against an older spec: its hooks declare fewer parameters than today's."""

    from moor import hookimpl

    def __init__(self) -> None:
        self.removed: list[str] = []

    @hookimpl
    def moor_volume_remove(self, name: str) -> bool:  # no ``force``
        self.removed.append(name)
        return True

    @hookimpl
    def moor_volume_list(self) -> list:
        return []

    @hookimpl
    def moor_volume_get(self) -> None:  # no ``name`` at all
        return None


def test_an_implementation_receives_only_the_arguments_it_declares(tmp_path) -> None:
    drivers = load_drivers(_config(tmp_path))
    lean = LeanVolumes()
    drivers.add("volume", "lean", lean)
    assert drivers.volume("lean").remove(name="v1", force=True) is True
    assert drivers.volume("lean").get(name="v1") is None
    assert lean.removed == ["v1"]


def test_a_call_reaches_the_chosen_driver_alone(tmp_path) -> None:
    drivers = load_drivers(_config(tmp_path))
    lean, other = LeanVolumes(), LeanVolumes()
    drivers.add("volume", "lean", lean)
    drivers.add("volume", "other", other)

    class Bystander:  # not a driver, with a plain implementation of the hook: not called either
        from moor import hookimpl

        @hookimpl
        def moor_volume_remove(self, name: str, force: bool) -> bool:
            raise AssertionError("a bystander was called")

    drivers.manager.register(Bystander(), name="bystander")
    drivers.volume("lean").remove(name="v1", force=False)
    assert lean.removed == ["v1"] and other.removed == []


def test_a_wrapper_sees_a_driver_call_and_its_result(tmp_path) -> None:
    from moor import hookimpl

    seen: list[object] = []

    class Auditor:
        @hookimpl(wrapper=True)
        def moor_volume_remove(self, name: str, force: bool):
            seen.append(("before", name, force))
            result = yield
            seen.append(("after", result))
            return result

        @hookimpl(hookwrapper=True)
        def moor_volume_list(self):
            outcome = yield
            seen.append(("listed", outcome.get_result()))

    drivers = load_drivers(_config(tmp_path))
    drivers.add("volume", "lean", LeanVolumes())
    drivers.manager.register(Auditor(), name="auditor")
    assert drivers.volume("lean").remove(name="v1", force=True) is True
    assert drivers.volume("lean").list() == []
    assert seen == [("before", "v1", True), ("after", True), ("listed", [])]
    # a wrapper is not an implementation: the driver still decides what it implements
    assert not drivers.driver("volume", "lean").implements("create")
    with pytest.raises(NotImplementedError, match="does not implement create"):
        drivers.volume("lean").create(name="v", options={}, labels={})


def test_a_wrapper_can_change_a_drivers_result(tmp_path) -> None:
    from moor import hookimpl

    class Renamer:
        @hookimpl(wrapper=True)
        def moor_log_validate(self, options: dict[str, str]):
            yield
            return "wrapped"

    drivers = load_drivers(_config(tmp_path))
    drivers.manager.register(Renamer(), name="renamer")
    assert drivers.log("json-file").validate(options={}) == "wrapped"


def test_optional_operations_are_asked_for_first(tmp_path) -> None:
    drivers = load_drivers(_config(tmp_path))
    assert drivers.log("json-file").implements("read")
    assert not drivers.log("none").implements("read")
    assert not drivers.log("none").implements("remove")
    with pytest.raises(NotImplementedError):
        drivers.log("none").read(container=ContainerRef(id="c", name="c"), since=0, until=0, tail=-1,
                                 follow=False)


def test_notifications_pass_each_plugin_only_its_arguments_and_log_failures(tmp_path, caplog) -> None:
    from moor import hookimpl

    seen: list[str] = []

    class Terse:  # declares no argument at all
        @hookimpl
        def moor_container_started(self) -> None:
            seen.append("terse")

    class Broken:
        @hookimpl
        def moor_container_started(self, container: ContainerRef) -> None:
            raise RuntimeError("boom")

    class Wrapper:
        @hookimpl(wrapper=True)
        def moor_container_started(self, container: ContainerRef):
            seen.append(f"wrap {container.id}")
            return (yield)

    drivers = load_drivers(_config(tmp_path))
    drivers.manager.register(Terse(), name="terse")
    drivers.manager.register(Broken(), name="broken")
    drivers.manager.register(Wrapper(), name="wrapper")
    with caplog.at_level("ERROR", logger="moor.drivers"):
        drivers.notify("started", container=ContainerRef(id="abc", name="x"))
    # pluggy's order (last registered first); the wrapper wraps each delivery
    assert seen == ["wrap abc", "wrap abc", "terse"]
    assert "plugin broken failed on container started" in caplog.text


# --------------------------------------------------------------------------- facades match the specs


def _spec_operations(kind: str) -> dict[str, inspect.Signature]:
    prefix = f"moor_{kind}_"
    return {name[len(prefix):]: inspect.signature(getattr(hookspecs, name))
            for name in dir(hookspecs) if name.startswith(prefix)}


def _operations(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(getattr(cls, name)) for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_") and name != "implements"}


@pytest.mark.parametrize("kind", ["storage", "network", "volume", "log"])
def test_protocols_and_facades_name_exactly_the_specs_operations(kind: str) -> None:
    """Facade and specs cannot drift: same operations, same keyword-only parameters, same result types."""
    specs = _spec_operations(kind)
    for cls in (driverapi.PROTOCOLS[kind], FACADES[kind]):
        operations = _operations(cls)
        assert sorted(operations) == sorted(specs), cls
        for operation, signature in operations.items():
            spec = specs[operation]
            parameters = list(signature.parameters.values())[1:]  # without self
            assert [p.name for p in parameters] == list(spec.parameters), (cls, operation)
            assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters), (cls, operation)
            assert [p.annotation for p in parameters] == [p.annotation for p in spec.parameters.values()]
            returned = signature.return_annotation.replace("builtins.", "")
            assert returned == spec.return_annotation, (cls, operation)


@pytest.mark.parametrize("kind", ["storage", "network", "volume", "log"])
def test_optional_operations_are_those_not_required(kind: str) -> None:
    optional = {name for name in _spec_operations(kind)
                if f"moor_{kind}_{name}" not in hookspecs.REQUIRED_HOOKS[kind]}
    implements = getattr(driverapi.PROTOCOLS[kind], "implements", None)
    if implements is None:
        assert optional == set()
    else:
        accepted = inspect.signature(implements).parameters["operation"].annotation
        assert accepted == {"network": "NetworkOption", "log": "LogOption"}[kind]
        assert set(typing.get_args(getattr(driverapi, accepted))) == optional


def test_the_facade_of_each_kind_comes_from_the_driver_set(tmp_path) -> None:
    drivers = load_drivers(_config(tmp_path))
    assert isinstance(drivers.storage, FACADES["storage"])
    assert isinstance(drivers.network("bridge"), FACADES["network"])
    assert isinstance(drivers.volume(), FACADES["volume"])
    assert isinstance(drivers.log("none"), FACADES["log"])
    assert drivers.network().name == "bridge" and drivers.volume().name == "local"


# --------------------------------------------------------------------------- one way to build a driver


def test_moord_keeps_how_it_built_each_driver(tmp_path) -> None:
    config = _config(tmp_path, {"log": {"json-file": {"max-size": "1m"}}})
    drivers = load_drivers(config)
    recipe = drivers.recipe("log", "json-file")
    assert recipe.factory == "moor.logdrivers.jsonfile:JsonFileLogDriver"
    assert recipe.context == driver_context(config, "log", "json-file")
    assert recipe.context.home == str(tmp_path / "data" / "log" / "json-file")
    assert recipe.context.exec_home == str(tmp_path / "exec" / "log" / "json-file")
    assert recipe.context.options == {"max-size": "1m"}
    assert drivers.recipe("log").context.name == "json-file"  # the default


def test_a_recipe_crosses_processes_as_json_and_builds_the_same_driver(tmp_path) -> None:
    config = _config(tmp_path, {"log": {"json-file": {"max-size": "1m"}}})
    recipe = load_drivers(config).recipe("log", "json-file")
    again = DriverRecipe.from_json(recipe.to_json())
    assert again == recipe
    driver = again.build()
    assert type(driver).__name__ == "JsonFileLogDriver" and driver.defaults == {"max-size": "1m"}


def test_building_a_driver_reports_its_failure_in_one_line() -> None:
    context = DriverContext(kind="log", name="json-file", home="", exec_home="", options={"colour": "red"})
    with pytest.raises(DriverLoadError, match="log driver 'json-file': unknown log opt 'colour'"):
        DriverRecipe("moor.logdrivers.jsonfile:JsonFileLogDriver", context).build()
    with pytest.raises(DriverLoadError, match="cannot be imported"):
        DriverRecipe("moor.logdrivers.nope:Driver", context).build()

    def explode(_context: DriverContext) -> None:
        raise ValueError("no")

    with pytest.raises(DriverLoadError, match="failed to start: no"):
        build_driver(explode, context)


def test_the_monitor_builds_its_log_driver_from_moords_recipe(tmp_path) -> None:
    from moor.monitor.main import open_log_writer, parse_args

    recipe = load_drivers(_config(tmp_path)).recipe("log", "json-file")
    log_path = tmp_path / "c1-json.log"
    args = parse_args(["--id", "c1", "--state-dir", str(tmp_path), "--bundle", "b", "--runtime-root", "r",
                       "--log-driver", "json-file", "--log-driver-recipe", recipe.to_json(),
                       "--log-path", str(log_path), "--name", "c1"])
    logger = open_log_writer(args)
    assert logger is not None
    logger.feed("stdout", b"hello\n")
    logger.close()
    assert '"log": "hello\\n"' in log_path.read_text()


def test_a_direct_hook_call_passes_only_the_declared_arguments() -> None:
    lean = LeanVolumes()
    assert call_hook(lean, "moor_volume_remove", name="v1", force=True) is True
    assert lean.removed == ["v1"]
