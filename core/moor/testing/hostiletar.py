"""Crafted tar archives for the hostile-input tests: oversized and quadratic headers, sparse bombs.

Each builder returns the bytes of a small archive (or, for :class:`Endless`, a stream that never ends)
that one of moor's tar readers must refuse quickly, or, for the sane ones, still read.
"""

from __future__ import annotations

import io
import tarfile
from typing import Any

MiB = 1 << 20


class Endless(io.RawIOBase):
    """``prefix``, then ``filler`` forever; ``count`` is how many bytes were read."""

    def __init__(self, prefix: bytes, filler: bytes = b"1") -> None:
        super().__init__()
        self.prefix, self.filler, self.count = prefix, filler * (1 << 16), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.prefix[: len(buffer)] if self.prefix else self.filler[: len(buffer)]
        self.prefix = self.prefix[len(data):]
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def header_block(kind: bytes, size: int, name: str = "././@PaxHeader") -> bytes:
    """One 512-byte header of type ``kind`` declaring ``size`` bytes of content (which is not included)."""
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")


def record(key: str, value: bytes) -> bytes:
    """One PAX record ``"<length> <key>=<value>\\n"``, its length right."""
    body = b" " + key.encode() + b"=" + value + b"\n"
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode() + body


def pax_member(records: bytes, kind: bytes = tarfile.XHDTYPE, name: str = "file", data: bytes = b"x") -> bytes:
    """A PAX header holding exactly ``records`` (well-formed or not), a regular file, the end of the archive."""
    padded = records + bytes(-len(records) % 512)
    info = tarfile.TarInfo(name)
    info.size = len(data)
    member = info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape") + data + bytes(-len(data) % 512)
    return header_block(kind, len(records)) + padded + member + bytes(1024)


def cve_2024_6232_digits(size: int = MiB - 64) -> bytes:
    """A PAX value of ``size`` digits: Python 3.11.7's tarfile spends CPU-minutes on 1 MiB of them."""
    return pax_member(record("comment", b"7" * size))


def sparse_tar(realsize: int, segments: list[tuple[int, bytes]], name: str = "sparse") -> bytes:
    """A PAX (GNU 0.1) sparse entry of ``realsize`` bytes: ``segments`` of data at their offsets, holes elsewhere."""
    stored = b"".join(data for _, data in segments)
    info = tarfile.TarInfo(name)
    info.size = len(stored)
    info.pax_headers = {"GNU.sparse.map": ",".join(f"{offset},{len(data)}" for offset, data in segments),
                        "GNU.sparse.size": str(realsize), "GNU.sparse.name": name}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(info, io.BytesIO(stored))
    return buffer.getvalue()
