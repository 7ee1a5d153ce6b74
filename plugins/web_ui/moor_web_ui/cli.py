"""``moor-web-ui serve`` (the server) and ``moor-web-ui passwd USER`` (create or reset an administrator).

Errors are one line on stderr with exit code 2 (a setting that cannot be used, a refused exposure).
"""

from __future__ import annotations

import getpass
import logging
import sys
from pathlib import Path

import click

from moor_web_ui import __version__
from moor_web_ui.settings import (
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_LISTEN,
    Settings,
    SettingsError,
    check_exposure,
    parse_listen,
)

EXIT_USAGE = 2


def fail(message: str) -> None:
    click.echo(f"moor-web-ui: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-v", "--version", message="moor-web-ui version %(version)s")
def main() -> None:
    """moor's web interface."""


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="moord's socket (unix:///path)")
@click.option("--listen", default=DEFAULT_LISTEN, show_default=True, help="Address and port to serve the UI on")
@click.option("--data-dir", default=DEFAULT_DATA_DIR, show_default=True, help="Accounts and stacks")
@click.option("--tls-cert", default=None, help="Serve HTTPS with this certificate (PEM)")
@click.option("--tls-key", default=None, help="The certificate's private key (PEM)")
@click.option("--idle-timeout", default=DEFAULT_IDLE_TIMEOUT, show_default=True, type=int,
              help="Seconds without a request after which a session ends")
@click.option("--server-name", "server_names", multiple=True,
              help="Another host name the UI answers to on a loopback address (repeatable)")
@click.option("--debug", is_flag=True, help="Log each request")
@click.option("--exit-with-stdin", is_flag=True, hidden=True,
              help="End when standard input closes (moord holds its other end)")
def serve(host: str, listen: str, data_dir: str, tls_cert: str | None, tls_key: str | None, idle_timeout: int,
          server_names: tuple[str, ...], debug: bool, exit_with_stdin: bool) -> None:
    """Serve the web UI."""
    from aiohttp import web

    from moor_web_ui.app import make_app
    from moor_web_ui.auth import AccountError, Accounts

    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        settings = Settings(data_dir=Path(data_dir).absolute(), host=host, listen=parse_listen(listen),
                            tls_cert=Path(tls_cert) if tls_cert else None, tls_key=Path(tls_key) if tls_key else None,
                            idle_timeout=idle_timeout, server_names=tuple(n.lower() for n in server_names))
        check_exposure(settings, Accounts(settings.accounts_file).exists())
        ssl_context = settings.ssl_context()
    except (SettingsError, AccountError) as err:
        fail(str(err))
        return
    app = make_app(settings)
    if exit_with_stdin:
        app.on_startup.append(_exit_with_stdin)
    scheme = "https" if ssl_context else "http"
    logging.getLogger("moor_web_ui").info("moor web UI on %s://%s (moord at %s)", scheme, settings.listen, host)
    try:
        web.run_app(app, host=settings.listen.host, port=settings.listen.port, ssl_context=ssl_context,
                    print=None, access_log=logging.getLogger("aiohttp.access") if debug else None,
                    handler_cancellation=True, shutdown_timeout=2)  # open streams are cut, not awaited
    except OSError as err:  # exit code 1, not 2: moord tries again (an old UI may still hold the port)
        click.echo(f"moor-web-ui: cannot listen on {settings.listen}: {err.strerror or err}", err=True)
        sys.exit(1)


async def _exit_with_stdin(_app: object) -> None:
    """Stop (as on SIGTERM) when standard input reaches its end: moord, which holds the pipe, is gone."""
    import asyncio
    import os
    import signal

    def readable() -> None:
        try:
            data = os.read(0, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(0)
            os.kill(os.getpid(), signal.SIGTERM)

    asyncio.get_running_loop().add_reader(0, readable)


@main.command()
@click.argument("user")
@click.option("--data-dir", default=DEFAULT_DATA_DIR, show_default=True, help="Accounts and stacks")
def passwd(user: str, data_dir: str) -> None:
    """Create the administrator USER or reset its password (read from stdin; asked twice on a terminal)."""
    from moor_web_ui.auth import AccountError, Accounts, check_username

    try:
        check_username(user)
        if sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if getpass.getpass("Again: ") != password:
                fail("the passwords differ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        Accounts(Path(data_dir) / "accounts.json").set_password(user, password)
    except AccountError as err:
        fail(str(err))
    except OSError as err:
        fail(f"cannot write {Path(data_dir) / 'accounts.json'}: {err.strerror or err}")
    click.echo(f"password of {user} set")
