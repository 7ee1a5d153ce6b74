"""``make_app(settings)``: the UI's aiohttp application.

Routes: the session routes (:mod:`auth`), the Docker proxy (:mod:`proxy`), the streams, console and actions
(:mod:`streams`, :mod:`console`, :mod:`actions`), the stacks (:mod:`stacks`), then the page's static files: ``/``
is ``index.html`` and every other file of ``static/`` is served at its path (also under ``/static/``).
Every answer carries the security headers (a strict Content-Security-Policy: nothing from another origin, no
inline script); errors under ``/api/`` are ``{"message": ...}``.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

from aiohttp import web

from moor_web_ui import auth, proxy
from moor_web_ui.auth import AUTH_KEY, Auth, Handler
from moor_web_ui.moord import MOORD, Moord, MoordError
from moor_web_ui.replies import JSON, http_error
from moor_web_ui.settings import Settings

log = logging.getLogger("moor_web_ui")

# The agreed interface names some values by string (app["moord"], request["user"]): aiohttp's advice to use typed
# keys is for new code; these stay, quietly.
warnings.filterwarnings("ignore", category=web.NotAppKeyWarning, module=r"moor_web_ui\.")

STATIC = Path(__file__).parent / "static"
SETTINGS = web.AppKey("settings", Settings)
#: the feature modules whose ``setup(app)`` adds their routes (one missing is skipped, with a warning)
FEATURES = ("streams", "console", "actions", "stacks")

# style-src allows inline styles (xterm.js writes <style> elements); scripts come only from the UI itself
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data: blob:",
    "font-src 'self'", "connect-src 'self'", "manifest-src 'self'", "worker-src 'self'", "base-uri 'none'",
    "form-action 'self'", "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = "moor-web-ui"  # not aiohttp's and Python's versions
    if request.app[SETTINGS].tls:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error under ``/api/`` as ``{"message": ...}``; moord's errors with moord's status; never a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as err:
        if not request.path.startswith("/api/") or err.content_type == JSON or err.empty_body:
            raise
        message = err.reason if err.status >= 400 else err.text or err.reason
        raise http_error(err.status, message.lower() if err.status in (404, 405) else message,
                         headers={k: v for k, v in err.headers.items() if k in ("Allow", "Location", "Retry-After")}) \
            from None
    except MoordError as err:
        raise http_error(err.status, err.message) from None
    except ConnectionResetError:
        raise
    except Exception as err:  # the server's boundary: one line for the client, the traceback in the log
        log.exception("%s %s failed", request.method, request.path)
        raise http_error(500, f"internal error: {type(err).__name__}: {err}") from None


async def index(request: web.Request) -> web.StreamResponse:
    return _file(STATIC / "index.html")


async def static_file(request: web.Request) -> web.StreamResponse:
    """A file under ``static/`` (never outside it), 404 otherwise; ``/api/...`` is never a file."""
    relative = request.match_info["path"]
    if request.path.startswith("/api/"):
        raise http_error(404, "not found")
    if relative.startswith("static/"):
        relative = relative[len("static/"):]
    root = STATIC.resolve()
    try:
        target = (root / relative).resolve()
    except (OSError, ValueError):
        raise web.HTTPNotFound() from None
    if not target.is_relative_to(root) or not target.is_file() or any(p.startswith(".") for p in target.parts):
        raise web.HTTPNotFound()
    return _file(target)


def _file(path: Path) -> web.StreamResponse:
    if not path.is_file():
        raise web.HTTPNotFound(text="the page's files are not installed")
    response = web.FileResponse(path)
    response.headers["Cache-Control"] = "no-cache"  # revalidated (ETag/Last-Modified): an upgrade shows at once
    return response


def _feature(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"moor_web_ui.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"moor_web_ui.{name}":
            raise
        log.warning("moor_web_ui.%s is missing: its routes are not served", name)
        return None


def make_app(settings: Settings, *, auth_state: Auth | None = None, moord: Moord | None = None) -> web.Application:
    """The application: ``auth_state`` and ``moord`` may be given by tests (a clock of their own, a fake moord)."""
    app = web.Application(middlewares=[error_middleware, auth.auth_middleware])
    app[SETTINGS] = settings
    app[AUTH_KEY] = auth_state or Auth.build(settings)
    client = moord or Moord(settings.moord_socket)
    app[MOORD] = client
    app["moord"] = client  # also under string keys, as the feature modules were told
    app["settings"] = settings

    async def close_moord(_app: web.Application) -> AsyncIterator[None]:
        yield
        await client.close()

    app.cleanup_ctx.append(close_moord)
    app.on_response_prepare.append(_security_headers)
    auth.setup(app)
    proxy.setup(app)
    for name in FEATURES:
        module = _feature(name)
        if module is not None:
            module.setup(app)
    _check_routes_are_guarded(app)
    app.router.add_get("/", index)
    app.router.add_get("/{path:.*}", static_file)
    return app


def _check_routes_are_guarded(app: web.Application) -> None:
    """Every route but the page's files is under ``/api/``, where the session and CSRF checks apply."""
    for resource in app.router.resources():
        if not resource.canonical.startswith("/api/"):
            raise RuntimeError(f"route {resource.canonical} is outside /api/: it would be served without a session")
