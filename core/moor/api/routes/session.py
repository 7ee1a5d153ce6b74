"""``POST /session``, ``POST /grpc`` and ``POST /build/cancel``: BuildKit's, which moor's classic builder never needs.

moord advertises ``Builder-Version: 1`` in ``/_ping``, so clients build with ``POST /build`` and never ask for a
session; one that does is answered with a 400 naming why (Docker's words when it asks without an upgrade),
never ``page not found``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moor.api.http import Request, Response
from moor.api.router import Router
from moor.errors import InvalidParameter

if TYPE_CHECKING:
    from moor.daemon.engine import Engine


def build(engine: Engine) -> Router:
    router = Router()

    def upgraded(request: Request) -> Response:
        if not request.headers.get("upgrade"):
            raise InvalidParameter("no upgrade proto in request")
        raise InvalidParameter("moor does not support BuildKit sessions: its builder is the classic one")

    router.add("POST", "/session", upgraded)
    router.add("POST", "/grpc", upgraded)

    @router.route("POST", "/build/cancel")
    def cancel(request: Request) -> Response:
        """BuildKit's cancel of a build by ID: a classic build has none to cancel (Docker answers 200)."""
        if not request.arg("id"):
            raise InvalidParameter("build ID not provided")
        return Response(status=200, content_type="")

    return router
