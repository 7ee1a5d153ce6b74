"""Who may use the UI: accounts (argon2id hashes in ``accounts.json``), sessions, CSRF tokens, login rate limits.

The UI can drive root on the host, so every ``/api/`` request except ``GET /api/session``, ``POST /api/login``
and ``POST /api/setup`` needs a session (the ``moor_session`` cookie: HttpOnly, SameSite=Strict, Secure under
TLS); every method but GET and HEAD also needs the header ``X-CSRF-Token`` equal to the session's token, and a
WebSocket needs ``?csrf=<token>`` and an ``Origin`` equal to the UI's own. A session ends after
``idle_timeout`` seconds without a request, or when its user's password is changed. On a loopback listen address
the ``Host`` header must name a loopback host (or a ``--server-name``): a page on another site cannot reach the UI
through DNS rebinding.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import argon2
from aiohttp import web

from moor_web_ui.replies import http_error, read_json, string_field
from moor_web_ui.settings import RateLimit, Settings

COOKIE = "moor_session"
CSRF_HEADER = "X-CSRF-Token"
ACTOR_HEADER = "X-Moor-Actor"
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
#: the routes open without a session
PUBLIC = frozenset({("GET", "/api/session"), ("HEAD", "/api/session"), ("POST", "/api/login"),
                    ("POST", "/api/setup")})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Clock = Callable[[], float]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AccountError(Exception):
    """A user name or password that cannot be used; the message is one line for the user."""


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise AccountError(f"invalid user name {username[:80]!r}: use 1 to 64 letters, digits and _ . @ - "
                           "(starting with a letter or digit)")
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must have at most {MAX_PASSWORD} characters")
    return password


class Accounts:
    """The accounts file (``{"accounts": {user: {"hash": "$argon2id$..."}}}``, mode 0600), re-read when it changes
    (``moor-web-ui passwd`` may write it while the server runs)."""

    def __init__(self, path: Path, hasher: argon2.PasswordHasher | None = None) -> None:
        self.path = path
        self.hasher = hasher or argon2.PasswordHasher()  # argon2id, RFC 9106's low-memory profile (64 MiB)
        self._lock = threading.Lock()
        self._cache: tuple[tuple[int, int], dict[str, dict[str, Any]]] | None = None
        self._dummy: str | None = None

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return {}
        key = (stat.st_mtime_ns, stat.st_size)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        try:
            data = json.loads(self.path.read_text())
            accounts = data["accounts"]
            if not isinstance(accounts, dict):
                raise TypeError("accounts is not an object")
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise AccountError(f"cannot read the accounts file {self.path}: {err}") from None
        self._cache = (key, accounts)
        return accounts

    def _write(self, accounts: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"accounts": accounts}, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, self.path)
        self._cache = None

    def exists(self) -> bool:
        """Whether any account exists."""
        return bool(self._read())

    def fingerprint(self, username: str) -> str | None:
        """A value that changes when the user's password does (None: no such user)."""
        account = self._read().get(username)
        return None if account is None else hashlib.sha256(account["hash"].encode()).hexdigest()

    def set_password(self, username: str, password: str, *, only_first: bool = False) -> None:
        """Create the account or reset its password (with ``only_first``: AccountError if any account exists)."""
        check_username(username)
        check_password(password)
        digest = self.hasher.hash(password)
        with self._lock:
            accounts = dict(self._read())
            if only_first and accounts:
                raise AccountError("an administrator account exists already")
            accounts[username] = {"hash": digest, "admin": True, "changed": int(time.time())}
            self._write(accounts)

    def verify(self, username: str, password: str) -> bool:
        """Whether the password is the user's (as slow for an unknown user as for a known one)."""
        account = self._read().get(username)
        if account is None:
            if self._dummy is None:
                self._dummy = self.hasher.hash(secrets.token_hex(16))
            digest = self._dummy
        else:
            digest = account["hash"]
        try:
            self.hasher.verify(digest, password)
        except argon2.exceptions.VerificationError:
            return False
        except argon2.exceptions.InvalidHashError:
            return False
        return account is not None


@dataclass
class Session:
    """One logged-in browser."""

    user: str
    csrf: str
    fingerprint: str
    last_seen: float


class Sessions:
    """Sessions by the SHA-256 of their cookie's token, ended after ``idle_timeout`` seconds without a request."""

    def __init__(self, idle_timeout: float, clock: Clock = time.monotonic, limit: int = 10_000) -> None:
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.limit = limit
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def create(self, user: str, fingerprint: str) -> tuple[str, Session]:
        """A new session: its cookie token and the session."""
        self._expire()
        while len(self._sessions) >= self.limit:
            self._sessions.popitem(last=False)
        token = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(32), fingerprint, self.clock())
        self._sessions[self._key(token)] = session
        return token, session

    def get(self, token: str) -> Session | None:
        """The live session of a token, its idle time restarted (None: unknown or expired)."""
        key = self._key(token)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self.clock()
        if now - session.last_seen > self.idle_timeout:
            del self._sessions[key]
            return None
        session.last_seen = now
        self._sessions.move_to_end(key)
        return session

    def drop(self, token: str) -> None:
        self._sessions.pop(self._key(token), None)

    def _expire(self) -> None:
        now = self.clock()
        while self._sessions:
            key, oldest = next(iter(self._sessions.items()))
            if now - oldest.last_seen <= self.idle_timeout:
                break
            del self._sessions[key]


