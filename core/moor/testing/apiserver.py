"""A moor HTTP server on a Unix socket in a thread, for unit tests of routes and of the server itself."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from moor.api.server import UnixHTTPServer
from moor.api.wire import Limits


@contextlib.contextmanager
def serving(socket_path: str, app: Any, limits: Limits | None = None) -> Iterator[UnixHTTPServer]:
    """Serve ``app`` (an :class:`~moor.api.app.Application`) on ``socket_path`` until the block ends."""
    server = UnixHTTPServer(socket_path, app, {"Api-Version": "1.41"}, limits=limits)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
