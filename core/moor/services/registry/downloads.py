"""Resumable, verified blob downloads into ``<data_root>/image/downloads/``.

Each blob being fetched is a file named for its digest:

    <hex>.partial   bytes received so far (appended to; resumed with an HTTP Range request)
    <hex>           the whole blob, its sha256 checked: ready to be decompressed and applied

A partial file found at the start of a download (left by a cancelled pull, a network error or a killed
moord) is hashed again and the download continues from its end; a registry that ignores the Range
answers from byte 0 and the file starts over. The digest is checked by streaming sha256 as the bytes
arrive: a mismatch removes the file and fails with one line (Docker's "filesystem layer verification
failed for digest ..."; after a resume the blob is fetched once more from the start first). A verified
blob left by an earlier pull is hashed again before it is used. Files untouched for
:data:`STALE_SECONDS` are removed by :meth:`BlobDownloads.expire`.

Two pulls of the same blob in one moord share it: the second waits for the first (an in-process lock per
digest) and then finds the verified file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import IO, Any, Protocol

from moor.errors import InvalidParameter, MoorError

log = logging.getLogger(__name__)

#: A download file not touched for this long is removed (a pull given up on).
STALE_SECONDS = 24 * 3600
_CHUNK = 1 << 20
#: What one read of the network asks for: small enough for a lively progress bar (a read waits for it all).
_NET_CHUNK = 128 << 10
_LOCK_POLL = 0.2

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class Cancelled(MoorError):
    """The pull was cancelled (its client went away); what was verified is kept."""


class BlobStream(Protocol):
    """What :meth:`moor.registry.client.RegistryClient.open_blob` returns."""

    offset: int
    total: int | None

    def read(self, size: int) -> bytes: ...

    def close(self) -> None: ...


#: Opens the blob from a byte offset.
Opener = Callable[[int], BlobStream]


def _lock_for(path: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path, threading.Lock())


def _hex(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256" or len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
        raise InvalidParameter(f"invalid digest {digest[:80]!r}")
    return value


def verification_failed(digest: str) -> InvalidParameter:
    """Docker's words for a blob whose bytes do not hash to its digest."""
    return InvalidParameter(f"filesystem layer verification failed for digest {digest}")


def file_digest(path: str) -> tuple[str, int]:
    """The sha256 digest and size of the file at ``path``, read in chunks."""
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while True:
            data = handle.read(_CHUNK)
            if not data:
                break
            hasher.update(data)
            size += len(data)
    return "sha256:" + hasher.hexdigest(), size


