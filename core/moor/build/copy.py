"""COPY and ADD without a container: resolve the sources, then write the layer they make.

:func:`plan_copy` resolves a COPY's or ADD's sources inside a root directory (the build context, or
a stage's or image's root filesystem for ``--from``) as Docker 20.10's classic builder does:

- A source loses one leading ``/`` and one leading ``./``. A path that climbs out of the root is
  refused (``forbidden path outside the build context: ../x ()``); a missing one is ``file not found
  in build context or excluded by .dockerignore: stat x: file does not exist``.
- A source with ``*``, ``?`` or ``[`` is a pattern (Go's ``filepath.Match``) tried against every path
  of the root (walked without following links, in lexical order); no match at all is ``no source
  files were specified``.
- Symbolic links are resolved inside the root, never on the host: a link to a file copies that file
  under the link's name, a link to a directory copies that directory's content.
- A directory source copies its *content* into the destination.
- ADD: a local tar (plain, gzip, bzip2, xz) is extracted into the destination; an ``http(s)`` URL is
  downloaded (the file name from the URL's path or its ``Content-Disposition``, mode 0600, the time
  from ``Last-Modified``), never extracted.

The destination: relative to WORKDIR when relative (its trailing ``/`` kept); several sources need a
destination ending in ``/``; a file goes *into* the destination when it ends in ``/`` or is a
directory in the target image (the :class:`RootView` answers), else *is* the destination. Links in
the destination path are resolved inside the target image.

Owners: ``--chown=user[:group]`` (names looked up in the target image's ``/etc/passwd`` and
``/etc/group``; a lone user is also the group name, as Docker does); else everything is 0:0, except
``COPY --from`` which keeps the owners unless ``--chown`` is given (:attr:`CopyPlan.preserve_owner`).
Docker chowns every copied file, and Linux then drops the file's setuid bit, its setgid bit when it is
group-executable and its file capabilities: so does the layer. ``--chmod`` (BuildKit's, octal) sets
the mode of what is copied.

:func:`write_copy_layer` writes the result as an uncompressed layer tar: every copied entry at its
destination, the new parent directories (0755, owned as Docker makes them: by root for a directory
copy, by the ``--chown`` owner for a file's), and the existing directories on the way with their
image metadata, so the executor applies it with ``ImageStore.add_layer``. Archives added by ADD go
through :mod:`moor.targuard` and keep their own owners; entries that would leave the destination,
links that climb out and entries written through a link of the archive are refused.
"""

from __future__ import annotations

import email.message
import hashlib
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import IO, Any, Protocol

from moor.build.checksum import CAPABILITY_XATTR, ChecksumCache, Flavor, combine
from moor.build.ignore import IgnorePatternError, go_clean, go_match
from moor.containers.archive import link_stays_inside
from moor.containers.rootpath import DirChain, components, scoped_path, walk
from moor.errors import InvalidParameter, MoorError
from moor.images.compression import detect_compression, open_decompressed
from moor.targuard import GuardedTarInfo

__all__ = ["CopyPlan", "CopySource", "DirectoryView", "EmptyView", "Fetcher", "RootView", "contains_wildcards",
           "normalize_dest", "parse_chmod", "parse_chown", "plan_copy", "root_view", "write_copy_layer"]

UNNAMED = "__unnamed__"
_CHUNK = 1 << 20
_MAX_ID = (1 << 32) - 2
_XATTR_KEY = "SCHILY.xattr." + CAPABILITY_XATTR


# ---------------------------------------------------------------------- the target image

class RootView(Protocol):
    """The target image's filesystem as a copy sees it (absolute paths, ``/`` its root)."""

    def resolve(self, path: str) -> str:
        """``path`` with every symbolic link followed inside the image (missing parts kept), absolute."""

    def lstat(self, path: str) -> os.stat_result | None:
        """The entry at the resolved ``path`` (a link not followed), or None when nothing is there."""

    def read_file(self, path: str) -> bytes | None:
        """The regular file at ``path`` (links followed inside the image), or None."""


