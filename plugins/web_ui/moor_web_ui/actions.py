"""Long actions whose progress streams to the page (Server-Sent Events over POST, read with fetch()):

- ``POST /api/images/pull {"image": "name[:tag]", "auth"?: {"username", "password"}}``: Docker's pull progress
  messages (credentials: :mod:`moor_web_ui.pullref`);
- ``POST /api/images/build`` (multipart: ``context`` a tar, compressed or not, or a lone Dockerfile; fields
  ``tag`` and ``dockerfile``: :mod:`moor_web_ui.buildform`): Docker's build messages (``{"stream"}``,
  ``{"aux": {"ID"}}``);
- ``POST /api/containers/{id}/recreate {"pull": true, "auth"?: {...}}``: the pull's progress, then the steps of
  the recreate (:mod:`moor_web_ui.recreate`), ended by ``{"error": null, "id": "<new ID>"}``.

Each ends with ``event: end`` and ``{"error": null}`` or ``{"error": "message"}``; an error found before the
stream opens (bad JSON, an unknown container, an upload too large) is an ordinary JSON error with its 4xx.
The page leaving closes the moord request, which stops a pull or build (moord cleans up as after a failure).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from aiohttp import web

from moor.dockerconfig import registry_config_header
from moor_web_ui import upstream
from moor_web_ui.buildform import read_build_form
from moor_web_ui.moord import MOORD, STREAM_FAILURES, failure_message
from moor_web_ui.pullref import auth_header, given_auth, pull_params, reference_of
from moor_web_ui.recreate import Recreation
from moor_web_ui.replies import http_error, read_json
from moor_web_ui.sse import EventStream, with_keepalive
from moor_web_ui.streams import container_ident
from moor_web_ui.upstream import counted, json_messages, open_stream

#: a container's image given by ID (full, short or with its algorithm): there is no name to pull
IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{12,64}")


async def send_progress(stream: EventStream, messages: AsyncIterator[Any]) -> str | None:
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
                error = await send_progress(stream, json_messages(reply))
            except STREAM_FAILURES as err:
                error = failure_message(err)
            await stream.end(error)
            return stream.response


async def pull(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    reference = reference_of(body.get("image"))
    header = await auth_header(reference, given_auth(body, reference))
    return await _progress(request, "pull", "POST", "/images/create", params=pull_params(reference),
                           headers={"X-Registry-Auth": header})


async def build(request: web.Request) -> web.StreamResponse:
    context, fields = await read_build_form(request)
    with context:
        params = {"rm": "1"}
        if fields.get("tag"):
            params["t"] = fields["tag"]
        if fields.get("dockerfile"):
            params["dockerfile"] = fields["dockerfile"]
        logins = await asyncio.to_thread(registry_config_header)  # for FROM images on registries that need them
        return await _progress(request, "build", "POST", "/build", params=params, data=context,
                               headers={"Content-Type": "application/x-tar", "X-Registry-Config": logins})


async def recreate(request: web.Request) -> web.StreamResponse:
    ident = container_ident(request)
    body = await read_json(request)
    fresh = body.get("pull", True)
    if not isinstance(fresh, bool):
        raise http_error(400, "'pull' must be true or false")
    container = await request.app[MOORD].json("GET", f"/containers/{ident}/json", actor=request["user"])
    image = str((container.get("Config") or {}).get("Image") or "")
    header = ""
    if fresh:
        if not image or IMAGE_ID.fullmatch(image):
            raise http_error(409, f"the container's image is given by ID ({image[:19]}): there is no name to pull")
        reference = reference_of(image)
        header = await auth_header(reference, given_auth(body, reference))
    with counted(request, "recreate"):
        stream = await EventStream.open(request)
        try:
            if fresh:
                async with open_stream(request, "POST", "/images/create", params=pull_params(reference),
                                       headers={"X-Registry-Auth": header}) as reply:
                    error = await send_progress(stream, json_messages(reply))
                if error is not None:
                    await stream.end(error)
                    return stream.response
            new_id = await Recreation(request, stream, container).run()
        except STREAM_FAILURES as err:
            await stream.end(failure_message(err))
        else:
            await stream.end(None, id=new_id)
        return stream.response


def setup(app: web.Application) -> None:
    upstream.setup(app)
    app.router.add_post("/api/images/pull", pull)
    app.router.add_post("/api/images/build", build)
    app.router.add_post("/api/containers/{id}/recreate", recreate)
