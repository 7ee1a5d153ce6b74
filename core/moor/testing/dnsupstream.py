"""A fake upstream DNS server on 127.0.0.1 for tests and benchmarks of the embedded DNS's forwarding."""

from __future__ import annotations

import socket
import threading

from moor.services import dns_wire as wire


class FakeUpstream:
    """Serves UDP and TCP on one 127.0.0.1 port; answers A queries for ``known`` names, NXDOMAIN for the rest.

    With ``known=None`` every A query is answered with ``default``. The names asked are kept in ``asked``.
    """

    def __init__(self, known: dict[str, str] | None = None, default: str = "192.0.2.1") -> None:
        self.known, self.default = known, default
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.tcp.listen(8)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
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
            except OSError:
                return

    def _serve_tcp(self) -> None:
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                size = int.from_bytes(conn.recv(2), "big")
                response = self.answer(conn.recv(size))
                conn.sendall(len(response).to_bytes(2, "big") + response)

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()