class DirectoryView:
    """A :class:`RootView` over a directory holding the image's root filesystem (a mounted snapshot)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def resolve(self, path: str) -> str:
        return scoped_path(self.root, path)

    def lstat(self, path: str) -> os.stat_result | None:
        try:
            chain = DirChain.open(self.root)
        except OSError:
            return None
        try:
            name, fd, st = walk(chain, components(path), follow_last=False)
        except OSError:
            return None
        finally:
            chain.close()
        if name is None:
            return os.stat(self.root)
        if fd is not None:
            os.close(fd)
        return st

    def read_file(self, path: str) -> bytes | None:
        resolved = self.resolve(path)
        st = self.lstat(resolved)
        if st is None or not stat.S_ISREG(st.st_mode):
            return None
        try:
            fd = os.open(os.path.join(self.root, resolved.lstrip("/")),
                         os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            return handle.read(16 << 20)


class EmptyView:
    """The root of ``FROM scratch``: nothing but ``/``."""

    def resolve(self, path: str) -> str:
        return go_clean("/" + path)

    def lstat(self, path: str) -> os.stat_result | None:
        if go_clean("/" + path) == "/":
            return os.stat_result((stat.S_IFDIR | 0o755, 0, 0, 2, 0, 0, 0, 0, 0, 0))
        return None

    def read_file(self, path: str) -> bytes | None:
        return None


def root_view(target: str | RootView | None) -> RootView:
    """A view from a directory path, an existing view, or None (scratch)."""
    if target is None:
        return EmptyView()
    if isinstance(target, str):
        return DirectoryView(target)
    return target


# ---------------------------------------------------------------------- flags

def parse_chown(spec: str, view: RootView) -> tuple[int, int]:
    """``--chown=user[:group]`` as numeric ids, names looked up in the target image (Docker's words)."""
    parts = spec.split(":")
    if len(parts) > 2:
        raise InvalidParameter(f"invalid chown string format: {spec}")
    user, group = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    prefix = "unable to convert uid/gid chown string to host mapping: "
    try:
        uid = _lookup(user, "/etc/passwd", view, "user")
    except InvalidParameter as err:
        raise InvalidParameter(f"{prefix}can't find uid for user {user}: {err}") from None
    try:
        gid = _lookup(group, "/etc/group", view, "group")
    except InvalidParameter as err:
        raise InvalidParameter(f"{prefix}can't find gid for group {group}: {err}") from None
    return uid, gid


def _go_atoi(text: str) -> int | None:
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(text)


def _lookup(name: str, path: str, view: RootView, what: str) -> int:
    number = _go_atoi(name)
    if number is not None:
        if not 0 <= number <= _MAX_ID:
            raise InvalidParameter(f"{what} id {number} is out of range")
        return number
    data = view.read_file(path)
    if data is None:
        raise InvalidParameter(f"open {path}: no such file or directory")
    for line in data.decode("utf-8", "replace").splitlines():
        fields = line.strip().split(":")
        if len(fields) >= 3 and fields[0] == name:
            value = _go_atoi(fields[2])
            if value is not None and 0 <= value <= _MAX_ID:
                return value
    raise InvalidParameter(f"no such {what}: {name}")


def parse_chmod(spec: str | None) -> int | None:
    """BuildKit's ``--chmod``: an octal mode up to 07777."""
    if spec is None or spec == "":
        return None
    try:
        mode = int(spec, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise InvalidParameter(f"invalid chmod parameter: '{spec}'. it should be octal string and between 0 and 07777")
    return mode


def contains_wildcards(path: str) -> bool:
    """Docker's test for a pattern source: ``*``, ``?`` or ``[`` not escaped by ``\\``."""
    index = 0
    while index < len(path):
        char = path[index]
        if char == "\\":
            index += 2
            continue
        if char in "*?[":
            return True
        index += 1
    return False


def normalize_dest(workdir: str, dest: str) -> str:
    """Docker's ``normalizeDest``: a relative destination joined to WORKDIR (its trailing ``/`` kept)."""
    if dest.startswith("/"):
        return dest
    joined = go_clean(posixpath.join("/", workdir or "/", dest))
    return joined + "/" if dest.endswith("/") and not joined.endswith("/") else joined


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


# ---------------------------------------------------------------------- the plan

@dataclass(frozen=True)
class CopySource:
    """One resolved source: ``path`` inside ``root`` as named (its base name names a copied file),
    ``resolved`` with links followed; ``checksum`` is Docker's ``file:``/``dir:`` string."""

    original: str
    root: str
    path: str
    resolved: str
    is_dir: bool
    checksum: str
    decompress: bool = False
    url: str | None = None


@dataclass
class CopyPlan:
    """What a COPY or ADD copies, where, and as whom; :meth:`close` removes downloads and heredoc files."""

    instruction: str
    sources: list[CopySource]
    dest: str
    chown: tuple[int, int] | None
    chmod: int | None
    preserve_owner: bool
    checksum: str
    chown_text: str = ""
    temp_dirs: list[str] = field(default_factory=list)

    def close(self) -> None:
        for path in self.temp_dirs:
            shutil.rmtree(path, ignore_errors=True)
        self.temp_dirs.clear()

    def __enter__(self) -> CopyPlan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Fetcher(Protocol):
    """Downloads one URL into ``directory``; returns the file's name there ("" when none can be told)."""

    def __call__(self, url: str, directory: str) -> str: ...


def plan_copy(command: Any, *, root: str, workdir: str, target: str | RootView | None,
              flavor: Flavor = "context", cache: ChecksumCache | None = None, work_dir: str | None = None,
              fetch: Fetcher | None = None) -> CopyPlan:
    """Resolve ``command`` (a :class:`~moor.build.instructions.CopyCommand` or ``AddCommand``: ``keyword``,
    ``sources``, ``dest``, ``from_stage``, ``chown``, ``chmod``, ``heredocs``) against ``root``.

    ``flavor`` is ``"image"`` when ``root`` is a stage's or image's filesystem (``--from``); ``cache``
    keeps the checksums of ``root`` between steps; ``work_dir`` holds downloads and heredoc files
    (removed by :meth:`CopyPlan.close`); ``fetch`` replaces the HTTP download (tests). Raises
    :class:`InvalidParameter` with Docker's messages (``COPY failed: ...``).
    """
    instruction = str(command.keyword)
    view = root_view(target)
    cache = cache if cache is not None and cache.root == root else ChecksumCache(root, flavor)
    plan = CopyPlan(instruction, [], normalize_dest(workdir, command.dest), None, parse_chmod(command.chmod),
                    preserve_owner=bool(getattr(command, "from_stage", None)) and not command.chown,
                    checksum="", chown_text=command.chown or "")
    digest = _expected_digest(getattr(command, "checksum", None), command.sources)
    try:
        for original in command.sources:
            plan.sources.extend(_sources_for(original, plan, cache, instruction, work_dir, fetch))
        if digest is not None:
            _verify_digest(plan.sources[0], digest)
        for heredoc in getattr(command, "heredocs", ()) or ():
            plan.sources.append(_heredoc_source(heredoc, plan, work_dir))
        if not plan.sources:
            raise InvalidParameter(f"{instruction} failed: no source files were specified")
        if len(plan.sources) > 1 and not command.dest.endswith("/"):
            raise InvalidParameter(f"When using {instruction} with more than one source file, the destination "
                                   "must be a directory and end with a /")
        if command.chown:
            plan.chown = parse_chown(command.chown, view)
        plan.checksum = combine([source.checksum for source in plan.sources])
    except BaseException:
        plan.close()
        raise
    return plan


_DIGESTS = {"sha256": 64, "sha384": 96, "sha512": 128}


def _expected_digest(checksum: str | None, sources: list[str]) -> str | None:
    """BuildKit's ``ADD --checksum=<algorithm>:<hex>``: only for one http(s) source."""
    if not checksum:
        return None
    algorithm, _, hex_digest = checksum.partition(":")
    if len(hex_digest) != _DIGESTS.get(algorithm, -1) or any(c not in "0123456789abcdef" for c in hex_digest):
        raise InvalidParameter(f"invalid checksum digest format: {checksum}")
    if len(sources) != 1 or not is_url(sources[0]):
        raise InvalidParameter("checksum can't be specified for non-HTTP(S) sources")
    return checksum


def _verify_digest(source: CopySource, expected: str) -> None:
    algorithm = expected.partition(":")[0]
    digest = hashlib.new(algorithm)
    with open(os.path.join(source.root, source.resolved), "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    got = f"{algorithm}:{digest.hexdigest()}"
    if got != expected:
        raise InvalidParameter(f"digest mismatch {got}: {expected}")


def _sources_for(original: str, plan: CopyPlan, cache: ChecksumCache, instruction: str, work_dir: str | None,
                 fetch: Fetcher | None) -> list[CopySource]:
    if is_url(original):
        if instruction != "ADD":
            raise InvalidParameter("source can't be a URL for COPY")
        return [_download(original, plan, work_dir, fetch)]
    path = original.removeprefix("/").removeprefix("./")
    if contains_wildcards(path):
        try:
            go_match(path, ".")
        except IgnorePatternError as err:
            raise InvalidParameter(f"{instruction} failed: {err}") from None
        return [_single(rel, cache, instruction, decompress=instruction == "ADD")
                for rel in _matching(cache.root, path)]
    return [_single(path, cache, instruction, decompress=instruction == "ADD")]


def _matching(root: str, pattern: str) -> Iterator[str]:
    """Paths of ``root`` (lexical, depth first, links not followed) that ``pattern`` matches."""
    depth = pattern.count("/") + pattern.count("[") + 1

    def visit(relative: str, level: int) -> Iterator[str]:
        directory = os.path.join(root, relative) if relative else root
        try:
            names = sorted(os.listdir(directory))
        except OSError as err:
            raise InvalidParameter(f"walking the sources: {err.strerror}: {relative or '.'}") from None
        for name in names:
            path = f"{relative}/{name}" if relative else name
            if go_match(pattern, path):
                yield path
            if level < depth and stat.S_ISDIR(os.lstat(os.path.join(root, path)).st_mode):
                yield from visit(path, level + 1)

    return visit("", 1)


def _single(path: str, cache: ChecksumCache, instruction: str, decompress: bool) -> CopySource:
    cleaned = posixpath.normpath(path) if path else "."
    if cleaned == ".." or cleaned.startswith("../"):
        raise InvalidParameter(f"{instruction} failed: forbidden path outside the build context: {path} ()")
    try:
        resolved = cache.resolve(cleaned)
    except OSError:  # a loop of links: Docker's scoped resolution fails the same way
        raise InvalidParameter(f"{instruction} failed: forbidden path outside the build context: {path} ()") from None
    full = os.path.join(cache.root, resolved) if resolved else cache.root
    try:
        st = os.lstat(full)
    except OSError:
        shown = path or "."
        raise InvalidParameter(f"{instruction} failed: file not found in build context or excluded by "
                               f".dockerignore: stat {shown}: file does not exist") from None
    is_dir = stat.S_ISDIR(st.st_mode)
    try:
        checksum = cache.dir_checksum(resolved) if is_dir else cache.file_checksum(cleaned)
    except OSError as err:
        raise MoorError(f"{instruction} failed: reading {path}: {err.strerror or err}") from None
    return CopySource(path, cache.root, "" if cleaned == "." else cleaned, resolved, is_dir, checksum,
                      decompress=decompress and not is_dir)


def _temp_dir(plan: CopyPlan, work_dir: str | None) -> str:
    if work_dir is not None:
        os.makedirs(work_dir, mode=0o700, exist_ok=True)
    path = tempfile.mkdtemp(prefix="copy-", dir=work_dir)
    plan.temp_dirs.append(path)
    return path


def _heredoc_source(heredoc: Any, plan: CopyPlan, work_dir: str | None) -> CopySource:
    """A heredoc of COPY/ADD: a file named after it, mode 0644, its content as given."""
    directory = _temp_dir(plan, work_dir)
    name = posixpath.basename(str(heredoc.name)) or UNNAMED
    path = os.path.join(directory, name)
    with open(path, "wb") as handle:
        handle.write(str(heredoc.content).encode("utf-8", "surrogateescape"))
    os.chmod(path, 0o644)
    os.utime(path, (0, 0))
    checksum = ChecksumCache(directory, "context").file_checksum(name)
    return CopySource(f"<<{heredoc.name}", directory, name, name, False, checksum)


def _download(url: str, plan: CopyPlan, work_dir: str | None, fetch: Fetcher | None) -> CopySource:
    directory = _temp_dir(plan, work_dir)
    name = (fetch or download)(url, directory)
    if not name:
        if plan.dest.endswith("/"):
            raise InvalidParameter(f"cannot determine filename for source {url}")
        name = UNNAMED
        produced = [entry for entry in os.listdir(directory)]
        if produced and produced[0] != UNNAMED:
            os.rename(os.path.join(directory, produced[0]), os.path.join(directory, UNNAMED))
    checksum = ChecksumCache(directory, "image").entry(name)  # Docker writes a download's sum bare
    return CopySource(url, directory, name, name, False, checksum, decompress=False, url=url)


def _opener() -> urllib.request.OpenerDirector:
    """HTTP and HTTPS only (a redirect to ``file:`` or ``ftp:`` is refused), proxies from the environment."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    urllib.request.HTTPRedirectHandler(), urllib.request.HTTPDefaultErrorHandler(),
                    urllib.request.HTTPErrorProcessor(), urllib.request.UnknownHandler()):
        opener.add_handler(handler)
    return opener


def _file_name(url: str, disposition: str | None) -> str:
    """Docker's ``getFilenameForDownload``: the URL path's base name, else Content-Disposition's filename."""
    path = urllib.parse.urlsplit(url).path
    if path and not path.endswith("/"):
        base = posixpath.basename(path)
        if base:
            return base
    if disposition:
        message = email.message.Message()
        message["content-disposition"] = disposition
        filename = message.get_param("filename", header="content-disposition")
        if isinstance(filename, str) and filename and not filename.endswith("/"):
            return posixpath.basename(filename)
    return ""


def download(url: str, directory: str, timeout: float = 300.0) -> str:
    """Docker's ADD download: GET ``url`` into ``directory``, mode 0600, mtime from ``Last-Modified``.

    Returns the file's name ("" when none can be told; the data is then saved as ``__unnamed__``).
    Raises :class:`InvalidParameter` (``failed to GET <url> with status 404 Not Found: <body>``).
    """
    request = urllib.request.Request(url, headers={"User-Agent": "moor-builder"})
    try:
        response = _opener().open(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        body = err.read(4096).decode("utf-8", "replace")
        raise InvalidParameter(f"failed to GET {url} with status {err.code} {err.reason}: {body}") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise InvalidParameter(f'Get "{url}": {reason}') from None
    with response:
        name = _file_name(url, response.headers.get("Content-Disposition"))
        path = os.path.join(directory, name or UNNAMED)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            try:
                shutil.copyfileobj(response, handle, _CHUNK)
            except OSError as err:
                raise InvalidParameter(f"failed to download {url}: {err}") from None
        mtime = 0.0
        modified = response.headers.get("Last-Modified")
        if modified:
            try:
                mtime = parsedate_to_datetime(modified).timestamp()
            except (TypeError, ValueError, IndexError):
                mtime = 0.0
        os.utime(path, (mtime, mtime))
    return name


# ---------------------------------------------------------------------- the layer

def _chown_mode(mode: int) -> int:
    """What Linux leaves of a regular file's mode after Docker's ``Lchown`` of every copied file: no setuid bit,
    no setgid bit when group-executable (its file capabilities go too)."""
    mode &= ~stat.S_ISUID
    if mode & (stat.S_ISGID | stat.S_IXGRP) == stat.S_ISGID | stat.S_IXGRP:
        mode &= ~stat.S_ISGID
    return mode


class _Layer:
    """The layer tar being written: entries by destination path, parents first, each directory once."""

    def __init__(self, out: IO[bytes], view: RootView, now: int) -> None:
        self.archive = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT,
                                    encoding="utf-8", errors="surrogateescape")
        self.view = view
        self.now = now
        self.dirs: set[str] = set()
        self.links: dict[tuple[int, int], str] = {}

    def close(self) -> None:
        self.archive.close()

    def exists_as_dir(self, path: str) -> bool:
        if path in self.dirs:
            return True
        st = self.view.lstat(path)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def parents(self, path: str, mode: int, owner: tuple[int, int]) -> None:
        """Every directory above ``path`` (absolute, resolved): existing ones as they are, new ones made."""
        parts = components(path)[:-1]
        for depth in range(1, len(parts) + 1):
            self.directory("/" + "/".join(parts[:depth]), mode, owner, touch=depth == len(parts))

    def directory(self, path: str, mode: int, owner: tuple[int, int], touch: bool = True,
                  new_only: bool = False) -> None:
        """The directory ``path``: kept with its metadata if it exists (its time now when ``touch``), else new."""
        if path in self.dirs or path == "/":
            return
        st = self.view.lstat(path)
        if st is not None and not stat.S_ISDIR(st.st_mode):
            raise InvalidParameter(f"failed to copy files: mkdir {path}: not a directory")
        info = tarfile.TarInfo(path.lstrip("/") + "/")
        info.type = tarfile.DIRTYPE
        if st is not None:
            if new_only:
                return
            info.mode, info.uid, info.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
            info.mtime = self.now if touch else int(st.st_mtime)
        else:
            info.mode, (info.uid, info.gid), info.mtime = mode, owner, self.now
        self.dirs.add(path)
        self.archive.addfile(info)

    def entry(self, name: str, full: str, st: os.stat_result, owner: tuple[int, int] | None, chmod: int | None,
              ) -> None:
        """One copied entry from the file ``full`` (lstat ``st``), written as ``name`` (absolute)."""
        info = tarfile.TarInfo(name.lstrip("/"))
        info.mtime = int(st.st_mtime)
        kind = stat.S_IFMT(st.st_mode)
        chowned = owner is not None and kind == stat.S_IFREG
        mode = stat.S_IMODE(st.st_mode)
        if chowned:
            mode = _chown_mode(mode)
        info.mode = chmod if chmod is not None else mode
        info.uid, info.gid = owner if owner is not None else (st.st_uid, st.st_gid)
        if kind == stat.S_IFDIR:
            info.type = tarfile.DIRTYPE
            info.name += "/"
            self.dirs.add(name)
            self.archive.addfile(info)
            return
        if kind == stat.S_IFLNK:
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(full)
            self.archive.addfile(info)
            return
        if kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO):
            info.type = {stat.S_IFCHR: tarfile.CHRTYPE, stat.S_IFBLK: tarfile.BLKTYPE}.get(kind, tarfile.FIFOTYPE)
            if kind != stat.S_IFIFO:
                info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.archive.addfile(info)
            return
        if kind != stat.S_IFREG:
            return  # sockets are not archived, as Docker's tar
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.links:
            info.type, info.linkname = tarfile.LNKTYPE, self.links[key]
            self.archive.addfile(info)
            return
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != key:
                raise MoorError(f"failed to copy files: {name} changed while it was copied")
            info.size = opened.st_size
            try:
                capability = None if chowned else os.getxattr(fd, CAPABILITY_XATTR)
            except OSError:
                capability = None
            if capability is not None:
                info.pax_headers = {_XATTR_KEY: capability.decode("utf-8", "surrogateescape")}
            self.archive.addfile(info, handle)
        if st.st_nlink > 1:
            self.links[key] = info.name

    def tree(self, source_dir: str, dest: str, owner: tuple[int, int] | None, chmod: int | None) -> None:
        """Everything below the directory ``source_dir`` (links not followed, lexical order) into ``dest``."""
        names = sorted(os.listdir(source_dir))
        for name in names:
            full = os.path.join(source_dir, name)
            st = os.lstat(full)
            target = f"{dest.rstrip('/')}/{name}"
            self.entry(target, full, st, owner, chmod)
            if stat.S_ISDIR(st.st_mode):
                self.tree(full, target, owner, chmod)


def write_copy_layer(plan: CopyPlan, target: str | RootView | None, out: IO[bytes],
                     now: Callable[[], float] = time.time) -> None:
    """Write the layer of ``plan`` into the target image ``target`` as an uncompressed tar on ``out``."""
    view = root_view(target)
    layer = _Layer(out, view, int(now()))
    identity = plan.chown if plan.chown is not None else (0, 0)
    owner: tuple[int, int] | None = None if plan.preserve_owner else identity
    dest = view.resolve(plan.dest)
    try:
        for source in plan.sources:
            layer.links = {}  # hard links are kept within one source, as Docker's tar of it
            full = os.path.join(source.root, source.resolved) if source.resolved else source.root
            if source.is_dir:
                layer.parents(dest, 0o755, (0, 0))
                layer.directory(dest, 0o755, identity if not plan.preserve_owner else (0, 0))
                layer.tree(full, dest, owner, plan.chmod)
                continue
            if source.decompress and _is_archive(full):
                layer.parents(dest, 0o755, (0, 0))
                layer.directory(dest, 0o755, (0, 0))
                _extract_archive(layer, full, dest)
                continue
            name = dest
            if plan.dest.endswith("/") or layer.exists_as_dir(dest):
                name = posixpath.join(dest, posixpath.basename(source.path) or UNNAMED)
            layer.parents(name, 0o755, identity)
            st = os.stat(full) if not os.path.islink(full) else os.lstat(full)
            layer.entry(name, full, st, owner, plan.chmod)
    except OSError as err:
        raise MoorError(f"failed to copy files: {err.strerror or err}") from None
    finally:
        layer.close()


# ---------------------------------------------------------------------- ADD of a local archive

def _is_archive(path: str) -> bool:
    """Docker's ``isArchivePath``: a (possibly compressed) tar whose first header reads."""
    try:
        with open(path, "rb") as raw:
            head = raw.read(6)
            if detect_compression(head) == "zstd":
                return False  # Docker 20.10 does not extract zstd
            raw.seek(0)
            stream = open_decompressed(raw, "the archive")
            block = stream.read(tarfile.BLOCKSIZE)
    except (OSError, InvalidParameter, EOFError):
        return False
    if len(block) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _archive_parts(name: str, dest: str) -> list[str]:
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise InvalidParameter(f"failed to copy files: invalid archive: {name!r} is outside of {dest!r}")
            parts.pop()
            continue
        parts.append(part)
    return parts


def _extract_archive(layer: _Layer, path: str, dest: str) -> None:
    """Re-emit the archive's entries below ``dest``, checked as Docker's untar checks them."""
    links: set[str] = set()
    with open(path, "rb") as raw:
        stream = open_decompressed(raw, "the archive")
        try:
            archive = tarfile.open(fileobj=stream, mode="r|", tarinfo=GuardedTarInfo,
                                   encoding="utf-8", errors="surrogateescape")
            with archive:
                for member in archive:
                    _archive_member(layer, archive, member, dest, links)
        except (tarfile.TarError, EOFError) as err:
            raise InvalidParameter(f"failed to copy files: invalid archive {posixpath.basename(path)}: {err}") from None


def _archive_member(layer: _Layer, archive: tarfile.TarFile, member: tarfile.TarInfo, dest: str,
                    links: set[str]) -> None:
    parts = _archive_parts(member.name, dest)
    if not parts:
        return
    for depth in range(1, len(parts)):
        if "/".join(parts[:depth]) in links:
            raise InvalidParameter(f"failed to copy files: invalid archive: {member.name!r} is written "
                                   "through a symbolic link")
    relative = "/".join(parts)
    target = posixpath.join(dest, relative)
    for depth in range(1, len(parts)):
        layer.directory(posixpath.join(dest, *parts[:depth]), 0o755, (0, 0), touch=False, new_only=True)
    info = tarfile.TarInfo(target.lstrip("/"))
    info.mode, info.uid, info.gid, info.mtime = member.mode & 0o7777, member.uid, member.gid, int(member.mtime)
    info.uname, info.gname = member.uname, member.gname
    info.pax_headers = {key: value for key, value in member.pax_headers.items() if key == _XATTR_KEY}
    links.discard(relative)
    if member.isdir():
        info.type = tarfile.DIRTYPE
        info.name += "/"
        layer.dirs.add(target)
        layer.archive.addfile(info)
    elif member.issym():
        if not link_stays_inside(parts[:-1], member.linkname):
            raise InvalidParameter(f"failed to copy files: invalid archive: symlink {member.name!r} -> "
                                   f"{member.linkname!r} leads out of {dest!r}")
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, member.linkname, 0o777  # as lstat shows links
        links.add(relative)
        layer.archive.addfile(info)
    elif member.islnk():
        link_parts = _archive_parts(member.linkname, dest)
        if not link_parts:
            raise InvalidParameter(f"failed to copy files: invalid archive: hard link {member.name!r} -> "
                                   f"{member.linkname!r}")
        info.type, info.linkname = tarfile.LNKTYPE, posixpath.join(dest, *link_parts).lstrip("/")
        layer.archive.addfile(info)
    elif member.isreg():
        if member.sparse is not None:
            raise InvalidParameter(f"failed to copy files: sparse archive entry {member.name!r} is not supported")
        info.size = member.size
        layer.archive.addfile(info, archive.extractfile(member))
    elif member.ischr() or member.isblk() or member.isfifo():
        info.type, info.devmajor, info.devminor = member.type, member.devmajor, member.devminor
        layer.archive.addfile(info)
    # other types (sockets, unknown) are skipped as Docker's untar skips them
