"""Network endpoints (``/networks/...``): decode, call the network (or container) service once, encode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from moor.api import schema
from moor.api.http import Request, Response, json_response
from moor.api.params import parse_filters, strict_bool_query
from moor.api.router import Router
from moor.api.validate import decode
from moor.networks.views import created_view, network_request, network_view, prune_view

if TYPE_CHECKING:
    from moor.daemon.engine import Engine


def build(engine: Engine) -> Router:
    router = Router()
    networks = engine.networks

    @router.route("GET", "/networks")
    def list_networks(request: Request) -> Response:
        return json_response([network_view(n) for n in networks.list(parse_filters(request))])

    @router.route("GET", "/networks/{ident}")
    def inspect(request: Request, ident: str) -> Response:
        strict_bool_query(request, "verbose")  # checked; a local network has nothing more to show
        return json_response(network_view(networks.inspect(ident, scope=request.arg("scope"))))

    @router.route("POST", "/networks/create")
    def create(request: Request) -> Response:
        network = networks.create(network_request(decode(schema.NETWORK_CREATE, request.json()) or {}))
        return json_response(created_view(network), status=201)

    @router.route("DELETE", "/networks/{ident}")
    def remove(request: Request, ident: str) -> Response:
        networks.remove(ident)
        return Response(status=204, content_type="")

    @router.route("POST", "/networks/prune")
    def prune(request: Request) -> Response:
        return json_response(prune_view(networks.prune(parse_filters(request))))

    @router.route("POST", "/networks/{ident}/connect")
    def connect(request: Request, ident: str) -> Response:
        body = decode(schema.NETWORK_CONNECT, request.json()) or {}
        engine.containers.connect_network(body.get("Container", ""), ident, body.get("EndpointConfig") or {})
        return Response(status=200, body=b"", content_type="")

    @router.route("POST", "/networks/{ident}/disconnect")
    def disconnect(request: Request, ident: str) -> Response:
        body = decode(schema.NETWORK_DISCONNECT, request.json()) or {}
        engine.containers.disconnect_network(body.get("Container", ""), ident, bool(body.get("Force")))
        return Response(status=200, body=b"", content_type="")

    return router
