"""Network endpoints (``/networks/...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moor.api.http import Request, Response, json_response
from moor.api.router import Router
from moor.api.routes.images import parse_filters

if TYPE_CHECKING:
    from moor.daemon.engine import Engine


def view(record: dict[str, Any]) -> dict[str, Any]:
    """Docker's shape: without moor's own bookkeeping (driver facts, aliases kept for /etc/hosts)."""
    shown = {k: v for k, v in record.items() if k != "moor"}
    shown["Containers"] = {cid: {k: v for k, v in entry.items() if k != "Aliases"}
                           for cid, entry in record["Containers"].items()}
    return shown


def build(engine: Engine) -> Router:
    router = Router()
    networks = engine.networks

    @router.route("GET", "/networks")
    def list_networks(request: Request) -> Response:
        return json_response([view(r) for r in networks.list(parse_filters(request))])

    @router.route("GET", "/networks/{ident}")
    def inspect(request: Request, ident: str) -> Response:
        return json_response(view(networks.get(ident)))

    @router.route("POST", "/networks/create")
    def create(request: Request) -> Response:
        record = networks.create(request.json(required=True) or {})
        engine.events.publish("network", "create", record["Id"], {"name": record["Name"], "type": record["Driver"]})
        return json_response({"Id": record["Id"], "Warning": ""}, status=201)

    @router.route("DELETE", "/networks/{ident}")
    def remove(request: Request, ident: str) -> Response:
        record = networks.get(ident)
        networks.remove(ident)
        engine.events.publish("network", "destroy", record["Id"], {"name": record["Name"], "type": record["Driver"]})
        return Response(status=204, content_type="")

    @router.route("POST", "/networks/prune")
    def prune(request: Request) -> Response:
        return json_response(networks.prune(parse_filters(request)))

    @router.route("POST", "/networks/{ident}/connect")
    def connect(request: Request, ident: str) -> Response:
        body = request.json(required=True) or {}
        engine.containers.connect_network(body.get("Container", ""), ident, body.get("EndpointConfig") or {})
        return Response(status=200, body=b"", content_type="")

    @router.route("POST", "/networks/{ident}/disconnect")
    def disconnect(request: Request, ident: str) -> Response:
        body = request.json(required=True) or {}
        engine.containers.disconnect_network(body.get("Container", ""), ident, bool(body.get("Force")))
        return Response(status=200, body=b"", content_type="")

    return router
