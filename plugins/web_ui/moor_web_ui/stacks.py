"""The stacks API: compose projects kept as files under the data directory, deployed through moor.compose.

``GET /api/stacks``, ``GET|PUT|DELETE /api/stacks/{name}``, ``POST /api/stacks/{name}/up|stop|down`` (SSE over
POST: ``{"line": ...}`` per progress line, then ``event: end``). Compose is blocking code: each operation runs in
a thread with a :class:`moor.client.Client` that sends the acting user in ``X-Moor-Actor``. One operation per
stack at a time (409 otherwise); an operation the page leaves runs to its end, its output dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web

from moor.client import Client, ConnectError, DaemonError
from moor.compose.runtime.progress import Progress
from moor.errors import MoorError
from moor_web_ui.replies import read_json
from moor_web_ui.settings import Settings
from moor_web_ui.sse import EventStream, with_keepalive
from moor_web_ui.stackfiles import StackError, StackStore, check_name
from moor_web_ui.stackops import StackOperations, error_message, progress_to, validator

log = logging.getLogger(__name__)

ACTOR_HEADER = "X-Moor-Actor"
#: operations (up, stop, down, delete) run at once, all stacks together; more wait their turn
MAX_OPERATIONS = 8
#: a saved stack's JSON body: a compose file of up to 1 MiB (the loader's limit) and its env file, escaped
STACK_BODY_LIMIT = 4 << 20
_T = TypeVar("_T")
Work = Callable[[StackOperations, Progress], None]


def _error_response(err: BaseException) -> web.Response:
    """A JSON error answer: the stack's own status, a daemon's or compose's 4xx, else 502 (moord failed)."""
    status = 502
    if isinstance(err, (StackError, MoorError, DaemonError)) and 400 <= err.status < 500:
        status = err.status
    message = f"cannot reach moord: {err}" if isinstance(err, ConnectError) else error_message(err)
    return web.json_response({"message": message}, status=status)


