"""The embedded DNS server's sockets, made inside a container's network namespace.

A socket belongs to the network namespace of the thread that made it, whichever
thread uses it later, and setns(2) moves only the calling thread. So the server
keeps an open handle on each container's namespace (the namespace then outlives
its process's ``/proc/PID`` path) and makes there:

- its listeners (``127.0.0.11:53``, UDP and TCP), from a short-lived thread;
- one socket per forwarded query, from the server's own thread, which enters
  the namespace for the socket(2) call only and comes straight back. A query
  forwarded upstream thus leaves from the container, with the container's
  routes: none out of an ``--internal`` network, and ``127.0.0.1`` is the
  container's own loopback, never the host's (as with Docker).
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from typing import Protocol

from moor.networks.netns import CLONE_NEWNET, in_thread_of_its_own

_home_lock = threading.Lock()
_home_fd: int | None = None


class Namespace(Protocol):
    """Where one container's DNS sockets are made."""

    def listeners(self, address: str, port: int) -> tuple[socket.socket, socket.socket]:
        """A non-blocking UDP socket and a listening TCP socket bound to ``address:port``."""

    def socket(self, family: socket.AddressFamily, kind: socket.SocketKind) -> socket.socket:
        """A new socket of ``family`` and ``kind`` (to ask an upstream server)."""

    def close(self) -> None:
        """Let go of the namespace (sockets made in it stay usable)."""


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _home() -> int:
    """A handle on moord's own network namespace (its main thread's, which never moves)."""
    global _home_fd
    with _home_lock:
        if _home_fd is None:
            _home_fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        return _home_fd


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


class NetworkNamespace:
    """An open handle on the network namespace at ``path`` (``/proc/PID/ns/net``); OSError if there is none."""

    def __init__(self, path: str) -> None:
        _home()  # opened while this thread is surely in moord's namespace
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.lock = threading.Lock()

    def listeners(self, address: str, port: int) -> tuple[socket.socket, socket.socket]:
        def make() -> tuple[socket.socket, socket.socket]:
            _setns(self.fd)
            return bind_sockets(address, port)

        return in_thread_of_its_own(make, "dns-netns")

    def socket(self, family: socket.AddressFamily, kind: socket.SocketKind) -> socket.socket:
        """A socket made inside the namespace by this thread, which then returns to moord's namespace.

        Should the return fail, this thread stays in the container's namespace:
        every socket the server makes goes through this method, which enters the
        right namespace first, so that costs nothing but an error logged.
        """
        _setns(self.fd)
        try:
            return socket.socket(family, kind)
        finally:
            _setns(_home())

    def close(self) -> None:
        """Close the handle, once (from any thread): later sockets fail with EBADF, never land elsewhere."""
        with self.lock:
            fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)
