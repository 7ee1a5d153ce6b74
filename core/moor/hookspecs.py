"""The hook specifications: the contract between the moor engine and its drivers.

Four kinds of driver exist: storage, network, volume and log. A driver is an
object (usually a class instance built by the loader with a
:class:`moor.types.DriverContext`) whose methods are marked with
``moor.hookimpl``. It is found through the entry-point namespace of its kind
(``moor.storage_drivers``, ``moor.network_drivers``, ``moor.volume_drivers``,
``moor.log_drivers``) and registered with pluggy as ``"<kind>.<name>"``.

Driver operations are ``firstresult`` hooks that the engine calls on exactly
one driver (the one the user chose), always with keyword arguments, through
the typed facade of its kind (:mod:`moor.driverapi`, :mod:`moor.drivers`). A
driver implements the operations of its kind; the loader refuses a driver that
misses a required one (``REQUIRED_HOOKS``; the others say "Optional").

As everywhere in pluggy, an implementation may declare fewer parameters than
its spec and receives only those it declares, so a spec can gain a parameter
without breaking older drivers. It declares them as ordinary parameters: pluggy
passes them by position and never passes a keyword-only one. Wrappers
(``hookimpl(wrapper=True)`` or ``hookwrapper=True``) registered by any plugin
wrap the chosen driver's call; plain implementations of other plugins are not
called.

Lifecycle notifications (``moor_container_*``) are broadcast to every
registered plugin, each called on its own (wrappers wrap each call); their
return values are ignored and an exception in one is logged, never fatal.

Errors: a driver raises only errors from :mod:`moor.errors`; it translates
``OSError`` and library errors at its boundary.
"""

# The specs below are signatures with docstrings: pluggy never calls them, so their bodies are empty.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import pluggy

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

hookspec = pluggy.HookspecMarker("moor")

#: The hooks each kind of driver must implement; the loader checks them.
REQUIRED_HOOKS: dict[str, tuple[str, ...]] = {
    "storage": (
        "moor_storage_apply_layer",
        "moor_storage_prepare",
        "moor_storage_mount",
        "moor_storage_unmount",
        "moor_storage_remove",
        "moor_storage_exists",
        "moor_storage_diff",
        "moor_storage_changes",
        "moor_storage_usage",
        "moor_storage_status",
    ),
    "network": (
        "moor_network_create",
        "moor_network_remove",
        "moor_network_connect",
        "moor_network_disconnect",
    ),
    "volume": (
        "moor_volume_create",
        "moor_volume_remove",
        "moor_volume_get",
        "moor_volume_list",
        "moor_volume_mount",
        "moor_volume_unmount",
    ),
    "log": ("moor_log_validate", "moor_log_open"),
}


# --------------------------------------------------------------------------- storage


@hookspec(firstresult=True)
def moor_storage_status() -> list[tuple[str, str]]:
    """Describe the storage driver for ``moor info``.

    :return: ``(label, value)`` pairs shown as ``DriverStatus`` in ``/info``,
        for example ``("Backing Filesystem", "extfs")`` and
        ``("Supports d_type", "true")``.
    :raises moor.errors.Unavailable: the backing filesystem cannot be used.

    Called by ``/info`` and once when moord starts (to fail early).
    """


@hookspec(firstresult=True)
def moor_storage_apply_layer(key: str, parent: str | None, diff: IO[bytes], durable: bool = True) -> int:
    """Create the read-only layer ``key`` from a tar stream on top of ``parent``.

    :param key: the layer's name in the driver (the engine passes the layer's
        chain ID without ``sha256:``); unique and not yet present.
    :param parent: the key of the layer below, or ``None`` for a base layer.
    :param diff: an uncompressed tar stream in OCI layer form (whiteouts as
        ``.wh.<name>`` and ``.wh..wh..opq`` entries).
    :param durable: ``True`` (an image's layer): on disk when the call returns,
        so that it survives a power loss; ``False`` (a container's init layer,
        which Docker's overlay2 does not sync either): no sync needed.
    :return: the number of bytes the layer's content uses on disk.
    :raises moor.errors.InvalidParameter: the tar is malformed or an entry would
        land outside the layer (``..``, absolute links, planted symlinks);
        nothing of the layer is left behind.
    :raises moor.errors.MoorError: any other failure, also with nothing left.

    Called when an image is loaded, imported, pulled, committed or built, once
    per layer that is not already present (see :func:`moor_storage_exists`).
    Must be atomic: the layer is visible only once complete.
    """


