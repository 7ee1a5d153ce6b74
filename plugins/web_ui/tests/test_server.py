"""The UI server without a browser: accounts, sessions, CSRF, rate limits, idle timeout, the Docker proxy,
static files and headers (aiohttp's test client against a fake moord on a Unix socket)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import argon2
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from moor_web_ui.app import STATIC, make_app
from moor_web_ui.auth import COOKIE, Accounts, Auth
from moor_web_ui.settings import RateLimit, Settings, SettingsError, check_exposure, parse_listen

PASSWORD = "correct horse"
FAST = argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)  # tests only: the real one is 64 MiB


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeMoord:
    """An aiohttp server on a Unix socket that records what it is sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.stream_gate = asyncio.Event()
        self.left = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append({"method": request.method, "target": request.raw_path,
                              "actor": request.headers.get("X-Moor-Actor"),
                              "content_type": request.headers.get("Content-Type"), "body": body,
                              "auth": request.headers.get("X-Registry-Auth"), "cookie": request.headers.get("Cookie")})
        if request.path.startswith("/containers/missing"):
            return web.json_response({"message": "No such container: missing"}, status=404)
        if request.path == "/images/create":
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await response.write(b'{"status":"Pulling"}\r\n')
            await self.stream_gate.wait()  # the second message only once the test saw the first
            await response.write(b'{"status":"Done"}\r\n')
            await response.write_eof()
            return response
        if request.path == "/events":  # endless, until the UI closes its request
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await response.write(b'{"Type":"container"}\n')
            while request.transport is not None and not request.transport.is_closing():
                await asyncio.sleep(0.02)
            self.left.set()
            return response
        if request.path == "/chunks":  # messages split anywhere, a character too
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            for chunk in (b'{"a":', b' 1}\r\n{"b": "\xc3', b'\xa9"}\n', b"  ", b'{"c": [1, 2]}'):
                await response.write(chunk)
                await asyncio.sleep(0.01)
            await response.write_eof()
            return response
        if request.path == "/containers/x/export":
            return web.Response(body=b"\x00tar\x01", content_type="application/x-tar")
        return web.json_response({"ok": True})

    async def __aenter__(self) -> FakeMoord:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.UnixSite(self.runner, str(self.path)).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path / "ui", "host": f"unix://{tmp_path / 'moord.sock'}",
                              "rate_limit": RateLimit(per_address=6, per_user=3, window=60.0), "idle_timeout": 100}
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def ui(tmp_path: Path, clock: Clock | None = None, account: bool = True,
             **overrides: Any) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    settings = settings_for(tmp_path, **overrides)
    if account:
        Accounts(settings.accounts_file, FAST).set_password("admin", PASSWORD)
    state = Auth.build(settings, clock=clock or Clock(), hasher=FAST)
    async with TestClient(TestServer(make_app(settings, auth_state=state))) as client:
        yield client


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


async def login(client: TestClient[web.Request, web.Application], user: str = "admin",
                password: str = PASSWORD) -> str:
    reply = await client.post("/api/login", json={"username": user, "password": password})
    assert reply.status == 200, await reply.text()
    return str((await reply.json())["csrf"])


# ---------------------------------------------------------------- accounts and sessions

def test_first_run_setup_then_only_login(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path, account=False) as client:
            reply = await client.get("/api/session")
            assert reply.status == 401
            assert (await reply.json())["setup"] is True
            short = await client.post("/api/setup", json={"username": "admin", "password": "short"})
            assert short.status == 400
            assert "at least 8 characters" in (await short.json())["message"]
            made = await client.post("/api/setup", json={"username": "admin", "password": PASSWORD})
            assert made.status == 201
            cookie = made.headers["Set-Cookie"]
            assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert "Path=/" in cookie and "Secure" not in cookie
            session = await client.get("/api/session")
            assert session.status == 200
            data = await session.json()
            assert data["user"] == "admin" and data["idle_timeout"] == 100 and len(data["csrf"]) > 20
            again = await client.post("/api/setup", json={"username": "eve", "password": PASSWORD})
            assert again.status == 409
        stored = json.loads((tmp_path / "ui" / "accounts.json").read_text())
        assert list(stored["accounts"]) == ["admin"]
        assert stored["accounts"]["admin"]["hash"].startswith("$argon2id$")
        assert PASSWORD not in (tmp_path / "ui" / "accounts.json").read_text()
        assert os.stat(tmp_path / "ui" / "accounts.json").st_mode & 0o077 == 0
    run(body)


