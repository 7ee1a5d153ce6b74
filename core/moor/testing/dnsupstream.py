"""Stand-ins for tests and benchmarks of the embedded DNS server: a fake upstream DNS server, an address
of the host for it that containers can reach, and a network namespace that is the test's own (for unit
tests without root)."""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import threading
from collections.abc import Iterator

from moor.services import dns_wire as wire
from moor.services.dns_netns import bind_sockets


class FakeUpstream:
    """Serves UDP and TCP on one port of ``address``; answers A queries for ``known`` names, NXDOMAIN for the rest.

    With ``known=None`` every A query is answered with ``default``. The names asked
    are kept in ``asked``. ``sockets`` (a UDP and a listening TCP socket bound to
    the same port, e.g. made in another network namespace) replace ``address`` and
    ``port``; ``port=0`` picks a free one.
    """

    def __init__(self, known: dict[str, str] | None = None, default: str = "192.0.2.1", address: str = "127.0.0.1",
                 port: int = 0, sockets: tuple[socket.socket, socket.socket] | None = None) -> None:
        self.known, self.default = known, default
        if sockets is None:
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind((address, port))
            self.tcp.listen(8)
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind((address, self.tcp.getsockname()[1]))
        else:
            self.udp, self.tcp = sockets
        self.udp.setblocking(True)
        self.tcp.setblocking(True)
        self.address, self.port = self.tcp.getsockname()[:2]
        self.asked: list[str] = []
        for target in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=target, daemon=True).start()

    def answer(self, data: bytes) -> bytes:
        query = wire.parse_query(data)
        self.asked.append(query.name)
        address = self.default if self.known is None else self.known.get(query.name)
        if address and query.qtype == wire.TYPE_A:
            return wire.reply(query, answers=[wire.a_record(address)], authoritative=False)
        return wire.reply(query, rcode=wire.NOERROR if address else wire.NXDOMAIN, authoritative=False)

    def _serve_udp(self) -> None:
        while True:
            try:
                data, peer = self.udp.recvfrom(4096)
                self.udp.sendto(self.answer(data), peer)
            except wire.FormatError:
                continue
            except OSError:
                return

    def _serve_tcp(self) -> None:
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(5)
                    size = int.from_bytes(conn.recv(2), "big")
                    response = self.answer(conn.recv(size))
                    conn.sendall(len(response).to_bytes(2, "big") + response)
                except (OSError, wire.FormatError):
                    continue

    def close(self) -> None:
        for sock in (self.udp, self.tcp):
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the serving threads
            except OSError:
                pass
            sock.close()


class LoopbackNamespace:
    """A container's network namespace as unit tests see it: listeners on 127.0.0.1 (a free port each, kept in
    ``made``), and sockets to upstream servers made in the test's own namespace."""

    def __init__(self, path: str = "") -> None:
        self.path = path
        self.made: list[tuple[socket.socket, socket.socket]] = []
        self.closed = False

    def listeners(self, address: str, port: int) -> tuple[socket.socket, socket.socket]:
        sockets = bind_sockets("127.0.0.1", 0)
        self.made.append(sockets)
        return sockets

    def socket(self, family: socket.AddressFamily, kind: socket.SocketKind) -> socket.socket:
        return socket.socket(family, kind)

    def close(self) -> None:
        self.closed = True


@contextlib.contextmanager
def host_address() -> Iterator[str]:
    """An address of the host that nothing else uses, where a fake upstream can listen for containers.

    It is ``198.18.X.Y/32`` (a range set aside for tests, RFC 2544) on a veth pair
    made for it and deleted on exit, so no traffic leaves the machine; containers
    on a network with a gateway reach it through their default route, as they
    would a real server, and those on an ``--internal`` network do not. Needs root.
    """
    link = "mdns" + secrets.token_hex(4)
    address = f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(253) + 1}"
    subprocess.run(["ip", "link", "add", link, "type", "veth", "peer", "name", link + "p"], check=True,
                   capture_output=True)
    try:
        for command in (["addr", "add", f"{address}/32", "dev", link], ["link", "set", link, "up"],
                        ["link", "set", link + "p", "up"]):
            subprocess.run(["ip", *command], check=True, capture_output=True)
        yield address
    finally:
        subprocess.run(["ip", "link", "del", link], capture_output=True)
