"""A throttling TCP proxy on 127.0.0.1 for tests that need a pull to be slow (to kill moord in the middle).

It forwards every connection to an upstream ``host:port``, sending the upstream's answers at most
``rate`` bytes a second, and keeps the request heads that passed through (so a test can see a ``Range``
header). Plain HTTP only: it reads the heads from what the client sends, it does not speak TLS.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any


class SlowProxy:
    """``with SlowProxy("127.0.0.1", 5000, rate=1 << 20) as proxy:`` then talk to ``proxy.host``."""

    def __init__(self, upstream_host: str, upstream_port: int, rate: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.rate = rate
        self.request_heads: list[str] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, as a registry host in an image reference."""
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, throttled: bool) -> None:
        chunk = max(1024, self.rate // 20) if throttled else 65536
        try:
            while not self._closed.is_set():
                data = source.recv(chunk)
                if not data:
                    break
                if not throttled:
                    self._note_heads(data)
                target.sendall(data)
                if throttled:
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def _note_heads(self, data: bytes) -> None:
        text = data.decode("latin-1")
        for method in ("GET ", "HEAD ", "POST ", "PUT ", "PATCH "):
            if text.startswith(method):
                with self._lock:
                    self.request_heads.append(text.split("\r\n\r\n", 1)[0])
                return

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
            self._sockets.clear()
        self._thread.join(timeout=5)

    def __enter__(self) -> SlowProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
