"""A build upload (``multipart/form-data``): the context, a tar (compressed or not) or a lone Dockerfile, and
the fields ``tag`` and ``dockerfile``.

The context is spooled to a temporary file while it is read (413 past the app's :data:`UPLOAD_LIMIT`, checked
as the bytes come, whatever ``Content-Length`` said); a lone Dockerfile becomes a tar holding only it, at the
name the ``dockerfile`` field gives (``Dockerfile`` by default).
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from typing import IO

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from moor_web_ui.replies import http_error

#: the largest build upload accepted (a context tar, or a Dockerfile), in bytes; tests lower it
UPLOAD_LIMIT = web.AppKey("build_upload_limit", int)
DEFAULT_UPLOAD_LIMIT = 1 << 30
#: a lone Dockerfile (not a tar) is read into memory: at most this many bytes
MAX_DOCKERFILE = 1 << 20
#: the form's text fields, at most this many bytes each
MAX_FIELD = 1024
CHUNK = 1 << 16
#: magic numbers of the compressed tars moord accepts as a build context (gzip, bzip2, xz, zstd)
COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def is_tar(head: bytes) -> bool:
    """Whether ``head`` (the upload's first 512 bytes) starts a tar, compressed or not."""
    if head.startswith(COMPRESSED):
        return True
    if len(head) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(head[:tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def dockerfile_tar(content: bytes, name: str) -> bytes:
    """A context holding only the Dockerfile ``content`` at ``name``."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(content), 0o644
        archive.addfile(info, io.BytesIO(content))
    return out.getvalue()


async def _field(part: aiohttp.BodyPartReader) -> str:
    raw = bytearray()
    while chunk := await part.read_chunk(MAX_FIELD + 1):
        raw += chunk
        if len(raw) > MAX_FIELD:
            raise http_error(400, f"the field {part.name!r} is longer than {MAX_FIELD} bytes")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise http_error(400, f"the field {part.name!r} is not UTF-8") from None


async def _spool(part: aiohttp.BodyPartReader, limit: int) -> IO[bytes]:
    """The part's bytes in a temporary file (413 past ``limit``)."""
    spool = tempfile.TemporaryFile(prefix="moor-web-ui-build-")
    size = 0
    try:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > limit:
                raise http_error(413, f"the upload is larger than {limit} bytes")
            spool.write(chunk)
        spool.seek(0)
        return spool
    except BaseException:
        spool.close()
        raise


async def read_build_form(request: web.Request) -> tuple[IO[bytes], dict[str, str]]:
    """The context (a tar in a temporary file) and the fields ``tag`` and ``dockerfile`` of the upload."""
    limit = request.app.get(UPLOAD_LIMIT, DEFAULT_UPLOAD_LIMIT)
    if request.content_type != "multipart/form-data":
        raise http_error(415, "the body must be multipart/form-data (a context file and the fields tag, dockerfile)")
    if request.content_length is not None and request.content_length > limit:
        raise http_error(413, f"the upload is larger than {limit} bytes")
    fields: dict[str, str] = {}
    context: IO[bytes] | None = None
    try:
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader):
                    raise http_error(400, "nested multipart bodies are not accepted")
                if part.name == "context" and context is None:
                    context = await _spool(part, limit)
                elif part.name in ("tag", "dockerfile") and part.name not in fields:
                    fields[part.name] = await _field(part)
                else:
                    raise http_error(400, f"unexpected form field {str(part.name)[:40]!r} (context, tag, dockerfile)")
        except (ValueError, AssertionError, RuntimeError, aiohttp.ClientPayloadError, HttpProcessingError) as err:
            raise http_error(400, "malformed multipart body: " + " ".join(str(err).split())[:200]) from None
        if context is None:
            raise http_error(400, "the upload has no context (a tar of the build context, or a Dockerfile)")
        head = context.read(tarfile.BLOCKSIZE)
        context.seek(0)
        if is_tar(head):
            return context, fields
        content = context.read(MAX_DOCKERFILE + 1)
        if len(content) > MAX_DOCKERFILE:
            raise http_error(413, f"a Dockerfile larger than {MAX_DOCKERFILE} bytes (send a tar of the context)")
        context.close()
        name = fields.get("dockerfile") or "Dockerfile"
        if name.startswith("/") or ".." in name.split("/") or "\\" in name:
            raise http_error(400, f"invalid Dockerfile name {name[:80]!r}")
        context = tempfile.TemporaryFile(prefix="moor-web-ui-build-")
        context.write(dockerfile_tar(content, name))
        context.seek(0)
        return context, fields
    except BaseException:
        if context is not None:
            context.close()
        raise
