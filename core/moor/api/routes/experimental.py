"""Docker's experimental endpoints (container checkpoints): moord is never in experimental mode, and answers
them as Docker 20.10 does when it is not (501, whatever the container), never ``page not found``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from moor.api.http import Request, Response
from moor.api.router import Router
from moor.errors import Unsupported

if TYPE_CHECKING:
    from moor.daemon.engine import Engine

DISABLED = ("This experimental feature is disabled by default. Start the Docker daemon in experimental mode in "
            "order to enable it.")


def build(engine: Engine) -> Router:
    router = Router()

    def disabled(request: Request, **_: str) -> Response:
        raise Unsupported(DISABLED)

    router.add("GET", "/containers/{ident}/checkpoints", disabled)
    router.add("POST", "/containers/{ident}/checkpoints", disabled)
    router.add("DELETE", "/containers/{ident}/checkpoints/{checkpoint}", disabled)
    return router
