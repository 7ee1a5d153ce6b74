"""The embedded DNS server without namespaces: the wire format, name resolution on network records,
answers, forwarding to a fake upstream on 127.0.0.1, the selector loop, and the config key."""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path

import pytest

from moor import config
from moor.containers.etcfiles import embedded_resolv_conf_text, host_nameservers
from moor.containers.record import Container, ContainerStore
from moor.errors import ConfigError
from moor.networks.model import Endpoint, Network
from moor.services import container_networking, dns
from moor.services import dns_wire as wire
from moor.services.container_networking import ContainerNetworking
from moor.services.events import EventBus
from moor.services.networks import NetworkService
from moor.testing.dnsupstream import FakeUpstream, LoopbackNamespace
from moor.testing.fakes import FakeProcesses, fake_drivers


def query(name: str, qtype: int = wire.TYPE_A, ident: int = 0xBEEF, flags: int = 0x0100) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 0) + wire.encode_name(name) + struct.pack("!HH", qtype, 1)


def parse_reply(data: bytes) -> tuple[int, int, list[tuple[int, bytes]]]:
    """(id, flags, [(type, rdata)]) of a reply with one question."""
    ident, flags, _, ancount, _, _ = wire.HEADER.unpack_from(data)
    _, offset = wire.read_name(data, wire.HEADER.size)
    offset += 4
    answers = []
    for _ in range(ancount):
        _, offset = wire.read_name(data, offset)
        rtype, _, _, size = struct.unpack_from("!HHIH", data, offset)
        answers.append((rtype, data[offset + 10:offset + 10 + size]))
        offset += 10 + size
    return ident, flags, answers


# ---------------------------------------------------------------------- wire format

def test_query_is_read_and_answered_with_its_question() -> None:
    parsed = wire.parse_query(query("Web.AppNet."))
    assert (parsed.name, parsed.qtype, parsed.qclass, parsed.id) == ("web.appnet", wire.TYPE_A, 1, 0xBEEF)
    data = wire.reply(parsed, answers=[wire.a_record("10.1.2.3"), wire.a_record("10.1.2.4")])
    ident, flags, answers = parse_reply(data)
    assert ident == 0xBEEF and flags & wire.FLAG_QR and flags & 0x0100 and flags & 0xF == wire.NOERROR
    assert answers == [(wire.TYPE_A, bytes([10, 1, 2, 3])), (wire.TYPE_A, bytes([10, 1, 2, 4]))]
    assert data[12:12 + len(wire.encode_name("Web.AppNet"))] == wire.encode_name("Web.AppNet")  # question as asked


def test_compressed_names_and_bad_messages() -> None:
    data = b"\x00" * 12 + b"\x03foo\x00" + b"\x03bar\xc0\x0c"
    assert wire.read_name(data, 17) == ("bar.foo", 23)
    with pytest.raises(wire.FormatError):
        wire.read_name(b"\x00" * 12 + b"\xc0\x0c", 12)  # a pointer to itself
    with pytest.raises(wire.FormatError):
        wire.parse_query(b"\x00\x01")
    with pytest.raises(wire.FormatError):
        wire.parse_query(query("x", flags=0x8000))  # a reply is no query
    assert wire.error_reply(query("x"), wire.SERVFAIL)[3] & 0xF == wire.SERVFAIL
    assert wire.error_reply(b"\x01", wire.FORMERR) is None


def test_truncation_and_reverse_names() -> None:
    parsed = wire.parse_query(query("many"))
    answers = [wire.a_record(f"10.0.{i // 250}.{i % 250}") for i in range(40)]
    truncated = wire.reply(parsed, answers=answers, limit=wire.UDP_LIMIT)
    assert struct.unpack_from("!H", truncated, 2)[0] & wire.FLAG_TC and len(truncated) <= wire.UDP_LIMIT
    assert parse_reply(truncated)[2] == answers[:len(parse_reply(truncated)[2])] != []  # those that fit, as Docker
    assert len(parse_reply(wire.reply(parsed, answers=answers))[2]) == 40  # TCP has no such limit
    assert wire.reverse_address("4.3.2.10.in-addr.arpa") == "10.2.3.4"
    assert wire.reverse_address("4.3.2.in-addr.arpa") is None and wire.reverse_address("example.com") is None


# ---------------------------------------------------------------------- resolution on network records

