"""Who asked for a change: the ``X-Moor-Actor`` header of the request being served (the web UI's user).

The API layer sets :data:`current` while it serves a request that carries the header (the handler, and each
step of a streamed answer or a hijacked connection); the event bus adds it to every event it publishes meanwhile
as the attribute ``moor.actor``. Threads that a service starts do not inherit it (events of a container's exit
carry none).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import TypeVar

HEADER = "x-moor-actor"  # as the API layer's request heads keep names: lower case
ATTRIBUTE = "moor.actor"
MAX_LENGTH = 256

current: ContextVar[str | None] = ContextVar("moor_actor", default=None)

T = TypeVar("T")


def from_header(value: str | None) -> str | None:
    """The actor named by a header value: printable, at most :data:`MAX_LENGTH` characters (None: no actor)."""
    if not value:
        return None
    cleaned = "".join(c for c in value if c.isprintable()).strip()[:MAX_LENGTH]
    return cleaned or None


def streamed(stream: Iterable[T], actor: str) -> Iterator[T]:
    """``stream``'s items, each made with :data:`current` set to ``actor``; closing this closes ``stream``."""
    items = iter(stream)
    try:
        while True:
            token = current.set(actor)
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                current.reset(token)
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def bound(run: Callable[..., T], actor: str) -> Callable[..., T]:
    """``run`` called with :data:`current` set to ``actor``."""
    def call(*args: object) -> T:
        token = current.set(actor)
        try:
            return run(*args)
        finally:
            current.reset(token)
    return call
