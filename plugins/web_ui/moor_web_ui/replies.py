"""JSON errors and bodies shared by every route: ``{"message": ...}`` with a 4xx, never a traceback."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

JSON = "application/json"


def http_error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> web.HTTPException:
    """An aiohttp HTTP exception (to raise) whose body is ``{"message": message, **extra}``."""
    body = json.dumps({"message": message, **extra})
    error = web.HTTPException(text=body, content_type=JSON, headers=headers)
    error.set_status(status)  # the base class has no status of its own: this one is per instance
    return error


async def read_json(request: web.Request, limit: int = 1 << 20, *, required: bool = False) -> dict[str, Any]:
    """The request's body as a JSON object: ``{}`` for an empty body unless ``required``; 415 for a body of another
    content type, 400 for bad JSON or a non-object, 413 if larger than ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise http_error(413, f"the body is larger than {limit} bytes")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise http_error(413, f"the body is larger than {limit} bytes")
    if not raw.strip():
        if required:
            raise http_error(400, "a JSON body is required")
        return {}
    if request.content_type != JSON:
        raise http_error(415, f"the body must be {JSON}")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise http_error(400, f"invalid JSON body: {err}") from None
    except RecursionError:  # [[[[...: Python's parser gives up on deep nesting
        raise http_error(400, "invalid JSON body: nested too deeply") from None
    if not isinstance(body, dict):
        raise http_error(400, "the body must be a JSON object")
    return body


def string_field(body: dict[str, Any], key: str, *, max_length: int = 4096) -> str:
    """``body[key]`` as a string (400 if missing, not a string or longer than ``max_length``)."""
    value = body.get(key)
    if not isinstance(value, str):
        raise http_error(400, f"{key!r} must be a string")
    if len(value) > max_length:
        raise http_error(400, f"{key!r} is longer than {max_length} characters")
    return value
