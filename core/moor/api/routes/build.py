"""Build endpoints: ``POST /build`` (the classic builder) and ``POST /build/prune`` (the build cache).

``POST /build`` decodes every query parameter of API v1.41 as Docker 20.10 reads it, with its words for a
bad one (``error reading build args: json: cannot unmarshal ...``, ``squash is only supported with
experimental mode``, ``Unsupported isolation: "x"``), the registry credentials of ``X-Registry-Config``
(base64url JSON: registry -> AuthConfig; undecodable means none, as Docker) and moor's
``X-Moor-Build-Secrets`` (base64 JSON: secret id -> base64 content, for ``RUN --mount=type=secret``).
The body, the context tar, goes to the build service as a stream (never read whole here), and the
service's messages are streamed back (:mod:`moor.api.streaming`): an error before the first message is an
HTTP error, one after it the stream's last line; a client that leaves cancels the build.

With ``q`` the messages are held back, as Docker's route holds them: on success only the image ID is
sent, on failure what was held back and then the error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moor.api.http import Request, Response, json_response, parse_json
from moor.api.params import flag_query, go_int, parse_filters, platform_query
from moor.api.router import Router
from moor.api.streaming import Emit, progress_response
from moor.api.validate import Int, List, Map, Str, Struct, decode
from moor.build.options import BuildOptions
from moor.errors import InvalidParameter
from moor.images.reference import parse as parse_reference
from moor.registry.authconfig import AuthConfig, auth_from_json

if TYPE_CHECKING:
    from moor.daemon.engine import Engine

#: moor's header carrying ``--secret`` contents: base64 of JSON ``{"id": "<base64 of the content>"}``
SECRETS_HEADER = "x-moor-build-secrets"
#: Docker's builder versions: 1 the classic builder, 2 BuildKit (which needs its session protocol)
CLASSIC, BUILDKIT = "1", "2"
#: Linux's only isolation technology ("" or "default")
_ISOLATIONS = ("", "default")

_BUILD_ARGS = Map(Str(), go="map[string]*string")
_LABELS = Map(Str())
_CACHE_FROM = List(Str())
_ULIMITS = List(Struct("Ulimit", {"Name": Str(), "Hard": Int("int64"), "Soft": Int("int64")}, go="units.Ulimit"),
               go="[]*units.Ulimit")
_OUTPUTS = List(Struct("ImageBuildOutput", {"Type": Str(), "Attrs": Map(Str())}), go="[]types.ImageBuildOutput")


def build(engine: Engine) -> Router:
    router = Router()

    @router.route("POST", "/build")
    def build_image(request: Request) -> Response:
        options = build_options(request)
        context = request.body_file()

        def operation(emit: Emit) -> None:
            run_build(lambda out: engine.builds.build(options, context, out), options.quiet,
                      api_at_least(request.version, 1, 30), emit)

        return progress_response(request, operation, name="build")

    @router.route("POST", "/build/prune")
    def prune(request: Request) -> Response:
        filters = prune_filters(request)
        keep = request.arg("keep-storage")
        try:
            keep_storage = go_int(keep) if keep else 0
        except InvalidParameter as err:
            raise InvalidParameter(f"keep-storage is in bytes and expects an integer, got {keep}: "
                                   f"{err.message}") from None
        return json_response(engine.build_cache.prune(filters, flag_query(request, "all"), keep_storage))

    return router


def run_build(build_call: Callable[[Emit], str], quiet: bool, want_aux: bool, emit: Emit) -> None:
    """Run a build, its messages sent on through ``emit`` as Docker's route sends them: ``aux`` only to clients
    of API 1.30 or later; with ``quiet`` held back until the end (then only the image ID, or on failure all
    that was held back before the error)."""
    held: list[dict[str, Any]] = []

    def forward(message: dict[str, Any]) -> None:
        if "aux" in message and not want_aux:
            return
        if quiet and message:  # (an empty message asks whether the client is still there: never held)
            held.append(message)
        else:
            emit(message)

    try:
        image_id = build_call(forward)
    except BaseException:
        for message in held:
            emit(message)
        raise
    if quiet:
        emit({"stream": f"{image_id}\n"})


def build_options(request: Request) -> BuildOptions:
    """The build's :class:`BuildOptions` from the query and headers, checked in the order Docker checks them."""
    version = request.version
    forcerm = flag_query(request, "forcerm")
    rm = True if forcerm or request.arg("rm") == "" else flag_query(request, "rm")
    shm_text = request.arg("shmsize")
    shm_size = go_int(shm_text, "strconv.ParseInt") if shm_text else 0
    isolation = request.arg("isolation")
    if isolation not in _ISOLATIONS:
        raise InvalidParameter(f"Unsupported isolation: {json.dumps(isolation)}")
    if request.query.get("securityopt"):
        raise InvalidParameter("The daemon on this platform does not support setting security options on build")
    ulimits = json_query(request, "ulimits", _ULIMITS, "error reading ulimit settings: ")
    build_args = json_query(request, "buildargs", _BUILD_ARGS, "error reading build args: ")
    labels = json_query(request, "labels", _LABELS, "error reading labels: ")
    cache_from = json_query(request, "cachefrom", _CACHE_FROM)
    json_query(request, "outputs", _OUTPUTS)  # BuildKit's exporters: the classic builder has none to choose
    builder = request.arg("version")
    if builder not in ("", CLASSIC, BUILDKIT):
        raise InvalidParameter(f"invalid version {json.dumps(builder)}")
    if flag_query(request, "squash"):
        raise InvalidParameter("squash is only supported with experimental mode")
    if builder == BUILDKIT:
        raise InvalidParameter("buildkit is not enabled on daemon")
    if request.arg("remote"):
        raise InvalidParameter("remote build contexts are not supported by moord: send the context as the "
                               "request body (a tar archive)")
    tags = [tag for tag in request.query.get("t", []) if tag]
    for tag in tags:
        check_tag(tag)
    return BuildOptions(
        dockerfile=request.arg("dockerfile") or "Dockerfile",
        tags=tags,
        build_args=_with_nulls(build_args, request, "buildargs"),
        labels=labels or {},
        target=request.arg("target"),
        no_cache=flag_query(request, "nocache"),
        pull=flag_query(request, "pull"),
        rm=rm,
        forcerm=forcerm,
        cache_from=cache_from or [],
        network_mode=request.arg("networkmode"),
        extra_hosts=[host for host in request.query.get("extrahosts", []) if host],
        platform=platform_query(request) if api_at_least(version, 1, 32) else "",
        quiet=flag_query(request, "q"),
        memory=int_param(request, "memory"),
        memswap=int_param(request, "memswap"),
        cpu_shares=int_param(request, "cpushares"),
        cpuset_cpus=request.arg("cpusetcpus"),
        cpu_period=int_param(request, "cpuperiod"),
        cpu_quota=int_param(request, "cpuquota"),
        shm_size=shm_size,
        cpuset_mems=request.arg("cpusetmems"),
        cgroup_parent=request.arg("cgroupparent"),
        ulimits=[limit for limit in ulimits or [] if limit],
        secrets=decode_secrets(request.headers.get(SECRETS_HEADER, "")),
        auth=decode_registry_config(request.headers.get("x-registry-config", "")),
    )