def test_the_real_hasher_is_argon2id_and_memory_hard(tmp_path: Path) -> None:
    accounts = Accounts(tmp_path / "accounts.json")
    accounts.set_password("admin", PASSWORD)
    digest = json.loads((tmp_path / "accounts.json").read_text())["accounts"]["admin"]["hash"]
    params = argon2.extract_parameters(digest)
    assert params.type is argon2.Type.ID and params.memory_cost >= 64 * 1024
    assert accounts.verify("admin", PASSWORD) and not accounts.verify("admin", "wrong password")
    assert not accounts.verify("nobody", PASSWORD)


def test_login_logout_and_wrong_passwords(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path) as client:
            wrong = await client.post("/api/login", json={"username": "admin", "password": "nope-nope"})
            assert wrong.status == 401
            assert (await wrong.json()) == {"message": "invalid username or password"}
            unknown = await client.post("/api/login", json={"username": "root", "password": PASSWORD})
            assert unknown.status == 401
            csrf = await login(client)
            assert (await client.get("/api/session")).status == 200
            out = await client.post("/api/logout", headers={"X-CSRF-Token": csrf})
            assert out.status == 204
            assert (await client.get("/api/session")).status == 401
            assert (await client.get("/api/docker/info")).status == 401
    run(body)


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'{"username": 1, "password": "x"}',
                                     b'{"username": "admin"}',
                                     b'{"username": "a", "password": "' + b"x" * 5000 + b'"}', b"[" * 15000])
def test_bad_login_bodies_are_400(tmp_path: Path, payload: bytes) -> None:
    async def body() -> None:
        async with ui(tmp_path) as client:
            reply = await client.post("/api/login", data=payload, headers={"Content-Type": "application/json"})
            assert reply.status == 400
            assert "message" in await reply.json()
    run(body)


def test_a_new_session_token_at_each_login(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path) as client:
            await login(client)
            first = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
            await login(client)
            second = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
            assert first != second
            client.session.cookie_jar.clear()
            client.session.cookie_jar.update_cookies({COOKIE: first})
            assert (await client.get("/api/session")).status == 401  # the old one ended
    run(body)


def test_sessions_end_after_the_idle_timeout(tmp_path: Path) -> None:
    async def body() -> None:
        clock = Clock()
        async with ui(tmp_path, clock=clock) as client:
            await login(client)
            clock.now += 90
            assert (await client.get("/api/session")).status == 200  # a request restarts the idle time
            clock.now += 90
            assert (await client.get("/api/session")).status == 200
            clock.now += 101
            expired = await client.get("/api/session")
            assert expired.status == 401
            assert (await expired.json())["setup"] is False
    run(body)


def test_a_password_reset_ends_the_users_sessions(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path) as client:
            await login(client)
            assert (await client.get("/api/session")).status == 200
            Accounts(tmp_path / "ui" / "accounts.json", FAST).set_password("admin", "another password")
            assert (await client.get("/api/session")).status == 401
            await login(client, password="another password")
    run(body)


# ---------------------------------------------------------------- rate limits

def test_logins_are_rate_limited_per_user(tmp_path: Path) -> None:
    async def body() -> None:
        clock = Clock()
        async with ui(tmp_path, clock=clock) as client:
            for _ in range(3):
                reply = await client.post("/api/login", json={"username": "admin", "password": "guess-guess"})
                assert reply.status == 401
            limited = await client.post("/api/login", json={"username": "admin", "password": PASSWORD})
            assert limited.status == 429  # even the right password, while limited
            assert 0 < int(limited.headers["Retry-After"]) <= 60
            assert "too many failed logins" in (await limited.json())["message"]
            clock.now += 61
            await login(client)
    run(body)


def test_parallel_guesses_cannot_outrun_the_limit(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path) as client:
            replies = await asyncio.gather(*[
                client.post("/api/login", json={"username": "admin", "password": f"guess-{n:04}"}) for n in range(10)])
            statuses = sorted(reply.status for reply in replies)
            assert statuses == [401] * 3 + [429] * 7  # per_user is 3: only 3 guesses were checked
    run(body)


