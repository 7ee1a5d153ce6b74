"""The build context a client sends (``moor build``, ``moor compose build``), made as the docker CLI 20.10
makes it, streamed. Client side: no engine imports.

- a directory: a tar of what ``.dockerignore`` (or ``<Dockerfile>.dockerignore`` beside the Dockerfile, as
  BuildKit reads it) keeps, the Dockerfile and the ignore file always in, owners 0:0, hard links kept. A
  thread writes it into a pipe whose reading end is the request body: the context is never whole in memory.
- ``-``: stdin; a tar (plain, gzip, bzip2, xz, zstd) is sent as it comes, anything else is a Dockerfile;
  the same for an ``http(s)://`` URL's answer (git URLs are refused: clone it first).
- a Dockerfile from ``-f -`` or from outside the context directory is added to the tar under a random name
  (``.dockerfile.<20 hex>``) that the tar's ``.dockerignore`` lists, so that ``COPY .`` never copies it.

Errors are Docker's words (``path "x" not found``, ``unable to evaluate symlinks in Dockerfile path: lstat
/x/Dockerfile: no such file or directory``).
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import stat
import tarfile
import threading
import time
from typing import IO

from moor.build.ignore import IgnorePatternError, IgnoreRules

DEFAULT_DOCKERFILE = "Dockerfile"
IGNORE_FILE = ".dockerignore"
#: what starts a compressed stream (gzip, bzip2, xz, zstd)
_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")
_PIPE_CHUNK = 1 << 16


class ContextError(Exception):
    """The context cannot be made; ``prepare``: Docker puts ``unable to prepare context: `` before it."""

    def __init__(self, message: str, prepare: bool = True) -> None:
        super().__init__(message)
        self.prepare = prepare


class Context:
    """A context being sent: ``stream`` is the request body, ``dockerfile`` the ``dockerfile`` parameter.

    ``error`` says why the stream stopped short (a file that could not be read, say), once it did.
    """

    def __init__(self, stream: IO[bytes], dockerfile: str, producer: threading.Thread | None = None) -> None:
        self.stream = stream
        self.dockerfile = dockerfile
        self.error = ""
        self.producer = producer

    def close(self) -> None:
        try:
            self.stream.close()
        except OSError:
            pass
        if self.producer is not None:
            self.producer.join(30)


class _PrefixReader(io.RawIOBase):
    """``prefix`` then the rest of ``stream``: stdin after its first bytes were looked at."""

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        self._prefix = prefix
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def is_archive(header: bytes) -> bool:
    """Whether stdin's first bytes start an archive (a compressed stream, or a tar header)."""
    if any(header.startswith(magic) for magic in _MAGIC):
        return True
    if len(header) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(header[:512], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _read_up_to(stream: IO[bytes], size: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while total < size:
        data = stream.read(size - total)
        if not data:
            break
        parts.append(data)
        total += len(data)
    return b"".join(parts)


def prepare_context(path: str, dockerfile: str, stdin: IO[bytes], compress: bool = False) -> Context:
    """The context of ``moor build [-f dockerfile] path`` (see the module docstring)."""
    from_stdin = dockerfile == "-"
    if path == "-":
        if from_stdin:
            raise ContextError("invalid argument: can't use stdin for both build context and dockerfile", False)
        return _stdin_context(stdin, dockerfile)
    if is_git_url(path):
        raise ContextError(f"unable to prepare git context {path}: git contexts are not supported by moor "
                           "(clone it and build from the directory)")
    if path.startswith(("http://", "https://")):
        return _url_context(path, dockerfile)
    if not os.path.exists(path):
        raise ContextError(f'path "{path}" not found')
    context_dir = _context_dir(path)
    relative = "-" if from_stdin else _dockerfile_path(context_dir, dockerfile)
    extra: bytes | None = None
    if from_stdin:
        extra = stdin.read()
    elif relative.startswith("../"):
        try:
            with open(dockerfile, "rb") as handle:
                extra = handle.read()
        except OSError as err:
            raise ContextError(f"unable to open Dockerfile: open {dockerfile}: "
                               f"{os.strerror(err.errno or errno.EIO).lower()}", False) from None
    rules = _ignore_rules(context_dir, relative)
    name = relative
    if extra is not None:
        name = ".dockerfile." + secrets.token_hex(10)
    return _directory_context(context_dir, rules, name, extra, compress)


def is_git_url(path: str) -> bool:
    """The docker CLI's ``IsGitURL``: ``git://``, ``git@``, ``github.com/``, or an http(s) URL of a ``.git``."""
    if path.startswith(("git://", "git@", "github.com/")):
        return True
    return path.startswith(("http://", "https://")) and (path.split("#", 1)[0].endswith(".git"))


def _url_context(url: str, dockerfile: str) -> Context:
    """An http(s) context (the docker CLI's ``GetContextFromURL``): a tar as it comes, else a Dockerfile."""
    import urllib.error  # noqa: PLC0415  (a rare path; http.client is slow to import)
    import urllib.request  # noqa: PLC0415

    try:
        response = urllib.request.urlopen(url, timeout=60)
    except urllib.error.HTTPError as err:
        body = err.read(512).decode("utf-8", "replace")
        raise ContextError(f"unable to download remote context {url}: failed to GET {url} with status "
                           f"{err.code} {err.reason}: {body}") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise ContextError(f"unable to download remote context {url}: {reason}") from None
    return _stdin_context(response, dockerfile)


def _stdin_context(stdin: IO[bytes], dockerfile: str) -> Context:
    header = _read_up_to(stdin, 512)
    if is_archive(header):
        return Context(io.BufferedReader(_PrefixReader(header, stdin), _PIPE_CHUNK), dockerfile or DEFAULT_DOCKERFILE)
    text = header + stdin.read()
    buffer = io.BytesIO()
    with _GoTarFile.open(fileobj=buffer, mode="w|") as tar:
        info = tarfile.TarInfo(DEFAULT_DOCKERFILE)
        info.size, info.mode, info.mtime = len(text), 0o644, int(time.time())
        tar.addfile(info, io.BytesIO(text))
    buffer.seek(0)
    return Context(buffer, DEFAULT_DOCKERFILE)


def _go_error(err: OSError, operation: str, path: str) -> str:
    return f"{operation} {path}: {os.strerror(err.errno or errno.EIO).lower()}"


def _eval_symlinks(path: str, what: str) -> str:
    """Go's ``filepath.EvalSymlinks`` of an absolute path: the first missing component is named as Go does."""
    parts = path.split("/")
    for index in range(2, len(parts) + 1):
        prefix = "/".join(parts[:index]) or "/"
        try:
            os.lstat(prefix)
        except OSError as err:
            raise ContextError(f"unable to evaluate symlinks in {what} path: {_go_error(err, 'lstat', prefix)}") \
                from None
    return os.path.realpath(path)


def _context_dir(path: str) -> str:
    absolute = _eval_symlinks(os.path.abspath(path), "context")
    if not os.path.isdir(absolute):
        raise ContextError(f"context must be a directory: {absolute}")
    return absolute


def _dockerfile_path(context_dir: str, given: str) -> str:
    """The Dockerfile relative to the context (``../x`` when outside); ``-f`` is relative to the current
    directory, the default ``Dockerfile`` (or ``dockerfile``) to the context's."""
    if given:
        absolute = os.path.abspath(given)
    else:
        absolute = os.path.join(context_dir, DEFAULT_DOCKERFILE)
        alternative = os.path.join(context_dir, DEFAULT_DOCKERFILE.lower())
        if not os.path.lexists(absolute) and os.path.lexists(alternative):
            absolute = alternative
    absolute = _eval_symlinks(absolute, "Dockerfile")
    if not os.path.lexists(absolute):
        raise ContextError(f'Cannot locate Dockerfile: "{absolute}"')
    return os.path.relpath(absolute, context_dir)


def _ignore_rules(context_dir: str, dockerfile: str) -> IgnoreRules:
    """``<Dockerfile>.dockerignore`` beside the Dockerfile if there is one (BuildKit's rule), else
    ``.dockerignore``; with exceptions for the Dockerfile and the ignore file."""
    candidates = []
    if dockerfile not in ("-", "") and not dockerfile.startswith("../"):
        candidates.append(os.path.join(context_dir, dockerfile + IGNORE_FILE))
    candidates.append(os.path.join(context_dir, IGNORE_FILE))
    for candidate in candidates:
        if os.path.isfile(candidate):
            try:
                rules = IgnoreRules.read(candidate)
            except IgnorePatternError as err:
                raise ContextError(f"{err}", False) from None
            except OSError as err:
                raise ContextError(_go_error(err, "open", candidate), False) from None
            keep = [IGNORE_FILE, os.path.relpath(candidate, context_dir)]  # the daemon reads the same file
            if dockerfile not in ("-", "") and not dockerfile.startswith("../"):
                keep.append(dockerfile)
            return rules.keeping(*keep)
    return IgnoreRules()


def _directory_context(context_dir: str, rules: IgnoreRules, dockerfile_name: str, extra: bytes | None,
                       compress: bool) -> Context:
    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb", buffering=_PIPE_CHUNK)
    context = Context(reader, dockerfile_name)

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=_PIPE_CHUNK) as out:
                write_tar(out, context_dir, rules, dockerfile_name if extra is not None else "", extra, compress)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon stopped reading (it answered an error): the answer says why
        except ContextError as err:
            context.error = str(err)
        except OSError as err:
            context.error = f"error checking context: '{err.strerror or err}: {err.filename or ''}'."

    thread = threading.Thread(target=produce, name="moor-build-context", daemon=True)
    context.producer = thread
    thread.start()
    return context


def write_tar(out: IO[bytes], root: str, rules: IgnoreRules, extra_name: str, extra: bytes | None,
              compress: bool) -> None:
    """The context tar of ``root`` on ``out``; with ``extra``, that Dockerfile under ``extra_name`` and the
    name appended to the tar's ``.dockerignore``."""
    now = int(time.time())
    ignore_text: bytes | None = None
    with _GoTarFile.open(fileobj=out, mode="w|gz" if compress else "w|", format=tarfile.PAX_FORMAT) as tar:
        inodes: dict[tuple[int, int], str] = {}
        for relative, st in rules.walk(root):
            full = os.path.join(root, relative)
            if extra is not None and relative == IGNORE_FILE:
                try:
                    with open(full, "rb") as handle:
                        ignore_text = handle.read()
                except OSError as err:
                    raise ContextError(f"error checking context: 'can't access '{relative}''.", False) from err
                continue
            try:
                entry = _tar_info(full, relative, st, inodes)
            except OSError as err:
                raise ContextError(f"error checking context: 'can't stat '{full}''.", False) from err
            if entry is None:  # a socket: never in a context
                continue
            if entry.isreg():
                try:
                    with open(full, "rb") as handle:
                        tar.addfile(entry, handle)
                except PermissionError as err:
                    raise ContextError(f"error checking context: 'no permission to read from '{full}''.",
                                       False) from err
            else:
                tar.addfile(entry)
        if extra is not None:
            _add_bytes(tar, extra_name, extra, now)
            text = (ignore_text if ignore_text is not None else IGNORE_FILE.encode()) + f"\n{extra_name}\n".encode()
            _add_bytes(tar, IGNORE_FILE, text, now)


_TYPES = {stat.S_IFDIR: tarfile.DIRTYPE, stat.S_IFIFO: tarfile.FIFOTYPE, stat.S_IFLNK: tarfile.SYMTYPE,
          stat.S_IFCHR: tarfile.CHRTYPE, stat.S_IFBLK: tarfile.BLKTYPE}


def _tar_info(full: str, name: str, st: os.stat_result, inodes: dict[tuple[int, int], str]) -> tarfile.TarInfo | None:
    """The entry of ``full`` (``st`` its lstat) as ``TarFile.gettarinfo`` makes it, then as the docker CLI sends it:
    owners 0:0 without names (so none is looked up), whole-second times; a file met again under another name is a
    hard link to the first. None for a socket."""
    kind = stat.S_IFMT(st.st_mode)
    info = tarfile.TarInfo(name)
    if kind == stat.S_IFREG:
        inode = (st.st_ino, st.st_dev)
        if st.st_nlink > 1 and inodes.get(inode, name) != name:
            info.type, info.linkname = tarfile.LNKTYPE, inodes[inode]
        else:
            info.type, info.size = tarfile.REGTYPE, st.st_size
            if st.st_ino:
                inodes[inode] = name
    elif kind in _TYPES:
        info.type = _TYPES[kind]
        if kind == stat.S_IFLNK:
            info.linkname = os.readlink(full)
        elif kind in (stat.S_IFCHR, stat.S_IFBLK):
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return None
    info.mode = st.st_mode
    info.mtime = int(st.st_mtime)  # whole seconds, as Go's tar writes them (no PAX record for it)
    return info


class _GoTarFile(tarfile.TarFile):
    """A tar stream (``w|`` modes only) that ends as Go's writer ends one: two zero blocks, no padding to a
    10 KiB record."""

    def close(self) -> None:
        if self.closed:  # type: ignore[has-type]
            return
        self.closed = True
        try:
            self.fileobj.write(tarfile.NUL * (tarfile.BLOCKSIZE * 2))
            self.offset += tarfile.BLOCKSIZE * 2
        finally:
            self.fileobj.close()  # the stream's compressor (it leaves ``out`` open)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, mtime
    tar.addfile(info, io.BytesIO(data))
