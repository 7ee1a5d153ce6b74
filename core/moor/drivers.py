"""Finding, loading and calling drivers.

Loading: stevedore decides what is imported. For each kind, the drivers the
config names are loaded from the kind's entry-point namespace and built by
:func:`moor.driverbuild.build_driver` with the context of
:func:`moor.driverbuild.driver_context` (the path the container monitor shares;
see :mod:`moor.driverbuild`). Each is registered with pluggy as
``"<kind>.<name>"``. A driver that is missing, fails to load, or lacks a
required hook stops moord with a :class:`moor.errors.DriverLoadError` naming it
and the installed alternatives: moord never starts half-configured.

Calling: the engine gets a typed facade of one chosen driver from
:class:`DriverSet` (``drivers.storage``, ``drivers.network(name)``,
``drivers.volume(name)``, ``drivers.log(name)``), which satisfies the protocol
of its kind in :mod:`moor.driverapi`. A facade's methods call pluggy's hook
caller of ``moor_<kind>_<operation>`` restricted to that driver, so pluggy's
semantics hold:

* an implementation receives only the arguments it declares (a hook may gain
  an argument without breaking older drivers);
* wrappers (``wrapper=True`` or ``hookwrapper=True``) of any registered plugin
  wrap the call, seeing its arguments and its result or exception;
* the result is the driver's (the operation hooks are ``firstresult``); other
  plain implementations of the hook (other drivers of the kind, or any other
  plugin) are not called.

Lifecycle notifications go to every plugin through :meth:`DriverSet.notify`.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from typing import IO, Any, Literal, overload

import pluggy
from pluggy import HookCaller
from stevedore import NamedExtensionManager

from moor import hookspecs
from moor.config import DRIVER_KINDS, Config
from moor.driverapi import LogDriver, NetworkDriver, StorageDriver, VolumeDriver
from moor.driverbuild import DriverRecipe, build_driver, driver_context
from moor.errors import DriverLoadError, InvalidParameter, MoorError, NotFound
from moor.types import (
    Change,
    ContainerRef,
    DriverContext,
    EndpointInfo,
    EndpointSpec,
    LogMessage,
    LogWriter,
    NetworkSpec,
    PortMapping,
    VolumeInfo,
)

log = logging.getLogger(__name__)

NAMESPACES = {kind: f"moor.{kind}_drivers" for kind in DRIVER_KINDS}

#: The lifecycle events :meth:`DriverSet.notify` announces (``moor_container_<event>``).
LifecycleEvent = Literal["created", "started", "stopped", "removed"]


def installed_drivers(kind: str) -> list[str]:
    """The names of the drivers of ``kind`` installed in this environment."""
    return sorted({ep.name for ep in entry_points(group=NAMESPACES[kind])})


def _installed_text(kind: str) -> str:
    names = installed_drivers(kind)
    return ", ".join(names) if names else "none"


def _is_wrapper(impl: pluggy.HookImpl) -> bool:
    return bool(impl.wrapper or impl.hookwrapper)


# --------------------------------------------------------------------------- facades


class Driver:
    """One loaded driver, called through pluggy; the base of the facade of each kind.

    ``call(operation, **kwargs)`` calls ``moor_<kind>_<operation>`` on this
    driver alone (with the wrappers of every plugin around it). The facades of
    the kinds below name each operation as a typed method; the engine uses
    those, ``call`` is for code that goes over operations by name (the
    conformance suites).
    """

    kind = ""

    def __init__(self, manager: pluggy.PluginManager, name: str, plugin: object) -> None:
        self.name = name
        self.plugin = plugin
        self._manager = manager

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind}.{self.name}>"

    def _hook(self, operation: str) -> HookCaller | None:
        hook: HookCaller | None = getattr(self._manager.hook, f"moor_{self.kind}_{operation}", None)
        return hook

    def implements(self, operation: str) -> bool:
        """Whether the driver itself implements ``moor_<kind>_<operation>`` (not as a wrapper)."""
        hook = self._hook(operation)
        return hook is not None and any(
            impl.plugin is self.plugin and not _is_wrapper(impl) for impl in hook.get_hookimpls()
        )

    def call(self, operation: str, **kwargs: Any) -> Any:
        """Call ``moor_<kind>_<operation>`` on this driver; :class:`NotImplementedError` if it lacks it.

        The hook caller is made for each call (a plugin registered since is
        seen): it drops every plugin with a plain implementation of the hook
        but this driver, and keeps every wrapper.
        """
        hook = self._hook(operation)
        if hook is None:
            raise AttributeError(f"no hook moor_{self.kind}_{operation}")
        others: set[object] = set()
        mine = False
        for impl in hook.get_hookimpls():
            if impl.plugin is self.plugin and not _is_wrapper(impl):
                mine = True
            elif not _is_wrapper(impl):
                others.add(impl.plugin)
        if not mine:
            raise NotImplementedError(f"{self.kind} driver {self.name!r} does not implement {operation}")
        return self._manager.subset_hook_caller(hook.name, remove_plugins=others)(**kwargs)


class StorageFacade(Driver):
    """A storage driver (:class:`moor.driverapi.StorageDriver`)."""

    kind = "storage"

    def status(self) -> list[tuple[str, str]]:
        return self.call("status")

    def apply_layer(self, *, key: str, parent: str | None, diff: IO[bytes], durable: bool = True) -> int:
        return self.call("apply_layer", key=key, parent=parent, diff=diff, durable=durable)

    def prepare(self, *, key: str, parent: str | None) -> bool:
        return self.call("prepare", key=key, parent=parent)

    def mount(self, *, key: str) -> str:
        return self.call("mount", key=key)

    def unmount(self, *, key: str) -> bool:
        return self.call("unmount", key=key)

    def remove(self, *, key: str) -> bool:
        return self.call("remove", key=key)

    def exists(self, *, key: str) -> bool:
        return self.call("exists", key=key)

    def diff(self, *, key: str) -> IO[bytes]:
        return self.call("diff", key=key)

    def changes(self, *, key: str) -> list[Change]:
        return self.call("changes", key=key)

    def usage(self, *, key: str) -> int:
        return self.call("usage", key=key)


class NetworkFacade(Driver):
    """A network driver (:class:`moor.driverapi.NetworkDriver`)."""

    kind = "network"

    def create(self, *, network: NetworkSpec) -> dict[str, str]:
        return self.call("create", network=network)

    def remove(self, *, network: NetworkSpec) -> bool:
        return self.call("remove", network=network)

    def connect(self, *, network: NetworkSpec, endpoint: EndpointSpec, netns_path: str) -> EndpointInfo:
        return self.call("connect", network=network, endpoint=endpoint, netns_path=netns_path)

    def disconnect(self, *, network: NetworkSpec, endpoint: EndpointSpec, netns_path: str | None) -> bool:
        return self.call("disconnect", network=network, endpoint=endpoint, netns_path=netns_path)

    def publish(self, *, network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> bool:
        return self.call("publish", network=network, endpoint=endpoint, ports=ports)

    def unpublish(self, *, network: NetworkSpec, endpoint: EndpointSpec) -> bool:
        return self.call("unpublish", network=network, endpoint=endpoint)


class VolumeFacade(Driver):
    """A volume driver (:class:`moor.driverapi.VolumeDriver`)."""

    kind = "volume"

    def create(self, *, name: str, options: dict[str, str], labels: dict[str, str]) -> VolumeInfo:
        return self.call("create", name=name, options=options, labels=labels)

    def remove(self, *, name: str, force: bool) -> bool:
        return self.call("remove", name=name, force=force)

    def get(self, *, name: str) -> VolumeInfo | None:
        return self.call("get", name=name)

    def list(self) -> builtins.list[VolumeInfo]:
        return self.call("list")

    def mount(self, *, name: str, mount_id: str) -> str:
        return self.call("mount", name=name, mount_id=mount_id)

    def unmount(self, *, name: str, mount_id: str) -> bool:
        return self.call("unmount", name=name, mount_id=mount_id)


class LogFacade(Driver):
    """A log driver (:class:`moor.driverapi.LogDriver`)."""

    kind = "log"

    def validate(self, *, options: dict[str, str]) -> bool:
        return self.call("validate", options=options)

    def open(self, *, container: ContainerRef) -> LogWriter:
        return self.call("open", container=container)

    def read(
        self, *, container: ContainerRef, since: float, until: float, tail: int, follow: bool
    ) -> Iterator[LogMessage | None]:
        return self.call("read", container=container, since=since, until=until, tail=tail, follow=follow)

    def remove(self, *, container: ContainerRef) -> bool:
        return self.call("remove", container=container)


#: The facade class of each kind.
FACADES: dict[str, type[Driver]] = {
    "storage": StorageFacade,
    "network": NetworkFacade,
    "volume": VolumeFacade,
    "log": LogFacade,
}


# --------------------------------------------------------------------------- the set


class DriverSet:
    """Every driver moord loaded, by kind and name, plus the default of each kind."""

    def __init__(self, manager: pluggy.PluginManager, defaults: dict[str, str]) -> None:
        self.manager = manager
        self.defaults = defaults
        self._drivers: dict[str, dict[str, Driver]] = {kind: {} for kind in DRIVER_KINDS}
        self._recipes: dict[tuple[str, str], DriverRecipe] = {}

    def add(self, kind: str, name: str, plugin: object, recipe: DriverRecipe | None = None) -> Driver:
        """Register ``plugin`` as the driver ``name`` of ``kind`` (``recipe``: how it was built)."""
        self.manager.register(plugin, name=f"{kind}.{name}")
        driver = FACADES[kind](self.manager, name, plugin)
        self._drivers[kind][name] = driver
        if recipe is not None:
            self._recipes[kind, name] = recipe
        return driver

    def names(self, kind: str) -> builtins.list[str]:
        return builtins.list(self._drivers[kind])

    @overload
    def driver(self, kind: Literal["storage"], name: str | None = None) -> StorageFacade: ...
    @overload
    def driver(self, kind: Literal["network"], name: str | None = None) -> NetworkFacade: ...
    @overload
    def driver(self, kind: Literal["volume"], name: str | None = None) -> VolumeFacade: ...
    @overload
    def driver(self, kind: Literal["log"], name: str | None = None) -> LogFacade: ...
    @overload
    def driver(self, kind: str, name: str | None = None) -> Driver: ...

    def driver(self, kind: str, name: str | None = None) -> Driver:
        """The driver ``name`` of ``kind`` (its default when ``name`` is empty)."""
        name = name or self.defaults[kind]
        try:
            return self._drivers[kind][name]
        except KeyError:
            raise _unknown_driver_error(kind, name) from None

    @property
    def storage(self) -> StorageDriver:
        """The storage driver (one serves at a time)."""
        return self.driver("storage")

    def network(self, name: str | None = None) -> NetworkDriver:
        """The network driver ``name`` (the default one when empty)."""
        return self.driver("network", name)

    def volume(self, name: str | None = None) -> VolumeDriver:
        """The volume driver ``name`` (the default one when empty)."""
        return self.driver("volume", name)

    def log(self, name: str | None = None) -> LogDriver:
        """The log driver ``name`` (the default one when empty)."""
        return self.driver("log", name)

    def recipe(self, kind: str, name: str | None = None) -> DriverRecipe:
        """How the driver ``name`` of ``kind`` was built, to build it again in another process.

        The container monitor builds its log driver from this (see
        :mod:`moor.driverbuild`). A driver added without a recipe (a test's
        fake, say) gets one from its class and an empty context.
        """
        driver = self.driver(kind, name)
        recipe = self._recipes.get((kind, driver.name))
        if recipe is None:
            factory = type(driver.plugin)
            recipe = DriverRecipe(factory=f"{factory.__module__}:{factory.__qualname__}",
                                  context=DriverContext(kind=kind, name=driver.name, home="", exec_home=""))
        return recipe

    def notify(self, event: LifecycleEvent, *, container: ContainerRef) -> None:
        """Call ``moor_container_<event>`` on every plugin; a failing one is logged, not fatal.

        Each implementation is called through its own pluggy hook caller (the
        hook restricted to its plugin), in pluggy's order, so it receives only
        the arguments it declares, the wrappers of every plugin wrap it, and
        its exception is caught and logged without keeping the others from
        being called. The results are ignored.
        """
        hook: HookCaller = getattr(self.manager.hook, f"moor_container_{event}")
        impls = hook.get_hookimpls()
        receivers = [impl for impl in reversed(impls) if not _is_wrapper(impl)]
        for receiver in receivers:
            others = {impl.plugin for impl in receivers if impl.plugin is not receiver.plugin}
            try:
                self.manager.subset_hook_caller(hook.name, remove_plugins=others)(container=container)
            except Exception:  # plugin boundary: a notification never breaks the engine
                log.exception("plugin %s failed on container %s", receiver.plugin_name, event)


def _unknown_driver_error(kind: str, name: str) -> MoorError:
    if kind == "log":
        return InvalidParameter(f"logger: no log driver named '{name}' is registered")
    if kind == "network":
        return NotFound(f"plugin \"{name}\" not found")
    return NotFound(f"{kind} driver {name!r} not found")


# --------------------------------------------------------------------------- loading


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


def _extensions(kind: str, wanted: builtins.list[str]) -> NamedExtensionManager:
    """The entry points of the drivers ``wanted`` of ``kind``, loaded (their factories imported), in order."""
    problems: builtins.list[str] = []

    def on_failure(_manager: object, entrypoint: Any, error: BaseException) -> None:
        problems.append(f"{kind} driver {entrypoint.name!r} failed to load: {error}")

    def on_missing(names: Iterable[str]) -> None:
        missing = ", ".join(sorted(names))
        problems.append(
            f"{kind} driver {missing!r} is not installed (installed {kind} drivers: {_installed_text(kind)})"
        )

    extensions: NamedExtensionManager = NamedExtensionManager(
        namespace=NAMESPACES[kind],
        names=wanted,
        invoke_on_load=False,
        on_load_failure_callback=on_failure,
        on_missing_entrypoints_callback=on_missing,
        name_order=True,
    )
    if problems:
        raise DriverLoadError(problems[0])
    return extensions


def load_drivers(config: Config, manager: pluggy.PluginManager | None = None) -> DriverSet:
    """Load every driver the config names; raise :class:`DriverLoadError` on the first problem.

    Each driver is built by :func:`moor.driverbuild.build_driver` from its
    entry point's factory and :func:`moor.driverbuild.driver_context`; its
    :class:`~moor.driverbuild.DriverRecipe` is kept (:meth:`DriverSet.recipe`).
    """
    manager = manager or new_plugin_manager()
    drivers = DriverSet(manager, {kind: config.drivers[kind].driver for kind in DRIVER_KINDS})
    for kind in DRIVER_KINDS:
        for extension in _extensions(kind, config.drivers[kind].enabled()):
            context = driver_context(config, kind, extension.name)
            point = extension.entry_point
            recipe = DriverRecipe(factory=f"{point.module}:{point.attr}", context=context)
            plugin = build_driver(extension.plugin, context)
            _check_required(kind, extension.name, plugin)
            drivers.add(kind, extension.name, plugin, recipe)
    return drivers