@pytest.fixture
def networks(tmp_path: Path) -> NetworkService:
    service = NetworkService(str(tmp_path), fake_drivers(tmp_path / "drivers", without=("network",)), EventBus())

    def member(name: str, address: str, *aliases: str) -> Endpoint:
        return Endpoint(name=name, endpoint_id="e" * 64, ipv4_address=f"{address}/24", aliases=list(aliases))

    def network(network_id: str, name: str, endpoints: dict[str, Endpoint]) -> Network:
        return Network(id=network_id, name=name, driver="bridge", created="", endpoints=endpoints)

    a, b, c, d = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)
    service.networks = {
        "n1": network("n1", "front", {a: member("web", "10.1.0.2", "aaaaaaaaaaaa"),
                                      b: member("db", "10.1.0.3", "bbbbbbbbbbbb", "store", "pool")}),
        "n2": network("n2", "back", {b: member("db", "10.2.0.3", "bbbbbbbbbbbb"),
                                     c: member("cache", "10.2.0.4", "cccccccccccc", "pool")}),
        "n3": network("n3", "bridge", {d: member("legacy", "172.17.0.2", "dddddddddddd")}),
    }
    return service


def test_names_resolve_on_shared_user_networks_only(networks: NetworkService) -> None:
    a, b = "a" * 64, "b" * 64
    assert networks.resolve(a, "db") == ["10.1.0.3"]
    assert networks.resolve(a, "DB.") == ["10.1.0.3"] == networks.resolve(a, "store")
    assert networks.resolve(a, "bbbbbbbbbbbb") == ["10.1.0.3"] == networks.resolve(a, b)
    assert networks.resolve(a, "db.front") == ["10.1.0.3"] and networks.resolve(a, "db.back") is None
    assert networks.resolve(a, "cache") is None  # on "back" only, which web does not share
    assert networks.resolve(a, "legacy") is None  # the default bridge has no names
    assert networks.resolve(a, "web") == ["10.1.0.2"]  # its own name too
    assert sorted(networks.resolve(b, "pool")) == ["10.1.0.3", "10.2.0.4"]  # one alias, several containers
    assert networks.resolve(b, "db") == ["10.1.0.3", "10.2.0.3"]
    assert networks.resolve("d" * 64, "legacy") is None
    assert networks.reverse(a, "10.1.0.3") == "db.front" and networks.reverse(a, "10.2.0.4") is None
    assert networks.on_user_network(a) and not networks.on_user_network("d" * 64)
    networks.rename_member(b, "primary")
    assert networks.resolve(a, "primary") == ["10.1.0.3"] and networks.resolve(a, "db") is None


# ---------------------------------------------------------------------- answering and forwarding

@pytest.fixture
def upstream():
    server = FakeUpstream()
    yield server
    server.close()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Namespaces:
    """Hands the server loopback stand-ins for containers' namespaces and keeps them."""

    def __init__(self) -> None:
        self.made: list[LoopbackNamespace] = []

    def __call__(self, path: str) -> LoopbackNamespace:
        self.made.append(LoopbackNamespace(path))
        return self.made[-1]

    def sockets(self, index: int = -1) -> tuple[socket.socket, socket.socket]:
        """The listeners made last in the ``index``-th namespace."""
        return self.made[index].made[-1]


def make_server(networks: NetworkService, servers: list[tuple[str, int]],
                namespaces: Namespaces | None = None, limits: dns.Limits | None = None) -> dns.EmbeddedDNS:
    return dns.EmbeddedDNS(networks.resolve, networks.reverse, lambda container_id: servers,
                           namespace=namespaces or Namespaces(), limits=limits)


def ask_udp(address: tuple[str, int], message: bytes, timeout: float = 10) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(timeout)
        client.sendto(message, address)
        return client.recv(65535)


