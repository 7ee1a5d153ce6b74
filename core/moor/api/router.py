"""Routes: ``METHOD /path/{param}`` templates mapped to handlers, with Docker's version prefix.

``{name}`` matches one path segment; ``{name:path}`` matches the rest of the
path, slashes included (image names such as ``localhost:5000/a/b``). The path
comes raw (percent-encoded) from the server and is decoded segment by segment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from moor import API_VERSION
from moor.api import versions
from moor.api.http import Hijack, Request, Response
from moor.errors import NotFound

RouteHandler = Callable[..., "Response | Hijack"]
_VERSION_PREFIX = re.compile(r"^/v([0-9.]+)(/.*)$")  # Docker's /v{version:[0-9.]+}
_PARAM = re.compile(r"\{(\w+)(:path)?\}")
_KEPT_ESCAPED = re.compile(r"%(25|2F)")


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: RouteHandler
    #: whether a request of another method on this path answers 405 (else 404, as Docker's for that path)
    known_to_other_methods: bool = True


def _compile(template: str) -> re.Pattern[str]:
    regex, position = "", 0
    for match in _PARAM.finditer(template):
        regex += re.escape(template[position:match.start()])
        regex += f"(?P<{match.group(1)}>.+)" if match.group(2) else f"(?P<{match.group(1)}>[^/]+)"
        position = match.end()
    regex += re.escape(template[position:])
    return re.compile(f"^{regex}$")


def _decoded_segments(raw: str) -> str:
    """The request's path with each segment percent-decoded, as Docker's router matches it: a ``/`` (or ``%``)
    decoded inside a segment stays escaped, so that ``/networks/a%2Fb`` names the network ``a/b``."""
    return "/".join(unquote(part).replace("%", "%25").replace("/", "%2F") for part in raw.split("/"))


def _unescape(value: str) -> str:
    """A matched parameter with what :func:`_decoded_segments` kept escaped given back."""
    return _KEPT_ESCAPED.sub(lambda match: "%" if match.group(1) == "25" else "/", value)


def _options(request: Request) -> Response:
    """``OPTIONS`` of any path: an empty 200, as Docker's router answers it."""
    return Response(status=200, content_type="")


class Router:
    """Holds the route table and finds the handler of a request."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: RouteHandler, known_to_other_methods: bool = True) -> None:
        self.routes.append(Route(method, template, _compile(template), handler, known_to_other_methods))

    def route(self, method: str, template: str,
              known_to_other_methods: bool = True) -> Callable[[RouteHandler], RouteHandler]:
        def decorate(handler: RouteHandler) -> RouteHandler:
            self.add(method, template, handler, known_to_other_methods)
            return handler

        return decorate

    def include(self, other: Router) -> None:
        self.routes.extend(other.routes)

    def strip_version(self, request: Request) -> None:
        """Take ``/v1.41`` off the path; refuse versions this daemon does not speak (:mod:`moor.api.versions`)."""
        match = _VERSION_PREFIX.match(request.path)
        if not match:
            request.version = API_VERSION
            return
        request.version = match.group(1)  # even when refused: its errors' shape
        request.path = match.group(2)
        versions.check(request.version)

    def find(self, request: Request) -> tuple[RouteHandler | None, bool]:
        """The handler for the request, and whether the path exists under another method."""
        if request.method == "OPTIONS":  # Docker answers any path's OPTIONS: 200, nothing more (no CORS headers)
            return _options, True
        path_known = False
        method = "GET" if request.method == "HEAD" else request.method
        path = _decoded_segments(request.path)
        for route in self.routes:
            match = route.pattern.match(path)
            if not match:
                continue
            if route.method == request.method or route.method == method:
                request.params = {name: _unescape(value) for name, value in match.groupdict().items()}
                if any("\x00" in value for value in request.params.values()):  # no object's name holds one
                    raise NotFound("no such object: the path contains a NUL byte")
                return route.handler, True
            path_known = path_known or route.known_to_other_methods
        return None, path_known
