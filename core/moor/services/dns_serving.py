"""One container's listeners on the embedded DNS server's event loop: what it may ask at a time
(:class:`Limits`), its UDP protocol and its TCP protocol.

Both are plain asyncio protocols, driven by callbacks: nothing in them waits.
A TCP client sends length-prefixed queries (RFC 1035 4.2.2); it has
:attr:`Limits.tcp_query_timeout` seconds to send each whole query and as long
to take each reply (while its replies wait, nothing more is read from it), and
a container has at most :attr:`Limits.tcp_clients` connections: more are closed
at once. Whatever goes wrong with one packet or one client is logged by the
responder and ends that query or that connection, never the loop.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from moor.services.dns_netns import Namespace


@dataclass(frozen=True)
class Limits:
    """What one container may ask of the server at a time."""

    tcp_clients: int = 16
    tcp_query_timeout: float = 3.0  # to send a whole query, and to take a reply
    forwards: int = 64
    upstream_timeout: float = 3.0  # per upstream server


class Responder(Protocol):
    """The server as its listeners see it."""

    limits: Limits

    def answer(self, container_id: str, data: bytes, tcp: bool = False) -> bytes | None:
        """The reply from the server's records; None to forward; b"" to drop. Never raises."""

    def forward_datagram(self, listener: Listener, data: bytes, peer: Any) -> None:
        """Forward a UDP query; the reply goes to ``peer`` through ``listener.datagrams``."""

    async def forward_stream(self, listener: Listener, data: bytes) -> bytes:
        """The reply to a TCP query from upstream (SERVFAIL when none). Never raises but to cancel."""

    def log_error(self, message: str, *args: object) -> None:
        """Log the exception being handled (now and then)."""


@dataclass(eq=False)
class Listener:
    """One container's sockets and what is under way on them."""

    container_id: str
    namespace: Namespace
    loop: asyncio.AbstractEventLoop | None = None  # the loop it is open on
    sockets: tuple[socket.socket, socket.socket] | None = None
    datagrams: Datagrams | None = None
    server: asyncio.Server | None = None
    clients: set[Stream] = field(default_factory=set)
    jobs: set[Any] = field(default_factory=set)  # forwards under way, each with a cancel()
    forwards: int = 0


class Datagrams:
    """A container's UDP listener, read by a reader callback on the loop (no transport: a query and its
    reply are one datagram each, and a reply that cannot be sent at once is dropped, as UDP goes)."""

    BATCH = 8  # datagrams read at most per wake-up, so that one busy container cannot hold the loop

    def __init__(self, responder: Responder, listener: Listener, sock: socket.socket) -> None:
        self.responder, self.listener, self.sock = responder, listener, sock
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_reader(self.sock.fileno(), self.readable)
        self.loop = loop

    def close(self) -> None:
        if self.loop is not None and self.sock.fileno() >= 0:
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def readable(self) -> None:
        for _ in range(self.BATCH):
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:  # none left, or an ICMP error for a reply the client did not wait for
                return
            try:
                reply = self.responder.answer(self.listener.container_id, data)
                if reply is None:
                    self.responder.forward_datagram(self.listener, data, peer)
                else:
                    self.send(reply, peer)
            except Exception:  # noqa: BLE001 - one query fails, never the server
                self.responder.log_error("a DNS query of container %s failed", self.listener.container_id[:12])

    def send(self, data: bytes, peer: Any) -> None:
        if data and self.sock.fileno() >= 0:
            try:
                self.sock.sendto(data, peer)
            except OSError:
                pass  # full, or the client is gone: dropped


class Stream(asyncio.Protocol):
    """One TCP client of a container."""

    def __init__(self, responder: Responder, listener: Listener) -> None:
        self.responder, self.listener = responder, listener
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.deadline: asyncio.TimerHandle | None = None
        self.forwarding: asyncio.Task[None] | None = None
        self.writes_paused = False
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if len(self.listener.clients) >= self.responder.limits.tcp_clients or self.listener.loop is None:
            self.transport.abort()
            return
        self.listener.clients.add(self)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.clients.discard(self)
        self._disarm()
        if self.forwarding is not None:
            self.forwarding.cancel()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            self._answer_whole_queries()
        except Exception:  # noqa: BLE001 - one client fails, never the server
            self.responder.log_error("a DNS conversation of container %s failed", self.listener.container_id[:12])
            self.abort()

    def eof_received(self) -> bool:
        self.eof = True
        return self.forwarding is not None  # keep the connection for the reply under way, else close it

    def pause_writing(self) -> None:
        """The client does not take its replies: read nothing more, and give it the deadline to take them."""
        self.writes_paused = True
        if self.transport is not None:
            self.transport.pause_reading()
        self._arm()

    def resume_writing(self) -> None:
        self.writes_paused = False
        if self.transport is not None and self.forwarding is None:
            self.transport.resume_reading()
        self._arm()

    def _answer_whole_queries(self) -> None:
        while self.forwarding is None and len(self.buffer) >= 2:
            size = struct.unpack_from("!H", self.buffer)[0]
            if len(self.buffer) < 2 + size:
                return
            data = bytes(self.buffer[2:2 + size])
            del self.buffer[:2 + size]
            reply = self.responder.answer(self.listener.container_id, data, tcp=True)
            if reply is None:
                self._disarm()  # (the upstream's time is not the client's)
                assert self.transport is not None
                self.transport.pause_reading()
                self.forwarding = asyncio.get_running_loop().create_task(self._forward(data))
                return
            self._reply(reply)

    async def _forward(self, data: bytes) -> None:
        reply = await self.responder.forward_stream(self.listener, data)
        self.forwarding = None
        if self.transport is None or self.transport.is_closing():
            return
        self._reply(reply)
        if self.eof:
            self.transport.close()  # (once the reply is sent)
            return
        if not self.writes_paused:
            self.transport.resume_reading()
        try:
            self._answer_whole_queries()
        except Exception:  # noqa: BLE001 - one client fails, never the server
            self.responder.log_error("a DNS conversation of container %s failed", self.listener.container_id[:12])
            self.abort()

    def _reply(self, reply: bytes) -> None:
        assert self.transport is not None
        if not reply:  # nothing to say to that: the connection ends
            self.transport.close()
            return
        self.transport.write(struct.pack("!H", len(reply)) + reply)
        self._arm()  # the time for the next whole query (or to take this reply) starts now

    def _arm(self) -> None:
        self._disarm()
        if self.transport is not None and not self.transport.is_closing():
            self.deadline = asyncio.get_running_loop().call_later(self.responder.limits.tcp_query_timeout,
                                                                  self.abort)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
