"""``/plugins``: moor has no managed (v2) plugins, and says so as Docker 20.10 with none installed does.

The list is empty, every named plugin is not found (``plugin "x" not found``), and what would fetch or
build one (``pull``, ``privileges``, ``create``) is refused after the request is checked as Docker checks
it (a reference, a privileges body, a ``timeout``): a 400 with Docker's words, never a ``page not found``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moor.api.http import Request, Response, json_response
from moor.api.params import go_int, parse_filters
from moor.api.router import Router
from moor.api.schema import STRINGS
from moor.api.validate import Anything, List, decode
from moor.errors import InvalidParameter, NotFound
from moor.images import reference

if TYPE_CHECKING:
    from moor.daemon.engine import Engine

NO_PLUGINS = "moor does not support managed plugins"


def _not_found(name: str) -> NotFound:
    return NotFound(f'plugin "{name}" not found')


def _privileges(request: Request) -> None:
    """The privileges body of ``pull`` and ``upgrade``: a JSON array, as Docker decodes it first."""
    try:
        body = decode(List(Anything(), go="types.PluginPrivileges"), request.json())
    except InvalidParameter as err:
        raise InvalidParameter(f"failed to parse privileges: {err.message}") from None
    if body is None:
        raise InvalidParameter("failed to parse privileges: EOF")


def _tagged(name: str) -> str:
    """A plugin name as Docker names it in ``upgrade``'s error: ``:latest`` when it has no tag or digest."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last or "@" in name else f"{name}:latest"


def build(engine: Engine) -> Router:
    router = Router()

    @router.route("GET", "/plugins")
    def plugins(request: Request) -> Response:
        parse_filters(request)
        return json_response([])

    @router.route("GET", "/plugins/privileges")
    def privileges(request: Request) -> Response:
        reference.parse(request.arg("remote"))
        raise InvalidParameter(NO_PLUGINS)

    @router.route("POST", "/plugins/pull")
    def pull(request: Request) -> Response:
        _privileges(request)
        reference.parse(request.arg("remote"))
        raise InvalidParameter(NO_PLUGINS)

    @router.route("POST", "/plugins/create")
    def create(request: Request) -> Response:
        name = request.arg("name")
        try:
            reference.parse(name)
        except InvalidParameter as err:
            raise InvalidParameter(f"failed to parse reference {name}: {err.message}") from None
        raise InvalidParameter(NO_PLUGINS)

    @router.route("POST", "/plugins/{name:path}/upgrade")
    def upgrade(request: Request, name: str) -> Response:
        _privileges(request)
        reference.parse(request.arg("remote"))
        raise _not_found(_tagged(name))

    @router.route("POST", "/plugins/{name:path}/enable")
    def enable(request: Request, name: str) -> Response:
        go_int(request.arg("timeout"))
        raise _not_found(name)

    @router.route("POST", "/plugins/{name:path}/set")
    def set_options(request: Request, name: str) -> Response:
        if decode(STRINGS, request.json()) is None:
            raise InvalidParameter("got EOF while reading request body")
        raise _not_found(name)

    def not_found(request: Request, name: str) -> Response:
        raise _not_found(name)

    router.add("GET", "/plugins/{name:path}/json", not_found)
    router.add("POST", "/plugins/{name:path}/disable", not_found)
    router.add("POST", "/plugins/{name:path}/push", not_found)
    router.add("DELETE", "/plugins/{name:path}", not_found)
    return router
