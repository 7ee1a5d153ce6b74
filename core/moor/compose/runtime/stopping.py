"""A service container's stop as ``up`` (before a recreate, orphans) and ``down`` make it: the timeout they
send and the progress lines around it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moor.client import Client, DaemonError
from moor.compose.durations import to_seconds
from moor.compose.errors import ComposeError
from moor.compose.runtime.progress import Progress


def stop_timeout(timeout: int | None, service: Mapping[str, Any] | None) -> int | None:
    """The ``t`` of a stop: ``-t`` when given, else the service's ``stop_grace_period`` in whole seconds, else
    None (the container's own ``StopTimeout``)."""
    if timeout is not None:
        return timeout
    grace = (service or {}).get("stop_grace_period")
    return None if grace is None else to_seconds(grace)


def stop_container(client: Client, progress: Progress, container_id: str, name: str, timeout: int | None) -> bool:
    """``POST /containers/ID/stop`` after a ``Stopping`` line; False when the container is already gone. Any
    other refusal: an ``Error while Stopping`` line and :class:`ComposeError` in the daemon's words. The caller
    reports the outcome (``Stopped``, ``Removed``)."""
    progress.event("Container", name, "Stopping")
    try:
        client.call("POST", f"/containers/{container_id}/stop", {"t": timeout} if timeout is not None else None)
    except DaemonError as err:
        if err.status == 404:
            return False
        progress.event("Container", name, "Error", "Error while Stopping")
        raise ComposeError(f"Error response from daemon: {err.message}") from None
    return True
