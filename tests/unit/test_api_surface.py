"""Every path of the Engine API spec has a route (none answers ``page not found``), and the swarm, plugin and
session families answer as Docker 20.10 does on a host that is in no swarm and has no plugins."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from moor.api.app import Application
from moor.api.http import BodyReader, Request, Response
from moor.api.router import Router
from moor.api.routes import build_router, experimental, plugins, session, swarm
from moor.errors import NotFound

SPEC_PATHS = Path(__file__).parent / "data" / "engine-api-v1.56-paths.txt"
NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this '
                 "node to swarm and try again.")


def spec_routes() -> list[tuple[str, str]]:
    lines = [line.split() for line in SPEC_PATHS.read_text().splitlines() if line and not line.startswith("#")]
    return [(method, re.sub(r"\{\w+\}", "abc", path)) for method, path in lines]


def request(method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Request:
    path, _, query = target.partition("?")
    args: dict[str, list[str]] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        args.setdefault(key, []).append(value)
    reader = BodyReader(io.BufferedReader(io.BytesIO(body)), len(body), False)
    return Request(method=method, path=path, query=args, headers=headers or {}, body=reader, version="")


def answer(method: str, target: str, body: str | None = None, **headers: str) -> tuple[int, Any]:
    router = swarm.build(mock.Mock())
    router.include(plugins.build(mock.Mock()))
    router.include(session.build(mock.Mock()))
    router.include(experimental.build(mock.Mock()))
    response = Application(router)(request(method, target, (body or "").encode(), headers))
    assert isinstance(response, Response)
    return response.status, json.loads(response.body)


def test_the_spec_paths_were_copied() -> None:
    routes = spec_routes()
    assert len(routes) > 100 and ("GET", "/plugins") in routes and ("POST", "/swarm/leave") in routes


@pytest.mark.parametrize(("method", "path"), spec_routes())
def test_every_path_of_the_spec_has_a_route(method: str, path: str) -> None:
    router = build_router(mock.MagicMock())
    handler, _known = router.find(request(method, path))
    assert handler is not None, f"{method} {path} answers page not found"


@pytest.mark.parametrize(("method", "target"), [
    ("GET", "/swarm"), ("GET", "/swarm/unlockkey"), ("GET", "/nodes"), ("GET", "/nodes/abc"), ("DELETE", "/nodes/abc"),
    ("GET", "/services"), ("GET", "/services/abc"), ("DELETE", "/services/abc"), ("GET", "/tasks"),
    ("GET", "/tasks/abc"), ("GET", "/secrets"), ("GET", "/secrets/abc"), ("DELETE", "/secrets/abc"),
    ("GET", "/configs"), ("GET", "/configs/abc"), ("DELETE", "/configs/abc"),
    ("GET", "/services/abc/logs?stdout=1"), ("GET", "/tasks/abc/logs?stderr=1"),
])
def test_the_swarm_family_is_not_a_manager(method: str, target: str) -> None:
    assert answer(method, target) == (503, {"message": NOT_A_MANAGER})


@pytest.mark.parametrize(("target", "body"), [
    ("/swarm/unlock", "{}"), ("/swarm/update?version=1", "{}"), ("/nodes/abc/update?version=1", "{}"),
    ("/services/create", "{}"), ("/services/abc/update?version=7", "{}"), ("/secrets/create", '{"Name": "x"}'),
    ("/secrets/abc/update?version=1", "{}"), ("/configs/create", "{}"), ("/configs/abc/update?version=1", "{}"),
])
def test_swarm_writes_are_checked_then_not_a_manager(target: str, body: str) -> None:
    assert answer("POST", target, body) == (503, {"message": NOT_A_MANAGER})


def test_leaving_a_swarm_is_not_being_in_one() -> None:
    assert answer("POST", "/swarm/leave?force=1") == (503, {"message": "This node is not part of a swarm"})


@pytest.mark.parametrize(("target", "body", "message"), [
    ("/swarm/init", None, "got EOF while reading request body"),
    ("/swarm/join", "[]", "json: cannot unmarshal array into Go value of type swarm.JoinRequest"),
    ("/swarm/init", "{}", 'invalid ListenAddr "": invalid empty address'),
    ("/swarm/update", "{}", "invalid swarm version '': strconv.ParseUint: parsing \"\": invalid syntax"),
    ("/swarm/update?version=-1", "{}", "invalid swarm version '-1': strconv.ParseUint: parsing \"-1\": invalid syntax"),
    ("/nodes/a/update?version=x", "{}", "invalid node version 'x': strconv.ParseUint: parsing \"x\": invalid syntax"),
    ("/services/a/update", "{}", "invalid service version '': strconv.ParseUint: parsing \"\": invalid syntax"),
    ("/secrets/a/update", "{}", "invalid secret version"),
    ("/configs/a/update", "{}", "invalid config version"),
    ("/services/create", "[]", "json: cannot unmarshal array into Go value of type swarm.ServiceSpec"),
    ("/secrets/create", None, "got EOF while reading request body"),
])
def test_swarm_requests_are_checked_as_docker_checks_them(target: str, body: str | None, message: str) -> None:
    assert answer("POST", target, body) == (400, {"message": message})


def test_swarm_logs_need_a_stream() -> None:
    assert answer("GET", "/services/abc/logs") == (400, {"message": "Bad parameters: you must choose at least one "
                                                                    "stream"})


def test_swarm_init_with_an_address_is_refused_not_lost() -> None:
    status, body = answer("POST", "/swarm/init", '{"ListenAddr": "0.0.0.0:2377"}')
    assert status == 503 and "swarm" in body["message"]


def test_no_plugins_are_installed() -> None:
    assert answer("GET", "/plugins") == (200, [])
    assert answer("GET", '/plugins?filters={"capability":["volumedriver"]}') == (200, [])


@pytest.mark.parametrize(("method", "target", "body", "name"), [
    ("GET", "/plugins/foo/json", None, "foo"), ("GET", "/plugins/foo:latest/json", None, "foo:latest"),
    ("GET", "/plugins/a/b/json", None, "a/b"), ("DELETE", "/plugins/foo?force=1", None, "foo"),
    ("POST", "/plugins/foo/enable?timeout=5", None, "foo"), ("POST", "/plugins/foo/disable", None, "foo"),
    ("POST", "/plugins/foo/push", None, "foo"), ("POST", "/plugins/foo/set", '["a=b"]', "foo"),
    ("POST", "/plugins/foo/upgrade?remote=bar", "[]", "foo:latest"),
])
def test_a_named_plugin_is_not_found(method: str, target: str, body: str | None, name: str) -> None:
    assert answer(method, target, body) == (404, {"message": f'plugin "{name}" not found'})


@pytest.mark.parametrize(("method", "target", "body", "message"), [
    ("GET", "/plugins/privileges", None, "invalid reference format"),
    ("POST", "/plugins/pull?remote=foo", None, "failed to parse privileges: EOF"),
    ("POST", "/plugins/pull?remote=foo", "{}", "failed to parse privileges: json: cannot unmarshal object into Go "
                                               "value of type types.PluginPrivileges"),
    ("POST", "/plugins/pull", "[]", "invalid reference format"),
    ("POST", "/plugins/foo/enable", None, 'strconv.Atoi: parsing "": invalid syntax'),
    ("POST", "/plugins/foo/set", "{}", "json: cannot unmarshal object into Go value of type []string"),
    ("POST", "/plugins/foo/set", None, "got EOF while reading request body"),
    ("POST", "/plugins/create", None, "failed to parse reference : invalid reference format"),
    ("POST", "/session", None, "no upgrade proto in request"),
    ("POST", "/grpc", None, "no upgrade proto in request"),
])
def test_plugin_and_session_requests_are_checked_as_docker_checks_them(method: str, target: str, body: str | None,
                                                                       message: str) -> None:
    assert answer(method, target, body) == (400, {"message": message})


@pytest.mark.parametrize("target", ["/plugins/pull?remote=foo", "/plugins/create?name=foo"])
def test_fetching_a_plugin_is_refused_with_a_reason(target: str) -> None:
    status, body = answer("POST", target, "[]")
    assert status == 400 and "plugins" in body["message"]


def test_a_session_upgrade_is_refused_with_a_reason() -> None:
    status, body = answer("POST", "/session", upgrade="h2c", connection="Upgrade")
    assert status == 400 and "BuildKit" in body["message"]


def test_a_volume_update_needs_a_cluster_volume() -> None:
    assert answer("PUT", "/volumes/v1?version=1", "{}") == (
        503, {"message": "volume update only valid for cluster volumes, but swarm is unavailable"})


@pytest.mark.parametrize("target", ["/_ping", "/containers/json", "/no/such/path", "/v1.41/images/x/json"])
def test_options_of_any_path_is_an_empty_200(target: str) -> None:
    response = Application(Router())(request("OPTIONS", target))
    assert isinstance(response, Response) and (response.status, response.body) == (200, b"")


@pytest.mark.parametrize(("template", "target", "value"), [
    ("/networks/{ident}", "/networks/test%2001", "test 01"),
    ("/networks/{ident}", "/networks/a%2Fb", "a/b"),  # Docker: "network a/b not found", not page not found
    ("/images/{ident:path}/json", "/images/busybox%3Alatest/json", "busybox:latest"),
    ("/images/{ident:path}/json", "/images/localhost%3A5000%2Fteam/app/json", "localhost:5000/team/app"),
    ("/volumes/{ident}", "/volumes/a%252Fb", "a%2Fb"),
    ("/volumes/{ident}", "/volumes/100%25", "100%"),
])
def test_each_segment_is_decoded_after_the_path_is_split(template: str, target: str, value: str) -> None:
    router = Router()
    router.add("GET", template, lambda request, ident: Response())
    found = request("GET", target)
    handler, _known = router.find(found)
    assert handler is not None and found.params == {"ident": value}


def test_a_decoded_nul_byte_names_nothing() -> None:
    router = Router()
    router.add("GET", "/volumes/{ident}", lambda request, ident: Response())
    with pytest.raises(NotFound, match="NUL byte"):
        router.find(request("GET", "/volumes/a%00b"))


@pytest.mark.parametrize(("method", "target"), [
    ("GET", "/containers/x/checkpoints"), ("POST", "/containers/x/checkpoints"),
    ("DELETE", "/containers/x/checkpoints/c1")])
def test_checkpoints_are_an_experimental_feature_disabled(method: str, target: str) -> None:
    assert answer(method, target) == (501, {"message": experimental.DISABLED})


def test_a_build_cancel_needs_an_id_and_has_nothing_to_cancel() -> None:
    assert answer("POST", "/build/cancel") == (400, {"message": "build ID not provided"})
    router = session.build(mock.Mock())
    response = Application(router)(request("POST", "/build/cancel?id=abc"))
    assert isinstance(response, Response) and (response.status, response.body) == (200, b"")
