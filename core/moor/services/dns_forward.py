"""Forwarding a query to upstream DNS servers from a container's network namespace.

Each attempt uses a new socket made in the container's namespace
(:class:`~moor.services.dns_netns.Namespace`), so it has a port of its own and
the container's routes. The one exception is as Docker's: a loopback resolver
of the host's own resolv.conf (systemd-resolved's 127.0.0.53, say) is asked
from moord's namespace (:attr:`Upstream.from_host`, which only the host's
resolv.conf gives; never ``--dns``). The servers are asked in turn, each for
``timeout`` seconds; an unreachable or refusing server is skipped at once.
When none answers, the reply is SERVFAIL.

Over UDP (nearly every query), :class:`UdpForward` runs on the event loop by
callbacks alone (a reader and a timer, no task), for it is on the path of
every name that is not a container's.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable, Iterable
from typing import NamedTuple

from moor.services import dns_wire as wire
from moor.services.dns_netns import Namespace

log = logging.getLogger(__name__)


class Upstream(NamedTuple):
    """A server to forward to; ``from_host``: a loopback resolver of the host's, asked from moord's namespace."""

    address: str
    port: int = 53
    from_host: bool = False


def as_upstreams(servers: Iterable[tuple[str, int] | tuple[str, int, bool]]) -> list[Upstream]:
    """``(address, port[, from_host])`` tuples as :class:`Upstream`."""
    return [Upstream(*server) for server in servers]


def _socket(namespace: Namespace, server: Upstream, kind: socket.SocketKind) -> socket.socket:
    family = socket.AF_INET6 if ":" in server.address else socket.AF_INET
    return socket.socket(family, kind) if server.from_host else namespace.socket(family, kind)


def servfail(data: bytes) -> bytes:
    """SERVFAIL to the query ``data`` (with its question if it has one, as Docker's), or nothing if it has no
    header."""
    try:
        query = wire.parse_query(data)
    except wire.FormatError:
        return wire.error_reply(data, wire.SERVFAIL) or b""
    return wire.reply(query, rcode=wire.SERVFAIL, authoritative=False, recursion=False)


class UdpForward:
    """One query forwarded over UDP; ``done`` gets the first reply with the query's ID, or SERVFAIL."""

    def __init__(self, loop: asyncio.AbstractEventLoop, namespace: Namespace, servers: list[Upstream],
                 data: bytes, timeout: float, done: Callable[[bytes], None]) -> None:
        self.loop, self.namespace, self.data, self.timeout = loop, namespace, data, timeout
        self.servers = list(servers)
        self.wanted = struct.unpack_from("!H", data)[0] if len(data) >= 2 else -1
        self.done: Callable[[bytes], None] | None = done
        self.sock: socket.socket | None = None
        self.timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._next()

    def cancel(self) -> None:
        """Give up without a reply (the container's listener closes)."""
        self.done = None
        self._drop()

    def _next(self) -> None:
        self._drop()
        while self.servers:
            server = self.servers.pop(0)
            try:
                sock = _socket(self.namespace, server, socket.SOCK_DGRAM)
            except OSError as err:
                log.debug("no socket for upstream %s:%s: %s", server[0], server[1], err)
                continue
            try:
                sock.setblocking(False)
                sock.connect(server[:2])  # (UDP: only sets the peer; no route out fails here)
                sock.send(self.data)
            except OSError as err:
                log.debug("upstream %s:%s failed: %s", server[0], server[1], err)
                sock.close()
                continue
            self.sock = sock
            self.loop.add_reader(sock.fileno(), self._readable)
            self.timer = self.loop.call_later(self.timeout, self._next)
            return
        self._finish(servfail(self.data))

    def _readable(self) -> None:
        if self.sock is None:
            return
        try:
            response = self.sock.recv(65535)
        except BlockingIOError:
            return
        except OSError:  # refused (an ICMP error): the next server
            self._next()
            return
        if wire.reply_id(response) == self.wanted:
            self._finish(response)

    def _finish(self, reply: bytes) -> None:
        self._drop()
        done, self.done = self.done, None
        if done is not None:
            done(reply)

    def _drop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None


async def forward_udp(namespace: Namespace, servers: list[Upstream], data: bytes, timeout: float) -> bytes:
    """:class:`UdpForward` as a coroutine."""
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[bytes] = loop.create_future()

    def done(response: bytes) -> None:
        if not reply.done():
            reply.set_result(response)

    job = UdpForward(loop, namespace, servers, data, timeout, done)
    job.start()
    try:
        return await reply
    finally:
        job.cancel()


async def forward_tcp(namespace: Namespace, servers: list[Upstream], data: bytes, timeout: float) -> bytes:
    """The reply of the first server that answers over TCP, or SERVFAIL."""
    for server in servers:
        try:
            async with asyncio.timeout(timeout):
                response = await _ask_tcp(namespace, server, data)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as err:
            log.debug("upstream %s:%s failed: %r", server[0], server[1], err)
            continue
        if response:
            return response
    return servfail(data)


async def _ask_tcp(namespace: Namespace, server: Upstream, data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    with _socket(namespace, server, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, server[:2])
        await loop.sock_sendall(sock, struct.pack("!H", len(data)) + data)
        size = struct.unpack("!H", await _read_exactly(loop, sock, 2))[0]
        return await _read_exactly(loop, sock, size)


async def _read_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = await loop.sock_recv(sock, size - len(chunks))
        if not chunk:
            raise asyncio.IncompleteReadError(bytes(chunks), size)
        chunks += chunk
    return bytes(chunks)
