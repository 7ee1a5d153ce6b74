"""The embedded DNS server: 127.0.0.11:53 inside each container on a user-defined network.

As Docker's resolver, it answers the names of the containers on the networks
the asking container shares with them (A; AAAA gets an empty answer; PTR for
their addresses) and forwards every other query, as is, to upstream servers:
the container's ``--dns`` servers, else the config's ``[network]
dns_upstreams``, else the host's resolv.conf ones. It forwards from inside the
container's network namespace (:mod:`moor.services.dns_netns`), so a container
reaches through it only what it could reach itself.

One thread runs an asyncio loop that serves every container's UDP and TCP
listeners; nothing on it blocks. No container can stop it or starve the others:

- a packet that cannot be read is answered FORMERR (a reply is never
  answered), and any error while answering is logged (at most every few
  seconds) and answered SERVFAIL: one query fails, never the loop;
- a TCP client has :attr:`Limits.tcp_query_timeout` seconds to send each whole
  query and as long to take each reply, and a container has at most
  :attr:`Limits.tcp_clients` connections (more are closed at once);
- a container has at most :attr:`Limits.forwards` queries being forwarded at
  a time (more are answered SERVFAIL), each upstream server
  :attr:`Limits.upstream_timeout` seconds;
- should the thread ever end other than by :meth:`EmbeddedDNS.close`, the next
  :meth:`~EmbeddedDNS.attach` starts a new one and re-opens every listener.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from moor.containers.etcfiles import EMBEDDED_NAMESERVER
from moor.errors import MoorError
from moor.services import dns_wire as wire
from moor.services.dns_netns import Namespace, NetworkNamespace

log = logging.getLogger(__name__)

ADDRESS = EMBEDDED_NAMESERVER  # what the containers' resolv.conf names
PORT = 53
CALL_TIMEOUT = 10.0  # seconds the callers wait for the serving thread to open or close listeners
ERROR_LOG_INTERVAL = 10.0  # seconds between two logged errors of answering

#: container ID, name -> addresses (None: not a container's name)
Lookup = Callable[[str, str], "list[str] | None"]
#: container ID, address -> name
Reverse = Callable[[str, str], "str | None"]
#: container ID -> (address, port) of the servers to forward to
Upstreams = Callable[[str], "list[tuple[str, int]]"]


@dataclass(frozen=True)
class Limits:
    """What one container may ask of the server at a time."""

    tcp_clients: int = 16
    tcp_query_timeout: float = 3.0  # to send a whole query, and to take a reply
    forwards: int = 64
    upstream_timeout: float = 3.0  # per upstream server


@dataclass(eq=False)
class _Listener:
    """One container's sockets and what is under way on them."""

    container_id: str
    namespace: Namespace
    loop: asyncio.AbstractEventLoop | None = None  # the loop it is open on
    sockets: tuple[socket.socket, socket.socket] | None = None
    datagrams: asyncio.DatagramTransport | None = None
    server: asyncio.Server | None = None
    clients: set[asyncio.StreamWriter] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    forwards: int = 0
    paused: bool = False  # UDP replies wait to be sent (above asyncio's high-water mark): more are dropped


class _ErrorLog:
    """Logs an error with its traceback at most once per interval, counting the ones it kept quiet."""

    def __init__(self, interval: float = ERROR_LOG_INTERVAL) -> None:
        self.interval, self.last, self.quiet = interval, -interval, 0

    def __call__(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            self.quiet += 1
            return
        if self.quiet:
            message += f" ({self.quiet} more since the last one logged)"
        self.last, self.quiet = now, 0
        log.exception(message, *args)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: EmbeddedDNS, listener: _Listener) -> None:
        self.server, self.listener = server, listener

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self.server.on_datagram(self.listener, data, addr)
        except Exception:  # noqa: BLE001 - asyncio would close the listener: one query fails, never the server
            self.server.log_error("a DNS query of container %s failed", self.listener.container_id[:12])

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for a reply the client did not wait for

    def pause_writing(self) -> None:
        self.listener.paused = True

    def resume_writing(self) -> None:
        self.listener.paused = False


