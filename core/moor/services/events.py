"""The event bus behind ``/events``: every service publishes, every ``events`` client subscribes.

Events are kept in memory (the last 256, as Docker's ring) so that ``--since``
and ``--until`` can replay them, by their time in nanoseconds; subscribers get
new ones through a queue. The bus
is built once by the engine and given to every service that publishes; it is
the only place that shapes an event (:meth:`EventBus.publish`,
:meth:`EventBus.publish_container`) and the only place that filters them for a
client (:meth:`EventBus.stream`, :func:`event_matches`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import Any, Protocol

from moor import actor
from moor.errors import InvalidParameter


class EventStream:
    """The events of one ``/events`` client; :meth:`close` ends its subscription, started or not."""

    def __init__(self, events: Generator[dict[str, Any] | None, None, None], end: Callable[[], None]) -> None:
        self._events = events
        self._end = end

    def __iter__(self) -> Iterator[dict[str, Any] | None]:
        return self

    def __next__(self) -> dict[str, Any] | None:
        return next(self._events)

    def close(self) -> None:
        self._events.close()  # a generator never started skips its finally: end the subscription here too
        self._end()


class ContainerFacts(Protocol):
    """What a container event says of its container (a :class:`~moor.containers.record.Container`)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def image(self) -> str: ...

    @property
    def config(self) -> dict[str, Any]: ...


class ImageFacts(Protocol):
    """What an image event says of its image (a :class:`~moor.images.store.ImageRecord`)."""

    @property
    def id(self) -> str: ...

    @property
    def config(self) -> dict[str, Any]: ...


#: The ``events --filter`` keys moor understands.
EVENT_FILTERS = ("type", "event", "container", "image", "label", "network", "volume")


def check_event_filters(filters: dict[str, list[str]]) -> None:
    """Refuse an unknown ``events --filter`` key (:class:`InvalidParameter`, Docker's words)."""
    for key in filters:
        if key not in EVENT_FILTERS:
            raise InvalidParameter(f"invalid filter '{key}'")


