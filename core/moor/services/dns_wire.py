"""The little of the DNS wire format (RFC 1035) the embedded DNS server needs.

It reads a query's header and first question, and writes replies that echo
that question with A or PTR answers, or an error code. Everything else a
query may hold is left alone: queries the server does not answer itself are
forwarded as the raw bytes they came in.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

TYPE_A = 1
TYPE_PTR = 12
TYPE_AAAA = 28
CLASS_IN = 1

NOERROR = 0
FORMERR = 1
SERVFAIL = 2
NXDOMAIN = 3
NOTIMP = 4

#: the reply flag, the flags kept from the query (opcode, RD), "authoritative", "recursion available", "truncated"
FLAG_QR, FLAG_KEEP, FLAG_AA, FLAG_RA, FLAG_TC = 0x8000, 0x7900, 0x0400, 0x0080, 0x0200
HEADER = struct.Struct("!HHHHHH")
UDP_LIMIT = 512
TTL = 600  # Docker's embedded server answers with this TTL


class FormatError(ValueError):
    """The bytes are not a DNS message this module can read."""


@dataclass(frozen=True)
class Query:
    """A query's ID, flags and first question, and where that question ends in ``raw``."""

    id: int
    flags: int
    name: str  # lower case, without the trailing dot
    qtype: int
    qclass: int
    raw: bytes
    question_end: int

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF


def read_name(data: bytes, offset: int) -> tuple[str, int]:
    """The domain name at ``offset`` (following compression pointers) and the offset after it."""
    labels: list[str] = []
    end = -1
    jumps = 0
    while True:
        if offset >= len(data):
            raise FormatError("name runs past the message")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data) or jumps > 32:
                raise FormatError("bad compression pointer")
            if end < 0:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            jumps += 1
            continue
        if length & 0xC0:
            raise FormatError("unknown label type")
        offset += 1
        if length == 0:
            break
        if offset + length > len(data):
            raise FormatError("label runs past the message")
        labels.append(data[offset:offset + length].decode("ascii", "replace"))
        offset += length
    return ".".join(labels), end if end >= 0 else offset


def encode_name(name: str) -> bytes:
    """``"a.b"`` or ``"a.b."`` -> length-prefixed labels ending with the root."""
    out = bytearray()
    for label in name.rstrip(".").split("."):
        if not label:
            continue
        raw = label.encode("ascii")
        if len(raw) > 63:
            raise FormatError(f"label too long: {label!r}")
        out += bytes([len(raw)]) + raw
    return bytes(out) + b"\x00"


def parse_query(data: bytes) -> Query:
    """Read a query's header and first question; :class:`FormatError` if it has none or is a reply."""
    if len(data) < HEADER.size:
        raise FormatError("short message")
    ident, flags, qdcount, _, _, _ = HEADER.unpack_from(data)
    if flags & FLAG_QR:
        raise FormatError("not a query")
    if qdcount < 1:
        raise FormatError("no question")
    name, offset = read_name(data, HEADER.size)
    if offset + 4 > len(data):
        raise FormatError("question runs past the message")
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    return Query(ident, flags, name.lower(), qtype, qclass, data, offset + 4)


def reply(query: Query, rcode: int = NOERROR, answers: list[tuple[int, bytes]] | None = None,
          authoritative: bool = True, limit: int | None = None) -> bytes:
    """A reply to ``query`` with its question and ``answers`` ((type, rdata) for the question's name).

    With ``limit`` (UDP), a reply that would be longer carries no answers and the truncated flag.
    """
    answers = answers or []
    flags = FLAG_QR | (query.flags & FLAG_KEEP) | FLAG_RA | (FLAG_AA if authoritative else 0) | (rcode & 0xF)
    question = query.raw[HEADER.size:query.question_end]
    records = b"".join(b"\xc0\x0c" + struct.pack("!HHIH", rtype, CLASS_IN, TTL, len(rdata)) + rdata
                       for rtype, rdata in answers)
    if limit is not None and HEADER.size + len(question) + len(records) > limit:
        return HEADER.pack(query.id, flags | FLAG_TC, 1, 0, 0, 0) + question
    return HEADER.pack(query.id, flags, 1, len(answers), 0, 0) + question + records


def error_reply(data: bytes, rcode: int) -> bytes | None:
    """An empty reply with ``rcode`` to a message that could not be read (None if it has no header)."""
    if len(data) < HEADER.size:
        return None
    ident, flags = struct.unpack_from("!HH", data)
    return HEADER.pack(ident, FLAG_QR | (flags & FLAG_KEEP) | FLAG_RA | (rcode & 0xF), 0, 0, 0, 0)


def a_record(address: str) -> tuple[int, bytes]:
    return TYPE_A, ipaddress.IPv4Address(address).packed


def ptr_record(name: str) -> tuple[int, bytes]:
    return TYPE_PTR, encode_name(name)


def reverse_address(name: str) -> str | None:
    """``"4.3.2.1.in-addr.arpa"`` -> ``"1.2.3.4"``; None for any other name."""
    suffix = ".in-addr.arpa"
    if not name.lower().endswith(suffix):
        return None
    parts = name[:-len(suffix)].split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        return None
    return ".".join(reversed(parts))


def reply_id(data: bytes) -> int | None:
    """The ID of a message, if it is a reply."""
    if len(data) < HEADER.size:
        return None
    ident, flags = struct.unpack_from("!HH", data)
    return ident if flags & FLAG_QR else None
