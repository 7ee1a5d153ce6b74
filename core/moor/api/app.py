"""The API application: one callable that turns a request into a response.

It strips the version prefix, finds the route, calls the handler, and turns
every :class:`moor.errors.MoorError` into Docker's ``{"message": ...}`` body
with the error's status. Anything else is a 500 that is logged with its
traceback (for us) and answered with one line (for the client).
"""

from __future__ import annotations

import logging

from moor import API_VERSION, __version__, actor
from moor.api import versions
from moor.api.http import Hijack, Request, Response, json_response
from moor.api.router import Router
from moor.errors import MoorError

log = logging.getLogger(__name__)

SERVER_HEADERS = {
    "Api-Version": API_VERSION,
    "Docker-Experimental": "false",
    "Ostype": "linux",
    "Server": f"Moor/{__version__} (linux)",
}


def error_response(status: int, message: str, version: str = API_VERSION) -> Response:
    """Docker's error answer: ``{"message": ...}``, or the message as plain text for API versions before 1.24."""
    if not versions.json_errors(version):
        return Response(status=status, body=message.encode() + b"\n", content_type="text/plain; charset=utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})
    return json_response({"message": message}, status=status)


class Application:
    """Dispatches requests to the routes of a :class:`Router`."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def __call__(self, request: Request) -> Response | Hijack:
        acting = actor.from_header(request.headers.get(actor.HEADER))
        if acting is None:
            return self._answer(request)
        token = actor.current.set(acting)  # the events published while serving it name the acting user
        try:
            answer = self._answer(request)
        finally:
            actor.current.reset(token)
        if isinstance(answer, Hijack):
            answer.run = actor.bound(answer.run, acting)
        elif answer.stream is not None:
            answer.stream = actor.streamed(answer.stream, acting)
        return answer

    def _answer(self, request: Request) -> Response | Hijack:
        try:
            if "\x00" in request.path:  # no object's name holds one: Docker's routes answer 404 (no such ...)
                return error_response(404, "no such object: the path contains a NUL byte")
            self.router.strip_version(request)
            handler, path_known = self.router.find(request)
            if handler is None:
                if path_known:
                    return error_response(405, "method not allowed", request.version)
                return error_response(404, "page not found", request.version)
            return handler(request, **request.params)
        except MoorError as err:
            log.debug("%s %s: %s", request.method, request.path, err)
            return error_response(err.status, err.message, request.version)
        except Exception as err:  # the API boundary: never a traceback to the client
            log.exception("%s %s failed", request.method, request.path)
            return error_response(500, f"{type(err).__name__}: {err}", request.version)