@hookspec(firstresult=True)
def moor_storage_prepare(key: str, parent: str | None) -> bool:
    """Create a writable snapshot ``key`` (a container's layer) on top of layer ``parent``.

    :param key: the snapshot's name (a container ID); not yet present.
    :param parent: the key of the image's top layer, or ``None`` for an empty
        root filesystem.
    :return: ``True``.
    :raises moor.errors.Conflict: ``key`` exists already.
    :raises moor.errors.NotFound: ``parent`` does not exist.
    :raises moor.errors.InvalidParameter: the layer chain is deeper than the
        driver can mount (the overlay driver allows 127 layers plus the snapshot).

    Called when a container is created. Nothing is mounted yet. Like a container's
    writable layer in Docker's overlay2, it need not be synced to disk.
    """


@hookspec(firstresult=True)
def moor_storage_mount(key: str) -> str:
    """Mount the snapshot or layer ``key`` and return the host path of its root filesystem.

    Reference counted: every call needs one :func:`moor_storage_unmount`; the
    filesystem stays mounted until the last one. A layer (not a snapshot) is
    mounted read-only.

    The driver performs the mount itself (rather than returning mount options
    for the caller) because deep layer chains need tricks, such as relative
    paths from a chosen working directory, that only the driver can play.

    :raises moor.errors.NotFound: no snapshot or layer ``key``.
    :raises moor.errors.MoorError: the mount failed (the kernel's reason is named).

    Called when a container starts and whenever the engine reads a root
    filesystem (export, cp, commit, image tests).
    """


@hookspec(firstresult=True)
def moor_storage_unmount(key: str) -> bool:
    """Release one use of ``key`` taken by :func:`moor_storage_mount`.

    :return: ``True`` when this call unmounted the filesystem (last user).

    Called when a container stops and after every temporary read.
    """


@hookspec(firstresult=True)
def moor_storage_remove(key: str) -> bool:
    """Remove the snapshot or layer ``key`` and everything it holds on disk.

    :return: ``True`` when something was removed, ``False`` when it was absent.
    :raises moor.errors.Conflict: other layers still sit on top of ``key``.

    Called when a container or the last image using a layer is removed, and at
    start-up to clear leftovers of interrupted work.
    """


@hookspec(firstresult=True)
def moor_storage_exists(key: str) -> bool:
    """Tell whether the snapshot or layer ``key`` exists (complete).

    Called before applying a layer, to share layers between images.
    """


@hookspec(firstresult=True)
def moor_storage_diff(key: str) -> IO[bytes]:
    """Return the content of snapshot or layer ``key`` against its parent as a tar stream.

    For a layer made by :func:`moor_storage_apply_layer` the stream is
    byte-for-byte the tar it was applied from, so its sha256 is the layer's
    diff ID again (``save`` and ``push`` rely on this). For a snapshot it is a
    new OCI layer tar of the snapshot's changes (deletions as ``.wh.``
    whiteouts, replaced directories as ``.wh..wh..opq``).

    :return: a readable binary stream; the caller closes it.
    :raises moor.errors.NotFound: no snapshot or layer ``key``.

    Called by ``save``, ``commit``, ``build`` and ``push``.
    """


@hookspec(firstresult=True)
def moor_storage_changes(key: str) -> list[Change]:
    """List the paths snapshot ``key`` added, changed or deleted.

    :raises moor.errors.NotFound: no snapshot ``key``.

    Called by ``moor diff``.
    """


@hookspec(firstresult=True)
def moor_storage_usage(key: str) -> int:
    """Return the bytes the snapshot or layer ``key`` uses on its own.

    :raises moor.errors.NotFound: no snapshot or layer ``key``.

    Called by ``system df`` and ``ps --size``.
    """


# --------------------------------------------------------------------------- network


@hookspec(firstresult=True)
def moor_network_create(network: NetworkSpec) -> dict[str, str]:
    """Create the network ``network`` (a bridge, say) on the host.

    :return: driver facts to keep with the network (shown in its ``Options``).
    :raises moor.errors.InvalidParameter: the options or subnet are unusable.
    :raises moor.errors.Conflict: the subnet overlaps one in use.
    :raises moor.errors.Forbidden: the driver allows only its one built-in
        network (``host``, ``none``).

    Called by ``network create`` and at start-up for the default networks.
    """


