"""A service that reports progress through ``emit(message)`` calls, answered as Docker streams it.

``pull`` and ``push`` write Docker's JSON progress messages one by one while they work. Docker's routes
send them as they come (``application/json``, one message a line ending in ``\\r\\n``), with one rule about
errors: a failure *before* the first message was written is an ordinary HTTP error (its status and
``{"message": ...}``), one *after* it is a last line ``{"errorDetail":{"message":m},"error":m}`` in the
200 answer. :func:`progress_response` runs the operation on a thread of its own and does exactly that:

- it waits (at most ``first_wait`` seconds) for the first message or the end; an error by then is raised
  to the application, which answers it with its status;
- afterwards the messages go out as the response stream, batched when several are waiting; a quiet
  stream yields ``b""`` about once a second, so the server notices a client that left;
- when the client leaves (the server closes the stream), the next ``emit`` raises :class:`ClientGone`
  in the operation's thread: the operation stops there and cleans up as after any failure. An operation that
  may stay quiet for long (a build's RUN) can ``emit({})`` now and then: nothing is sent, but it raises
  :class:`ClientGone` once the client left.
- an error with an integer ``code`` (a build's failed RUN: its exit status) has it in its ``errorDetail``,
  as Docker's ``JSONError``; the docker CLI exits with it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

from moor.api.http import Request, Response
from moor.api.server import peer_gone
from moor.errors import MoorError

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], None]

#: how long a quiet stream waits before it yields an empty chunk (the server then looks at the client)
TICK = 1.0
#: how long the route waits for the first message before it answers 200 anyway (it holds a worker meanwhile)
FIRST_WAIT = 60.0


class ClientGone(MoorError):
    """Raised by ``emit`` once the client that asked for the operation has gone away: stop now."""

    status = 499


_END = object()  # the operation returned


def encode_message(message: dict[str, Any]) -> bytes:
    """One message as Docker writes it: Go's compact JSON (``<``, ``>`` and ``&`` escaped as Go escapes them)
    and ``\\r\\n``."""
    text = json.dumps(message, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode() + b"\r\n"


def error_message(err: BaseException) -> dict[str, Any]:
    """Docker's last line for an error after the stream began."""
    text = err.message if isinstance(err, MoorError) else f"{type(err).__name__}: {err}"
    code = getattr(err, "code", None) if isinstance(err, MoorError) else None
    if isinstance(code, int) and not isinstance(code, bool) and code:
        return {"errorDetail": {"code": code, "message": text}, "error": text}
    return {"errorDetail": {"message": text}, "error": text}


class _Progress:
    """The meeting point of the operation's thread (``emit``, ``finish``) and the response (``lines``)."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.gone = threading.Event()
        self.first = threading.Event()  # a message was emitted, or the operation ended
        self.error: BaseException | None = None
        self.emitted = 0

    def emit(self, message: dict[str, Any]) -> None:
        if self.gone.is_set():
            raise ClientGone("the client went away")
        if not message:  # a probe: is the client still there?
            return
        self.queue.put(encode_message(message))
        self.emitted += 1
        self.first.set()

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        self.queue.put(_END)
        self.first.set()

    def lines(self) -> Generator[bytes, None, None]:
        """The response stream: the messages, then the error line if the operation failed."""
        try:
            while True:
                try:
                    item = self.queue.get(timeout=TICK)
                except queue.Empty:
                    yield b""  # quiet: the server looks whether the client is still there
                    continue
                batch: list[bytes] = []
                while item is not _END:
                    assert isinstance(item, bytes)
                    batch.append(item)
                    try:
                        item = self.queue.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    yield b"".join(batch)
                if item is _END:
                    if self.error is not None:
                        yield encode_message(error_message(self.error))
                    return
        finally:  # the end, or the client left (the server closed this generator): stop the operation
            self.gone.set()


def progress_response(request: Request, operation: Callable[[Emit], None], headers: dict[str, str] | None = None,
                      first_wait: float = FIRST_WAIT, name: str = "progress") -> Response:
    """Run ``operation(emit)`` on a thread and answer its messages as Docker does (see the module's docstring).

    ``headers`` go on the answer either way (a 200 stream or a whole answer)."""
    progress = _Progress()

    def run() -> None:
        error: BaseException | None = None
        try:
            operation(progress.emit)
        except ClientGone:
            log.info("%s stopped: the client went away", name)
        except MoorError as err:
            error = err
        except Exception as err:  # the API boundary of this thread: logged here, one line to the client
            log.exception("%s failed", name)
            error = err
        progress.finish(error)

    # the request's context goes along (moor.actor: the events of a pull or build name the acting user)
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(run,), name=f"moord-{name}", daemon=True).start()
    _wait_first(request, progress, first_wait)
    if progress.error is not None and not progress.emitted:  # it failed before its first message
        if isinstance(progress.error, MoorError):
            raise progress.error
        raise MoorError(f"{type(progress.error).__name__}: {progress.error}")
    return Response(stream=_Stream(progress), content_type="application/json", headers=dict(headers or {}))


class _Stream:
    """The response stream; closing it, even before its first chunk (the client left before the answer's
    head went out), stops the operation."""

    def __init__(self, progress: _Progress) -> None:
        self._progress = progress
        self._lines = progress.lines()

    def __iter__(self) -> Iterator[bytes]:
        return self._lines

    def close(self) -> None:
        self._progress.gone.set()
        self._lines.close()


def _wait_first(request: Request, progress: _Progress, first_wait: float) -> None:
    """Wait for the first message or the end, for ``first_wait`` seconds at most; a client that leaves
    meanwhile stops the operation."""
    waited = 0.0
    while not progress.first.wait(min(TICK, first_wait - waited)):
        waited += TICK
        if request.connection is not None and peer_gone(request.connection):
            progress.gone.set()
            return
        if waited >= first_wait:
            return
