"""Long actions whose progress streams to the page (Server-Sent Events over POST, read with fetch()):

- ``POST /api/images/pull {"image": "name[:tag]"}``: Docker's pull progress messages;
- ``POST /api/images/build`` (multipart: ``context`` a tar, compressed or not, or a lone Dockerfile; fields
  ``tag`` and ``dockerfile``): Docker's build messages (``{"stream"}``, ``{"aux": {"ID"}}``);
- ``POST /api/containers/{id}/recreate {"pull": true}``: the pull's progress, then the successor made, ended by
  ``{"error": null, "id": "<new ID>"}``.

Each ends with ``event: end`` and ``{"error": null}`` or ``{"error": "message"}``; an error found before the
stream opens (bad JSON, an unknown container, an upload too large) is an ordinary JSON error with its 4xx.
The page leaving closes the moord request, which stops a pull or build (moord cleans up as after a failure).
"""

from __future__ import annotations

import io
import re
import tarfile
import tempfile
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import IO, Any

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from moor_web_ui import upstream
from moor_web_ui.moord import MOORD, MoordError
from moor_web_ui.recreate import create_body
from moor_web_ui.replies import http_error, read_json
from moor_web_ui.sse import EventStream, with_keepalive
from moor_web_ui.streams import container_ident
from moor_web_ui.upstream import counted, json_messages, open_stream

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
#: an image ID (full, short or with its algorithm): there is nothing to pull for it
IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{12,64}")
#: what a reference may hold (moord checks its grammar): no spaces or control characters
REFERENCE_CHARS = re.compile(r"[A-Za-z0-9._:/@+-]{1,512}")


def split_reference(reference: str) -> tuple[str, str]:
    """``(fromImage, tag)`` of ``name[:tag]`` or ``name@digest``: a name without a tag means ``latest`` (moord
    would pull every tag)."""
    if "@" in reference:
        return reference, ""
    name, colon, tag = reference.rpartition(":")
    if colon and "/" not in tag:
        return name, tag
    return reference, "latest"


def image_reference(body: dict[str, Any], key: str = "image") -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise http_error(400, f"{key!r} must be an image name such as busybox or registry:5000/app:1.0")
    if not REFERENCE_CHARS.fullmatch(value):
        raise http_error(400, f"invalid image reference {value[:80]!r}")
    return value


async def _send_progress(stream: EventStream, messages: AsyncIterator[Any]) -> str | None:
    """Forward progress messages; the error a message carries (the operation failed), else None."""
    async with aclosing(with_keepalive(messages, stream)) as items:
        async for message in items:
            if not isinstance(message, dict) or not message:
                continue
            if "error" in message or "errorDetail" in message:
                detail = message.get("errorDetail")
                text = message.get("error") or (detail.get("message") if isinstance(detail, dict) else None)
                return str(text or "the operation failed")
            await stream.send(message)
    return None


async def _progress(request: web.Request, kind: str, method: str, path: str, *,
                    params: dict[str, str], data: Any = None, headers: dict[str, str] | None = None) \
        -> web.StreamResponse:
    """Run one moord progress stream to the page."""
    with counted(request, kind):
        async with open_stream(request, method, path, params=params, data=data, headers=headers) as reply:
            stream = await EventStream.open(request)
            try:
                error = await _send_progress(stream, json_messages(reply))
            except MoordError as err:
                error = err.message
            except aiohttp.ClientError as err:
                error = f"moord's stream broke: {err}"
            await stream.end(error)
            return stream.response


# ----------------------------------------------------------------------------------------------------- pull


async def pull(request: web.Request) -> web.StreamResponse:
    image, tag = split_reference(image_reference(await read_json(request)))
    return await _progress(request, "pull", "POST", "/images/create", params={"fromImage": image, "tag": tag})


# ---------------------------------------------------------------------------------------------------- build


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


async def build(request: web.Request) -> web.StreamResponse:
    context, fields = await read_build_form(request)
    with context:
        params = {"rm": "1"}
        if fields.get("tag"):
            params["t"] = fields["tag"]
        if fields.get("dockerfile"):
            params["dockerfile"] = fields["dockerfile"]
        return await _progress(request, "build", "POST", "/build", params=params, data=context,
                               headers={"Content-Type": "application/x-tar"})


# ------------------------------------------------------------------------------------------------- recreate


