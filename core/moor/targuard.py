"""Reading tar streams from clients without unbounded memory, CPU or disk.

Every tar moor reads from a client (``load``, ``import``, ``PUT .../archive``,
layer apply, build contexts) is opened with ``tarinfo=GuardedTarInfo``:

* **Header size.** A PAX ``x``/``g`` header or a GNU long name or long link
  is capped at :data:`MAX_HEADER_BYTES`, like Go's ``archive/tar`` (1 MiB per
  special file), and refused from its 512-byte header block, before its
  content is read. All the header material of one member (those, old GNU
  sparse extension blocks, a PAX 1.0 sparse map) is capped at
  :data:`MAX_MEMBER_HEADER_BYTES`.
* **Header parsing cost.** Python 3.11.7's tarfile parses PAX records with
  regular expressions that take quadratic time on crafted content
  (CVE-2024-6232: 1 MiB of digits costs CPU-minutes). The content of each PAX
  header is read first and checked in linear time: it must be a sequence of
  well-formed ``"<length> <key>=<value>\\n"`` records (Go's rule) and its long
  digit runs must stay within :data:`DIGIT_RUN_BUDGET`; only then does tarfile
  parse it (the bytes are replayed to it).
* **Global headers** (``g``) accumulate in tarfile for the rest of the archive;
  they are capped at :data:`MAX_GLOBAL_KEYS` keys and :data:`MAX_HEADER_BYTES`.

:func:`write_sparse` writes a sparse member's data at its offsets and leaves
the holes as holes (as Docker does), after checking its map, and charges the
holes to a :class:`HoleBudget` so that a small archive cannot declare
terabytes. Refusals are :class:`ArchiveHeaderTooLarge` or
:class:`~moor.errors.InvalidParameter` (400), with one line naming the problem.
"""

from __future__ import annotations

import math
import os
import tarfile
from typing import IO, Any, cast

from moor.errors import InvalidParameter
from moor.images import compression

#: One PAX header or GNU long name, in bytes (Go's archive/tar: 1 MiB per special file).
MAX_HEADER_BYTES = 1 << 20
#: All the header material of one member (PAX records, long names, sparse maps), in bytes.
MAX_MEMBER_HEADER_BYTES = 4 << 20
#: Global PAX keys kept for the rest of an archive.
MAX_GLOBAL_KEYS = 64
#: Sum of the squares of the digit runs longer than :data:`_SHORT_RUN` in one PAX header (regex steps, ~10 ms).
DIGIT_RUN_BUDGET = 1 << 24
_SHORT_RUN = 64
_LENGTH_DIGITS = 20

