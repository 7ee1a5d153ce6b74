"""Routes: ``METHOD /path/{param}`` templates mapped to handlers, with Docker's version prefix.

``{name}`` matches one path segment; ``{name:path}`` matches the rest of the
path, slashes included (image names such as ``localhost:5000/a/b``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from moor import API_VERSION
from moor.api import versions
from moor.api.http import Hijack, Request, Response

RouteHandler = Callable[..., "Response | Hijack"]
_VERSION_PREFIX = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")
_PARAM = re.compile(r"\{(\w+)(:path)?\}")


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: RouteHandler


def _compile(template: str) -> re.Pattern[str]:
    regex, position = "", 0
    for match in _PARAM.finditer(template):
        regex += re.escape(template[position:match.start()])
        regex += f"(?P<{match.group(1)}>.+)" if match.group(2) else f"(?P<{match.group(1)}>[^/]+)"
        position = match.end()
    regex += re.escape(template[position:])
    return re.compile(f"^{regex}$")


class Router:
    """Holds the route table and finds the handler of a request."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: RouteHandler) -> None:
        self.routes.append(Route(method, template, _compile(template), handler))

    def route(self, method: str, template: str) -> Callable[[RouteHandler], RouteHandler]:
        def decorate(handler: RouteHandler) -> RouteHandler:
            self.add(method, template, handler)
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
        request.version = f"{match.group(1)}.{match.group(2)}"  # even when refused: its errors' shape
        request.path = match.group(3)
        versions.check(request.version)

    def find(self, request: Request) -> tuple[RouteHandler | None, bool]:
        """The handler for the request, and whether the path exists under another method."""
        path_known = False
        method = "GET" if request.method == "HEAD" else request.method
        for route in self.routes:
            match = route.pattern.match(request.path)
            if not match:
                continue
            if route.method == request.method or route.method == method:
                request.params = match.groupdict()
                return route.handler, True
            path_known = True
        return None, path_known
