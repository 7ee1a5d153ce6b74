"""RegistryClient against scripted servers on 127.0.0.1: auth flows, redirects, retries, hostile answers."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import socket
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from moor.errors import InvalidParameter, NotFound, RegistryUnreachable, Unauthorized
from moor.registry import manifests
from moor.registry.authconfig import AuthConfig
from moor.registry.challenge import Challenge, next_link, parse_challenges
from moor.registry.client import RegistryClient, _content_range
from moor.registry.endpoints import Endpoint
from unit.registry.fakeserver import Reply, Seen, serving

BLOB = b"layer bytes " * 100
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
MANIFEST = manifests.schema2_manifest(
    manifests.Descriptor(manifests.DOCKER_CONFIG, "sha256:" + "1" * 64, 10),
    [manifests.Descriptor(manifests.DOCKER_LAYER, BLOB_DIGEST, len(BLOB))])
MANIFEST_DIGEST = manifests.digest_of(MANIFEST)
ERROR_UNKNOWN = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}).encode()


def _client(url: str, credentials: AuthConfig | None = None, **kwargs: object) -> RegistryClient:
    host = urlsplit(url).netloc
    return RegistryClient(Endpoint(url, False, False, host), "team/app", credentials, backoff=0.0,
                          **kwargs)  # type: ignore[arg-type]


def _manifest_reply(data: bytes = MANIFEST, digest: str = MANIFEST_DIGEST) -> Reply:
    return Reply(200, {"Content-Type": manifests.DOCKER_MANIFEST, "Docker-Content-Digest": digest}, data)


# -- headers -------------------------------------------------------------------------------------------------


def test_parse_challenges() -> None:
    header = ('Bearer realm="https://auth.example/token",service="registry.example",'
              'scope="repository:a/b:pull,push", Basic realm="x\\"y"')
    assert parse_challenges(header) == [
        Challenge("bearer", {"realm": "https://auth.example/token", "service": "registry.example",
                             "scope": "repository:a/b:pull,push"}),
        Challenge("basic", {"realm": 'x"y'}),
    ]
    assert parse_challenges('basic realm=simple') == [Challenge("basic", {"realm": "simple"})]
    assert parse_challenges("Bearer") == [Challenge("bearer", {})]
    for hostile in ("", "===", '"', "Bearer realm=\"unterminated", "\x00" * 10):
        parse_challenges(hostile)


def test_next_link_and_content_range() -> None:
    assert next_link('</v2/_catalog?last=b&n=2>; rel="next"') == "/v2/_catalog?last=b&n=2"
    assert next_link('<http://x/a>; rel="prev"') == ""
    assert _content_range("bytes 100-199/1000") == (100, 1000)
    assert _content_range("bytes 5-9/*") == (5, None)
    assert _content_range("pages 1-2/3") == (None, None)


# -- authentication -------------------------------------------------------------------------------------------


def test_basic_auth_and_docker_login_wording() -> None:
    good = "Basic " + base64.b64encode(b"u:p").decode()

    def route(seen: Seen) -> Reply:
        if seen.headers.get("authorization") != good:
            return Reply(401, {"WWW-Authenticate": 'Basic realm="r"'}, b'{"errors":[{"code":"UNAUTHORIZED",'
                                                                        b'"message":"authentication required"}]}')
        return _manifest_reply() if "manifests" in seen.path else Reply(200, {}, b"{}")

    with serving(route) as server:
        client = _client(server.url, AuthConfig(username="u", password="p"))
        assert client.get_manifest("latest").digest == MANIFEST_DIGEST
        assert client.check_login() == ""
        with pytest.raises(Unauthorized) as caught:
            _client(server.url, AuthConfig(username="u", password="wrong")).check_login()
        assert str(caught.value) == f"login attempt to {server.url}/v2/ failed with status: 401 Unauthorized"
        with pytest.raises(Unauthorized) as caught:
            _client(server.url).get_manifest("latest")
        assert str(caught.value) == f'Get "{server.url}/v2/team/app/manifests/latest": no basic auth credentials'


def test_insufficient_scope_is_a_denial_in_dockers_words() -> None:
    where = {"realm": ""}

    def route(seen: Seen) -> Reply:
        if seen.path.startswith("/token"):
            return Reply(200, {}, b'{"token": "anonymous"}')
        challenge = f'Bearer realm="{where["realm"]}",service="s"'
        if seen.path == "/v2/":
            return Reply(401, {"WWW-Authenticate": challenge})
        return Reply(401, {"WWW-Authenticate": challenge + ',error="insufficient_scope"'},
                     b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')

    with serving(route) as server:
        where["realm"] = f"{server.url}/token"
        client = _client(server.url, name="team/app")
        with pytest.raises(NotFound) as denied:
            client.get_manifest("latest")
        assert str(denied.value) == ("pull access denied for team/app, repository does not exist or may require "
                                     "'docker login': denied: requested access to the resource is denied")
        with pytest.raises(Unauthorized) as push_denied:
            client.put_manifest("latest", manifests.DOCKER_MANIFEST, MANIFEST)
        assert str(push_denied.value) == "denied: requested access to the resource is denied"


class _TokenRegistry:
    """A Bearer registry whose token server hands out numbered tokens; only the newest is accepted."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.asked: list[Seen] = []
        self.realm = ""

    def token_route(self, seen: Seen) -> Reply:
        self.asked.append(seen)
        values = parse_qs(urlsplit(seen.path).query)
        values.update(parse_qs(seen.body.decode()))
        if seen.method == "POST" and values.get("refresh_token") != ["refresh-1"]:
            return Reply(401, {}, b'{"details":"bad refresh token"}')
        auth = seen.headers.get("authorization", "")
        if auth and auth != "Basic " + base64.b64encode(b"u:p").decode():
            return Reply(401, {}, b'{"details":"incorrect username or password"}')
        token = f"token-{len(self.issued) + 1}"
        self.issued.append(token)
        body: dict[str, object] = {"access_token": token, "expires_in": 300}
        if values.get("offline_token") == ["true"]:
            body["refresh_token"] = "refresh-1"
        return Reply(200, {"Content-Type": "application/json"}, json.dumps(body).encode())

    def registry_route(self, seen: Seen) -> Reply:
        challenge = {"WWW-Authenticate": f'Bearer realm="{self.realm}",service="svc"'}
        if not self.issued or seen.headers.get("authorization") != f"Bearer {self.issued[-1]}":
            return Reply(401, challenge, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
        return _manifest_reply() if "manifests" in seen.path else Reply(200, {}, b"{}")


def test_bearer_tokens_scope_cache_and_refresh_on_401() -> None:
    fake = _TokenRegistry()
    with serving(fake.token_route) as tokens, serving(fake.registry_route) as registry:
        fake.realm = f"{tokens.url}/token"
        client = _client(registry.url, AuthConfig(username="u", password="p"), actions=("pull", "push"))
        client.get_manifest("1")
        client.get_manifest("2")
        assert len(fake.asked) == 1  # cached
        query = parse_qs(urlsplit(fake.asked[0].path).query)
        assert query["scope"] == ["repository:team/app:pull,push"]
        assert query["service"] == ["svc"] and query["account"] == ["u"]
        assert fake.asked[0].headers["authorization"].startswith("Basic ")
        fake.issued.append("revoked-elsewhere")  # the cached token stops working: 401, a new token, success
        client.get_manifest("3")
        assert len(fake.asked) == 2
        # the registry never saw the password; the token server never saw a token
        assert all(not s.headers.get("authorization", "").startswith("Basic") for s in registry.seen)


def test_anonymous_token_identity_token_and_login() -> None:
    fake = _TokenRegistry()
    with serving(fake.token_route) as tokens, serving(fake.registry_route) as registry:
        fake.realm = f"{tokens.url}/token"
        _client(registry.url).get_manifest("1")
        assert "authorization" not in fake.asked[-1].headers
        login = _client(registry.url, AuthConfig(username="u", password="p"))
        assert login.check_login() == "refresh-1"
        assert parse_qs(urlsplit(fake.asked[-1].path).query)["offline_token"] == ["true"]
        refreshed = _client(registry.url, AuthConfig(identitytoken="refresh-1"))
        refreshed.get_manifest("1")
        post = fake.asked[-1]
        assert post.method == "POST"
        form = parse_qs(post.body.decode())
        assert form["grant_type"] == ["refresh_token"] and form["scope"] == ["repository:team/app:pull"]
        with pytest.raises(Unauthorized) as caught:
            _client(registry.url, AuthConfig(username="u", password="bad")).check_login()
        assert str(caught.value) == f'Get "{registry.url}/v2/": unauthorized: incorrect username or password'
        with pytest.raises(Unauthorized, match="unauthorized: bad refresh token"):
            _client(registry.url, AuthConfig(identitytoken="stale")).get_manifest("1")


def test_registry_token_is_sent_as_it_is() -> None:
    def route(seen: Seen) -> Reply:
        if seen.headers.get("authorization") != "Bearer given":
            return Reply(401, {"WWW-Authenticate": 'Bearer realm="http://127.0.0.1:9/never"'})
        return _manifest_reply()

    with serving(route) as server:
        assert _client(server.url, AuthConfig(registrytoken="given")).get_manifest("x").digest == MANIFEST_DIGEST


def test_credentials_never_go_to_an_upload_location_elsewhere() -> None:
    with serving(lambda seen: Reply(201)) as elsewhere:
        def route(seen: Seen) -> Reply:
            if seen.headers.get("authorization") != "Basic " + base64.b64encode(b"u:p").decode():
                return Reply(401, {"WWW-Authenticate": 'Basic realm="r"'})
            return Reply(202, {"Location": f"{elsewhere.url}/upload/1"})

        with serving(route) as registry:
            _client(registry.url, AuthConfig(username="u", password="p")).upload_blob(
                BLOB_DIGEST, io.BytesIO(BLOB), len(BLOB))
        assert [s.method for s in elsewhere.seen] == ["PUT"]
        assert "authorization" not in elsewhere.seen[0].headers and elsewhere.seen[0].body == BLOB


# -- redirects, retries -----------------------------------------------------------------------------------------


def test_redirect_to_another_host_drops_credentials() -> None:
    def storage(seen: Seen) -> Reply:
        return Reply(200, {"Content-Type": "application/octet-stream"}, BLOB)

    with serving(storage) as store:
        def route(seen: Seen) -> Reply:
            if seen.headers.get("authorization") != "Basic " + base64.b64encode(b"u:p").decode():
                return Reply(401, {"WWW-Authenticate": 'Basic realm="r"'})
            if "/blobs/" in seen.path:
                return Reply(307, {"Location": f"{store.url}/bucket/blob?sig=1"})
            return Reply(200)

        with serving(route) as registry:
            stream = _client(registry.url, AuthConfig(username="u", password="p")).open_blob(BLOB_DIGEST)
            assert stream.read(-1) == BLOB
            stream.close()
        assert store.paths() == ["/bucket/blob?sig=1"]
        assert "authorization" not in store.seen[0].headers


def test_retries_5xx_and_429_then_gives_up_in_one_line() -> None:
    calls = {"n": 0}

    def flaky(seen: Seen) -> Reply:
        if seen.path == "/v2/":
            return Reply(200)
        calls["n"] += 1
        if calls["n"] == 1:
            return Reply(503)
        if calls["n"] == 2:
            return Reply(429, {"Retry-After": "0"})
        return _manifest_reply()

    with serving(flaky) as server:
        assert _client(server.url).get_manifest("x").digest == MANIFEST_DIGEST
    with serving(lambda seen: Reply(200) if seen.path == "/v2/" else Reply(502, {}, b"<html>bad gateway</html>")) \
            as server:
        with pytest.raises(RegistryUnreachable) as caught:
            _client(server.url, attempts=3).get_manifest("x")
        assert str(caught.value) == "received unexpected HTTP status: 502 Bad Gateway"
        assert len(server.paths("GET")) == 1 + 3


def test_connection_refused_is_one_fast_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(RegistryUnreachable) as caught:
        _client(f"http://127.0.0.1:{port}").get_manifest("x")
    assert str(caught.value) == (f'Get "http://127.0.0.1:{port}/v2/": dial tcp 127.0.0.1:{port}: connect: '
                                 "connection refused")
    assert time.monotonic() - started < 5


def test_https_to_plain_http_server_says_so() -> None:
    with serving(lambda seen: Reply(200)) as server, \
            pytest.raises(RegistryUnreachable, match="http: server gave HTTP response to HTTPS client"):
        _client(f"https://{server.host}").ping()


# -- hostile answers --------------------------------------------------------------------------------------------


def _registry(handler):  # type: ignore[no-untyped-def]
    def route(seen: Seen) -> Reply:
        return Reply(200) if seen.path == "/v2/" else handler(seen)
    return serving(route)


def test_manifest_errors_in_dockers_words() -> None:
    with _registry(lambda seen: Reply(404, {"Content-Type": "application/json"}, ERROR_UNKNOWN)) as server:
        with pytest.raises(NotFound) as caught:
            _client(server.url, name="localhost:5000/team/app").get_manifest("nope")
        assert str(caught.value) == "manifest for localhost:5000/team/app:nope not found: manifest unknown: " \
                                    "manifest unknown"
        assert _client(server.url).head_manifest("nope") is None


def test_manifest_digest_is_verified() -> None:
    with _registry(lambda seen: _manifest_reply(MANIFEST + b" ")) as server:
        with pytest.raises(InvalidParameter) as caught:
            _client(server.url).get_manifest(MANIFEST_DIGEST)
        assert str(caught.value) == f"manifest verification failed for digest {MANIFEST_DIGEST}"
        # by tag, the registry's own Docker-Content-Digest must match too
        with pytest.raises(InvalidParameter, match="manifest verification failed"):
            _client(server.url).get_manifest("latest")
    with _registry(lambda seen: _manifest_reply(digest="")) as server:
        fetched = _client(server.url).get_manifest("latest")
        assert fetched.digest == MANIFEST_DIGEST and fetched.media_type == manifests.DOCKER_MANIFEST


def test_oversized_manifests_are_refused() -> None:
    big = b"{" + b" " * manifests.MAX_MANIFEST_BYTES + b"}"
    with _registry(lambda seen: _manifest_reply(big, "")) as server, \
            pytest.raises(InvalidParameter, match="larger than the 4194304 bytes"):
        _client(server.url).get_manifest("latest")
    with _registry(lambda seen: Reply(200, {"Content-Type": manifests.DOCKER_MANIFEST}, big, length=False)) \
            as server, pytest.raises(InvalidParameter, match="larger than"):
        _client(server.url).get_manifest("latest")


def test_truncated_bodies() -> None:
    with _registry(lambda seen: Reply(200, {"Content-Type": manifests.DOCKER_MANIFEST}, MANIFEST, truncate=20)) \
            as server:
        with pytest.raises(RegistryUnreachable, match="unexpected EOF"):
            _client(server.url, attempts=2).get_manifest("latest")
        assert len(server.paths("GET")) == 1 + 2  # ping, then the manifest twice
    with _registry(lambda seen: Reply(200, {}, BLOB, truncate=100)) as server:
        stream = _client(server.url).open_blob(BLOB_DIGEST)
        with pytest.raises(RegistryUnreachable, match="error pulling blob"):
            while stream.read(64):
                pass
        stream.close()


def test_html_and_garbage_answers() -> None:
    with _registry(lambda seen: Reply(400, {"Content-Type": "text/html"}, b"<html>nope</html>")) as server:
        with pytest.raises(InvalidParameter) as caught:
            _client(server.url).tags()
        assert "\n" not in str(caught.value) and "400 Bad Request" in str(caught.value)
    with _registry(lambda seen: Reply(200, {}, b"<html>")) as server, \
            pytest.raises(InvalidParameter, match="tag list: the registry's answer is not JSON"):
        _client(server.url).tags()
    with serving(lambda seen: Reply(404, {}, b"<html>not here</html>")) as server, \
            pytest.raises(RegistryUnreachable, match="is not a registry"):
        _client(server.url).ping()


@pytest.mark.parametrize("location", ["http://[::1", "http://h:99999/x", "ftp://elsewhere/x", "javascript:alert(1)"])
def test_malformed_locations_are_one_line_errors(location: str) -> None:
    def route(seen: Seen) -> Reply:
        return Reply(307 if seen.method == "GET" else 202, {"Location": location})

    with _registry(route) as server:
        client = _client(server.url)
        with pytest.raises(InvalidParameter, match="the registry sent a"):
            client.open_blob(BLOB_DIGEST)
        with pytest.raises(InvalidParameter, match="the registry sent a"):
            client.upload_blob(BLOB_DIGEST, io.BytesIO(BLOB), len(BLOB))


def test_range_honoured_or_ignored() -> None:
    def ranged(seen: Seen) -> Reply:
        start = int(seen.headers["range"][6:-1])
        return Reply(206, {"Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"}, BLOB[start:])

    with _registry(ranged) as server, _client(server.url).open_blob(BLOB_DIGEST, 100) as stream:
        assert (stream.offset, stream.total, stream.read(-1)) == (100, len(BLOB), BLOB[100:])
    with _registry(lambda seen: Reply(200, {}, BLOB)) as server:
        with _client(server.url).open_blob(BLOB_DIGEST, 100) as stream:
            assert (stream.offset, stream.total, stream.read(-1)) == (0, len(BLOB), BLOB)
        assert server.seen[-1].headers["range"] == "bytes=100-"


def test_pagination_and_upload_flows() -> None:
    def route(seen: Seen) -> Reply:
        path = urlsplit(seen.path)
        if path.path == "/v2/team/app/tags/list":
            if "last" in path.query:
                return Reply(200, {}, b'{"name":"team/app","tags":["b"]}')
            return Reply(200, {"Link": '</v2/team/app/tags/list?last=a&n=1>; rel="next"'},
                         b'{"name":"team/app","tags":["a"]}')
        if seen.method == "POST":
            return Reply(202, {"Location": "/v2/team/app/blobs/uploads/u1?_state=s"})
        if seen.method == "PATCH":
            return Reply(202, {"Location": f"/v2/team/app/blobs/uploads/u1?_state={len(seen.body)}"})
        if seen.method == "PUT":
            return Reply(201)
        return Reply(404)

    with _registry(route) as server:
        client = _client(server.url)
        assert client.tags() == ["a", "b"]
        sent: list[int] = []
        client.upload_blob(BLOB_DIGEST, io.BytesIO(BLOB), len(BLOB), progress=sent.append)
        put = server.seen[-1]
        assert put.method == "PUT" and put.body == BLOB
        assert parse_qs(urlsplit(put.path).query) == {"_state": ["s"], "digest": [BLOB_DIGEST]}
        assert sum(sent) == len(BLOB)
        client.upload_blob(BLOB_DIGEST, io.BytesIO(BLOB), len(BLOB), chunk_size=500)
        patches = [s for s in server.seen if s.method == "PATCH"]
        assert [s.headers["content-range"] for s in patches] == ["0-499", "500-999", "1000-1199"]
        assert b"".join(s.body for s in patches) == BLOB
        assert server.seen[-1].method == "PUT" and server.seen[-1].body == b""
        # a failed PUT is sent again from the start of a seekable source; progress counts each byte once
        failures = {"put": 1}

        def once_unavailable(seen: Seen) -> Reply:
            if seen.method == "PUT" and failures["put"]:
                failures["put"] -= 1
                return Reply(503)
            return route(seen)

        server.route = once_unavailable
        sent.clear()
        source = io.BytesIO(b"prefix" + BLOB)
        source.seek(6)
        client.upload_blob(BLOB_DIGEST, source, len(BLOB), progress=sent.append)
        puts = [s for s in server.seen if s.method == "PUT"]
        assert puts[-1].body == BLOB and puts[-2].body == BLOB and sum(sent) == len(BLOB)
        with pytest.raises(InvalidParameter, match="ended before its announced size"):
            client.upload_blob(BLOB_DIGEST, io.BytesIO(BLOB[:10]), len(BLOB))
