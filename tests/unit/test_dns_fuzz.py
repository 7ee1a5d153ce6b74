"""Hostile packets against the embedded DNS server's packet handler: malformed, truncated, looping,
oversized and random queries, EDNS, every record type. Nothing may raise, and whatever the server answers
must be a well-formed DNS message (dnspython reads it: an independent parser) that answers the query.

The cases are drawn from a seeded generator; MOOR_DNS_FUZZ_CASES raises their number for a longer run
(``MOOR_DNS_FUZZ_CASES=200000 pytest tests/unit/test_dns_fuzz.py``)."""

from __future__ import annotations

import os
import random
import socket
import struct
import time

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import pytest

from moor.services import dns as embedded
from moor.services import dns_wire as wire
from moor.testing.dnsupstream import LoopbackNamespace

CASES = int(os.environ.get("MOOR_DNS_FUZZ_CASES", "3000"))
ME = "a" * 64
MANY = [f"10.3.{i // 250}.{i % 250 + 1}" for i in range(100)]  # 100 answers: 1.6 kB, more than UDP's 512 bytes
NAMES = {"web": ["10.3.0.2"], "db.front": ["10.3.0.3"], "many": MANY, "odd": ["10.3.0.9", "not-an-ip", "fd00::1"]}
REVERSE = {"10.3.0.2": "web.front", "10.3.0.4": "x" * 70 + ".front", "10.3.0.5": "é.front",
           "10.3.0.6": ".".join(["abcdefghi"] * 30)}  # a name over 255 octets


def lookup(container_id: str, name: str) -> list[str] | None:
    return NAMES.get(name)


def reverse(container_id: str, address: str) -> str | None:
    return REVERSE.get(address)


@pytest.fixture(scope="module")
def server() -> embedded.EmbeddedDNS:
    return embedded.EmbeddedDNS(lookup, reverse, lambda container_id: [], namespace=LoopbackNamespace)


def make_query(name: str, qtype: int = wire.TYPE_A, ident: int = 0x5151, flags: int = 0x0100,
               edns: tuple[int, int] | None = None, qclass: int = wire.CLASS_IN) -> bytes:
    """A query; ``edns``: (UDP size, version) of an OPT record."""
    additional = b"" if edns is None else b"\x00" + struct.pack("!HHIH", wire.TYPE_OPT, edns[0], edns[1] << 16, 0)
    return (struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 1 if edns else 0) + wire.encode_name(name)
            + struct.pack("!HH", qtype, qclass) + additional)


def check(data: bytes, reply: bytes | None, tcp: bool = False) -> dns.message.Message | None:
    """The reply is None (to forward), empty (dropped) or a well-formed reply to ``data``; returns it parsed."""
    if not reply:
        return None
    assert len(reply) <= (wire.STREAM_LIMIT if tcp else wire.EDNS_LIMIT)
    try:
        message = dns.message.from_wire(reply)
    except dns.exception.DNSException as err:
        raise AssertionError(f"malformed reply {reply.hex()} to {data.hex()}: {err!r}") from None
    assert message.flags & dns.flags.QR
    assert struct.unpack_from("!H", reply)[0] == struct.unpack_from("!H", data)[0]  # the query's ID
    if message.question:  # a reply that repeats the question repeats the query's
        query = wire.parse_query(data)
        assert len(message.question) == 1
        assert message.question[0].name.to_wire().lower() == query.qname.lower()
        assert (message.question[0].rdtype, message.question[0].rdclass) == (query.qtype, query.qclass)
        if not tcp:
            assert len(reply) <= query.udp_limit()
    return message


# ---------------------------------------------------------------------- the cases one by one

