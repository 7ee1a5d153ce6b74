"""Finding, loading and calling drivers.

stevedore decides what is imported: for each kind, the drivers the config
names are loaded from the kind's entry-point namespace and built with a
:class:`moor.types.DriverContext`. Each is registered with pluggy as
``"<kind>.<name>"``. A driver that is missing, fails to load, or lacks a
required hook stops moord with a :class:`moor.errors.DriverLoadError` naming it
and the installed alternatives: moord never starts half-configured.

Driver operations are called on one chosen driver through
:meth:`DriverSet.driver`; lifecycle notifications go to every plugin through
:meth:`DriverSet.notify`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pluggy

from moor import hookspecs
from moor.config import DRIVER_KINDS, Config
from moor.errors import DriverLoadError, InvalidParameter, MoorError, NotFound
from moor.types import DriverContext

log = logging.getLogger(__name__)

NAMESPACES = {kind: f"moor.{kind}_drivers" for kind in DRIVER_KINDS}


def installed_drivers(kind: str) -> list[str]:
    """The names of the drivers of ``kind`` installed in this environment."""
    return sorted({ep.name for ep in entry_points(group=NAMESPACES[kind])})


def _installed_text(kind: str) -> str:
    names = installed_drivers(kind)
    return ", ".join(names) if names else "none"


class Driver:
    """One loaded driver: ``driver.prepare(key=...)`` calls ``moor_<kind>_prepare`` on it alone."""

    def __init__(self, manager: pluggy.PluginManager, kind: str, name: str, plugin: object) -> None:
        self.kind = kind
        self.name = name
        self.plugin = plugin
        self._manager = manager
        self._callers: dict[str, Callable[..., Any]] = {}

    def implements(self, operation: str) -> bool:
        """Whether the driver implements ``moor_<kind>_<operation>``."""
        return callable(getattr(self.plugin, f"moor_{self.kind}_{operation}", None))

    def call(self, operation: str, **kwargs: Any) -> Any:
        hook_name = f"moor_{self.kind}_{operation}"
        caller = self._callers.get(hook_name)
        if caller is None:
            if not self.implements(operation):
                raise NotImplementedError(f"{self.kind} driver {self.name!r} does not implement {operation}")
            others = [p for p in self._manager.get_plugins() if p is not self.plugin]
            caller = self._manager.subset_hook_caller(hook_name, remove_plugins=others)
            self._callers[hook_name] = caller
        return caller(**kwargs)

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        if operation.startswith("_"):
            raise AttributeError(operation)
        return lambda **kwargs: self.call(operation, **kwargs)


class DriverSet:
    """Every driver moord loaded, by kind and name, plus the default of each kind."""

    def __init__(self, manager: pluggy.PluginManager, defaults: dict[str, str]) -> None:
        self.manager = manager
        self.defaults = defaults
        self._drivers: dict[str, dict[str, Driver]] = {kind: {} for kind in DRIVER_KINDS}

    def add(self, kind: str, name: str, plugin: object) -> Driver:
        self.manager.register(plugin, name=f"{kind}.{name}")
        driver = Driver(self.manager, kind, name, plugin)
        self._drivers[kind][name] = driver
        return driver

    def names(self, kind: str) -> list[str]:
        return list(self._drivers[kind])

    def driver(self, kind: str, name: str | None = None) -> Driver:
        """The driver ``name`` of ``kind`` (its default when ``name`` is empty)."""
        name = name or self.defaults[kind]
        try:
            return self._drivers[kind][name]
        except KeyError:
            raise _unknown_driver_error(kind, name) from None

    @property
    def storage(self) -> Driver:
        return self.driver("storage")

    def notify(self, event: str, **kwargs: Any) -> None:
        """Call ``moor_container_<event>`` on every plugin; a failing one is logged, not fatal."""
        hook = getattr(self.manager.hook, f"moor_container_{event}")
        for impl in hook.get_hookimpls():
            try:
                impl.function(**kwargs)
            except Exception:  # plugin boundary: a notification never breaks the engine
                log.exception("plugin %s failed on container %s", impl.plugin_name, event)


def _unknown_driver_error(kind: str, name: str) -> MoorError:
    if kind == "log":
        return InvalidParameter(f'logger: no log driver named \'{name}\' is registered')
    if kind == "network":
        return NotFound(f"plugin \"{name}\" not found")
    return NotFound(f"{kind} driver {name!r} not found")


def new_plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager("moor")
    manager.add_hookspecs(hookspecs)
    return manager


def _check_required(kind: str, name: str, plugin: object) -> None:
    missing = [hook for hook in hookspecs.REQUIRED_HOOKS[kind] if not callable(getattr(plugin, hook, None))]
    if missing:
        raise DriverLoadError(
            f"{kind} driver {name!r} is incomplete: it does not implement {', '.join(missing)}"
        )


def load_drivers(config: Config, manager: pluggy.PluginManager | None = None) -> DriverSet:
    """Load every driver the config names; raise :class:`DriverLoadError` on the first problem."""
    from stevedore import NamedExtensionManager

    manager = manager or new_plugin_manager()
    drivers = DriverSet(manager, {kind: config.drivers[kind].driver for kind in DRIVER_KINDS})
    for kind in DRIVER_KINDS:
        kind_config = config.drivers[kind]
        wanted = kind_config.enabled()
        problems: list[str] = []

        def on_failure(_manager: object, entrypoint: Any, error: BaseException) -> None:
            problems.append(f"{kind} driver {entrypoint.name!r} failed to load: {error}")

        def on_missing(names: set[str]) -> None:
            missing = ", ".join(sorted(names))
            problems.append(
                f"{kind} driver {missing!r} is not installed (installed {kind} drivers: {_installed_text(kind)})"
            )

        extensions = NamedExtensionManager(
            namespace=NAMESPACES[kind],
            names=wanted,
            invoke_on_load=False,
            on_load_failure_callback=on_failure,
            on_missing_entrypoints_callback=on_missing,
            name_order=True,
        )
        if problems:
            raise DriverLoadError(problems[0])
        for extension in extensions:
            context = DriverContext(
                kind=kind,
                name=extension.name,
                home=os.path.join(config.data_root, kind, extension.name),
                exec_home=os.path.join(config.exec_root, kind, extension.name),
                options=dict(kind_config.options.get(extension.name, {})),
            )
            try:
                plugin = extension.plugin(context)
            except MoorError as err:
                raise DriverLoadError(f"{kind} driver {extension.name!r}: {err}") from None
            except Exception as err:  # plugin boundary: report any failure, never a traceback
                raise DriverLoadError(f"{kind} driver {extension.name!r} failed to start: {err}") from None
            _check_required(kind, extension.name, plugin)
            drivers.add(kind, extension.name, plugin)
    return drivers