@hookspec(firstresult=True)
def moor_network_remove(network: NetworkSpec) -> bool:
    """Remove what :func:`moor_network_create` made for ``network``.

    :return: ``True`` when something was removed.

    Called by ``network rm`` and ``network prune``.
    """


@hookspec(firstresult=True)
def moor_network_connect(network: NetworkSpec, endpoint: EndpointSpec, netns_path: str) -> EndpointInfo:
    """Attach the network namespace at ``netns_path`` to ``network``.

    :param endpoint: the endpoint's ID, container, requested address (any
        host of the subnet) and requested MAC (the interface gets it when set).
        Without a requested address the driver picks one from
        ``network.ip_range`` when that is set, else from the subnet, never one
        it handed out before and has not had back (also across restarts).
    :param netns_path: path of the container's network namespace
        (``/proc/<pid>/ns/net`` or a bind-mounted file).
    :return: what was set up: address, prefix, gateway, MAC, interface name.
    :raises moor.errors.Conflict: the requested address is taken.
    :raises moor.errors.Unavailable: the address pool is exhausted.

    Called when a container starts and by ``network connect``.
    """


@hookspec(firstresult=True)
def moor_network_disconnect(network: NetworkSpec, endpoint: EndpointSpec, netns_path: str | None) -> bool:
    """Detach ``endpoint`` from ``network`` and release its address.

    :param netns_path: the namespace, or ``None`` when it is already gone.
    :return: ``True`` when something was removed.

    Called when a container stops and by ``network disconnect``.
    """


@hookspec(firstresult=True)
def moor_network_publish(network: NetworkSpec, endpoint: EndpointSpec, ports: list[PortMapping]) -> bool:
    """Forward published ports from the host to the connected ``endpoint`` in the kernel (NAT).

    Optional: a driver without it (``host``, ``none``) publishes nothing in
    the kernel, and the engine's userland proxy alone serves the ports.

    :param network: the network ``endpoint`` is connected to.
    :param endpoint: an endpoint :func:`moor_network_connect` set up.
    :param ports: every port the container publishes through this endpoint;
        it replaces what an earlier call published. ``host_port`` is the port
        the engine's proxy holds already (so it is free and never 0);
        ``host_ip`` limits the forwarding to one host address. Traffic the host
        sends to 127.0.0.0/8 is left to the proxy.
    :return: ``True`` when the kernel now forwards the ports; ``False`` when
        the network forwards none (an internal network, say).
    :raises moor.errors.NotFound: the endpoint is not connected.
    :raises moor.errors.InvalidParameter: a mapping is malformed (a protocol
        other than ``tcp``/``udp``, a port outside 1-65535, a bad ``host_ip``).

    The rules live as long as the endpoint: they survive the driver being
    loaded again (a daemon restart) and go with :func:`moor_network_unpublish`,
    :func:`moor_network_disconnect` or :func:`moor_network_remove`.

    Called when a container starts, after its proxies bound the host ports.
    """


@hookspec(firstresult=True)
def moor_network_unpublish(network: NetworkSpec, endpoint: EndpointSpec) -> bool:
    """Stop forwarding the ports :func:`moor_network_publish` published for ``endpoint``.

    :param network: the network ``endpoint`` is connected to.
    :return: ``True`` when something was removed (``False`` when the endpoint
        published nothing or is unknown: never an error).

    Optional, as :func:`moor_network_publish`. Called when a container stops,
    before it is disconnected.
    """


# --------------------------------------------------------------------------- volume


@hookspec(firstresult=True)
def moor_volume_create(name: str, options: dict[str, str], labels: dict[str, str]) -> VolumeInfo:
    """Create the volume ``name`` (or return it when it exists already).

    ``options`` are the ``-o`` driver options, ``labels`` the volume's labels;
    both come back in the returned :class:`VolumeInfo`. The engine picks a
    random 64-hex ``name`` when the user gives none.

    :raises moor.errors.InvalidParameter: a ``name`` the driver cannot hold
        (it must refuse ``..``, ``/`` and NUL: a name never reaches outside the
        driver's storage), or an option that is unknown or invalid, naming it
        (the local driver: ``invalid option: "foo"``). Nothing is created.

    Called by ``volume create`` and when a container asks for a volume that
    does not exist yet.
    """


@hookspec(firstresult=True)
def moor_volume_remove(name: str, force: bool) -> bool:
    """Remove the volume ``name`` and its data.

    :return: ``True`` when it was removed.
    :raises moor.errors.NotFound: no such volume (unless ``force``).
    :raises moor.errors.Conflict: the volume is mounted.

    Called by ``volume rm``, ``volume prune`` and ``rm -v``.
    """