def test_malformed_queries_are_answered_formerr_and_replies_never(server: embedded.EmbeddedDNS) -> None:
    header = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
    formerr = [
        header + b"\xc0\x0c\x00\x01\x00\x01",  # a name that points to itself
        header + b"\x01a\xc0\x0e\x00\x01\x00\x01",  # a pointer into its own name: a loop
        header + b"\xc0\x12\x00\x01\x00\x01\x01a\x00",  # a pointer forwards
        header + b"\x01a\xc0",  # a pointer cut short
        header + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01",  # an unknown label type
        header + b"\x05ab",  # a label past the end
        header + wire.encode_name("a.b") + b"\x00\x01",  # the question cut short
        header + b"".join(b"\x3f" + b"a" * 63 for _ in range(4)) + b"\x00\x00\x01\x00\x01",  # a 257-octet name
        struct.pack("!HHHHHH", 7, 0x0100, 0, 0, 0, 0),  # no question
        struct.pack("!HHHHHH", 7, 0x0100, 2, 0, 0, 0) + (wire.encode_name("web") + b"\x00\x01\x00\x01") * 2,
        struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 1) + wire.encode_name("web") + b"\x00\x01\x00\x01",  # no record
        make_query("web", edns=(4096, 0))[:-3],  # the OPT record cut short
        make_query("web", edns=(4096, 0)).replace(b"\x00\x00\x01", b"\x00\x00\x02", 1)[:12]
        + make_query("web", edns=(4096, 0))[12:] + b"\x00" + struct.pack("!HHIH", 41, 512, 0, 0),  # two OPTs
    ]
    for data in formerr:
        reply = server.answer(ME, data)
        assert reply and check(data, reply).rcode() == dns.rcode.FORMERR, data.hex()
    for data in (b"", b"\x00", b"\x12" * 11):  # no header: nothing to answer
        assert server.answer(ME, data) == b""
    reply = make_query("web", flags=0x8180)  # a reply: never answered (no loops between servers)
    assert server.answer(ME, reply) == b"" and server.answer(ME, reply[:12]) == b""


def test_opcodes_classes_edns_and_truncation(server: embedded.EmbeddedDNS) -> None:
    for opcode in (1, 2, 4, 5, 15):  # inverse query, status, notify, update, ...: not implemented
        data = make_query("web", flags=opcode << 11)
        assert check(data, server.answer(ME, data)).rcode() == dns.rcode.NOTIMP
    assert server.answer(ME, make_query("web", qclass=3)) is None  # CHAOS: forwarded
    data = make_query("web", edns=(4096, 1))  # a later EDNS version: answered as version 0, as Docker does
    message = check(data, server.answer(ME, data))
    assert message.rcode() == dns.rcode.NOERROR and message.edns == 0 and len(message.answer[0]) == 1
    data = make_query("web", edns=(1232, 0))
    message = check(data, server.answer(ME, data))
    assert message.edns == 0 and [str(a) for rrset in message.answer for a in rrset] == ["10.3.0.2"]

    plain = make_query("many")
    message = check(plain, server.answer(ME, plain))  # 1.6 kB over UDP without EDNS: truncated
    assert message.flags & dns.flags.TC and 20 < len(message.answer[0]) < 100  # with the answers that fit
    for data, tcp in ((make_query("many", edns=(4096, 0)), False), (plain, True)):
        message = check(data, server.answer(ME, data, tcp=tcp), tcp=tcp)
        assert not message.flags & dns.flags.TC and len(message.answer[0]) == 100
    data = make_query("many", edns=(600, 0))  # EDNS, but too small a buffer
    assert check(data, server.answer(ME, data)).flags & dns.flags.TC
    data = make_query("many", edns=(100, 0))  # less than 512 is read as 512
    assert check(data, server.answer(ME, data)).flags & dns.flags.TC

    data = make_query("odd")  # records that are no IPv4 address are left out
    assert [str(a) for rrset in check(data, server.answer(ME, data)).answer for a in rrset] == ["10.3.0.9"]
    data = make_query("WeB.")
    assert check(data, server.answer(ME, data)).question[0].name.to_text() == "WeB."  # the question as asked


def test_reverse_names_that_dns_cannot_carry(server: embedded.EmbeddedDNS) -> None:
    data = make_query("2.0.3.10.in-addr.arpa", wire.TYPE_PTR)
    assert [str(a) for rrset in check(data, server.answer(ME, data)).answer for a in rrset] == ["web.front."]
    for last in (4, 5, 6):  # a 70-octet label, a letter outside ASCII, a name over 255 octets
        data = make_query(f"{last}.0.3.10.in-addr.arpa", wire.TYPE_PTR)
        assert check(data, server.answer(ME, data)).rcode() == dns.rcode.NXDOMAIN
    for name in ("1.2.3.in-addr.arpa", "300.0.3.10.in-addr.arpa", "٣.0.3.10.in-addr.arpa", "in-addr.arpa"):
        assert server.answer(ME, make_query(name.encode("ascii", "replace").decode(), wire.TYPE_PTR)) is None


def test_every_record_type(server: embedded.EmbeddedDNS) -> None:
    start = time.monotonic()
    for qtype in range(65536):
        for name in ("web", "nobody"):
            data = make_query(name, qtype)
            reply = server.answer(ME, data)
            if qtype in (wire.TYPE_A, wire.TYPE_AAAA, wire.TYPE_MX) and name == "web":
                assert check(data, reply).rcode() == dns.rcode.NOERROR
            else:
                assert reply is None or qtype == wire.TYPE_PTR  # forwarded, as Docker does
    assert time.monotonic() - start < 120  # (a bound for a hang, not a benchmark)


