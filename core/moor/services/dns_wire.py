"""The little of the DNS wire format (RFC 1035, EDNS of RFC 6891) the embedded DNS server needs.

It reads a query (its header, its one question and its EDNS record), and
writes replies that repeat that question with A or PTR answers, or an error
code. Queries the server does not answer itself are forwarded as the raw
bytes they came in. Every reading error is a :class:`FormatError`, every
name that cannot be written is one too: nothing a client sends can make
another exception escape from here.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

TYPE_A = 1
TYPE_PTR = 12
TYPE_MX = 15
TYPE_AAAA = 28
TYPE_OPT = 41
CLASS_IN = 1

NOERROR = 0
FORMERR = 1
SERVFAIL = 2
NXDOMAIN = 3
NOTIMP = 4

#: the reply flag, the flags kept from the query (opcode, RD), "authoritative", "recursion available", "truncated"
FLAG_QR, FLAG_KEEP, FLAG_AA, FLAG_RA, FLAG_TC = 0x8000, 0x7900, 0x0400, 0x0080, 0x0200
HEADER = struct.Struct("!HHHHHH")
RECORD = struct.Struct("!HHIH")  # type, class, TTL, length of the data
UDP_LIMIT = 512  # a UDP reply's size without EDNS
EDNS_LIMIT = 4096  # the most this server sends in one UDP reply, and what it advertises
STREAM_LIMIT = 65535  # a TCP message's length is 16 bits
MAX_NAME = 255  # octets of a name on the wire (RFC 1035 2.3.4)
MAX_LABEL = 63
TTL = 600  # Docker's embedded server answers with this TTL


class FormatError(ValueError):
    """The bytes are not a DNS message this module can read, or a name cannot be written."""


@dataclass(frozen=True)
class Edns:
    """A query's OPT record: the UDP size the client takes and the EDNS version it speaks."""

    udp_size: int
    version: int


@dataclass(frozen=True)
class Query:
    """A query's ID, flags, question (``qname`` as it came, uncompressed) and EDNS record."""

    id: int
    flags: int
    name: str  # lower case, without the trailing dot
    qtype: int
    qclass: int
    qname: bytes
    edns: Edns | None = None

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    def udp_limit(self) -> int:
        """The largest UDP reply the client takes."""
        return UDP_LIMIT if self.edns is None else max(UDP_LIMIT, min(self.edns.udp_size, EDNS_LIMIT))


def read_name(data: bytes, offset: int) -> tuple[str, int]:
    """The domain name at ``offset`` (following compression pointers) and the offset after it."""
    wire_name, end = read_wire_name(data, offset)
    return name_text(wire_name), end


def read_wire_name(data: bytes, offset: int) -> tuple[bytes, int]:
    """The name at ``offset`` as uncompressed wire labels, and the offset after it in ``data``.

    Pointers must point backwards (so they cannot loop) and the name must fit in 255 octets.
    """
    out = bytearray()
    end = -1
    floor = offset  # where the part being read starts: a pointer must point before it
    while True:
        if offset >= len(data):
            raise FormatError("name runs past the message")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise FormatError("bad compression pointer")
            target = ((length & 0x3F) << 8) | data[offset + 1]
            if target >= floor:
                raise FormatError("compression pointer does not point backwards")
            if end < 0:
                end = offset + 2
            offset = floor = target
            continue
        if length & 0xC0:
            raise FormatError("unknown label type")
        if offset + 1 + length > len(data):
            raise FormatError("label runs past the message")
        out += data[offset:offset + 1 + length]
        if len(out) > MAX_NAME:
            raise FormatError("name longer than 255 octets")
        offset += 1 + length
        if length == 0:
            break
    return bytes(out), end if end >= 0 else offset


