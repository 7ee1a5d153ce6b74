"""``GET /events``: the event bus's stream, one JSON object a line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from moor.api.http import Request, Response
from moor.api.params import parse_filters, time_arg
from moor.api.router import Router
from moor.errors import InvalidParameter

if TYPE_CHECKING:
    from moor.daemon.engine import Engine

_SECONDS_NANOS = re.compile(r"(-?[0-9]{1,18})(?:\.([0-9]{1,9}))?")


def nanos_arg(text: str) -> int:
    """``since``/``until`` in nanoseconds: ``seconds.nanoseconds`` (what the docker CLI sends) read exactly,
    as Docker reads it (a float would lose the last digits, and an event at ``since`` with them); another
    timestamp as :func:`time_arg` reads it; 0 when absent."""
    match = _SECONDS_NANOS.fullmatch(text)
    if match:
        seconds, fraction = int(match.group(1)), match.group(2) or ""
        return seconds * 1_000_000_000 + int(fraction.ljust(9, "0") or 0)
    return round(time_arg(text) * 1e9)


def build(engine: Engine) -> Router:
    router = Router()
    bus = engine.events

    @router.route("GET", "/events")
    def events(request: Request) -> Response:
        filters = parse_filters(request)
        since, until = nanos_arg(request.arg("since")), nanos_arg(request.arg("until"))
        if until and until < since:
            raise InvalidParameter(f"`since` time ({request.arg('since')}) cannot be after `until` time "
                                   f"({request.arg('until')})")
        found = bus.stream(since, until, filters)

        def lines() -> Iterator[bytes]:
            try:
                for event in found:
                    yield b"" if event is None else json.dumps(event).encode() + b"\n"  # b"": headers go now
            finally:
                found.close()

        return Response(stream=lines())

    return router