def check_tag(tag: str) -> None:
    """A ``t`` parameter as Docker's tagger reads it: a valid reference, never a digest one."""
    try:
        reference = parse_reference(tag, default_tag=False)
    except InvalidParameter as err:
        if "must be lowercase" in err.message:
            raise InvalidParameter("invalid reference format: repository name must be lowercase") from None
        if "must not be more than" in err.message:
            raise
        raise InvalidParameter("invalid reference format") from None
    if reference.digest:
        raise InvalidParameter("build tag cannot contain a digest")


def int_param(request: Request, name: str) -> int:
    """An int64 parameter (``memory``, ``cpushares``...): 0 when absent or empty; Go's error when not a number
    (Docker reads a bad one as 0; moord says so instead of building with no limit)."""
    text = request.arg(name)
    return go_int(text, "strconv.ParseInt") if text else 0


def json_query(request: Request, name: str, kind: Any, prefix: str = "") -> Any:
    """A JSON query parameter decoded into ``kind`` with Go's errors (``prefix`` before them); None if absent."""
    text = request.arg(name)
    if text == "":
        return None
    try:
        value = parse_json(text, request.limits.max_json_depth)
    except ValueError as err:
        raise InvalidParameter(prefix + go_json_syntax_error(text, err)) from None
    try:
        return decode(kind, value)
    except InvalidParameter as err:
        raise InvalidParameter(prefix + err.message) from None


def _with_nulls(checked: dict[str, str] | None, request: Request, name: str) -> dict[str, str | None]:
    """``buildargs`` keeps a null value (``--build-arg NAME`` with NAME unset on the client) as None."""
    if not checked:
        return {}
    raw = json.loads(request.arg(name))
    return {key: None if raw.get(key) is None else value for key, value in checked.items()}


def go_json_syntax_error(text: str, err: ValueError) -> str:
    """Go's ``encoding/json`` words for text that is not JSON (close to them for the common cases)."""
    if not isinstance(err, json.JSONDecodeError):
        return str(err)
    if err.pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    char = text[err.pos]
    shown = json.dumps(char)[1:-1].replace("'", "\\'")
    where = {"Expecting value": "looking for beginning of value",
             "Expecting ':' delimiter": "after object key",
             "Expecting ',' delimiter": "after object key:value pair" if _in_object(text, err.pos)
             else "after array element",
             "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
             "Extra data": "after top-level value"}.get(err.msg, "looking for beginning of value")
    return f"invalid character '{shown}' {where}"


def _in_object(text: str, pos: int) -> bool:
    """Whether ``pos`` is inside an object rather than an array (the innermost open bracket, strings skipped)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
    return bool(stack) and stack[-1] == "{"


def decode_registry_config(header: str) -> dict[str, AuthConfig]:
    """``X-Registry-Config``: base64url JSON of registry -> AuthConfig; anything undecodable is no credentials,
    as Docker reads it."""
    header = header.strip()
    if not header:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(key): auth_from_json(value) for key, value in data.items() if isinstance(value, dict)}


def decode_secrets(header: str) -> dict[str, bytes]:
    """``X-Moor-Build-Secrets``: base64 of JSON ``{"id": "<base64 content>"}`` (standard or URL alphabet)."""
    header = header.strip()
    if not header:
        return {}
    try:
        data = json.loads(_b64(header))
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ValueError("not a JSON object of strings")
        return {str(key): _b64(value) for key, value in data.items()}
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as err:
        raise InvalidParameter(f"invalid X-Moor-Build-Secrets header: {err}") from None


def _b64(text: str) -> bytes:
    text = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def prune_filters(request: Request) -> dict[str, list[str]]:
    """``filters`` of a prune, with Docker's prefix when they are not JSON."""
    try:
        return parse_filters(request)
    except InvalidParameter as err:
        raise InvalidParameter(f"could not parse filters: {err.message}") from None


def api_at_least(version: str, major: int, minor: int) -> bool:
    """Whether a request of API ``version`` (``""``: the newest) speaks ``major.minor`` or later."""
    try:
        have = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return True
    return have >= (major, minor)
