"""A project's container events as ``GET /events`` gives them, for the log printer and attached ``up``.

The subscription is opened before the caller lists or inspects the containers it watches, so that no
``die`` or ``start`` between that look and the first event can be missed (the daemon subscribes before it
sends the answer's headers). Compose's display name of a container is here too: ``web-1`` for
``PROJECT-web-1``, a ``container_name`` as it is.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
from dataclasses import dataclass
from typing import Any

from moor.client import Client, ConnectError, Response
from moor.compose.runtime.observed import NUMBER, ONEOFF, PROJECT, SERVICE, label, name_of


@dataclass(frozen=True)
class ContainerEvent:
    """One container event of the project."""

    #: the event's action: ``create``, ``start``, ``die``, ``restart``, ``destroy``, ...
    action: str
    id: str
    #: compose's display name (``web-1``)
    name: str
    service: str
    #: the exit code of a ``die`` (0 otherwise)
    exit_code: int = 0


def display_name(container: dict[str, Any]) -> str:
    """``SERVICE-N`` for a container named ``PROJECT-SERVICE-N``, else its own name (list or inspect shape, or
    an event's ``Actor.Attributes``)."""
    if "Names" in container or "Name" in container:
        name = name_of(container)
        project, service, number = label(container, PROJECT), label(container, SERVICE), label(container, NUMBER)
    else:
        name = str(container.get("name", "")).lstrip("/")
        project, service, number = (str(container.get(PROJECT, "")), str(container.get(SERVICE, "")),
                                    str(container.get(NUMBER, "")))
    if project and name == f"{project}-{service}-{number}":
        return name[len(project) + 1:]
    return name


class ProjectEvents:
    """The project's container events (one-off containers left out unless ``oneoff``), read by a thread into a
    queue; :meth:`close` ends the subscription from any thread."""

    def __init__(self, client: Client, project: str, *, oneoff: bool = False) -> None:
        labels = [f"{PROJECT}={project}"]
        if not oneoff:
            labels.append(f"{ONEOFF}=False")
        filters = {"type": ["container"], "label": labels}
        self._client = client
        self._response: Response = client.open("GET", "/events", {"filters": json.dumps(filters)})
        self._queue: queue.Queue[ContainerEvent | None] = queue.Queue()
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="compose-events", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for message in self._client.stream_json(self._response):
                if self._closed.is_set():
                    return
                event = _container_event(message)
                if event is not None:
                    self._queue.put(event)
        except (OSError, ConnectError, ValueError):
            pass
        finally:
            self._queue.put(None)

    def get(self, timeout: float | None = None) -> ContainerEvent | None:
        """The next event; None once the stream ended. ``queue.Empty`` after ``timeout`` seconds without one."""
        return self._queue.get(timeout=timeout)

    def close(self) -> None:
        self._closed.set()
        try:
            self._response.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._response.close()


def _container_event(message: dict[str, Any]) -> ContainerEvent | None:
    if message.get("Type", message.get("type")) != "container":
        return None
    action = str(message.get("Action") or message.get("status") or "")
    actor = message.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    try:
        code = int(attributes.get("exitCode", "0"))
    except ValueError:
        code = 0
    return ContainerEvent(action=action, id=str(actor.get("ID") or message.get("id") or ""),
                          name=display_name(attributes), service=str(attributes.get(SERVICE, "")), exit_code=code)
