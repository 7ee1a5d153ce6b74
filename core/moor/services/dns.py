"""The embedded DNS server: 127.0.0.11:53 inside each container on a user-defined network.

As Docker's resolver, it answers the names of the containers on the networks
the asking container shares with them (A; AAAA gets an empty answer; PTR for
their addresses) and forwards every other query, as is, to upstream servers:
the container's ``--dns`` servers, else the config's ``[network]
dns_upstreams``, else the host's resolv.conf ones. It forwards from inside the
container's network namespace (:mod:`moor.services.dns_netns`), so a container
reaches through it only what it could reach itself (but for the host's own
loopback resolvers, which Docker too asks from the host: see
:mod:`moor.services.dns_forward`).

One thread runs an asyncio loop that serves every container's UDP and TCP
listeners (:mod:`moor.services.dns_serving`) and forwards
(:mod:`moor.services.dns_forward`); nothing on it blocks. No container can
stop it or starve the others:

- a packet that cannot be read is answered FORMERR (a reply is never
  answered), and any error while answering is logged (at most every few
  seconds) and answered SERVFAIL: one query fails, never the loop;
- a TCP client has :attr:`Limits.tcp_query_timeout` seconds to send each whole
  query and as long to take each reply, and a container has at most
  :attr:`Limits.tcp_clients` connections (more are closed at once);
- a container has at most :attr:`Limits.forwards` queries being forwarded at
  a time (more are answered SERVFAIL), each upstream server
  :attr:`Limits.upstream_timeout` seconds;
- should the thread ever end other than by :meth:`EmbeddedDNS.close`, a new
  one starts and re-opens every listener (and so would the next
  :meth:`~EmbeddedDNS.attach`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from moor.containers.etcfiles import EMBEDDED_NAMESERVER
from moor.errors import MoorError
from moor.services import dns_wire as wire
from moor.services.dns_forward import UdpForward, as_upstreams, forward_tcp, forward_udp, servfail
from moor.services.dns_netns import Namespace, NetworkNamespace
from moor.services.dns_serving import Datagrams, Limits, Listener, Stream

log = logging.getLogger(__name__)

ADDRESS = EMBEDDED_NAMESERVER  # what the containers' resolv.conf names
PORT = 53
CALL_TIMEOUT = 10.0  # seconds the callers wait for the serving thread to open or close listeners
ERROR_LOG_INTERVAL = 10.0  # seconds between two logged errors of answering

#: container ID, name -> addresses (None: not a container's name)
Lookup = Callable[[str, str], "list[str] | None"]
#: container ID, address -> name
Reverse = Callable[[str, str], "str | None"]
#: container ID -> the servers to forward to: (address, port) or (address, port, from_host)
Upstreams = Callable[[str], "Sequence[tuple[str, int] | tuple[str, int, bool]]"]


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


class EmbeddedDNS:
    """Listeners for containers, the thread serving them, and the forwarder."""

    def __init__(self, lookup: Lookup, reverse: Reverse, upstreams: Upstreams,
                 namespace: Callable[[str], Namespace] = NetworkNamespace, limits: Limits | None = None) -> None:
        self.lookup, self.reverse, self.upstreams = lookup, reverse, upstreams
        #: opens the namespace at a path (tests pass one that stays in their own)
        self.namespace = namespace
        self.limits = limits or Limits()
        self.lock = threading.Lock()
        self.listeners: dict[str, Listener] = {}
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
            listener = Listener(container_id, namespace)
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
                for sock in listener.sockets or ():
                    sock.close()  # (closed with the old loop, unless it was opened there at the very end)
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
            if not self.closed:
                threading.Thread(target=self._revive, args=(threading.current_thread(),), name="dns-revive",
                                 daemon=True).start()

    def _revive(self, ended: threading.Thread) -> None:
        """Start a new serving thread once the one that ended on its own is gone (attach would too)."""
        ended.join()
        with self.lock:
            if not self.closed and self.thread is ended:
                self._ensure_running()

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

    def _open(self, listener: Listener) -> None:
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

    def _shut(self, listener: Listener) -> None:
        """Close the listener's sockets and let go of its namespace (on the loop, which alone makes sockets
        in it); the caller closes the namespace again should the loop not answer (closing is idempotent)."""
        if listener.loop is None or listener.loop is not self.loop or not self.thread or not self.thread.is_alive():
            for sock in listener.sockets or ():
                sock.close()  # its loop is gone (and closed its transports) or never had them
            return
        self._call(lambda: self._close_listener(listener, release=True), "stop the embedded DNS server of a container")

    async def _serve(self, listener: Listener, sockets: tuple[socket.socket, socket.socket]) -> None:
        loop = asyncio.get_running_loop()
        udp, tcp = sockets
        listener.loop, listener.sockets = loop, sockets
        listener.clients, listener.jobs, listener.forwards = set(), set(), 0
        try:
            listener.datagrams = Datagrams(self, listener, udp)
            listener.datagrams.start(loop)
            listener.server = await loop.create_server(lambda: Stream(self, listener), sock=tcp)
        except BaseException:
            await self._close_listener(listener)  # nothing left registered on the loop
            raise

    async def _close_listener(self, listener: Listener, release: bool = False) -> None:
        """Close what the listener has on this loop; with ``release``, its namespace too (not when the
        thread ends on its own: a new one re-opens the listener in the same namespace)."""
        if listener.server is not None:
            listener.server.close()
        if listener.datagrams is not None:
            listener.datagrams.close()
        for client in list(listener.clients):
            client.abort()
        for job in list(listener.jobs):
            job.cancel()
        listener.loop = listener.datagrams = listener.server = None
        for sock in listener.sockets or ():
            sock.close()
        await asyncio.sleep(0)  # the transports' closing callbacks run
        if release:
            listener.namespace.close()

    # ------------------------------------------------------------------ forwarding for the listeners

    def forward_datagram(self, listener: Listener, data: bytes, peer: Any) -> None:
        """Forward a UDP query within the container's quota (beyond it: SERVFAIL); the reply goes to ``peer``."""
        datagrams = listener.datagrams
        if datagrams is None:
            return
        if listener.forwards >= self.limits.forwards:
            datagrams.send(servfail(data), peer)
            return
        servers = as_upstreams(self.upstreams(listener.container_id))

        def done(reply: bytes) -> None:
            listener.forwards -= 1
            listener.jobs.discard(job)
            datagrams.send(reply, peer)

        job = UdpForward(asyncio.get_running_loop(), listener.namespace, servers, data,
                         self.limits.upstream_timeout, done)
        listener.forwards += 1
        listener.jobs.add(job)
        job.start()

    async def forward_stream(self, listener: Listener, data: bytes) -> bytes:
        """:meth:`forward` over TCP within the container's quota (beyond it: SERVFAIL); never raises but to
        cancel."""
        if listener.forwards >= self.limits.forwards:
            return servfail(data)
        listener.forwards += 1
        try:
            return await self.forward(listener.container_id, data, tcp=True)
        except Exception:  # noqa: BLE001 - one query fails, never the server
            self.log_error("forwarding a DNS query of container %s failed", listener.container_id[:12])
            return servfail(data)
        finally:
            listener.forwards -= 1

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
            return wire.reply(query, rcode=wire.SERVFAIL, authoritative=False, recursion=False)

    def _answer(self, container_id: str, query: wire.Query, limit: int) -> bytes | None:
        if query.qclass != wire.CLASS_IN:
            return None
        if query.qtype in (wire.TYPE_A, wire.TYPE_AAAA, wire.TYPE_MX):
            addresses = self.lookup(container_id, query.name)
            if addresses is None:
                return None
            # AAAA: no IPv6 addresses; MX: none, an "implicit MX" (RFC 5321 5.1); both as Docker's
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
        if listener is None:
            return servfail(data)
        servers = as_upstreams(self.upstreams(container_id))
        if tcp:
            return await forward_tcp(listener.namespace, servers, data, self.limits.upstream_timeout)
        return await forward_udp(listener.namespace, servers, data, self.limits.upstream_timeout)


def _a_records(addresses: list[str]) -> list[tuple[int, bytes]]:
    """A answers for the IPv4 addresses among ``addresses``, shuffled (DNS round robin, as Docker's)."""
    records = []
    for address in random.sample(addresses, len(addresses)):
        try:
            records.append(wire.a_record(address))
        except wire.FormatError:
            log.debug("not answering with %r: not an IPv4 address", address)
    return records