def name_text(wire_name: bytes) -> str:
    """Uncompressed wire labels -> ``"a.b"`` (bytes outside ASCII become U+FFFD, so they match no container)."""
    labels = []
    offset = 0
    while offset < len(wire_name) and wire_name[offset]:
        length = wire_name[offset]
        labels.append(wire_name[offset + 1:offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    return ".".join(labels)


def encode_name(name: str) -> bytes:
    """``"a.b"`` or ``"a.b."`` -> length-prefixed labels ending with the root; FormatError if it cannot be."""
    out = bytearray()
    for label in name.rstrip(".").split("."):
        if not label:
            continue
        try:
            raw = label.encode("ascii")
        except UnicodeEncodeError:
            raise FormatError(f"label not ASCII: {label!r}") from None
        if len(raw) > MAX_LABEL:
            raise FormatError(f"label longer than {MAX_LABEL} octets: {label!r}")
        out += bytes([len(raw)]) + raw
    out += b"\x00"
    if len(out) > MAX_NAME:
        raise FormatError("name longer than 255 octets")
    return bytes(out)


def _skip_record(data: bytes, offset: int) -> tuple[int, int, int, int]:
    """(type, class, TTL, offset after it) of the resource record at ``offset``."""
    _, offset = read_wire_name(data, offset)
    if offset + RECORD.size > len(data):
        raise FormatError("record runs past the message")
    rtype, rclass, ttl, size = RECORD.unpack_from(data, offset)
    offset += RECORD.size + size
    if offset > len(data):
        raise FormatError("record data runs past the message")
    return rtype, rclass, ttl, offset


def parse_query(data: bytes) -> Query:
    """Read a query: its header, its one question, and its OPT record if it has one.

    :class:`FormatError` for a reply, for anything but one question, and for any
    part that runs past the message; trailing bytes after the records are ignored.
    """
    if len(data) < HEADER.size:
        raise FormatError("short message")
    ident, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
    if flags & FLAG_QR:
        raise FormatError("not a query")
    if qdcount != 1:
        raise FormatError("not one question")
    qname, offset = read_wire_name(data, HEADER.size)
    if offset + 4 > len(data):
        raise FormatError("question runs past the message")
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    offset += 4
    edns = None
    for index in range(ancount + nscount + arcount):
        start = offset
        rtype, rclass, ttl, offset = _skip_record(data, offset)
        if rtype == TYPE_OPT:
            if index < ancount + nscount or edns is not None or data[start] != 0:
                raise FormatError("misplaced OPT record")
            edns = Edns(udp_size=rclass, version=(ttl >> 16) & 0xFF)
    return Query(ident, flags, name_text(qname).lower(), qtype, qclass, qname, edns)


def _opt_record(rcode: int) -> bytes:
    """This server's OPT record (EDNS version 0): the UDP size it takes, the upper bits of an extended ``rcode``."""
    return b"\x00" + RECORD.pack(TYPE_OPT, EDNS_LIMIT, (rcode >> 4) << 24, 0)


def reply(query: Query, rcode: int = NOERROR, answers: list[tuple[int, bytes]] | None = None,
          authoritative: bool = True, limit: int | None = None, recursion: bool = True) -> bytes:
    """A reply to ``query`` with its question and ``answers`` ((type, rdata) for the question's name).

    A query with EDNS gets an OPT record back (RFC 6891 6.1.1). With ``limit``
    (UDP: :meth:`Query.udp_limit`), a reply that would be longer keeps the
    answers that fit and has the truncated flag, as Docker's; no reply is ever
    longer than a TCP message. ``recursion``: the "recursion available" flag.
    """
    answers = answers or []
    flags = FLAG_QR | (query.flags & FLAG_KEEP) | (FLAG_RA if recursion else 0) | (FLAG_AA if authoritative else 0) \
        | (rcode & 0xF)
    question = query.qname + struct.pack("!HH", query.qtype, query.qclass)
    records = [b"\xc0\x0c" + RECORD.pack(rtype, CLASS_IN, TTL, len(rdata)) + rdata for rtype, rdata in answers]
    additional = _opt_record(rcode) if query.edns is not None else b""
    room = min(limit or STREAM_LIMIT, STREAM_LIMIT) - HEADER.size - len(question) - len(additional)
    size = sum(len(record) for record in records)
    if size > room:
        flags |= FLAG_TC
        while records and size > room:
            size -= len(records.pop())
    return HEADER.pack(query.id, flags, 1, len(records), 0, 1 if additional else 0) + question \
        + b"".join(records) + additional


def error_reply(data: bytes, rcode: int) -> bytes | None:
    """A reply with ``rcode`` and no question to a query that could not be read, or is not answered (None if
    it has no header or is a reply, which is never answered). As Docker's, it does not offer recursion."""
    if len(data) < HEADER.size:
        return None
    ident, flags = struct.unpack_from("!HH", data)
    if flags & FLAG_QR:
        return None
    return HEADER.pack(ident, FLAG_QR | (flags & FLAG_KEEP) | (rcode & 0xF), 0, 0, 0, 0)


def a_record(address: str) -> tuple[int, bytes]:
    """An A answer; FormatError if ``address`` is no IPv4 address."""
    try:
        return TYPE_A, ipaddress.IPv4Address(address).packed
    except ValueError:
        raise FormatError(f"not an IPv4 address: {address!r}") from None


def ptr_record(name: str) -> tuple[int, bytes]:
    """A PTR answer; FormatError if ``name`` cannot be written (a label over 63 octets, ...)."""
    return TYPE_PTR, encode_name(name)


def reverse_address(name: str) -> str | None:
    """``"4.3.2.1.in-addr.arpa"`` -> ``"1.2.3.4"``; None for any other name."""
    suffix = ".in-addr.arpa"
    if not name.lower().endswith(suffix):
        return None
    parts = name[:-len(suffix)].split(".")
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() and len(p) <= 3 and int(p) < 256 for p in parts):
        return None
    return ".".join(reversed(parts))


def reply_id(data: bytes) -> int | None:
    """The ID of a message, if it is a reply."""
    if len(data) < HEADER.size:
        return None
    ident, flags = struct.unpack_from("!HH", data)
    return ident if flags & FLAG_QR else None