def ask_tcp(address: tuple[str, int], message: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(address, timeout=timeout) as client:
        client.sendall(struct.pack("!H", len(message)) + message)
        return read_framed(client)


def read_framed(client: socket.socket) -> bytes:
    head = b""
    while len(head) < 2:
        chunk = client.recv(2 - len(head))
        assert chunk, "connection closed"
        head += chunk
    size = struct.unpack("!H", head)[0]
    data = b""
    while len(data) < size:
        chunk = client.recv(size - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data


def test_answers_from_records_and_forwards_the_rest(networks: NetworkService, upstream: FakeUpstream) -> None:
    a = "a" * 64
    server = make_server(networks, [("127.0.0.1", closed_port()), ("127.0.0.1", upstream.port)])
    _, flags, answers = parse_reply(server.answer(a, query("store")))
    assert answers == [(wire.TYPE_A, bytes([10, 1, 0, 3]))] and not flags & wire.FLAG_AA  # Docker's: not authoritative
    assert parse_reply(server.answer(a, query("db", wire.TYPE_AAAA)))[2] == []  # known name, no IPv6: empty
    assert parse_reply(server.answer(a, query("3.0.1.10.in-addr.arpa", wire.TYPE_PTR)))[2] == \
        [(wire.TYPE_PTR, wire.encode_name("db.front"))]
    assert server.answer(a, query("example.test")) is None  # not ours: to be forwarded
    assert parse_reply(server.answer(a, query("db", wire.TYPE_MX)))[2] == []  # MX of a container name: none (Docker)
    assert server.answer(a, query("db", 16)) is None  # TXT of a container name: forwarded, as Docker does
    try:
        assert server.attach(a, "/proc/1/ns/net")
        for tcp in (False, True):  # the first upstream refuses, the second answers
            answers = parse_reply(asyncio.run(server.forward(a, query("example.test"), tcp=tcp)))[2]
            assert answers == [(wire.TYPE_A, bytes([192, 0, 2, 1]))]
    finally:
        server.close()
    failed = make_server(networks, [("127.0.0.1", closed_port())])
    try:
        assert failed.attach(a, "/proc/1/ns/net")
        reply = asyncio.run(failed.forward(a, query("example.test"), tcp=False))
        assert reply[3] & 0xF == wire.SERVFAIL and reply[:2] == b"\xbe\xef"
    finally:
        failed.close()
    nowhere = make_server(networks, [])
    try:
        assert nowhere.attach(a, "/proc/1/ns/net")
        assert asyncio.run(nowhere.forward(a, query("example.test"), tcp=True))[3] & 0xF == wire.SERVFAIL
    finally:
        nowhere.close()


def test_forwarding_needs_the_containers_namespace(networks: NetworkService, upstream: FakeUpstream) -> None:
    """A container the server does not listen for has no namespace to forward from: never from moord's own."""
    server = make_server(networks, [("127.0.0.1", upstream.port)])
    reply = asyncio.run(server.forward("a" * 64, query("example.test"), tcp=False))
    assert reply[3] & 0xF == wire.SERVFAIL and upstream.asked == []


def test_selector_loop_serves_attached_containers(networks: NetworkService, upstream: FakeUpstream) -> None:
    namespaces = Namespaces()
    server = make_server(networks, [("127.0.0.1", upstream.port)], namespaces)
    a = "a" * 64
    try:
        assert server.attach(a, "/proc/self/ns/net") and not server.attach(a, "/proc/self/ns/net")
        udp, tcp = namespaces.sockets()
        assert parse_reply(ask_udp(udp.getsockname(), query("web")))[2] == [(wire.TYPE_A, bytes([10, 1, 0, 2]))]
        assert parse_reply(ask_udp(udp.getsockname(), query("elsewhere.test", ident=7)))[:3:2] == \
            (7, [(wire.TYPE_A, bytes([192, 0, 2, 1]))])
        with socket.create_connection(tcp.getsockname(), timeout=10) as client:
            for name, expected in (("db", bytes([10, 1, 0, 3])), ("elsewhere.test", bytes([192, 0, 2, 1]))):
                message = query(name)
                client.sendall(struct.pack("!H", len(message)) + message)
                assert parse_reply(read_framed(client))[2] == [(wire.TYPE_A, expected)]
        server.detach(a)
        assert udp.fileno() == -1 and tcp.fileno() == -1 and not server.attached(a) and namespaces.made[0].closed
        assert server.attach(a, "/proc/self/ns/net")
    finally:
        server.close()
    assert all(s.fileno() == -1 for namespace in namespaces.made for pair in namespace.made for s in pair)
    assert server.thread is not None and not server.thread.is_alive()


# ---------------------------------------------------------------------- configuration and resolv.conf

def test_dns_upstreams_config_key() -> None:
    assert config.parse({}).dns_upstreams is None
    parsed = config.parse({"network": {"driver": "bridge", "dns_upstreams": ["127.0.0.1:5353", "[::1]:53", "::1"]}})
    assert parsed.dns_upstreams == ["127.0.0.1:5353", "[::1]:53", "::1"]
    assert parsed.drivers["network"].driver == "bridge"
    assert [config.dns_upstream(s) for s in parsed.dns_upstreams] == [("127.0.0.1", 5353), ("::1", 53), ("::1", 53)]
    assert config.parse({"network": {"dns_upstreams": []}}).dns_upstreams == []
    for bad in (["dns.example"], ["127.0.0.1:0"], "127.0.0.1", [53]):
        with pytest.raises(ConfigError, match="network.dns_upstreams"):
            config.parse({"network": {"dns_upstreams": bad}})
    assert "dns_upstreams" in config.DEFAULT_FILE_TEXT


def test_upstreams_and_the_hosts_own_loopback_resolvers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--dns and the config's servers are asked from the container (127.0.0.1 is its own); the loopback
    resolvers of the host's resolv.conf are asked from the host, as Docker does, but not for a container
    on --internal networks only."""
    events = EventBus()
    service = NetworkService(str(tmp_path), fake_drivers(tmp_path / "drivers", without=("network",)), events)
    service.networks = {"o": Network(id="o", name="open", driver="bridge", created=""),
                        "s": Network(id="s", name="sealed", driver="bridge", created="", internal=True)}
    store = ContainerStore(str(tmp_path / "containers"))

    def container(name: str, networks: list[str], dns: list[str] | None = None) -> str:
        store.save(Container(id=name * 64, name=name, created="", image_id="", image="busybox", path="sh", args=[],
                             config={}, host_config={"Dns": dns}, networks={n: {} for n in networks}))
        return name * 64

    def networking(upstreams: list[str] | None = None) -> ContainerNetworking:
        settings = config.Config(data_root=str(tmp_path), dns_upstreams=upstreams)
        return ContainerNetworking(settings, service, store, events, FakeProcesses(), store.find)  # type: ignore[arg-type]

    monkeypatch.setattr(container_networking, "host_nameservers", lambda: ["127.0.0.53", "::1", "192.0.2.53"])
    opened, sealed, both = container("a", ["open"]), container("b", ["sealed"]), container("c", ["sealed", "open"])
    own = container("d", ["open"], dns=["127.0.0.1", "192.0.2.9:5353"])
    host = networking()
    assert host.dns_upstreams(opened) == host.dns_upstreams(both) == \
        [("127.0.0.53", 53, True), ("::1", 53, True), ("192.0.2.53", 53, False)]
    assert host.dns_upstreams(sealed) == [("192.0.2.53", 53, False)]
    assert host.dns_upstreams(own) == [("127.0.0.1", 53, False), ("192.0.2.9", 5353, False)]
    assert networking(["127.0.0.1:5353"]).dns_upstreams(opened) == [("127.0.0.1", 5353, False)]
    monkeypatch.setattr(container_networking, "host_nameservers", lambda: ["127.0.0.53"])
    assert host.dns_upstreams(sealed) == [("8.8.8.8", 53, False), ("8.8.4.4", 53, False)]
    monkeypatch.setattr(container_networking, "host_nameservers", lambda: [])
    assert host.dns_upstreams(opened) == [("8.8.8.8", 53, False), ("8.8.4.4", 53, False)]


class NoWayOut(LoopbackNamespace):
    """A container's namespace from which nothing is reachable."""

    def socket(self, family: socket.AddressFamily, kind: socket.SocketKind) -> socket.socket:
        raise OSError(101, "Network is unreachable")


def test_the_hosts_loopback_resolvers_are_asked_from_the_host(networks: NetworkService,
                                                               upstream: FakeUpstream) -> None:
    for from_host, rcode in ((False, wire.SERVFAIL), (True, wire.NOERROR)):
        server = dns.EmbeddedDNS(networks.resolve, networks.reverse,
                                 lambda container_id, host=from_host: [("127.0.0.1", upstream.port, host)],
                                 namespace=NoWayOut)
        try:
            assert server.attach("a" * 64, "/proc/1/ns/net")
            for tcp in (False, True):
                assert asyncio.run(server.forward("a" * 64, query("far.test"), tcp=tcp))[3] & 0xF == rcode
        finally:
            server.close()


def test_embedded_resolv_conf(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("# host\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch corp.test\noptions edns0\n")
    assert embedded_resolv_conf_text(str(host)) == \
        "search corp.test\nnameserver 127.0.0.11\noptions edns0 ndots:0\n"
    assert embedded_resolv_conf_text(str(host), search=["a.test"], options=["ndots:3"]) == \
        "search a.test\nnameserver 127.0.0.11\noptions ndots:3\n"
    assert embedded_resolv_conf_text(str(tmp_path / "missing")) == "nameserver 127.0.0.11\noptions ndots:0\n"
    assert host_nameservers(str(host)) == ["127.0.0.53", "192.0.2.53"]