BLOCK = tarfile.BLOCKSIZE
_PAX_TYPES = frozenset({tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE})
_SPECIAL_TYPES = _PAX_TYPES | {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
_TYPE_NAMES = {tarfile.XHDTYPE: "PAX header", tarfile.SOLARIS_XHDTYPE: "PAX header",
               tarfile.XGLTYPE: "PAX global header", tarfile.GNUTYPE_LONGNAME: "GNU long name",
               tarfile.GNUTYPE_LONGLINK: "GNU long link name"}


class ArchiveHeaderTooLarge(InvalidParameter):
    """A member's headers exceed :data:`MAX_HEADER_BYTES` (or the global header cap)."""


def _blocks(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


class _Counting:
    """The archive stream while one member's headers are read: counts bytes against the cap."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.spent = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.inner.read(size)
        self.spent += len(data)
        if self.spent > MAX_MEMBER_HEADER_BYTES:
            raise ArchiveHeaderTooLarge(
                f"archive header too large: the headers of one entry exceed {MAX_MEMBER_HEADER_BYTES} bytes")
        return data

    def tell(self) -> int:
        return int(self.inner.tell())


class _Replay:
    """Bytes already read (and checked) first, then the stream they came from."""

    def __init__(self, inner: Any, replay: bytes) -> None:
        self.inner = inner
        self._replay = memoryview(replay)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data = bytes(self._replay) + self.inner.read()
            self._replay = memoryview(b"")
            return data
        head = bytes(self._replay[:size])
        self._replay = self._replay[len(head):]
        if len(head) < size:
            head += self.inner.read(size - len(head))
        return head

    def tell(self) -> int:
        return int(self.inner.tell()) - len(self._replay)


def check_pax_records(data: bytes, what: str = "PAX header") -> None:
    """Refuse PAX content that is not well-formed records or whose digit runs would cost tarfile quadratic time."""
    position, end = 0, len(data)
    while position < end:
        space = data.find(b" ", position, position + _LENGTH_DIGITS + 1)
        digits = data[position:space] if space > position else b""
        if not digits.isdigit():
            raise InvalidParameter(f"invalid archive: malformed {what} record at byte {position}")
        length = int(digits)
        record_end = position + length
        if record_end > end or record_end <= space + 1 or data[record_end - 1] != 0x0A:
            raise InvalidParameter(f"invalid archive: malformed {what} record at byte {position}")
        equals = data.find(b"=", space + 1, record_end)
        if equals <= space + 1:
            raise InvalidParameter(f"invalid archive: malformed {what} record at byte {position}")
        position = record_end
    cost, run = 0, 0
    for byte in data:
        if 0x30 <= byte <= 0x39:
            run += 1
            continue
        if run > _SHORT_RUN:
            cost += run * run
        run = 0
    if run > _SHORT_RUN:
        cost += run * run
    if cost > DIGIT_RUN_BUDGET:
        raise ArchiveHeaderTooLarge(f"archive header too large: the {what} holds digit runs too long to parse")


#: PAX numbers tarfile would take but the system calls after it cannot: (key, smallest, largest)
_ID_MAX = (1 << 32) - 1
_PAX_NUMBERS = (("size", 0, (1 << 63) - 1), ("uid", 0, _ID_MAX), ("gid", 0, _ID_MAX))
_PAX_TIMES = ("mtime", "atime", "ctime")
#: the seconds a nanosecond int64 holds (what utime can set)
_MAX_SECONDS = ((1 << 63) - 1) // 1_000_000_000


def pax_records(data: bytes) -> dict[str, str]:
    """The key/value records of PAX header content that :func:`check_pax_records` passed."""
    records, position = {}, 0
    while position < len(data):
        space = data.index(b" ", position)
        record_end = position + int(data[position:space])
        key, _, value = data[space + 1:record_end - 1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        position = record_end
    return records


def check_pax_values(records: dict[str, str], where: str, keys: tuple[str, ...] = ("size", "uid", "gid",
                                                                                     *_PAX_TIMES)) -> None:
    """Refuse PAX sizes, owners and times out of range (a negative size, a uid of 2^80, an mtime of 1e999),
    as Go's archive/tar does, before tarfile or the extraction turns them into OverflowErrors."""
    for name, low, high in _PAX_NUMBERS:
        text = records.get(name)
        if name in keys and text is not None and not (text.isascii() and text.isdigit() and low <= int(text) <= high):
            raise InvalidParameter(f"invalid archive: {where}: PAX {name}={text[:40]!r} is out of range")
    for name in _PAX_TIMES:
        text = records.get(name)
        if name not in keys or text is None:
            continue
        whole, _, fraction = text.removeprefix("-").partition(".")
        if not (text.isascii() and whole.isdigit() and (not fraction or fraction.isdigit())
                and int(whole) <= _MAX_SECONDS):
            raise InvalidParameter(f"invalid archive: {where}: PAX {name}={text[:40]!r} is out of range")


def _check_fields(member: tarfile.TarInfo) -> None:
    """The same ranges for the header's own fields (GNU base-256 numbers can be as large as PAX ones)."""
    mtime = float(member.mtime)
    if not (0 <= member.uid <= _ID_MAX and 0 <= member.gid <= _ID_MAX and member.size >= 0
            and math.isfinite(mtime) and abs(mtime) <= _MAX_SECONDS):
        raise InvalidParameter(f"invalid archive: member {member.name!r}: size, owner or time out of range")


class GuardedTarInfo(tarfile.TarInfo):
    """A TarInfo whose reading from an archive is bounded; pass it as ``tarfile.open(..., tarinfo=...)``."""

    @classmethod
    def fromtarfile(cls, archive: tarfile.TarFile) -> tarfile.TarInfo:  # type: ignore[override]
        stream: Any = archive.fileobj
        outermost = not isinstance(stream, (_Counting, _Replay))
        source = _Counting(stream) if outermost else stream
        header = source.read(BLOCK)
        body = b""
        try:
            parsed: tarfile.TarInfo | None = cls.frombuf(header, archive.encoding, archive.errors)
        except tarfile.HeaderError:
            parsed = None  # tarfile itself reports it, from the replayed block
        if parsed is not None and parsed.type in _SPECIAL_TYPES:
            what = _TYPE_NAMES[parsed.type]
            if parsed.size > MAX_HEADER_BYTES:
                raise ArchiveHeaderTooLarge(
                    f"archive header too large: a {what} of {parsed.size} bytes (the limit is {MAX_HEADER_BYTES})")
            body = source.read(_blocks(parsed.size))
            if parsed.type in _PAX_TYPES and len(body) >= parsed.size:
                check_pax_records(body[: parsed.size], what)
                # a size tarfile would seek by is checked now; the rest below, with the member's name
                check_pax_values(pax_records(body[: parsed.size]), f"a {what}", keys=("size",))
        if parsed is not None and parsed.type not in _SPECIAL_TYPES:
            # A plain header (nearly every one): parsed once. What TarInfo.fromtarfile does with the
            # block it reads; _proc_member is tarfile's hook for subclasses (sparse blocks are counted).
            parsed.offset = source.tell() - BLOCK
            archive.fileobj = source  # type: ignore[assignment]
            try:
                member = parsed._proc_member(archive)  # type: ignore[attr-defined]
            finally:
                archive.fileobj = stream
        else:
            archive.fileobj = _Replay(source, header + body)  # type: ignore[assignment]
            try:
                member = super().fromtarfile(archive)
            finally:
                archive.fileobj = stream
        check_pax_values({**archive.pax_headers, **member.pax_headers}, f"member {member.name!r}")
        _check_fields(member)
        if outermost:
            _check_globals(archive)
        return member


def _check_globals(archive: tarfile.TarFile) -> None:
    headers = archive.pax_headers
    if len(headers) > MAX_GLOBAL_KEYS or sum(len(k) + len(v) for k, v in headers.items()) > MAX_HEADER_BYTES:
        raise ArchiveHeaderTooLarge(
            f"archive header too large: PAX global headers beyond {MAX_GLOBAL_KEYS} keys or {MAX_HEADER_BYTES} bytes")


class HoleBudget:
    """The holes sparse entries of one archive may declare: as the decompression guard, at most
    :data:`~moor.images.compression.BOMB_MIN_BYTES` plus :data:`~moor.images.compression.BOMB_RATIO`
    times the archive bytes read so far."""

    def __init__(self) -> None:
        self.holes = 0

    def charge(self, member: tarfile.TarInfo, holes: int, read_so_far: int) -> None:
        self.holes += holes
        allowed = compression.BOMB_MIN_BYTES + compression.BOMB_RATIO * max(read_so_far, 0)
        if self.holes > allowed:
            raise InvalidParameter(
                f"invalid archive: sparse entry {member.name!r} declares {member.size} bytes from "
                f"{member.size - holes} stored: refusing a decompression bomb")


def sparse_map(member: tarfile.TarInfo, stored: int) -> list[tuple[int, int]]:
    """The checked data segments of a sparse ``member`` with ``stored`` bytes of data in the archive."""
    segments: list[tuple[int, int]] = []
    position, total = 0, 0
    raw = cast("list[tuple[int, int]]", member.sparse or [])  # tarfile keeps (offset, size) pairs here
    for offset, size in raw:
        if size == 0 and 0 <= offset <= member.size:
            continue  # an empty segment: GNU tar ends maps with one and pads old headers with (0, 0)
        if offset < position or size < 0 or offset + size > member.size:
            raise InvalidParameter(f"invalid archive: sparse entry {member.name!r} has an invalid sparse map")
        segments.append((offset, size))
        position = offset + size
        total += size
    if total > stored:
        raise InvalidParameter(f"invalid archive: sparse entry {member.name!r} maps more data than it stores")
    return segments


def write_sparse(archive: tarfile.TarFile, member: tarfile.TarInfo, fd: int, budget: HoleBudget,
                 chunk: int = 1 << 20) -> None:
    """Write the sparse ``member`` (just returned by ``archive.next()``) to ``fd``: data at its offsets,
    holes left as holes, the file ``member.size`` bytes long."""
    stream: Any = archive.fileobj
    start = member.offset_data
    if stream.tell() != start:
        raise InvalidParameter(f"invalid archive: sparse entry {member.name!r} is not where its header says")
    segments = sparse_map(member, max(0, archive.offset - start))
    stored = sum(size for _, size in segments)
    budget.charge(member, member.size - stored, start + stored)
    for offset, size in segments:
        os.lseek(fd, offset, os.SEEK_SET)
        copy_data(stream, fd, size, chunk)
    os.ftruncate(fd, member.size)


def copy_data(source: IO[bytes], fd: int, size: int, chunk: int = 1 << 20) -> None:
    """Copy exactly ``size`` bytes of a member's data from ``source`` to ``fd`` (``tarfile.ReadError`` if the
    archive ends first); every extractor writes its regular files with it."""
    left = size
    while left > 0:
        data = source.read(min(left, chunk))
        if not data:
            raise tarfile.ReadError("unexpected end of data")
        left -= len(data)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]


def open_stream(fileobj: IO[bytes], mode: str = "r|", **kwargs: Any) -> tarfile.TarFile:
    """``tarfile.open(fileobj=..., mode=...)`` with :class:`GuardedTarInfo` (unless another is given)."""
    kwargs.setdefault("tarinfo", GuardedTarInfo)
    return tarfile.open(fileobj=fileobj, mode=mode, **kwargs)  # type: ignore[call-overload]
