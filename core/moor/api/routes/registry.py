"""Registry endpoints: pull (``POST /images/create?fromImage=``, which also imports with ``fromSrc``), push,
login (``POST /auth``), search and distribution inspect.

Credentials come as Docker sends them: ``X-Registry-Auth`` (base64url JSON; undecodable means anonymous, as
Docker reads it) or, for ``/auth`` and for a push without that header, the JSON body. Pull and push stream
Docker's progress messages (:mod:`moor.api.streaming`): an error before the first message is an HTTP
error, one after it the stream's last line; a client that leaves stops the operation.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from moor.api import schema
from moor.api.http import Request, Response, json_response, parse_json
from moor.api.params import int_query, parse_filters, platform_query
from moor.api.router import Router
from moor.api.streaming import progress_response
from moor.api.validate import decode
from moor.errors import InvalidParameter
from moor.registry.authconfig import AuthConfig, auth_from_json, decode_registry_auth

if TYPE_CHECKING:
    from moor.daemon.engine import Engine

#: what ``X-Moor-Search-Source`` says when the results came from the registry's ``_catalog``
CATALOG_SOURCE = "catalog"
#: Docker's default number of search results
DEFAULT_SEARCH_LIMIT = 25


def build(engine: Engine) -> Router:
    router = Router()
    transfer = engine.transfer

    @router.route("POST", "/images/create")
    def create(request: Request) -> Response:
        # read (and checked) only by API 1.32 and later, as Docker does; for an import or a pull alike
        platform = platform_query(request) if api_at_least(request, 1, 32) else ""
        image = request.arg("fromImage")
        if image:
            auth = decode_registry_auth(request.headers.get("x-registry-auth", ""))
            tag = request.arg("tag")
            # the API has no "all tags" flag: a name with no tag nor digest, and no ``tag``, means every tag
            return progress_response(
                request, lambda emit: engine.pulls.pull(image, tag, platform, auth, False, emit), name="pull")
        source = request.arg("fromSrc")
        if not source:
            raise InvalidParameter("fromImage or fromSrc is required")
        if source != "-":  # moord downloads it, as Docker's
            url, imported = transfer.import_url(source, request.arg("repo"), request.arg("tag"),
                                                request.query.get("changes", []), request.arg("message"),
                                                platform.split("/")[0])
            return Response(body=json.dumps({"status": f"Downloading from {url}"}).encode() + b"\r\n"
                            + json.dumps({"status": imported.id}).encode() + b"\r\n")
        imported = transfer.import_tarball(request.body_file(), request.arg("repo"), request.arg("tag"),
                                          request.query.get("changes", []), request.arg("message"),
                                          platform.split("/")[0])
        return Response(body=json.dumps({"status": imported.id}).encode() + b"\r\n")

    @router.route("POST", "/images/{name:path}/push")
    def push(request: Request, name: str) -> Response:
        auth = push_credentials(request)
        tag = request.arg("tag")
        return progress_response(request, lambda emit: engine.pushes.push(name, tag, auth, emit), name="push")

    @router.route("POST", "/auth")
    def login(request: Request) -> Response:
        return json_response(engine.registry_login.login(body_credentials(request)))

    @router.route("GET", "/images/search")
    def search(request: Request) -> Response:
        auth = decode_registry_auth(request.headers.get("x-registry-auth", ""))
        limit = int_query(request, "limit", DEFAULT_SEARCH_LIMIT)
        filters = parse_filters(request)
        term = request.arg("term")
        if not term:  # Docker would search Docker Hub for nothing; the API says the term is required
            raise InvalidParameter("a search term is required (term)")
        found = engine.registry_search.search(term, limit or 0, filters, auth)
        headers = {"X-Moor-Search-Source": CATALOG_SOURCE} if found.from_catalog else {}
        return json_response(found.results, headers=headers)

    @router.route("GET", "/distribution/{name:path}/json")
    def distribution_inspect(request: Request, name: str) -> Response:
        auth = decode_registry_auth(request.headers.get("x-registry-auth", ""))
        return json_response(engine.distribution.inspect(name, auth))

    return router


def api_at_least(request: Request, major: int, minor: int) -> bool:
    """Whether the request speaks API ``major.minor`` or later."""
    try:
        have = tuple(int(part) for part in request.version.split(".")[:2])
    except ValueError:
        return True
    return have >= (major, minor)


def body_credentials(request: Request, context: str = "") -> AuthConfig:
    """An ``AuthConfig`` JSON body, checked as Go decodes it into Docker's type (``EOF`` when empty, Go's error
    for a field of the wrong type); ``context`` goes before any error's message."""
    prefix = f"{context}: " if context else ""
    data = request.body.read_limited(request.limits.max_json_bytes)
    if not data.strip():
        raise InvalidParameter(f"{prefix}EOF")
    try:
        value = parse_json(data, request.limits.max_json_depth)
        return auth_from_json(decode(schema.AUTH_CONFIG, value))
    except ValueError as err:
        raise InvalidParameter(f"{prefix}invalid JSON: {err}") from None
    except InvalidParameter as err:
        raise InvalidParameter(f"{prefix}{err.message}") from None


def push_credentials(request: Request) -> AuthConfig:
    """A push's credentials: ``X-Registry-Auth`` (undecodable: none), else the body, as Docker's old API had it."""
    header = request.headers.get("x-registry-auth", "")
    if header:
        return decode_registry_auth(header)
    return body_credentials(request, "Bad parameters and missing X-Registry-Auth")