class EmbeddedDNS:
    """Listeners for containers, the thread serving them, and the forwarder."""

    def __init__(self, lookup: Lookup, reverse: Reverse, upstreams: Upstreams,
                 namespace: Callable[[str], Namespace] = NetworkNamespace, limits: Limits | None = None) -> None:
        self.lookup, self.reverse, self.upstreams = lookup, reverse, upstreams
        #: opens the namespace at a path (tests pass one that stays in their own)
        self.namespace = namespace
        self.limits = limits or Limits()
        self.lock = threading.Lock()
        self.listeners: dict[str, _Listener] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.closed = False
        self.log_error = _ErrorLog()

    # ------------------------------------------------------------------ lifecycle

    def attached(self, container_id: str) -> bool:
        return container_id in self.listeners

    def attach(self, container_id: str, netns_path: str) -> bool:
        """Listen in the container's namespace; False if it already listened there."""
        with self.lock:
            if self.closed or container_id in self.listeners:
                return False
            try:
                namespace = self.namespace(netns_path)
            except OSError as err:
                raise MoorError(f"cannot start the embedded DNS server of container {container_id[:12]}: "
                                f"{err.strerror or err}") from None
            listener = _Listener(container_id, namespace)
            try:
                self._ensure_running()
                self._open(listener)
            except BaseException:
                namespace.close()
                raise
            self.listeners[container_id] = listener
            return True

    def detach(self, container_id: str) -> None:
        """Stop listening for the container; its sockets are closed when this returns (never raises)."""
        with self.lock:
            listener = self.listeners.pop(container_id, None)
            if listener is None:
                return
            try:
                self._shut(listener)
            except MoorError as err:
                log.error("%s", err)
            finally:
                listener.namespace.close()

    def close(self) -> None:
        """Close every listener and stop the thread (moord's shutdown)."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            listeners = list(self.listeners.values())
            self.listeners.clear()
            for listener in listeners:
                try:
                    self._shut(listener)
                except MoorError as err:
                    log.warning("%s", err)
                listener.namespace.close()
            thread, loop = self.thread, self.loop
        if thread is not None and loop is not None and thread.is_alive():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:
                pass  # it closed meanwhile
            thread.join(CALL_TIMEOUT)

    def _ensure_running(self) -> None:
        """Start the serving thread, or a new one if the last ended (then re-open every listener)."""
        if self.thread is not None and self.thread.is_alive():
            return
        restart = self.thread is not None
        if restart:
            log.error("the embedded DNS server's thread had stopped: starting it again")
        loop = asyncio.new_event_loop()
        self.loop = loop
        self.thread = threading.Thread(target=self._run, args=(loop,), name="dns", daemon=True)
        self.thread.start()
        if restart:
            for container_id, listener in list(self.listeners.items()):
                try:
                    self._open(listener)
                except MoorError as err:
                    log.error("%s", err)
                    del self.listeners[container_id]
                    listener.namespace.close()

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        except BaseException:
            log.exception("the embedded DNS server's loop failed")
        finally:
            if not self.closed:
                log.error("the embedded DNS server's thread is stopping")
            try:
                loop.run_until_complete(self._shut_all_on(loop))
            except BaseException:
                log.exception("closing the embedded DNS server's listeners failed")
            loop.close()

    async def _shut_all_on(self, loop: asyncio.AbstractEventLoop) -> None:
        for listener in list(self.listeners.values()):
            if listener.loop is loop:
                await self._close_listener(listener)

    def _call(self, make: Callable[[], Coroutine[Any, Any, None]], what: str) -> None:
        """Run a coroutine on the serving thread and wait for it."""
        loop = self.loop
        if loop is None or self.thread is None or not self.thread.is_alive():
            raise MoorError(f"cannot {what}: the embedded DNS server is not running")
        try:
            future = asyncio.run_coroutine_threadsafe(make(), loop)
        except RuntimeError:
            raise MoorError(f"cannot {what}: the embedded DNS server is not running") from None
        try:
            future.result(CALL_TIMEOUT)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise MoorError(f"cannot {what}: the embedded DNS server does not answer") from None
        except OSError as err:
            raise MoorError(f"cannot {what}: {err.strerror or err}") from None
        except Exception as err:  # noqa: BLE001 - asyncio's own errors, told as one line
            raise MoorError(f"cannot {what}: {err}") from None

    def _open(self, listener: _Listener) -> None:
        what = f"start the embedded DNS server of container {listener.container_id[:12]}"
        try:
            sockets = listener.namespace.listeners(ADDRESS, PORT)
        except OSError as err:
            raise MoorError(f"{what}: {err.strerror or err}") from None
        try:
            self._call(lambda: self._serve(listener, sockets), what)
        except BaseException:
            for sock in sockets:
                sock.close()
            raise

    def _shut(self, listener: _Listener) -> None:
        if listener.loop is None or listener.loop is not self.loop or not self.thread or not self.thread.is_alive():
            for sock in listener.sockets or ():
                sock.close()  # its loop is gone (and closed its transports) or never had them
            return
        self._call(lambda: self._close_listener(listener), "stop the embedded DNS server of a container")

    async def _serve(self, listener: _Listener, sockets: tuple[socket.socket, socket.socket]) -> None:
        loop = asyncio.get_running_loop()
        udp, tcp = sockets
        listener.loop, listener.sockets = loop, sockets
        listener.clients, listener.tasks, listener.forwards, listener.paused = set(), set(), 0, False
        try:
            transport, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self, listener), sock=udp)
            listener.datagrams = transport
            listener.server = await asyncio.start_server(
                lambda reader, writer: self._converse(listener, reader, writer), sock=tcp)
        except BaseException:
            await self._close_listener(listener)  # nothing left registered on the loop
            raise

    async def _close_listener(self, listener: _Listener) -> None:
        if listener.server is not None:
            listener.server.close()
        if listener.datagrams is not None:
            listener.datagrams.close()
        for writer in list(listener.clients):
            writer.transport.abort()
        for task in list(listener.tasks):
            task.cancel()
        listener.loop = listener.datagrams = listener.server = None
        for sock in listener.sockets or ():
            sock.close()
        await asyncio.sleep(0)  # the transports' closing callbacks run

    # ------------------------------------------------------------------ serving

    def on_datagram(self, listener: _Listener, data: bytes, peer: tuple[str, int]) -> None:
        reply = self.answer(listener.container_id, data)
        if reply is None:
            if listener.forwards >= self.limits.forwards:
                reply = wire.error_reply(data, wire.SERVFAIL)
            else:
                self._spawn(listener, self._forward_datagram(listener, data, peer))
                return
        if reply:
            self._send_datagram(listener, reply, peer)

    def _send_datagram(self, listener: _Listener, data: bytes, peer: tuple[str, int]) -> None:
        transport = listener.datagrams
        if transport is None or transport.is_closing() or listener.paused:
            return
        transport.sendto(data, peer)

    def _spawn(self, listener: _Listener, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        listener.tasks.add(task)
        task.add_done_callback(listener.tasks.discard)

    async def _forward_datagram(self, listener: _Listener, data: bytes, peer: tuple[str, int]) -> None:
        self._send_datagram(listener, await self._forward_counted(listener, data, tcp=False), peer)

    async def _forward_counted(self, listener: _Listener, data: bytes, tcp: bool) -> bytes:
        """:meth:`forward` within the container's quota (SERVFAIL beyond it); never raises but to cancel."""
        if listener.forwards >= self.limits.forwards:
            return wire.error_reply(data, wire.SERVFAIL) or b""
        listener.forwards += 1
        try:
            return await self.forward(listener.container_id, data, tcp)
        except Exception:  # noqa: BLE001 - one query fails, never the server
            self.log_error("forwarding a DNS query of container %s failed", listener.container_id[:12])
            return wire.error_reply(data, wire.SERVFAIL) or b""
        finally:
            listener.forwards -= 1

    async def _converse(self, listener: _Listener, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        """Answer length-prefixed queries on a TCP connection until the client is done, slow or gone."""
        if len(listener.clients) >= self.limits.tcp_clients or listener.loop is None:
            writer.transport.abort()
            return
        listener.clients.add(writer)
        deadline = self.limits.tcp_query_timeout
        try:
            while True:
                async with asyncio.timeout(deadline):
                    head = await reader.readexactly(2)
                    data = await reader.readexactly(struct.unpack("!H", head)[0])
                reply = self.answer(listener.container_id, data, tcp=True)
                if reply is None:
                    reply = await self._forward_counted(listener, data, tcp=True)
                if not reply:
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                async with asyncio.timeout(deadline):
                    await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, OSError):
            pass  # slow, gone or reset: the connection ends
        except Exception:  # noqa: BLE001 - one client fails, never the server
            self.log_error("a DNS conversation of container %s failed", listener.container_id[:12])
        finally:
            listener.clients.discard(writer)
            writer.transport.abort()

    # ------------------------------------------------------------------ answers

    def answer(self, container_id: str, data: bytes, tcp: bool = False) -> bytes | None:
        """The reply to a query from this server's records; None when it must be forwarded, b"" to drop it.

        Never raises: an unreadable query is answered FORMERR, and an error while
        answering SERVFAIL (and logged).
        """
        try:
            query = wire.parse_query(data)
        except wire.FormatError:
            return wire.error_reply(data, wire.FORMERR) or b""
        if query.opcode != 0:  # (its sections mean other things: the reply repeats none)
            return wire.error_reply(data, wire.NOTIMP) or b""
        try:
            return self._answer(container_id, query, wire.STREAM_LIMIT if tcp else query.udp_limit())
        except Exception:  # noqa: BLE001 - one query fails, never the server
            self.log_error("answering a DNS query of container %s failed", container_id[:12])
            return wire.reply(query, rcode=wire.SERVFAIL, authoritative=False)

    def _answer(self, container_id: str, query: wire.Query, limit: int) -> bytes | None:
        if query.edns is not None and query.edns.version != 0:
            return wire.reply(query, rcode=wire.BADVERS, authoritative=False)
        if query.qclass != wire.CLASS_IN:
            return None
        if query.qtype in (wire.TYPE_A, wire.TYPE_AAAA):
            addresses = self.lookup(container_id, query.name)
            if addresses is None:
                return None
            answers = _a_records(addresses) if query.qtype == wire.TYPE_A else []
            return wire.reply(query, answers=answers, authoritative=False, limit=limit)  # as Docker's
        if query.qtype == wire.TYPE_PTR:
            address = wire.reverse_address(query.name)
            name = self.reverse(container_id, address) if address else None
            if name is None:
                return None
            try:
                record = wire.ptr_record(name)
            except wire.FormatError:  # a name DNS cannot carry (a label over 63 octets): no name to give
                return wire.reply(query, rcode=wire.NXDOMAIN, authoritative=False)
            return wire.reply(query, answers=[record], authoritative=False, limit=limit)
        return None

    async def forward(self, container_id: str, data: bytes, tcp: bool) -> bytes:
        """Ask the upstream servers in turn from the container's namespace; SERVFAIL when none answers.

        A container this server does not listen for has no namespace to forward from: SERVFAIL.
        """
        listener = self.listeners.get(container_id)
        if listener is not None:
            wanted = struct.unpack_from("!H", data)[0] if len(data) >= 2 else -1
            for server in self.upstreams(container_id):
                try:
                    async with asyncio.timeout(self.limits.upstream_timeout):
                        if tcp:
                            response = await _ask_tcp(listener.namespace, server, data)
                        else:
                            response = await _ask_udp(listener.namespace, server, data, wanted)
                except (OSError, TimeoutError, asyncio.IncompleteReadError) as err:
                    log.debug("upstream %s:%s failed: %r", server[0], server[1], err)
                    continue
                if response:
                    return response
        return wire.error_reply(data, wire.SERVFAIL) or b""


def _a_records(addresses: list[str]) -> list[tuple[int, bytes]]:
    """A answers for the IPv4 addresses among ``addresses``."""
    records = []
    for address in addresses:
        try:
            records.append(wire.a_record(address))
        except wire.FormatError:
            log.debug("not answering with %r: not an IPv4 address", address)
    return records


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


async def _ask_udp(namespace: Namespace, server: tuple[str, int], data: bytes, wanted: int) -> bytes:
    loop = asyncio.get_running_loop()
    with namespace.socket(_family(server[0]), socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, server)
        await loop.sock_sendall(sock, data)
        while True:
            response = await loop.sock_recv(sock, 65535)
            if wire.reply_id(response) == wanted:
                return response


async def _ask_tcp(namespace: Namespace, server: tuple[str, int], data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    with namespace.socket(_family(server[0]), socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, server)
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
