"""What the engine calls on a driver: one :class:`typing.Protocol` per kind.

The engine never calls a hook by name. It asks :class:`moor.drivers.DriverSet`
for a driver of one kind (``drivers.storage``, ``drivers.network(name)``,
``drivers.volume(name)``, ``drivers.log(name)``) and gets an object that
satisfies the protocol below; a misspelt operation or argument is then a type
error, not a failure at run time.

Each operation is the hook ``moor_<kind>_<operation>`` of
:mod:`moor.hookspecs`, with the same parameters (keyword-only, as the engine
always calls drivers) and the same return type; the specs' docstrings are the
contract. A unit test checks that these protocols and the specs name the same
operations with the same parameters, so that the two cannot drift.

Optional operations (``publish``/``unpublish`` of a network driver,
``read``/``remove`` of a log driver) are asked for first with
``implements(operation)``. Calling one the driver lacks raises
:class:`NotImplementedError`.

This module imports no pluggy: fakes (:mod:`moor.testing`) implement these
protocols without a plugin manager.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Literal, Protocol

from moor.types import (
    Change,
    ContainerRef,
    EndpointInfo,
    EndpointSpec,
    LogMessage,
    LogWriter,
    NetworkSpec,
    PortMapping,
    VolumeInfo,
)

#: The optional operations of each kind: ``implements()`` accepts only these.
NetworkOption = Literal["publish", "unpublish"]
LogOption = Literal["read", "remove"]


class StorageDriver(Protocol):
    """Layers and container snapshots (the ``moor_storage_*`` hooks); every operation is required."""

    @property
    def name(self) -> str:
        """The driver's name in the config (``overlay``)."""
        ...

    def status(self) -> list[tuple[str, str]]: ...

    def apply_layer(self, *, key: str, parent: str | None, diff: IO[bytes], durable: bool = True) -> int: ...

    def prepare(self, *, key: str, parent: str | None) -> bool: ...

    def mount(self, *, key: str) -> str: ...

    def unmount(self, *, key: str) -> bool: ...

    def remove(self, *, key: str) -> bool: ...

    def exists(self, *, key: str) -> bool: ...

    def diff(self, *, key: str) -> IO[bytes]: ...

    def changes(self, *, key: str) -> list[Change]: ...

    def usage(self, *, key: str) -> int: ...


class NetworkDriver(Protocol):
    """Networks and the endpoints of containers in them (the ``moor_network_*`` hooks)."""

    @property
    def name(self) -> str:
        """The driver's name (``bridge``, ``host``, ``none``)."""
        ...

    def implements(self, operation: NetworkOption) -> bool:
        """Whether the driver implements the optional ``operation``."""
        ...

    def create(self, *, network: NetworkSpec) -> dict[str, str]: ...

    def remove(self, *, network: NetworkSpec) -> bool: ...

    def connect(self, *, network: NetworkSpec, endpoint: EndpointSpec, netns_path: str) -> EndpointInfo: ...

    def disconnect(self, *, network: NetworkSpec, endpoint: EndpointSpec, netns_path: str | None) -> bool: ...

    def publish(self, *, network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> bool: ...

    def unpublish(self, *, network: NetworkSpec, endpoint: EndpointSpec) -> bool: ...


class VolumeDriver(Protocol):
    """Named volumes (the ``moor_volume_*`` hooks); every operation is required."""

    @property
    def name(self) -> str:
        """The driver's name (``local``)."""
        ...

    def create(self, *, name: str, options: dict[str, str], labels: dict[str, str]) -> VolumeInfo: ...

    def remove(self, *, name: str, force: bool) -> bool: ...

    def get(self, *, name: str) -> VolumeInfo | None: ...

    def list(self) -> list[VolumeInfo]: ...

    def mount(self, *, name: str, mount_id: str) -> str: ...

    def unmount(self, *, name: str, mount_id: str) -> bool: ...


class LogDriver(Protocol):
    """Where a container's output goes (the ``moor_log_*`` hooks)."""

    @property
    def name(self) -> str:
        """The driver's name (``json-file``, ``none``)."""
        ...

    def implements(self, operation: LogOption) -> bool:
        """Whether the driver implements the optional ``operation``."""
        ...

    def validate(self, *, options: dict[str, str]) -> bool: ...

    def open(self, *, container: ContainerRef) -> LogWriter: ...

    def read(
        self, *, container: ContainerRef, since: float, until: float, tail: int, follow: bool
    ) -> Iterator[LogMessage | None]: ...

    def remove(self, *, container: ContainerRef) -> bool: ...


#: The protocol of each kind, for code that goes over all of them (the drift test, say).
PROTOCOLS: dict[str, type] = {
    "storage": StorageDriver,
    "network": NetworkDriver,
    "volume": VolumeDriver,
    "log": LogDriver,
}
