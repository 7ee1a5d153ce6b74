"""The embedded DNS server keeps serving whatever one container does: a record it cannot write, a lookup
that fails, slow TCP clients, a flood of forwarded queries, even the end of its own thread. Without root:
the listeners are on 127.0.0.1 (moor.testing.dnsupstream.LoopbackNamespace)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moor.networks.model import Endpoint, Network
from moor.services import dns
from moor.services import dns_wire as wire
from moor.services.events import EventBus
from moor.services.networks import NetworkService
from moor.testing.dnsupstream import FakeUpstream, LoopbackNamespace
from moor.testing.fakes import fake_drivers

A, B = "a" * 64, "b" * 64
LONG = "x" * 70  # a container name DNS cannot carry: a label holds at most 63 octets


def query(name: str, qtype: int = wire.TYPE_A, ident: int = 0x4242) -> bytes:
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + wire.encode_name(name) + struct.pack("!HH", qtype, 1)


def rcode(reply: bytes) -> int:
    return reply[3] & 0xF


def answers(reply: bytes) -> int:
    return struct.unpack_from("!H", reply, 6)[0]


class Namespaces:
    def __init__(self) -> None:
        self.made: list[LoopbackNamespace] = []

    def __call__(self, path: str) -> LoopbackNamespace:
        self.made.append(LoopbackNamespace(path))
        return self.made[-1]

    def udp(self, index: int) -> tuple[str, int]:
        return self.made[index].made[-1][0].getsockname()

    def tcp(self, index: int) -> tuple[str, int]:
        return self.made[index].made[-1][1].getsockname()


def ask_udp(address: tuple[str, int], message: bytes, timeout: float = 10) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(timeout)
        client.sendto(message, address)
        return client.recv(65535)


def read_exactly(client: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data


def ask_tcp(address: tuple[str, int], message: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(address, timeout=timeout) as client:
        client.sendall(struct.pack("!H", len(message)) + message)
        return read_exactly(client, struct.unpack("!H", read_exactly(client, 2))[0])


@pytest.fixture
def networks(tmp_path: Path) -> NetworkService:
    """"web", a container with a name too long for DNS, and one whose record holds a number as an alias."""
    service = NetworkService(str(tmp_path), fake_drivers(tmp_path / "drivers", without=("network",)), EventBus())
    members = {
        A: Endpoint(name="web", endpoint_id="e" * 64, ipv4_address="10.9.0.2/24", aliases=["aaaaaaaaaaaa"]),
        B: Endpoint(name="api", endpoint_id="f" * 64, ipv4_address="10.9.0.3/24", aliases=["bbbbbbbbbbbb"]),
        "c" * 64: Endpoint(name=LONG, endpoint_id="1" * 64, ipv4_address="10.9.0.4/24"),
        "d" * 64: Endpoint(name="num", endpoint_id="2" * 64, ipv4_address="10.9.0.5/24",
                           aliases=[123]),  # type: ignore[list-item] - a record written before types were checked
    }
    service.networks = {"n1": Network(id="n1", name="front", driver="bridge", created="", endpoints=members)}
    return service


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream()
    yield server
    server.close()


def test_unwritable_names_and_failing_lookups_fail_one_query_not_the_server(networks: NetworkService) -> None:
    namespaces = Namespaces()

    def lookup(container_id: str, name: str) -> list[str] | None:
        if name == "explode":
            raise RuntimeError("a bug in a lookup")
        return networks.resolve(container_id, name)

    server = dns.EmbeddedDNS(lookup, networks.reverse, lambda container_id: [], namespace=namespaces)
    try:
        assert server.attach(A, "/proc/self/ns/net")
        udp, tcp = namespaces.udp(0), namespaces.tcp(0)
        for ask in (ask_udp, ask_tcp):
            # the PTR of the container whose name has a 70-octet label: no name to give
            assert rcode(ask(udp if ask is ask_udp else tcp, query("4.0.9.10.in-addr.arpa", wire.TYPE_PTR))) == \
                wire.NXDOMAIN
            assert rcode(ask(udp if ask is ask_udp else tcp, query("explode"))) == wire.SERVFAIL
        assert answers(ask_udp(udp, query("num"))) == 1 and answers(ask_udp(udp, query("123"))) == 1
        assert answers(ask_udp(udp, query("web"))) == 1 and answers(ask_tcp(tcp, query("api"))) == 1
        assert server.attach(B, "/proc/self/ns/net")  # a container that starts now gets its listeners
        assert answers(ask_udp(namespaces.udp(1), query("web"))) == 1
    finally:
        server.close()


def test_a_thread_that_ended_is_started_again_with_every_listener(networks: NetworkService) -> None:
    namespaces = Namespaces()
    server = dns.EmbeddedDNS(networks.resolve, networks.reverse, lambda container_id: [], namespace=namespaces)
    try:
        assert server.attach(A, "/proc/self/ns/net")
        assert server.loop is not None and server.thread is not None
        ended = server.thread
        server.loop.call_soon_threadsafe(server.loop.stop)  # as if the thread had died
        ended.join(10)
        assert not ended.is_alive()
        deadline = time.monotonic() + 10
        while len(namespaces.made[0].made) < 2 and time.monotonic() < deadline:  # a new thread re-opens it
            time.sleep(0.05)
        assert server.thread is not ended and server.thread.is_alive()
        assert answers(ask_udp(namespaces.udp(0), query("api"))) == 1
        assert server.attach(B, "/proc/self/ns/net")
        assert answers(ask_udp(namespaces.udp(1), query("web"))) == 1
        assert answers(ask_tcp(namespaces.tcp(0), query("api"))) == 1
        server.detach(A)
        assert all(s.fileno() == -1 for pair in namespaces.made[0].made for s in pair)
    finally:
        server.close()


def test_slow_tcp_clients_of_one_container_starve_no_other(networks: NetworkService, upstream: FakeUpstream) -> None:
    """Twenty TCP clients of one container that trickle a byte now and then, forever: the other container's
    UDP and TCP queries, answered or forwarded, are still answered at once; the slow ones are cut off."""
    namespaces = Namespaces()
    server = dns.EmbeddedDNS(networks.resolve, networks.reverse, lambda container_id: [("127.0.0.1", upstream.port)],
                             namespace=namespaces, limits=dns.Limits(tcp_query_timeout=2.0))
    stop = threading.Event()
    slow: list[socket.socket] = []
    try:
        assert server.attach(A, "/proc/self/ns/net") and server.attach(B, "/proc/self/ns/net")
        for _ in range(20):
            client = socket.create_connection(namespaces.tcp(0), timeout=10)
            client.sendall(b"\xff")  # a query of 65,5xx bytes, to come one byte at a time
            slow.append(client)

        def trickle() -> None:
            while not stop.wait(0.2):
                for client in slow:
                    try:
                        client.send(b"\x00")
                    except OSError:
                        pass

        threading.Thread(target=trickle, daemon=True).start()
        time.sleep(0.5)
        for name in ("web", "elsewhere.test"):
            assert answers(ask_udp(namespaces.udp(1), query(name), timeout=5)) == 1
            assert answers(ask_tcp(namespaces.tcp(1), query(name), timeout=5)) == 1
        # the container's own: beyond its 16 connections the server closes new ones at once...
        cut = 0
        for client in slow:
            client.settimeout(10)
            try:
                cut += client.recv(1) == b""  # ...and the others when their query is not whole in time
            except ConnectionResetError:
                cut += 1
        assert cut == 20
        assert answers(ask_tcp(namespaces.tcp(0), query("api"), timeout=5)) == 1
    finally:
        stop.set()
        for client in slow:
            client.close()
        server.close()


def test_forwarded_queries_have_a_quota_per_container(networks: NetworkService) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as black_hole:  # an upstream that never answers
        black_hole.bind(("127.0.0.1", 0))
        namespaces = Namespaces()
        server = dns.EmbeddedDNS(networks.resolve, networks.reverse, lambda container_id: [black_hole.getsockname()],
                                 namespace=namespaces, limits=dns.Limits(forwards=2, upstream_timeout=30))
        try:
            assert server.attach(A, "/proc/self/ns/net")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                client.settimeout(10)
                for ident in (1, 2, 3):
                    client.sendto(query("far.test", ident=ident), namespaces.udp(0))
                reply = client.recv(4096)  # the third, beyond the quota of 2: SERVFAIL at once
                assert struct.unpack_from("!H", reply)[0] == 3 and rcode(reply) == wire.SERVFAIL
            assert answers(ask_tcp(namespaces.tcp(0), query("web"))) == 1  # its own names still answered
        finally:
            server.close()


def test_tcp_pipelined_queries_half_close_and_a_client_that_reads_nothing(networks: NetworkService,
                                                                          upstream: FakeUpstream) -> None:
    namespaces = Namespaces()
    many = {f"10.9.{i // 250}.{i % 250 + 1}" for i in range(200)}
    server = dns.EmbeddedDNS(lambda c, name: sorted(many) if name == "many" else networks.resolve(c, name),
                             networks.reverse, lambda container_id: [("127.0.0.1", upstream.port)],
                             namespace=namespaces, limits=dns.Limits(tcp_query_timeout=1.0))
    try:
        assert server.attach(A, "/proc/self/ns/net") and server.attach(B, "/proc/self/ns/net")
        with socket.create_connection(namespaces.tcp(0), timeout=10) as client:
            # three queries in one segment, the second forwarded: three replies, in order
            messages = [query("web", ident=1), query("far.test", ident=2), query("api", ident=3)]
            client.sendall(b"".join(struct.pack("!H", len(m)) + m for m in messages))
            client.shutdown(socket.SHUT_WR)  # and no more: the replies still come
            replies = [read_exactly(client, struct.unpack("!H", read_exactly(client, 2))[0]) for _ in messages]
            assert [struct.unpack_from("!H", r)[0] for r in replies] == [1, 2, 3]
            assert all(answers(r) == 1 for r in replies)
            assert client.recv(1) == b""
        with socket.create_connection(namespaces.tcp(0), timeout=10) as greedy:
            # queries whose 3 kB replies it never reads: the server stops reading, then cuts it off
            greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            message = query("many")
            frame = struct.pack("!H", len(message)) + message
            greedy.setblocking(False)
            sent, start = 0, time.monotonic()
            while time.monotonic() - start < 10:
                try:
                    sent += greedy.send(frame * 64)
                except BlockingIOError:
                    break
                except OSError:
                    break
            assert sent < 50_000_000  # the server stopped reading at some point
            assert answers(ask_udp(namespaces.udp(1), query("web"), timeout=5)) == 1  # meanwhile others are served
            greedy.setblocking(True)
            greedy.settimeout(10)
            closed, received = False, 0
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:  # reading now, it finds the end (or a reset) soon
                try:
                    chunk = greedy.recv(65536)
                except ConnectionResetError:
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                received += len(chunk)
            assert closed and received < sent // len(frame) * 3000 // 10  # cut off: most queries never answered
    finally:
        server.close()