class RateLimiter:
    """At most ``limit`` failures per key in a sliding window of ``window`` seconds."""

    def __init__(self, limit: int, window: float, clock: Clock = time.monotonic, keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.keys = keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        failures = self._failures.get(key)
        if not failures:
            return 0.0
        now = self.clock()
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return 0.0
        if len(failures) < self.limit:
            return 0.0
        return self.window - (now - failures[0])

    def failure(self, key: str) -> None:
        failures = self._failures.setdefault(key, deque(maxlen=self.limit))
        failures.append(self.clock())
        self._failures.move_to_end(key)
        while len(self._failures) > self.keys:
            self._failures.popitem(last=False)

    def undo(self, key: str) -> None:
        """Forget the latest failure of ``key`` (it was a success)."""
        failures = self._failures.get(key)
        if failures:
            failures.pop()

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)


@dataclass
class Auth:
    """Accounts, sessions and login limits of one server."""

    settings: Settings
    accounts: Accounts
    sessions: Sessions
    by_address: RateLimiter
    by_user: RateLimiter
    clock: Clock = time.monotonic
    setup_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: argon2 takes 64 MiB a hash: a flood of logins waits here instead of taking all the memory
    hashing: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @classmethod
    def build(cls, settings: Settings, clock: Clock = time.monotonic,
              hasher: argon2.PasswordHasher | None = None) -> Auth:
        limit: RateLimit = settings.rate_limit
        return cls(settings, Accounts(settings.accounts_file, hasher), Sessions(settings.idle_timeout, clock),
                   RateLimiter(limit.per_address, limit.window, clock),
                   RateLimiter(limit.per_user, limit.window, clock), clock)

    def session_of(self, request: web.Request) -> tuple[str, Session] | None:
        """The request's cookie token and live session, if any (None after a password change)."""
        token = request.cookies.get(COOKIE)
        if not token or len(token) > 128:
            return None
        session = self.sessions.get(token)
        if session is None:
            return None
        if self.accounts.fingerprint(session.user) != session.fingerprint:
            self.sessions.drop(token)
            return None
        return token, session

    def set_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(COOKIE, token, path="/", httponly=True, samesite="Strict", secure=self.settings.tls)

    def clear_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/", samesite="Strict", secure=self.settings.tls)


AUTH_KEY = web.AppKey("auth", Auth)


def client_address(request: web.Request) -> str:
    """The peer's address (no proxy header is trusted)."""
    return request.remote or "unknown"


def own_origin(request: web.Request) -> str:
    scheme = "https" if request.app[AUTH_KEY].settings.tls else "http"
    return f"{scheme}://{request.headers.get('Host', '')}"