def _flag(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    raise StackError(400, f'"{what}" must be true or false')


class StackRoutes:
    """The handlers, sharing the store, moord's address and which stacks are busy."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = StackStore(settings.stacks_dir)
        #: stacks with an operation (up, stop, down, delete) under way
        self.busy: set[str] = set()
        self._save_lock = asyncio.Lock()
        self._running: set[asyncio.Future[Any]] = set()
        #: long operations get threads of their own: a slow pull never holds the threads quick requests use
        self.executor = ThreadPoolExecutor(max_workers=MAX_OPERATIONS, thread_name_prefix="moor-stack")

    async def close(self, _app: web.Application | None = None) -> None:
        """No new operation starts; those under way finish in their threads."""
        self.executor.shutdown(wait=False, cancel_futures=True)

    def operations(self, request: web.Request) -> StackOperations:
        user = request.get("user")
        headers = {ACTOR_HEADER: str(user)} if user else {}
        return StackOperations(self.store, Client(self.settings.host, headers=headers))

    async def _call(self, request: web.Request, work: Callable[[StackOperations], _T], *, long: bool = False) -> _T:
        """``work(operations)`` in a thread: a quick one of asyncio's, a ``long`` one of the operations' pool."""
        operations = self.operations(request)
        if long:
            return await asyncio.get_running_loop().run_in_executor(self.executor, work, operations)
        return await asyncio.to_thread(work, operations)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/stacks", self._guarded(self.list)),
            web.get("/api/stacks/{name}", self._guarded(self.show)),
            web.put("/api/stacks/{name}", self._guarded(self.save)),
            web.delete("/api/stacks/{name}", self._guarded(self.delete)),
            web.post("/api/stacks/{name}/up", self._guarded(self.up)),
            web.post("/api/stacks/{name}/stop", self._guarded(self.stop)),
            web.post("/api/stacks/{name}/down", self._guarded(self.down)),
        ]

    @staticmethod
    def _guarded(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                 ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Errors raised before an answer began become a JSON error with a 4xx (or 502) status."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except (StackError, MoorError, DaemonError, ConnectError) as err:
                return _error_response(err)

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return guarded

    # handlers

    async def list(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/stacks``: stored stacks and the compose projects moord runs from elsewhere."""
        return web.json_response(await self._call(request, lambda ops: ops.summaries()))

    async def show(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/stacks/{name}``: files, status, services with their containers."""
        name = check_name(request.match_info["name"])
        return web.json_response(await self._call(request, lambda ops: ops.describe(name)))

    async def save(self, request: web.Request) -> web.StreamResponse:
        """``PUT /api/stacks/{name} {"compose", "env"}``: stored once compose's loader accepts the files."""
        name = check_name(request.match_info["name"])
        body = await read_json(request, STACK_BODY_LIMIT, required=True)
        unknown = sorted(set(body) - {"compose", "env"})
        if unknown:
            raise StackError(400, f"unknown field {unknown[0]!r}: expected \"compose\" and \"env\"")
        async with self._save_lock:
            created = await asyncio.to_thread(self.store.save, name, body.get("compose"), body.get("env"),
                                              validator(name))
        return web.json_response({"name": name, "created": created})

    async def up(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/stacks/{name}/up``: deploy (``up -d --remove-orphans``), progress streamed."""
        name = check_name(request.match_info["name"])
        await read_json(request)
        if not self.store.exists(name):
            raise StackError(404, f"no such stack: {name}")
        return await self._stream(request, name, lambda ops, progress: ops.up(name, progress))

    async def stop(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/stacks/{name}/stop``: the stack's containers stopped, progress streamed."""
        name = check_name(request.match_info["name"])
        await read_json(request)
        await self._known(request, name)
        return await self._stream(request, name, lambda ops, progress: ops.stop(name, progress))

    async def down(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/stacks/{name}/down {"volumes": bool}``: containers and networks removed, files kept."""
        name = check_name(request.match_info["name"])
        body = await read_json(request)
        volumes = _flag(body.get("volumes"), "volumes")
        await self._known(request, name)
        return await self._stream(request, name,
                                  lambda ops, progress: ops.down(name, progress, volumes=volumes))

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /api/stacks/{name}`` (``?volumes=1`` or ``{"volumes": true}``): down, then the files removed."""
        name = check_name(request.match_info["name"])
        body = await read_json(request)
        volumes = _flag(body.get("volumes"), "volumes") or request.query.get("volumes", "") in ("1", "true")

        def work(ops: StackOperations) -> None:
            if not (ops.store.exists(name) or ops.has_containers(name)):
                raise StackError(404, f"no such stack: {name}")
            ops.down(name, progress_to(lambda line: None), volumes=volumes)
            ops.store.remove(name)

        self._claim(name)
        future = self._track(self._call(request, work, long=True))
        future.add_done_callback(lambda _future: self.busy.discard(name))
        await asyncio.shield(future)
        return web.Response(status=204)

    # operations streamed to the page

    async def _known(self, request: web.Request, name: str) -> None:
        """StackError 404 unless the stack is stored or has containers."""
        def check(ops: StackOperations) -> bool:
            return ops.store.exists(name) or ops.has_containers(name)

        if not await self._call(request, check):
            raise StackError(404, f"no such stack: {name}")

    def _claim(self, name: str) -> None:
        if name in self.busy:
            raise StackError(409, f"stack {name} is busy: another operation on it is under way")
        self.busy.add(name)

    def _track(self, awaitable: Awaitable[_T]) -> asyncio.Future[_T]:
        """A task kept referenced until it ends (an operation outlives a page that left)."""
        future = asyncio.ensure_future(awaitable)
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        return future

    async def _stream(self, request: web.Request, name: str, work: Work) -> web.StreamResponse:
        """Run ``work`` in a thread; each progress line goes to the page as ``{"line": ...}``, then ``end``."""
        self._claim(name)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        operations = self.operations(request)

        def emit(line: str | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, line)

        def run() -> str | None:
            progress = progress_to(emit)
            try:
                work(operations, progress)
                return None
            except (StackError, MoorError, DaemonError, ConnectError) as err:
                return error_message(err)
            except Exception as err:  # the page gets one line, the log the traceback
                log.exception("stack %s: operation failed", name)
                return error_message(err)
            finally:
                progress.close()
                emit(None)

        future = self._track(loop.run_in_executor(self.executor, run))
        future.add_done_callback(lambda _future: self.busy.discard(name))
        stream = await EventStream.open(request)

        async def lines() -> AsyncIterator[str]:
            while (line := await queue.get()) is not None:
                yield line

        try:
            async for line in with_keepalive(lines(), stream):
                if line.strip():
                    await stream.send({"line": line})
            error = await asyncio.shield(future)
        except (ConnectionError, RuntimeError):
            return stream.response  # the page left: the operation finishes in its thread, unheard
        await stream.end(error)
        return stream.response


STACKS = web.AppKey("stacks", StackRoutes)


def setup(app: web.Application, settings: Settings | None = None) -> None:
    """Add the stacks routes to the UI's application (``settings``: else the app's, ``app["settings"]``)."""
    routes = StackRoutes(settings if settings is not None else app["settings"])
    app[STACKS] = routes
    app.router.add_routes(routes.routes())
    app.on_cleanup.append(routes.close)
