"""The swarm family (``/swarm``, ``/nodes``, ``/services``, ``/tasks``, ``/secrets``, ``/configs``, and the
update of a cluster volume, ``PUT /volumes/{name}``).

moor is never part of a swarm: every endpoint answers as Docker 20.10 answers on a node that is not one
(503, ``This node is not a swarm manager...``, or ``This node is not part of a swarm`` for ``leave``),
after checking the request as Docker checks it first (a missing body, a body of the wrong JSON type, a
missing ``version``, no log stream chosen: a 400 with Docker's words). docker-py calls ``leave_swarm``
in the tear-down of many tests, and clients list services or secrets to find out that there are none.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from moor.api.http import Request, Response
from moor.api.params import go_int
from moor.api.router import Router
from moor.api.schema import STRING
from moor.api.validate import Struct, decode
from moor.errors import InvalidParameter, Unavailable

if TYPE_CHECKING:
    from moor.daemon.engine import Engine

NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this '
                 "node to swarm and try again.")
NOT_IN_A_SWARM = "This node is not part of a swarm"
NO_CLUSTER_VOLUMES = "volume update only valid for cluster volumes, but swarm is unavailable"
_DIGITS = re.compile(r"[0-9]+")
NO_SWARM_MODE = "moor does not support swarm mode: this node cannot init or join a swarm"

#: the objects that answer ``GET /x``, ``GET /x/{id}``, ``DELETE /x/{id}``, ``POST /x/create`` (or not: nodes,
#: tasks) and ``POST /x/{id}/update``: their Go spec type and the words Docker refuses a bad ``version`` with
_OBJECTS = {
    "nodes": ("swarm.NodeSpec", "node", True),
    "services": ("swarm.ServiceSpec", "service", True),
    "secrets": ("swarm.SecretSpec", "secret", False),
    "configs": ("swarm.ConfigSpec", "config", False),
}


def _body(request: Request, go_type: str) -> dict[str, Any]:
    """The JSON object of the request, refused as Docker's decoder refuses a missing one or another type (the
    listen address of ``init`` and ``join`` a string)."""
    name = go_type.split(".")[-1]
    fields = {"ListenAddr": STRING} if name in ("InitRequest", "JoinRequest") else {}
    body = decode(Struct(name, fields, go=go_type), request.json())
    if body is None:
        raise InvalidParameter("got EOF while reading request body")
    return cast(dict[str, Any], body)


def _version(request: Request, kind: str, detailed: bool) -> None:
    """The ``version`` an update needs, read as Go's strconv.ParseUint (Docker's 400 otherwise)."""
    text = request.arg("version")
    try:
        go_int(text, "strconv.ParseUint", 0, 2**64 - 1, _DIGITS)
    except InvalidParameter as err:
        raise InvalidParameter(f"invalid {kind} version '{text}': {err.message}" if detailed
                               else f"invalid {kind} version") from None


def _streams(request: Request) -> None:
    """``/services/{id}/logs`` and ``/tasks/{id}/logs`` need stdout or stderr, as Docker checks first."""
    if not (request.flag("stdout") or request.flag("stderr")):
        raise InvalidParameter("Bad parameters: you must choose at least one stream")


def _listen_address(body: dict[str, Any]) -> None:
    """Docker's first check of ``swarm init`` and ``join``: a listen address must be given."""
    if not body.get("ListenAddr"):
        raise InvalidParameter('invalid ListenAddr "": invalid empty address')


def build(engine: Engine) -> Router:
    router = Router()

    def not_a_manager(request: Request, **_: str) -> Response:
        raise Unavailable(NOT_A_MANAGER)

    for path in ("/swarm", "/swarm/unlockkey", "/nodes", "/nodes/{ident}", "/services", "/services/{ident}",
                 "/tasks", "/tasks/{ident}", "/secrets", "/secrets/{ident}", "/configs", "/configs/{ident}"):
        router.add("GET", path, not_a_manager)
    for path in ("/nodes/{ident}", "/services/{ident}", "/secrets/{ident}", "/configs/{ident}"):
        router.add("DELETE", path, not_a_manager)

    @router.route("POST", "/swarm/leave")
    def leave(request: Request) -> Response:
        raise Unavailable(NOT_IN_A_SWARM)

    @router.route("POST", "/swarm/unlock")
    def unlock(request: Request) -> Response:
        _body(request, "swarm.UnlockRequest")
        raise Unavailable(NOT_A_MANAGER)

    @router.route("POST", "/swarm/update")
    def update_swarm(request: Request) -> Response:
        _body(request, "swarm.Spec")
        _version(request, "swarm", True)
        raise Unavailable(NOT_A_MANAGER)

    def init_or_join(go_type: str) -> Any:
        def handler(request: Request) -> Response:
            _listen_address(_body(request, go_type))
            raise Unavailable(NO_SWARM_MODE)

        return handler

    router.add("POST", "/swarm/init", init_or_join("swarm.InitRequest"))
    router.add("POST", "/swarm/join", init_or_join("swarm.JoinRequest"))

    def create(go_type: str) -> Any:
        def handler(request: Request) -> Response:
            _body(request, go_type)
            raise Unavailable(NOT_A_MANAGER)

        return handler

    def update(go_type: str, kind: str, detailed: bool) -> Any:
        def handler(request: Request, ident: str) -> Response:
            _body(request, go_type)
            _version(request, kind, detailed)
            raise Unavailable(NOT_A_MANAGER)

        return handler

    for family, (go_type, kind, detailed) in _OBJECTS.items():
        if family != "nodes":
            router.add("POST", f"/{family}/create", create(go_type))
        router.add("POST", f"/{family}/{{ident}}/update", update(go_type, kind, detailed))

    def logs(request: Request, ident: str) -> Response:
        _streams(request)
        raise Unavailable(NOT_A_MANAGER)

    router.add("GET", "/services/{ident}/logs", logs)
    router.add("GET", "/tasks/{ident}/logs", logs)

    @router.route("PUT", "/volumes/{name}")
    def update_volume(request: Request, name: str) -> Response:
        raise Unavailable(NO_CLUSTER_VOLUMES)

    return router
