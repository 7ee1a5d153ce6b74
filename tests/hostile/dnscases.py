"""Crafted DNS packets for the embedded server at 127.0.0.11, sent from inside a container's network
namespace, and the small DNS client the checks use (no DNS library: the bytes are the point)."""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

A, PTR, TXT, ANY, AXFR = 1, 12, 16, 255, 252


def name(text: str) -> bytes:
    """A domain name in wire format (labels as given, even over-long ones)."""
    out = b""
    for label in text.strip(".").split("."):
        raw = label.encode("latin-1")
        out += bytes([len(raw) & 0xFF]) + raw
    return out + b"\0"


def header(ident: int = 0x1234, flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, qd, an, ns, ar)


def query(qname: str, qtype: int = A, ident: int = 0x1234, qclass: int = 1) -> bytes:
    return header(ident) + name(qname) + struct.pack("!HH", qtype, qclass)


def answers_of(reply: bytes) -> tuple[int, list[str]]:
    """(rcode, the A records' addresses) of a reply to :func:`query` (names compressed or not)."""
    rcode = reply[3] & 0x0F
    count = struct.unpack("!H", reply[6:8])[0]
    offset = 12
    offset = _skip_name(reply, offset) + 4
    found = []
    for _ in range(count):
        offset = _skip_name(reply, offset)
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", reply[offset:offset + 10])
        offset += 10
        if rtype == A and length == 4:
            found.append(".".join(str(b) for b in reply[offset:offset + 4]))
        offset += length
    return rcode, found


def _skip_name(data: bytes, offset: int) -> int:
    while True:
        length = data[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:
            return offset + 2
        offset += length + 1


@dataclass
class DnsCase:
    id: str
    packets: list[bytes]
    tcp: bool = False
    #: the server must stay silent (a response sent to it, say: answering would let two servers loop)
    silent: bool = False


def _tcp(message: bytes) -> bytes:
    return struct.pack("!H", len(message)) + message


_rng = random.Random(12)
CASES: list[DnsCase] = [
    DnsCase("udp-empty", [b""]),
    DnsCase("udp-one-byte", [b"\x00"]),
    DnsCase("udp-short-header", [b"\x12\x34\x01\x00\x00\x01\x00"]),
    DnsCase("udp-no-question", [header(qd=0)]),
    DnsCase("udp-qdcount-65535", [header(qd=65535) + name("a") + struct.pack("!HH", A, 1)]),
    DnsCase("udp-qdcount-2", [header(qd=2) + (name("a") + struct.pack("!HH", A, 1)) * 2]),
    DnsCase("udp-label-64", [query("l" * 64 + ".test")]),
    DnsCase("udp-label-length-past-end", [header() + b"\x3fabc"]),
    DnsCase("udp-pointer-loop", [header() + b"\xc0\x0c" + struct.pack("!HH", A, 1)]),
    DnsCase("udp-pointer-past-end", [header() + b"\xc0\xff" + struct.pack("!HH", A, 1)]),
    DnsCase("udp-pointer-chain", [header() + b"\x01a\xc0\x0c" + struct.pack("!HH", A, 1)]),
    DnsCase("udp-name-300-octets", [query(".".join(["abcdefghi"] * 30))]),
    DnsCase("udp-name-no-terminator", [header() + b"\x03abc\x03def"]),
    DnsCase("udp-question-no-type", [header() + name("dns-peer")]),
    DnsCase("udp-reserved-label-bits", [header() + b"\x80abc\x00" + struct.pack("!HH", A, 1)]),
    DnsCase("udp-nul-in-label", [query("dns\x00peer")]),
    DnsCase("udp-non-ascii-label", [query("d\xe9j\xe0.vu")]),
    DnsCase("udp-any", [query("dns-peer", ANY)]),
    DnsCase("udp-axfr", [query("dns-peer", AXFR)]),
    DnsCase("udp-txt-chaos", [query("version.bind", TXT, qclass=3)]),
    DnsCase("udp-ptr-bogus", [query("x.y.in-addr.arpa", PTR)]),
    DnsCase("udp-ptr-huge-octets", [query("999.999.999.999.in-addr.arpa", PTR)]),
    DnsCase("udp-ptr-long", [query(".".join(["1"] * 120) + ".in-addr.arpa", PTR)]),
    DnsCase("udp-ptr-ipv6-garbage", [query("z." * 40 + "ip6.arpa", PTR)]),
    DnsCase("udp-ptr-gateway", [query("11.0.0.127.in-addr.arpa", PTR)]),
    DnsCase("udp-opcode-15", [header(flags=0x7900) + name("dns-peer") + struct.pack("!HH", A, 1)]),
    DnsCase("udp-opcode-update", [header(flags=0x2800) + name("dns-peer") + struct.pack("!HH", A, 1)]),
    DnsCase("udp-response-sent-to-server", [header(flags=0x8180, an=1) + name("dns-peer") + struct.pack("!HH", A, 1)],
            silent=True),
    DnsCase("udp-edns-huge-options", [header(ar=1) + name("dns-peer") + struct.pack("!HH", A, 1)
                                      + b"\x00" + struct.pack("!HHIH", 41, 65535, 0, 1000) + b"\xff" * 1000]),
    DnsCase("udp-edns-bad-length", [header(ar=1) + name("dns-peer") + struct.pack("!HH", A, 1)
                                    + b"\x00" + struct.pack("!HHIH", 41, 4096, 0, 65535)]),
    DnsCase("udp-counts-lie", [header(qd=1, an=100, ns=100, ar=100) + name("dns-peer") + struct.pack("!HH", A, 1)]),
    DnsCase("udp-max-datagram", [query("dns-peer") + b"\xff" * 65000]),
    DnsCase("udp-random-burst", [bytes(_rng.randrange(256) for _ in range(_rng.randrange(1, 600)))
                                 for _ in range(300)]),
    DnsCase("udp-flood-valid", [query("dns-peer", ident=i) for i in range(500)]),
    DnsCase("tcp-zero-length", [_tcp(b"")], tcp=True),
    DnsCase("tcp-length-past-data", [struct.pack("!H", 65535) + b"\x00" * 10], tcp=True),
    DnsCase("tcp-garbage", [_tcp(b"\xff" * 40)], tcp=True),
    DnsCase("tcp-pointer-loop", [_tcp(header() + b"\xc0\x0c" + struct.pack("!HH", A, 1))], tcp=True),
    DnsCase("tcp-pipelined-100", [b"".join(_tcp(query("dns-peer", ident=i)) for i in range(100))], tcp=True),
    DnsCase("tcp-ptr-long-label", [_tcp(query("l" * 70 + ".in-addr.arpa", PTR))], tcp=True),
    DnsCase("tcp-axfr", [_tcp(query("dns-peer", AXFR))], tcp=True),
]