# ---------------------------------------------------------------------- generated cases

def mutate(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(7)
        if choice == 0 and data:  # flip bits
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif choice == 1 and data:  # a random byte
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice == 2:  # cut short
            del data[rng.randrange(len(data) + 1):]
        elif choice == 3:  # garbage at the end
            data += rng.randbytes(rng.randrange(64))
        elif choice == 4 and len(data) >= 12:  # random counts
            struct.pack_into("!H", data, rng.choice((4, 6, 8, 10)), rng.choice((0, 1, 2, 255, 65535)))
        elif choice == 5 and len(data) > 13:  # a compression pointer anywhere
            at = rng.randrange(12, len(data) - 1)
            data[at:at + 2] = struct.pack("!H", 0xC000 | rng.randrange(min(len(data) + 16, 0x3FFF)))
        elif choice == 6:  # a huge datagram
            data += b"\x3f" * rng.randrange(1000, 70000)
    return bytes(data)


SEEDS = [make_query("web"), make_query("many"), make_query("many", edns=(4096, 0)), make_query("odd"),
         make_query("db.front", wire.TYPE_AAAA), make_query("4.0.3.10.in-addr.arpa", wire.TYPE_PTR),
         make_query("2.0.3.10.in-addr.arpa", wire.TYPE_PTR, edns=(1232, 0)), make_query("web", edns=(512, 3)),
         make_query("example.test", 255), struct.pack("!HHHHHH", 9, 0x0100, 1, 0, 0, 0) + b"\x03web\xc0\x0c"]


def test_random_and_mutated_queries(server: embedded.EmbeddedDNS) -> None:
    rng = random.Random(0x12DEADBEEF)
    for case in range(CASES):
        if case % 4 == 0:
            data = rng.randbytes(rng.randrange(0, 600))
            if rng.random() < 0.5 and len(data) >= 4:
                data = data[:2] + b"\x01\x00" + data[4:]  # a query's flags, so that the reading goes further
        else:
            data = mutate(rng, rng.choice(SEEDS))
        tcp = case % 3 == 0
        try:
            check(data, server.answer(ME, data[:wire.STREAM_LIMIT] if tcp else data, tcp=tcp), tcp=tcp)
        except AssertionError:
            raise
        except Exception as err:
            raise AssertionError(f"case {case}: {data[:200].hex()} raised {err!r}") from err


def test_the_running_server_survives_a_volley_of_them() -> None:
    """The same packets over the listeners: the server still answers afterwards, over UDP and TCP."""
    namespace = LoopbackNamespace()
    server = embedded.EmbeddedDNS(lookup, reverse, lambda container_id: [], namespace=lambda path: namespace,
                                  limits=embedded.Limits(tcp_query_timeout=0.5))
    rng = random.Random(7)
    try:
        assert server.attach(ME, "/proc/self/ns/net")
        udp, tcp = (sock.getsockname() for sock in namespace.made[-1])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for _ in range(300):
                packet = mutate(rng, rng.choice(SEEDS))[:65000]
                client.sendto(packet, udp)
            for _ in range(20):
                with socket.create_connection(tcp, timeout=10) as stream:
                    packet = mutate(rng, rng.choice(SEEDS))[:65535]
                    stream.sendall(struct.pack("!H", len(packet)) + packet + rng.randbytes(rng.randrange(8)))
            data = make_query("web", ident=0xABCD)
            reply = b""
            for _ in range(20):  # (the volley may fill the server's buffer: a query is dropped, as UDP goes)
                client.sendto(data, udp)
                client.settimeout(1)
                try:
                    while reply[:2] != b"\xab\xcd":  # past the replies to the volley
                        reply = client.recv(65535)
                    break
                except TimeoutError:
                    continue
            assert [str(a) for rrset in check(data, reply).answer for a in rrset] == ["10.3.0.2"]
        with socket.create_connection(tcp, timeout=10) as stream:
            stream.sendall(struct.pack("!H", len(data)) + data)
            stream.settimeout(10)
            reply = b""
            while len(reply) < 2 or len(reply) < 2 + struct.unpack_from("!H", reply)[0]:
                chunk = stream.recv(4096)
                assert chunk
                reply += chunk
            check(data, reply[2:], tcp=True)
        assert server.thread is not None and server.thread.is_alive()
    finally:
        server.close()