def test_the_first_run_setup_closes_after_its_window(tmp_path: Path) -> None:
    async def body() -> None:
        clock = Clock()
        async with ui(tmp_path, clock=clock, account=False, setup_window=600) as client:
            clock.now += 601
            late = await client.post("/api/setup", json={"username": "admin", "password": PASSWORD})
            assert late.status == 403
            assert "moor-web-ui passwd" in (await late.json())["message"]
            assert not (tmp_path / "ui" / "accounts.json").exists()
    run(body)


def test_logins_are_rate_limited_per_address(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path) as client:
            for n in range(6):  # a different user each time: only the address limit counts them all
                reply = await client.post("/api/login", json={"username": f"user{n}", "password": "guess-guess"})
                assert reply.status == 401
            limited = await client.post("/api/login", json={"username": "admin", "password": PASSWORD})
            assert limited.status == 429
            assert "Retry-After" in limited.headers
    run(body)


# ---------------------------------------------------------------- CSRF, origin, host

def test_changes_need_the_csrf_token(tmp_path: Path) -> None:
    async def body() -> None:
        async with FakeMoord(tmp_path / "moord.sock") as moord, ui(tmp_path) as client:
            assert (await client.post("/api/docker/containers/x/start")).status == 401  # no session
            csrf = await login(client)
            missing = await client.post("/api/docker/containers/x/start")
            assert missing.status == 403
            assert (await missing.json()) == {"message": "missing or wrong CSRF token"}
            other = csrf[:-1] + ("B" if csrf.endswith("A") else "A")
            wrong = await client.post("/api/docker/containers/x/start", headers={"X-CSRF-Token": other})
            assert wrong.status == 403
            for method in ("PUT", "DELETE"):
                assert (await client.request(method, "/api/docker/volumes/v")).status == 403
            assert moord.requests == []  # nothing refused reached moord
            right = await client.post("/api/docker/containers/x/start", headers={"X-CSRF-Token": csrf})
            assert right.status == 200
            assert [r["target"] for r in moord.requests] == ["/containers/x/start"]
            assert (await client.get("/api/docker/info")).status == 200  # reads need no token
    run(body)