def check_host(request: web.Request, settings: Settings) -> None:
    """Refuse a request without ``Host`` (400) and, on a loopback listen address, a Host that is not a loopback
    name or a ``--server-name`` (421)."""
    host = request.headers.get("Host", "")  # not request.host: without the header, that asks DNS for our name
    if not host:
        raise http_error(400, "missing Host header")
    if not settings.listen.loopback:
        return
    name = host[1:host.index("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
    allowed = {"localhost", "127.0.0.1", "::1", settings.listen.host, *settings.server_names}
    if name.lower() not in allowed:
        raise http_error(421, f"unknown host {name[:100]!r}: the UI answers to localhost and {settings.listen.host} "
                              "(add others with --server-name)")


def check_origin(request: web.Request, *, required: bool) -> None:
    """An ``Origin`` header, when sent (or when ``required``), must be the UI's own (403)."""
    origin = request.headers.get("Origin")
    if origin is None and not required:
        return
    if origin != own_origin(request):
        raise http_error(403, "cross-origin request refused")


def check_csrf(request: web.Request, session: Session) -> None:
    """The session's CSRF token in ``X-CSRF-Token`` (or ``?csrf=`` for a WebSocket), else 403."""
    if request.headers.get("Upgrade", "").lower() == "websocket":
        given = request.query.get("csrf", "")
        check_origin(request, required=True)
    else:
        given = request.headers.get(CSRF_HEADER, "")
    if not given or not hmac.compare_digest(given.encode(), session.csrf.encode()):
        raise http_error(403, "missing or wrong CSRF token")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Host check everywhere; session and CSRF checks under ``/api/``; ``request["user"]`` set for the routes."""
    auth = request.app[AUTH_KEY]
    check_host(request, auth.settings)
    request["user"] = None
    request["session"] = None
    if not request.path.startswith("/api/"):
        return await handler(request)
    found = auth.session_of(request)
    if found is not None:
        request["session"] = found[1]
        request["user"] = found[1].user
    if (request.method, request.path) in PUBLIC:
        if request.method not in SAFE_METHODS:
            check_origin(request, required=False)
        return await handler(request)
    if found is None:
        raise http_error(401, "not logged in or the session has expired")
    is_websocket = request.headers.get("Upgrade", "").lower() == "websocket"
    if is_websocket or request.method not in SAFE_METHODS:
        check_csrf(request, found[1])
        check_origin(request, required=is_websocket)
    return await handler(request)


def _session_body(session: Session, settings: Settings) -> dict[str, Any]:
    return {"user": session.user, "csrf": session.csrf, "idle_timeout": settings.idle_timeout}


async def get_session(request: web.Request) -> web.Response:
    """``GET /api/session``: who is logged in, or 401 with ``setup`` true while no account exists."""
    auth = request.app[AUTH_KEY]
    session = request["session"]
    if session is None:
        raise http_error(401, "not logged in", setup=not auth.accounts.exists())
    return web.json_response(_session_body(session, auth.settings))


async def _credentials(request: web.Request) -> tuple[str, str]:
    body = await read_json(request, limit=16 << 10)
    return string_field(body, "username", max_length=64), string_field(body, "password", max_length=MAX_PASSWORD)


async def _login_response(request: web.Request, username: str, status: int) -> web.Response:
    auth = request.app[AUTH_KEY]
    old = request.cookies.get(COOKIE)
    if old:
        auth.sessions.drop(old)  # a new token at each login: no session fixation
    token, session = auth.sessions.create(username, auth.accounts.fingerprint(username) or "")
    response = web.json_response({"user": session.user, "csrf": session.csrf}, status=status)
    auth.set_cookie(response, token)
    return response


async def post_setup(request: web.Request) -> web.Response:
    """``POST /api/setup``: the first administrator account (409 once one exists), logged in at once."""
    auth = request.app[AUTH_KEY]
    username, password = await _credentials(request)
    async with auth.setup_lock:
        if auth.accounts.exists():
            raise http_error(409, "an administrator account exists already: log in")
        if auth.clock() - auth.started > auth.settings.setup_window:
            raise http_error(403, "the first-run setup is closed (it is open for "
                                  f"{auth.settings.setup_window // 60} minutes after the UI starts): create the "
                                  "administrator with `moor-web-ui passwd USER` or restart the UI")
        try:
            await asyncio.to_thread(auth.accounts.set_password, username, password, only_first=True)
        except AccountError as err:
            raise http_error(409 if "exists" in str(err) else 400, str(err)) from None
    return await _login_response(request, username, 201)


async def post_login(request: web.Request) -> web.Response:
    """``POST /api/login``: a session for a right password; 401 otherwise; 429 while rate-limited."""
    auth = request.app[AUTH_KEY]
    username, password = await _credentials(request)
    keys = (f"address:{client_address(request)}", f"user:{username}")
    _check_limits(auth, keys)
    async with auth.hashing:
        _check_limits(auth, keys)  # again: the failures of the attempts this one waited behind count
        # counted as a failure before the (slow) check, so that attempts in parallel cannot pass the limit together
        auth.by_address.failure(keys[0])
        auth.by_user.failure(keys[1])
        try:
            ok = await asyncio.to_thread(auth.accounts.verify, username, password)
        except AccountError as err:
            raise http_error(500, str(err)) from None
    if not ok:
        raise http_error(401, "invalid username or password")
    auth.by_address.undo(keys[0])
    auth.by_user.reset(keys[1])
    return await _login_response(request, username, 200)


def _check_limits(auth: Auth, keys: tuple[str, str]) -> None:
    wait = max(auth.by_address.retry_after(keys[0]), auth.by_user.retry_after(keys[1]))
    if wait > 0:
        raise http_error(429, f"too many failed logins: try again in {math.ceil(wait)} s",
                         headers={"Retry-After": str(math.ceil(wait))})


async def post_logout(request: web.Request) -> web.Response:
    """``POST /api/logout``: the session ends; 204."""
    auth = request.app[AUTH_KEY]
    token = request.cookies.get(COOKIE)
    if token:
        auth.sessions.drop(token)
    response = web.Response(status=204)
    auth.clear_cookie(response)
    return response


def setup(app: web.Application) -> None:
    """The session routes."""
    app.router.add_get("/api/session", get_session)
    app.router.add_post("/api/setup", post_setup)
    app.router.add_post("/api/login", post_login)
    app.router.add_post("/api/logout", post_logout)
