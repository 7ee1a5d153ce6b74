"""How a driver object is built: the one path that moord and the container monitor share.

A driver is built by calling its *factory* (the class, or callable, its entry
point names) with a :class:`moor.types.DriverContext`:

* moord (:func:`moor.drivers.load_drivers`) finds the factory of each driver
  the config names through its entry point, makes the context with
  :func:`driver_context` and builds the driver with :func:`build_driver`. It
  keeps, for each driver, the :class:`DriverRecipe` it used: the factory's
  import path and that very context.
* A container's monitor (:mod:`moor.monitor`, a separate process forked from
  the zygote, which must start fast: no pluggy, no stevedore, no config file)
  writes the container's log through a log driver of its own. It does not look
  the driver up again: moord passes it the driver's recipe as JSON on its
  command line (``--log-driver-recipe``), and the monitor calls
  :meth:`DriverRecipe.build`, which is :func:`build_driver` on the same factory
  and the same context.

So a driver gets the same context in both processes (its ``home`` and
``exec_home`` under moord's data and exec roots, its options from the config)
and sees no difference between them but the process ID.

This module imports nothing heavy (and not :mod:`moor.config`): the monitor
imports it.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from moor.errors import DriverLoadError, MoorError
from moor.types import DriverContext

if TYPE_CHECKING:
    from moor.config import Config

#: What an entry point names: called with the context, returns the driver object.
DriverFactory = Callable[[DriverContext], Any]


def driver_context(config: Config, kind: str, name: str) -> DriverContext:
    """The context the driver ``name`` of ``kind`` is built with.

    ``home`` is ``<data_root>/<kind>/<name>``, ``exec_home`` is
    ``<exec_root>/<kind>/<name>`` (the driver creates them when it needs them)
    and ``options`` is a copy of the driver's table in the config
    (``[log.json-file]``), empty when there is none.
    """
    return DriverContext(
        kind=kind,
        name=name,
        home=os.path.join(config.data_root, kind, name),
        exec_home=os.path.join(config.exec_root, kind, name),
        options=dict(config.drivers[kind].options.get(name, {})),
    )


def build_driver(factory: DriverFactory, context: DriverContext) -> Any:
    """Build the driver: ``factory(context)``, its failures as :class:`DriverLoadError` naming it.

    A driver refusing its options raises a :class:`moor.errors.MoorError`,
    whose message is kept; any other exception is a plugin failing to start
    and is reported in one line, never as a traceback.
    """
    try:
        return factory(context)
    except MoorError as err:
        raise DriverLoadError(f"{context.kind} driver {context.name!r}: {err}") from None
    except Exception as err:  # noqa: BLE001 -- plugin boundary: report any failure, never a traceback
        raise DriverLoadError(f"{context.kind} driver {context.name!r} failed to start: {err}") from None


def import_factory(path: str) -> DriverFactory:
    """The object at ``package.module:Name`` (``Name`` may be dotted), as an entry point names it."""
    module_name, _, attribute = path.partition(":")
    try:
        found: Any = import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as err:
        raise DriverLoadError(f"driver factory {path!r} cannot be imported: {err}") from None
    if not callable(found):
        raise DriverLoadError(f"driver factory {path!r} is not callable")
    return found


def call_hook(driver: object, hook: str, **kwargs: Any) -> Any:
    """Call the driver's implementation of ``hook`` directly, with only the arguments it declares.

    For a process without a plugin manager (the monitor): as pluggy does, an
    implementation declaring fewer parameters than the spec gets only those.
    No wrapper runs here (wrappers are registered in moord).
    """
    function = getattr(driver, hook)
    declared = inspect.signature(function).parameters
    return function(**{name: value for name, value in kwargs.items() if name in declared})


@dataclass(frozen=True)
class DriverRecipe:
    """How one loaded driver was built: its factory's import path and its context."""

    #: ``package.module:Name``, as the driver's entry point names it
    factory: str
    context: DriverContext

    def build(self) -> Any:
        """Build the driver again, exactly as moord built it (see the module's docstring)."""
        return build_driver(import_factory(self.factory), self.context)

    def to_json(self) -> str:
        return json.dumps({"factory": self.factory, "context": dataclasses.asdict(self.context)})

    @classmethod
    def from_json(cls, text: str) -> DriverRecipe:
        data = json.loads(text)
        return cls(factory=data["factory"], context=DriverContext(**data["context"]))