class Recreation:
    """The steps of one recreate, each a moord call as the acting user, with the way back if one fails."""

    def __init__(self, request: web.Request, stream: EventStream, container: dict[str, Any]) -> None:
        self.moord = request.app[MOORD]
        self.actor = request["user"]
        self.stream = stream
        self.container = container
        self.id: str = container["Id"]
        self.name: str = str(container.get("Name") or "").lstrip("/")
        self.running = bool((container.get("State") or {}).get("Running"))

    async def call(self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None) -> Any:
        return await self.moord.json(method, path, actor=self.actor, params=params, json=body)

    async def status(self, text: str) -> None:
        await self.stream.send({"status": text})

    async def image_config(self) -> dict[str, Any] | None:
        try:
            image = await self.call("GET", f"/images/{self.container.get('Image')}/json")
        except MoordError:
            return None  # the old image is gone: the successor keeps every value
        config = image.get("Config") if isinstance(image, dict) else None
        return config if isinstance(config, dict) else {}

    async def run(self) -> str:
        """Stop the old container, make and start its successor under its name, remove the old one: the new ID.
        On a failure the old container is put back as it was (name, state) and the error raised."""
        body = create_body(self.container, await self.image_config())
        aside = f"{self.name}-old-{self.id[:12]}"
        await self.status(f"Renaming {self.name} to {aside}")
        await self.call("POST", f"/containers/{self.id}/rename", params={"name": aside})
        try:
            await self.status(f"Creating the new {self.name}")
            created = await self.call("POST", "/containers/create", params={"name": self.name}, body=body)
        except BaseException:
            await self._undo(None)
            raise
        new_id = str(created["Id"])
        try:
            if self.running:
                await self.status(f"Stopping the old {self.name}")
                await self.call("POST", f"/containers/{self.id}/stop")
                await self.status(f"Starting the new {self.name}")
                await self.call("POST", f"/containers/{new_id}/start")
        except BaseException:
            await self._undo(new_id)
            raise
        await self.status(f"Removing the old {self.name}")
        try:
            await self.call("DELETE", f"/containers/{self.id}", params={"force": "1"})
        except MoordError as err:
            if err.status != 404:  # (an auto-removed container is gone already)
                await self.status(f"The old container {aside} is left: {err.message}")
        return new_id

    async def _undo(self, new_id: str | None) -> None:
        """Put the old container back: the successor removed, the name given back, started if it ran."""
        steps: list[tuple[str, str, dict[str, str] | None]] = []
        if new_id is not None:
            steps.append(("DELETE", f"/containers/{new_id}", {"force": "1"}))
        steps.append(("POST", f"/containers/{self.id}/rename", {"name": self.name}))
        if self.running:
            steps.append(("POST", f"/containers/{self.id}/start", None))
        for method, path, params in steps:
            try:
                await self.call(method, path, params=params)
            except MoordError:
                pass  # (already started, say): the rest is still tried


async def recreate(request: web.Request) -> web.StreamResponse:
    ident = container_ident(request)
    body = await read_json(request)
    fresh = body.get("pull", True)
    if not isinstance(fresh, bool):
        raise http_error(400, "'pull' must be true or false")
    moord = request.app[MOORD]
    container = await moord.json("GET", f"/containers/{ident}/json", actor=request["user"])
    image = str((container.get("Config") or {}).get("Image") or "")
    if fresh and (not image or IMAGE_ID.fullmatch(image)):
        raise http_error(409, f"the container's image is given by ID ({image[:19]}): there is no name to pull")
    with counted(request, "recreate"):
        stream = await EventStream.open(request)
        try:
            if fresh:
                name, tag = split_reference(image)
                async with open_stream(request, "POST", "/images/create",
                                       params={"fromImage": name, "tag": tag}) as reply:
                    error = await _send_progress(stream, json_messages(reply))
                if error is not None:
                    await stream.end(error)
                    return stream.response
            new_id = await Recreation(request, stream, container).run()
        except MoordError as err:
            await stream.end(err.message)
        except aiohttp.ClientError as err:
            await stream.end(f"moord's stream broke: {err}")
        else:
            await stream.end(None, id=new_id)
        return stream.response


def setup(app: web.Application) -> None:
    upstream.setup(app)
    app.router.add_post("/api/images/pull", pull)
    app.router.add_post("/api/images/build", build)
    app.router.add_post("/api/containers/{id}/recreate", recreate)
