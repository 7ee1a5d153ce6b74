"""The embedded DNS server: 127.0.0.11:53 inside each container on a user-defined network.

As Docker's resolver, it answers the names of the containers on the networks
the asking container shares with them (A; AAAA gets an empty answer; PTR for
their addresses) and forwards every other query, as is, to upstream servers
from moord's own network namespace: the container's ``--dns`` servers, else
the config's ``[network] dns_upstreams``, else the host's resolv.conf ones.

For each container the server holds one UDP and one TCP socket, bound to
127.0.0.11:53 in the container's network namespace: a short-lived thread
enters the namespace (setns(2) changes only the calling thread), makes the
sockets and leaves; sockets stay in the namespace they were made in. One
selector thread in moord's namespace serves them all; forwarding and TCP
conversations run on a small thread pool so a slow upstream blocks no one.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import queue
import selectors
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from moor.containers.etcfiles import EMBEDDED_NAMESERVER
from moor.errors import MoorError
from moor.services import dns_wire as wire

log = logging.getLogger(__name__)

ADDRESS = EMBEDDED_NAMESERVER  # what the containers' resolv.conf names
PORT = 53
CLONE_NEWNET = 0x40000000
UPSTREAM_TIMEOUT = 3.0  # seconds per upstream server
TCP_IDLE_TIMEOUT = 5.0

#: container ID, name -> addresses (None: not a container's name)
Lookup = Callable[[str, str], "list[str] | None"]
#: container ID, address -> name
Reverse = Callable[[str, str], "str | None"]
#: container ID -> (address, port) of the servers to forward to
Upstreams = Callable[[str], "list[tuple[str, int]]"]


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def sockets_in_netns(netns_path: str, address: str = ADDRESS, port: int = PORT) -> tuple[socket.socket, socket.socket]:
    """A UDP and a listening TCP socket bound to ``address:port`` in the network namespace at ``netns_path``."""
    made: list[tuple[socket.socket, socket.socket]] = []
    failed: list[Exception] = []

    def make() -> None:
        try:
            own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    _setns(target)
                    try:
                        made.append(bind_sockets(address, port))
                    finally:
                        _setns(own)
                finally:
                    os.close(target)
            finally:
                os.close(own)
        except Exception as err:  # noqa: BLE001 - handed to the caller's thread, which raises it
            failed.append(err)

    thread = threading.Thread(target=make, name="dns-netns", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return made[0]


def bind_sockets(address: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A non-blocking UDP socket and a listening TCP socket bound to ``address:port`` (in this thread's namespace)."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        udp.bind((address, port))
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((address, port))
        tcp.listen(64)
        udp.setblocking(False)
        tcp.setblocking(False)
    except BaseException:
        udp.close()
        tcp.close()
        raise
    return udp, tcp


class EmbeddedDNS:
    """Listeners for containers, one selector thread serving them, and the forwarder."""

    def __init__(self, lookup: Lookup, reverse: Reverse, upstreams: Upstreams) -> None:
        self.lookup, self.reverse, self.upstreams = lookup, reverse, upstreams
        self.lock = threading.Lock()
        self.listeners: dict[str, tuple[socket.socket, socket.socket]] = {}
        self.selector: selectors.BaseSelector | None = None
        self.thread: threading.Thread | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.wake: tuple[socket.socket, socket.socket] | None = None  # wakes the selector thread for tasks
        self.closed = False

    # ------------------------------------------------------------------ lifecycle

    def attached(self, container_id: str) -> bool:
        return container_id in self.listeners

    def attach(self, container_id: str, netns_path: str) -> bool:
        """Listen in the container's namespace; False if it already listened there."""
        with self.lock:
            if self.closed or container_id in self.listeners:
                return False
            try:
                sockets = sockets_in_netns(netns_path)
            except OSError as err:
                raise MoorError(f"cannot start the embedded DNS server of container {container_id[:12]}: "
                                f"{err.strerror or err}") from None
            self.listeners[container_id] = sockets
            self._start()
            self._in_loop(lambda: self._register(container_id, sockets))
            return True

    def detach(self, container_id: str) -> None:
        """Stop listening for the container; its sockets are closed when this returns."""
        with self.lock:
            sockets = self.listeners.pop(container_id, None)
            if sockets is None:
                return
            self._in_loop(lambda: self._unregister(sockets))

    def close(self) -> None:
        """Close every listener and stop the thread (moord's shutdown)."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            for sockets in self.listeners.values():
                self._in_loop(functools.partial(self._unregister, sockets))
            self.listeners.clear()
            if self.thread is not None:
                self._in_loop(lambda: None, stop=True)
            if self.pool is not None:
                self.pool.shutdown(wait=False, cancel_futures=True)
        if self.thread is not None:
            self.thread.join(5)
        for sock in self.wake or ():
            sock.close()

    def _start(self) -> None:
        if self.thread is not None:
            return
        self.selector = selectors.DefaultSelector()
        self.wake = socket.socketpair()
        self.wake[0].setblocking(False)
        self.selector.register(self.wake[0], selectors.EVENT_READ, ("wake", ""))
        self.pool = ThreadPoolExecutor(16, thread_name_prefix="dns")
        self.thread = threading.Thread(target=self._serve, name="dns", daemon=True)
        self.thread.start()

    def _in_loop(self, task: Callable[[], None], stop: bool = False) -> None:
        """Run ``task`` on the selector thread and wait for it (or run it here if there is no thread)."""
        if self.thread is None or not self.thread.is_alive():
            task()
            return
        done = threading.Event()

        def run() -> None:
            try:
                task()
            finally:
                done.set()
            if stop:
                raise _Stop()

        self.tasks.put(run)
        assert self.wake is not None
        self.wake[1].send(b"x")
        done.wait(10)

    def _register(self, container_id: str, sockets: tuple[socket.socket, socket.socket]) -> None:
        assert self.selector is not None
        udp, tcp = sockets
        self.selector.register(udp, selectors.EVENT_READ, ("udp", container_id))
        self.selector.register(tcp, selectors.EVENT_READ, ("tcp", container_id))

    def _unregister(self, sockets: tuple[socket.socket, socket.socket]) -> None:
        for sock in sockets:
            if self.selector is not None:
                try:
                    self.selector.unregister(sock)
                except (KeyError, ValueError):
                    pass
            sock.close()

    # ------------------------------------------------------------------ serving

    def _serve(self) -> None:
        assert self.selector is not None
        try:
            while True:
                for key, _ in self.selector.select():
                    kind, container_id = key.data
                    if kind == "wake":
                        self._run_tasks()
                    elif kind == "udp":
                        self._on_datagram(key.fileobj, container_id)  # type: ignore[arg-type]
                    elif kind == "tcp":
                        self._on_connection(key.fileobj, container_id)  # type: ignore[arg-type]
        except _Stop:
            pass
        except Exception:
            log.exception("the embedded DNS server stopped")
        finally:
            self.selector.close()

    def _run_tasks(self) -> None:
        try:
            while self.wake is not None and self.wake[0].recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                task = self.tasks.get_nowait()
            except queue.Empty:
                return
            task()

    def _on_datagram(self, sock: socket.socket, container_id: str) -> None:
        try:
            data, peer = sock.recvfrom(65535)
        except OSError:
            return
        answer = self.answer(container_id, data, limit=wire.UDP_LIMIT)
        if answer is not None:
            _send_to(sock, answer, peer)
        elif self.pool is not None:
            self.pool.submit(self._forward_datagram, sock, container_id, data, peer)

    def _forward_datagram(self, sock: socket.socket, container_id: str, data: bytes, peer: tuple[str, int]) -> None:
        _send_to(sock, self.forward(container_id, data, tcp=False), peer)

    def _on_connection(self, sock: socket.socket, container_id: str) -> None:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        if self.pool is not None:
            self.pool.submit(self._converse, conn, container_id)
        else:
            conn.close()

    def _converse(self, conn: socket.socket, container_id: str) -> None:
        """Answer length-prefixed queries on a TCP connection until the client is done."""
        with conn:
            conn.setblocking(True)
            conn.settimeout(TCP_IDLE_TIMEOUT)
            try:
                while True:
                    data = _read_framed(conn)
                    if data is None:
                        return
                    answer = self.answer(container_id, data)
                    if answer is None:
                        answer = self.forward(container_id, data, tcp=True)
                    conn.sendall(struct.pack("!H", len(answer)) + answer)
            except OSError:
                return

    # ------------------------------------------------------------------ answers

    def answer(self, container_id: str, data: bytes, limit: int | None = None) -> bytes | None:
        """The reply to a query from this server's records; None when it must be forwarded."""
        try:
            query = wire.parse_query(data)
        except wire.FormatError:
            return wire.error_reply(data, wire.FORMERR) or b""
        if query.opcode != 0 or query.qclass != wire.CLASS_IN:
            return None
        if query.qtype in (wire.TYPE_A, wire.TYPE_AAAA):
            addresses = self.lookup(container_id, query.name)
            if addresses is None:
                return None
            answers = [wire.a_record(a) for a in addresses] if query.qtype == wire.TYPE_A else []
            return wire.reply(query, answers=answers, authoritative=False, limit=limit)  # as Docker's
        if query.qtype == wire.TYPE_PTR:
            address = wire.reverse_address(query.name)
            name = self.reverse(container_id, address) if address else None
            if name is None:
                return None
            return wire.reply(query, answers=[wire.ptr_record(name)], authoritative=False, limit=limit)
        return None

    def forward(self, container_id: str, data: bytes, tcp: bool) -> bytes:
        """Ask the upstream servers in turn; SERVFAIL when none answers."""
        wanted = struct.unpack_from("!H", data)[0] if len(data) >= 2 else -1
        for server in self.upstreams(container_id):
            try:
                response = _ask_tcp(server, data) if tcp else _ask_udp(server, data, wanted)
            except OSError as err:
                log.debug("upstream %s:%s failed: %s", server[0], server[1], err)
                continue
            if response:
                return response
        return wire.error_reply(data, wire.SERVFAIL) or b""


class _Stop(Exception):
    """Ends the selector loop."""


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _ask_udp(server: tuple[str, int], data: bytes, wanted: int) -> bytes:
    with socket.socket(_family(server[0]), socket.SOCK_DGRAM) as sock:
        sock.settimeout(UPSTREAM_TIMEOUT)
        sock.connect(server)
        sock.send(data)
        while True:
            response = sock.recv(65535)
            if wire.reply_id(response) == wanted:
                return response


def _ask_tcp(server: tuple[str, int], data: bytes) -> bytes:
    with socket.create_connection(server, timeout=UPSTREAM_TIMEOUT) as sock:
        sock.sendall(struct.pack("!H", len(data)) + data)
        return _read_framed(sock) or b""


def _read_framed(sock: socket.socket) -> bytes | None:
    """One length-prefixed DNS message from a stream; None at a clean end of stream."""
    head = _read_exactly(sock, 2)
    if head is None:
        return None
    body = _read_exactly(sock, struct.unpack("!H", head)[0])
    return body


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _send_to(sock: socket.socket, data: bytes, peer: tuple[str, int]) -> None:
    if not data:
        return
    try:
        sock.sendto(data, peer)
    except OSError:
        pass
