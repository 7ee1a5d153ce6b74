"""Published ports: the monitor forwards host ports to its container (Docker's userland proxy).

The listener lives as long as the container: it is the monitor's, so it survives moord restarts and
goes away with the container. It holds the host port (so a second container cannot take it) and
serves the host itself (127.0.0.1; other addresses are forwarded by the network driver's NAT when it
has any). TCP connections are relayed whole; UDP datagrams go through one upstream socket per client
address, dropped after :data:`UDP_IDLE_TIMEOUT` seconds without traffic, as docker-proxy does.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import threading

#: seconds a UDP client's upstream socket stays open without traffic (docker-proxy's conntrack timeout)
UDP_IDLE_TIMEOUT = 90.0
UDP_BUFFER = 65535
#: bytes a TCP relay moves per splice(2) call (and the size of its pipe)
SPLICE_CHUNK = 1 << 20


def _bind(kind: int, host_ip: str, host_port: int) -> socket.socket:
    """A socket bound to the host port, or docker-proxy's error (the port is taken by a process that is not
    moor's: moord refuses ports its own containers hold before asking, with Docker's allocator's words).

    An IPv6 host address (``::``) gets an IPv6-only socket, beside the IPv4 one on the same port.
    """
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    sock = socket.socket(family, kind)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    if kind == socket.SOCK_STREAM:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host_ip or "0.0.0.0", host_port))
    except OSError as err:
        sock.close()
        network = ("tcp" if kind == socket.SOCK_STREAM else "udp") + ("6" if family == socket.AF_INET6 else "4")
        address = f"[{host_ip}]:{host_port}" if family == socket.AF_INET6 else f"{host_ip or '0.0.0.0'}:{host_port}"
        reason = os.strerror(err.errno) if err.errno else str(err)
        raise OSError(f"Error starting userland proxy: listen {network} {address}: bind: "
                      f"{reason[:1].lower()}{reason[1:]}") from None
    return sock


class PortProxy:
    """Accepts on ``host_ip:host_port`` and relays each connection to ``target:target_port``."""

    def __init__(self, host_ip: str, host_port: int, target: str, target_port: int) -> None:
        self.target = (target, target_port)
        self.listener = _bind(socket.SOCK_STREAM, host_ip, host_port)
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def close(self) -> None:
        self.listener.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy ``source`` to ``target`` until end of stream, then half-close ``target``."""
    try:
        if not _splice(source, target):
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _splice(source: socket.socket, target: socket.socket) -> bool:
    """Relay with splice(2) through a kernel pipe: the bytes never enter Python (and the GIL is free).

    :return: ``False`` when splice cannot be used (nothing was read then), ``True`` at end of stream.
    """
    splice = getattr(os, "splice", None)
    if splice is None:
        return False
    read_end, write_end = os.pipe()
    try:
        try:
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, SPLICE_CHUNK)
        except (OSError, AttributeError):
            pass
        first = True
        while True:
            try:
                count = splice(source.fileno(), write_end, SPLICE_CHUNK)
            except OSError as err:
                if first and err.errno in (errno.EINVAL, errno.ENOSYS):
                    return False
                raise
            first = False
            if count == 0:
                return True
            while count:
                count -= splice(read_end, target.fileno(), count)
    finally:
        os.close(read_end)
        os.close(write_end)


class UdpProxy:
    """Receives datagrams on ``host_ip:host_port`` and relays them to ``target:target_port`` and back."""

    def __init__(self, host_ip: str, host_port: int, target: str, target_port: int) -> None:
        self.target = (target, target_port)
        self.listener = _bind(socket.SOCK_DGRAM, host_ip, host_port)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.upstreams: dict[tuple[str, int], socket.socket] = {}
        self.closed = False
        threading.Thread(target=self._receive, daemon=True).start()

    def _receive(self) -> None:
        while True:
            try:
                data, client = self.listener.recvfrom(UDP_BUFFER)
            except OSError:
                return
            upstream = self._upstream(client)
            if upstream is None:
                continue
            try:
                upstream.send(data)
            except OSError:
                pass  # the container refused it (ICMP): UDP has no one to tell

    def _upstream(self, client: tuple[str, int]) -> socket.socket | None:
        with self.lock:
            if self.closed:
                return None
            upstream = self.upstreams.get(client)
            if upstream is None:
                upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    upstream.connect(self.target)
                except OSError:
                    upstream.close()
                    return None
                upstream.settimeout(UDP_IDLE_TIMEOUT)
                self.upstreams[client] = upstream
                threading.Thread(target=self._reply, args=(client, upstream), daemon=True).start()
            return upstream

    def _reply(self, client: tuple[str, int], upstream: socket.socket) -> None:
        """Send the container's answers back to ``client`` until it is idle for the timeout."""
        while True:
            try:
                data = upstream.recv(UDP_BUFFER)
            except ConnectionRefusedError:
                continue  # an earlier datagram found no listener; later ones may
            except OSError:  # idle (timeout) or closed
                break
            try:
                self.listener.sendto(data, client)
            except OSError:
                break
        with self.lock:
            if self.upstreams.get(client) is upstream:
                del self.upstreams[client]
        upstream.close()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            upstreams, self.upstreams = list(self.upstreams.values()), {}
        self.listener.close()
        for upstream in upstreams:
            try:
                upstream.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            upstream.close()


Proxy = PortProxy | UdpProxy


def open_proxy(protocol: str, host_ip: str, host_port: int, target: str, target_port: int) -> Proxy:
    """A proxy for ``protocol`` (``tcp`` or ``udp``) from the host port to the container's port."""
    if protocol == "udp":
        return UdpProxy(host_ip, host_port, target, target_port)
    if protocol == "tcp":
        return PortProxy(host_ip, host_port, target, target_port)
    raise OSError(f"unsupported protocol {protocol!r}")