class BlobDownloads:
    """The download directory: partial and verified blobs, keyed by digest."""

    def __init__(self, directory: str, stale_after: float = STALE_SECONDS) -> None:
        self.directory = directory
        self.stale_after = stale_after
        os.makedirs(directory, mode=0o700, exist_ok=True)

    def verified_path(self, digest: str) -> str:
        return os.path.join(self.directory, _hex(digest))

    def partial_path(self, digest: str) -> str:
        return self.verified_path(digest) + ".partial"

    def partial_size(self, digest: str) -> int:
        """Bytes of ``digest`` already here (0 when nothing is)."""
        try:
            return os.path.getsize(self.partial_path(digest))
        except FileNotFoundError:
            return 0

    def fetch(self, digest: str, size: int, opener: Opener, on_bytes: Callable[[int, int], None] | None = None,
              cancelled: Callable[[], bool] = lambda: False) -> str:
        """The path of the verified blob ``digest``, downloading (or resuming) it when needed.

        ``size`` is the descriptor's size (0: unknown); more bytes than that fail the download.
        ``on_bytes(count, offset)`` is called with the start offset (count 0) once the transfer starts,
        then with each chunk's length. ``cancelled()`` is asked between chunks: true raises
        :class:`Cancelled` with the partial file kept.
        """
        path = self.verified_path(digest)
        lock = _lock_for(path)
        while not lock.acquire(timeout=_LOCK_POLL):
            if cancelled():
                raise Cancelled("pull cancelled")
        try:
            if os.path.exists(path) and self._still_good(path, digest):
                return path
            for attempt in (1, 2):
                resumed, found = self._download(digest, size, opener, on_bytes, cancelled)
                partial = self.partial_path(digest)
                if found == digest:
                    os.replace(partial, path)
                    return path
                log.warning("removing %s: its content hashes to %s, not %s", partial, found, digest)
                os.unlink(partial)
                if not resumed or attempt == 2:
                    break
                log.warning("blob %s did not verify after a resumed download: fetching it again", digest)
            raise verification_failed(digest)
        except OSError as error:  # the disk's, not the network's (the client raises RegistryUnreachable)
            raise MoorError(f"cannot keep blob {digest} in {self.directory}: {error.strerror or error}") from None
        finally:
            lock.release()

    def _still_good(self, path: str, digest: str) -> bool:
        """Whether the file at ``path`` hashes to ``digest``; a file that does not is removed."""
        found, _size = file_digest(path)
        if found == digest:
            os.utime(path)
            return True
        log.warning("removing %s: its content hashes to %s, not %s", path, found, digest)
        os.unlink(path)
        return False

    def _download(self, digest: str, size: int, opener: Opener, on_bytes: Callable[[int, int], None] | None,
                  cancelled: Callable[[], bool]) -> tuple[bool, str]:
        """Bring ``<hex>.partial`` to the blob's full length; return (resumed an earlier part?, its digest)."""
        partial = self.partial_path(digest)
        hasher = hashlib.sha256()
        offset = 0
        if os.path.exists(partial):
            offset = os.path.getsize(partial)
            if size and offset > size:
                offset = 0
            elif offset:
                with open(partial, "rb") as handle:  # hash it again: the part must be what it says
                    while chunk := handle.read(_CHUNK):
                        hasher.update(chunk)
                if size and offset == size:
                    return True, "sha256:" + hasher.hexdigest()  # complete already
        try:
            with open(partial, "ab" if offset else "wb") as handle:
                if not offset:
                    handle.truncate(0)
                stream = opener(offset)
                try:
                    if stream.offset != offset:  # the registry ignored the Range: start again
                        if stream.offset != 0:
                            raise InvalidParameter(f"blob {digest}: the registry answered from byte "
                                                   f"{stream.offset} when asked for byte {offset}")
                        handle.seek(0)
                        handle.truncate(0)
                        hasher, offset = hashlib.sha256(), 0
                    if on_bytes is not None:
                        on_bytes(0, offset)
                    self._receive(stream, handle, hasher, offset, size, digest, on_bytes, cancelled)
                finally:
                    stream.close()
        except BaseException:
            if os.path.exists(partial) and os.path.getsize(partial) == 0:
                os.unlink(partial)  # nothing came: leave no empty file behind
            raise
        return offset > 0, "sha256:" + hasher.hexdigest()

    def _receive(self, stream: BlobStream, handle: IO[bytes], hasher: Any, received: int, size: int, digest: str,
                 on_bytes: Callable[[int, int], None] | None, cancelled: Callable[[], bool]) -> None:
        """Append what ``stream`` sends to ``handle`` (the partial file), hashing it on the way."""
        while True:
            if cancelled():
                raise Cancelled("pull cancelled")
            data = stream.read(_NET_CHUNK)
            if not data:
                return
            received += len(data)
            if size and received > size:
                os.unlink(self.partial_path(digest))  # the open handle goes with its with block
                raise InvalidParameter(f"blob {digest}: the registry sent more than the {size} bytes "
                                       "its descriptor says")
            handle.write(data)
            hasher.update(data)
            if on_bytes is not None:
                on_bytes(len(data), received)

    def discard(self, digest: str) -> None:
        """Remove what is kept of ``digest`` (its layer is in the store now)."""
        for path in (self.verified_path(digest), self.partial_path(digest)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def expire(self, now: float | None = None) -> list[str]:
        """Remove download files not touched for :attr:`stale_after` seconds; return their names."""
        now = time.time() if now is None else now
        removed = []
        for name in os.listdir(self.directory):
            path = os.path.join(self.directory, name)
            lock = _lock_for(os.path.join(self.directory, name.removesuffix(".partial")))
            if not lock.acquire(blocking=False):
                continue  # being downloaded right now
            try:
                if now - os.stat(path).st_mtime > self.stale_after:
                    os.unlink(path)
                    removed.append(name)
            except FileNotFoundError:
                pass
            finally:
                lock.release()
        return removed
