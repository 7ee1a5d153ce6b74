"""``GET /events``: the event bus's stream, one JSON object a line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from moor.api.http import Request, Response
from moor.api.params import parse_filters, time_arg
from moor.api.router import Router

if TYPE_CHECKING:
    from moor.daemon.engine import Engine


def build(engine: Engine) -> Router:
    router = Router()
    bus = engine.events

    @router.route("GET", "/events")
    def events(request: Request) -> Response:
        filters = parse_filters(request)
        found = bus.stream(time_arg(request.arg("since")), time_arg(request.arg("until")), filters)

        def lines() -> Iterator[bytes]:
            try:
                for event in found:
                    yield b"" if event is None else json.dumps(event).encode() + b"\n"  # b"": headers go now
            finally:
                found.close()

        return Response(stream=lines())

    return router