def event_matches(event: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """Whether ``event`` passes the ``events --filter`` values (InvalidParameter for an unknown key)."""
    attributes = event["Actor"]["Attributes"]
    checks = {
        "type": [event["Type"]],
        "event": [event["Action"], event["Action"].split(":", 1)[0]],
        "container": [event["Actor"]["ID"], attributes.get("name", "")] if event["Type"] == "container" else [],
        "image": [attributes.get("image", ""), event["Actor"]["ID"]],
        "label": [f"{k}={v}" for k, v in attributes.items()] + list(attributes),
        "network": [event["Actor"]["ID"], attributes.get("name", "")] if event["Type"] == "network" else [],
        "volume": [event["Actor"]["ID"]] if event["Type"] == "volume" else [],
    }
    fuzzy = ("container", "network", "volume")  # an ID or name prefix matches, as in Docker
    check_event_filters(filters)
    for key, values in filters.items():
        if not any(v in checks[key] or any(c.startswith(v) for c in checks[key] if c and key in fuzzy)
                   for v in values):
            return False
    return True


class EventBus:
    """Publish/subscribe of Docker-shaped event messages."""

    def __init__(self, keep: int = 256) -> None:
        self._lock = threading.Lock()
        self._history: deque[dict[str, Any]] = deque(maxlen=keep)
        self._subscribers: list[queue.Queue[dict[str, Any]]] = []

    def publish(self, kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None) -> None:
        """Publish one event of type ``kind`` (``container``, ``network``, ``volume``...) about ``actor_id``.

        While a request names its acting user (``X-Moor-Actor``), the event carries it as ``moor.actor``."""
        now = time.time_ns()
        attributes = dict(attributes or {})
        acting = actor.current.get()
        if acting is not None:
            attributes[actor.ATTRIBUTE] = acting
        event = {
            "status": action, "id": actor_id, "from": attributes.get("image", ""),
            "Type": kind, "Action": action,
            "Actor": {"ID": actor_id, "Attributes": attributes},
            "scope": "local", "time": now // 1_000_000_000, "timeNano": now,
        }
        if kind == "image":  # Docker fills the deprecated status and id of image events too, not from
            event.pop("from")
        elif kind != "container":
            event.pop("status"), event.pop("id"), event.pop("from")
        for key in ("id", "from"):  # omitted when empty (a prune's), as Go's omitempty
            if event.get(key) == "":
                event.pop(key)
        with self._lock:
            self._history.append(event)
            for subscriber in self._subscribers:
                subscriber.put(event)

    def publish_container(self, container: ContainerFacts, action: str, **extra: str) -> None:
        """A container event: its image, name and labels as attributes, then ``extra`` (Docker's order)."""
        attributes = {"image": container.image, "name": container.name,
                      **{k: str(v) for k, v in (container.config.get("Labels") or {}).items()}, **extra}
        self.publish("container", action, container.id, attributes)

    def publish_image(self, image: ImageFacts, action: str, name: str = "") -> None:
        """An image event as Docker's: the image's labels, then ``name`` (the reference it concerns; the image ID
        when none, as for untag, delete, load, save and import)."""
        labels = ((image.config.get("config") or {}).get("Labels") or {}) if isinstance(image.config, dict) else {}
        attributes = {**{k: str(v) for k, v in labels.items()}, "name": name or image.id}
        self.publish("image", action, image.id, attributes)

    def subscribe(self) -> tuple[list[dict[str, Any]], queue.Queue[dict[str, Any]]]:
        """The events so far and a queue of the ones to come; call :meth:`unsubscribe` when done."""
        channel: queue.Queue[dict[str, Any]] = queue.Queue()
        with self._lock:
            past = list(self._history)
            self._subscribers.append(channel)
        return past, channel

    def unsubscribe(self, channel: queue.Queue[dict[str, Any]]) -> None:
        with self._lock:
            if channel in self._subscribers:
                self._subscribers.remove(channel)

    def stream(self, since_ns: int, until_ns: int, filters: dict[str, list[str]]) -> EventStream:
        """``GET /events``: the kept events from ``since_ns`` to ``until_ns`` (nanoseconds since the epoch, both
        included; none kept are replayed when both are 0), then new ones until ``until_ns`` (0: never).

        The subscription starts now, not at the first ``next()``; it ends when the iterator is closed.
        ``None`` is yielded after the replay (the caller's moment to flush its answer's headers) and then
        after each quiet second (its moment to notice that its client left, and close the stream).
        An unknown filter is refused here, before any answer is sent.
        """
        check_event_filters(filters)
        past, channel = self.subscribe()
        return EventStream(self._follow(past, channel, since_ns, until_ns, filters),
                           lambda: self.unsubscribe(channel))

    def _follow(self, past: list[dict[str, Any]], channel: queue.Queue[dict[str, Any]], since_ns: int,
                until_ns: int, filters: dict[str, list[str]]) -> Generator[dict[str, Any] | None, None, None]:
        try:
            if since_ns or until_ns:  # Docker replays its ring for either bound
                for event in past:
                    if since_ns <= event["timeNano"] and (not until_ns or event["timeNano"] <= until_ns) \
                            and event_matches(event, filters):
                        yield event
            yield None
            while True:
                remaining = (until_ns - time.time_ns()) / 1e9 if until_ns else 1.0
                if until_ns and remaining <= 0:
                    return
                try:
                    event = channel.get(timeout=min(max(remaining, 0.01), 1.0))
                except queue.Empty:
                    yield None  # a quiet second: the caller looks whether its client is still there
                    continue
                if until_ns and event["timeNano"] > until_ns:
                    return
                if event_matches(event, filters):
                    yield event
        finally:
            self.unsubscribe(channel)

    @property
    def listeners(self) -> int:
        return len(self._subscribers)