@hookspec(firstresult=True)
def moor_volume_get(name: str) -> VolumeInfo | None:
    """Return the volume ``name``, or ``None`` when the driver has no such volume.

    A ``name`` the driver could never hold is not an error here: the answer is ``None``.

    Called by ``volume inspect`` and before a container mounts a volume.
    """


@hookspec(firstresult=True)
def moor_volume_list() -> list[VolumeInfo]:
    """Return every volume the driver has.

    Called by ``volume ls`` and ``system df``.
    """


@hookspec(firstresult=True)
def moor_volume_mount(name: str, mount_id: str) -> str:
    """Make volume ``name`` ready for the user ``mount_id`` and return its host path.

    Reference counted per ``mount_id`` (a container ID): mounting twice with the
    same ID counts once. A driver that mounts something (the local driver's
    ``type``/``device``/``o`` volumes) does it for the first user; the counts
    survive a restart of moord (running containers keep their volumes).

    :raises moor.errors.NotFound: no such volume.
    :raises moor.errors.MoorError: the mount failed; no user is counted then.

    Called when a container using the volume starts.
    """


@hookspec(firstresult=True)
def moor_volume_unmount(name: str, mount_id: str) -> bool:
    """Release the use ``mount_id`` of volume ``name``.

    :return: ``True`` when the volume was in use by ``mount_id``. The last
        user's release undoes what the first user's mount did.

    Called when a container using the volume stops.
    """


# --------------------------------------------------------------------------- log


@hookspec(firstresult=True)
def moor_log_validate(options: dict[str, str]) -> bool:
    """Check the ``--log-opt`` options for this driver.

    :return: ``True`` when they are acceptable.
    :raises moor.errors.InvalidParameter: naming the first unknown or invalid
        option, in Docker's words (``unknown log opt 'x' for json-file log driver``).

    Called when a container is created and when moord loads the driver's
    defaults from the config.
    """


@hookspec(firstresult=True)
def moor_log_open(container: ContainerRef) -> LogWriter:
    """Open the log of ``container`` for writing.

    :return: an object with ``write(LogMessage)`` and ``close()``; the engine
        serialises calls to it and owns buffering.
    :raises moor.errors.MoorError: the log cannot be opened.

    Called when a container starts (by its monitor process).
    """


@hookspec(firstresult=True)
def moor_log_read(
    container: ContainerRef, since: float, until: float, tail: int, follow: bool
) -> Iterator[LogMessage | None]:
    """Read back what the container logged.

    :param since: only messages at or after this time (0: from the start).
    :param until: only messages before this time (0: no bound).
    :param tail: only the last ``tail`` messages (-1: all).
    :param follow: keep yielding new messages until the container stops. While nothing new comes,
        yield ``None`` about once a second: the engine then looks whether its client is still there
        and closes the iterator when it left (a driver that never does keeps a departed client's
        stream open until the container logs again or stops).
    :return: an iterator of :class:`moor.types.LogMessage` (and, when following, ``None`` ticks).
    :raises moor.errors.NotFound: the log is gone.

    Optional: a driver that cannot read back does not implement it, and the
    engine answers ``configured logging driver does not support reading``.
    Called by ``moor logs`` and ``attach --logs``.
    """


@hookspec(firstresult=True)
def moor_log_remove(container: ContainerRef) -> bool:
    """Delete what the driver stored for ``container``.

    :return: ``True`` when something was deleted, ``False`` when nothing was stored.

    Optional. Called when the container is removed.
    """


# --------------------------------------------------------------------------- lifecycle


@hookspec
def moor_container_created(container: ContainerRef) -> None:
    """Notification: the container was created (its bundle and snapshot exist).

    Any plugin may implement it; exceptions are logged and ignored.
    """


@hookspec
def moor_container_started(container: ContainerRef) -> None:
    """Notification: the container's process is running.

    Any plugin may implement it; exceptions are logged and ignored.
    """


@hookspec
def moor_container_stopped(container: ContainerRef) -> None:
    """Notification: the container's process exited; ``container.exit_code`` is set.

    Any plugin may implement it; exceptions are logged and ignored.
    """


@hookspec
def moor_container_removed(container: ContainerRef) -> None:
    """Notification: the container and its writable layer are gone.

    Any plugin may implement it; exceptions are logged and ignored.
    """