def test_a_cross_origin_request_is_refused_even_with_the_token(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path) as client:
            csrf = await login(client)
            reply = await client.post("/api/docker/containers/x/start",
                                      headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
            assert reply.status == 403
            forged = await client.post("/api/login", json={"username": "admin", "password": PASSWORD},
                                       headers={"Origin": "http://evil.example"})
            assert forged.status == 403
            text_login = await client.post("/api/login", data="username=admin&password=x",
                                           headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert text_login.status == 415  # a form post from another page cannot log in
    run(body)


def test_websockets_need_the_csrf_query_and_the_own_origin(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path) as client:
            csrf = await login(client)
            own = f"http://{client.server.host}:{client.server.port}"
            upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                       "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
            no_token = await client.get("/api/docker/events", headers={**upgrade, "Origin": own})
            assert no_token.status == 403
            other = await client.get(f"/api/docker/events?csrf={csrf}",
                                     headers={**upgrade, "Origin": "http://evil.example"})
            assert other.status == 403
            no_origin = await client.get(f"/api/docker/events?csrf={csrf}", headers=upgrade)
            assert no_origin.status == 403
            passed = await client.get(f"/api/docker/events?csrf={csrf}", headers={**upgrade, "Origin": own})
            assert passed.status == 400  # past the checks: the proxy itself upgrades nothing
    run(body)


def test_a_foreign_host_header_is_refused_on_loopback(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path, server_names=("box.lan",)) as client:
            rebound = await client.get("/api/session", headers={"Host": "evil.example:9180"})
            assert rebound.status == 421  # DNS rebinding: a page of evil.example aimed at 127.0.0.1
            assert (await client.get("/", headers={"Host": "evil.example"})).status == 421
            assert (await client.get("/api/session", headers={"Host": "localhost:9180"})).status == 401
            assert (await client.get("/api/session", headers={"Host": "box.lan"})).status == 401
    run(body)


# ---------------------------------------------------------------- the Docker proxy

def test_the_proxy_passes_path_query_body_and_the_actor(tmp_path: Path) -> None:
    async def body() -> None:
        async with FakeMoord(tmp_path / "moord.sock") as moord, ui(tmp_path) as client:
            csrf = await login(client)
            listed = await client.get("/api/docker/containers/json?all=1&filters=%7B%22a%22%7D",
                                      headers={"X-Moor-Actor": "mallory"})
            assert listed.status == 200 and await listed.json() == {"ok": True}
            created = await client.post("/api/docker/containers/create?name=web", json={"Image": "busybox"},
                                        headers={"X-CSRF-Token": csrf, "X-Registry-Auth": "e30="})
            assert created.status == 200
            first, second = moord.requests
            assert first["target"] == "/containers/json?all=1&filters=%7B%22a%22%7D"
            assert first["actor"] == "admin"  # set by the UI, never taken from the page
            assert first["cookie"] is None  # the session cookie stays with the UI
            assert second["method"] == "POST" and second["target"] == "/containers/create?name=web"
            assert json.loads(second["body"]) == {"Image": "busybox"}
            assert second["content_type"] == "application/json" and second["auth"] == "e30="
    run(body)


def test_the_proxy_returns_moords_status_type_and_bytes(tmp_path: Path) -> None:
    async def body() -> None:
        async with FakeMoord(tmp_path / "moord.sock"), ui(tmp_path) as client:
            await login(client)
            missing = await client.get("/api/docker/containers/missing/json")
            assert missing.status == 404
            assert await missing.json() == {"message": "No such container: missing"}
            tar = await client.get("/api/docker/containers/x/export")
            assert tar.status == 200 and tar.content_type == "application/x-tar"
            assert await tar.read() == b"\x00tar\x01"
    run(body)


def test_the_proxy_streams_as_moord_sends(tmp_path: Path) -> None:
    async def body() -> None:
        async with FakeMoord(tmp_path / "moord.sock") as moord, ui(tmp_path) as client:
            csrf = await login(client)
            reply = await client.post("/api/docker/images/create?fromImage=busybox", headers={"X-CSRF-Token": csrf})
            assert reply.status == 200
            first = await reply.content.readline()  # arrives while moord's answer is still open
            assert json.loads(first) == {"status": "Pulling"}
            moord.stream_gate.set()
            assert json.loads(await reply.content.readline()) == {"status": "Done"}
    run(body)


def test_the_moord_client_decodes_streams_and_errors(tmp_path: Path) -> None:
    from moor_web_ui.moord import Moord, MoordError

    async def body() -> None:
        async with FakeMoord(tmp_path / "moord.sock") as fake:
            moord = Moord(str(tmp_path / "moord.sock"))
            try:
                messages = [m async for m in moord.stream_json("GET", "/chunks", actor="erin")]
                assert messages == [{"a": 1}, {"b": "\u00e9"}, {"c": [1, 2]}]
                assert fake.requests[-1]["actor"] == "erin"
                with pytest.raises(MoordError) as failed:
                    await moord.json("GET", "/containers/missing/json", actor="erin")
                assert (failed.value.status, failed.value.message) == (404, "No such container: missing")
                assert await moord.json("GET", "/info", actor=None) == {"ok": True}
                assert fake.requests[-1]["actor"] is None
            finally:
                await moord.close()
        unreachable = Moord(str(tmp_path / "moord.sock"))
        try:
            with pytest.raises(MoordError, match="cannot reach moord") as gone:
                await unreachable.json("GET", "/info", actor="erin")
        finally:
            await unreachable.close()
        assert gone.value.status == 502
    run(body)


def test_a_browser_that_leaves_a_stream_ends_moords(tmp_path: Path) -> None:
    async def body() -> None:
        async with FakeMoord(tmp_path / "moord.sock") as moord, ui(tmp_path) as client:
            await login(client)
            reply = await client.get("/api/docker/events")
            assert json.loads(await reply.content.readline()) == {"Type": "container"}
            reply.close()  # the page went away
            await asyncio.wait_for(moord.left.wait(), 20)
    run(body)


@pytest.mark.parametrize("path", ["/containers/x/attach?stream=1", "/v1.44/containers/x/attach",
                                  "/containers/x/attach/ws", "/exec/abc/start", "/v1.41/exec/abc/start/",
                                  "/containers/x/att%61ch", "/session", "/grpc"])
def test_hijacking_endpoints_are_refused(tmp_path: Path, path: str) -> None:
    async def body() -> None:
        async with FakeMoord(tmp_path / "moord.sock") as moord, ui(tmp_path) as client:
            csrf = await login(client)
            reply = await client.post("/api/docker" + path, headers={"X-CSRF-Token": csrf})
            assert reply.status == 400
            assert "not available through the proxy" in (await reply.json())["message"]
            assert moord.requests == []
    run(body)


def test_an_unreachable_moord_is_a_json_502(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path) as client:
            await login(client)
            reply = await client.get("/api/docker/info")
            assert reply.status == 502
            assert "cannot reach moord" in (await reply.json())["message"]
    run(body)


# ---------------------------------------------------------------- static files and headers

def test_static_files_headers_and_no_escape(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path) as client:
            page = await client.get("/")
            if (STATIC / "index.html").exists():
                assert page.status == 200 and page.content_type == "text/html"
            csp = page.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert page.headers["X-Content-Type-Options"] == "nosniff"
            assert page.headers["X-Frame-Options"] == "DENY"
            assert page.headers["Server"] == "moor-web-ui"
            script = await client.get("/js/api.js")
            assert script.status == 200 and "javascript" in script.content_type
            assert (await client.get("/static/js/api.js")).status == 200
            for escape in ("/../pyproject.toml", "/%2e%2e/app.py", "/js/..%2f..%2fapp.py", "/static/../../auth.py"):
                assert (await client.get(escape)).status == 404, escape
            unknown = await client.get("/api/nothing-here")
            assert unknown.status in (401, 404)
            assert "message" in await unknown.json()
            api = await client.get("/api/session")
            assert api.headers["Cache-Control"] == "no-store"
            assert "Content-Security-Policy" in api.headers
    run(body)


def test_tls_makes_the_cookie_secure_and_adds_hsts(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path, tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem") as client:
            reply = await client.post("/api/login", json={"username": "admin", "password": PASSWORD})
            assert reply.status == 200
            assert "Secure" in reply.headers["Set-Cookie"]
            assert reply.headers["Strict-Transport-Security"].startswith("max-age=")
    run(body)


# ---------------------------------------------------------------- exposure

@pytest.mark.parametrize(("listen", "tls", "account", "refused"), [
    ("127.0.0.1:9180", False, False, False),
    ("[::1]:9180", False, False, False),
    ("localhost:9180", False, False, False),
    ("0.0.0.0:9180", False, True, True),
    ("0.0.0.0:9180", True, False, True),
    ("192.0.2.10:443", True, True, False),
    ("[::]:9180", False, True, True),
])
def test_a_non_loopback_address_needs_tls_and_an_account(tmp_path: Path, listen: str, tls: bool, account: bool,
                                                         refused: bool) -> None:
    files = {"tls_cert": tmp_path / "c", "tls_key": tmp_path / "k"} if tls else {}
    settings = settings_for(tmp_path, listen=parse_listen(listen), **files)
    if refused:
        with pytest.raises(SettingsError, match="refusing to listen on .*not a loopback address"):
            check_exposure(settings, account)
    else:
        check_exposure(settings, account)


@pytest.mark.parametrize("value", ["9180", "example.com:80", "127.0.0.1:0", "127.0.0.1:70000", ":80", "1.2.3:4"])
def test_bad_listen_addresses(value: str) -> None:
    with pytest.raises(SettingsError, match="invalid listen address"):
        parse_listen(value)


def test_a_feature_route_outside_api_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from moor_web_ui import app as app_module

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="no session needed?")

    rogue = types.SimpleNamespace(setup=lambda app: app.router.add_get("/admin/reset", handler))
    monkeypatch.setattr(app_module, "_feature", lambda name: rogue if name == "stacks" else None)
    with pytest.raises(RuntimeError, match="/admin/reset is outside /api/"):
        make_app(settings_for(tmp_path))


def test_a_request_without_host_is_400(tmp_path: Path) -> None:
    async def body() -> None:
        async with ui(tmp_path) as client:
            reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
            writer.write(b"GET /api/session HTTP/1.0\r\n\r\n")
            answer = await reader.read()
            writer.close()
            assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")
            assert b"missing Host header" in answer
    run(body)
