"""``moord``: start the engine and serve the API until SIGTERM or SIGINT."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

import click

from moor import __version__
from moor.api.app import SERVER_HEADERS, Application
from moor.api.routes import build_router
from moor.api.server import UnixHTTPServer
from moor.config import Config, load
from moor.daemon import hostlimits
from moor.daemon.engine import Engine
from moor.daemon.frontends import make_frontends
from moor.daemon.lock import DataRootLock
from moor.errors import ConfigError, MoorError
from moor.fsutil import atomic_write

log = logging.getLogger("moord")
#: libraries whose debug output is theirs, not moord's: pyroute2 logs every netlink message (some 30 lines per
#: container start, most of a debug log's size) and asyncio each event loop pyroute2 makes
QUIET_LIBRARIES = ("pyroute2", "asyncio")


def dump_every_stack(_signum: int, _frame: Any) -> None:
    """The SIGUSR1 handler: every thread's stack to moord's log (the other threads wait for the GIL meanwhile)."""
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)


def without_library_debug(record: logging.LogRecord) -> bool:
    """A filter on moord's log handler: drops the debug records of :data:`QUIET_LIBRARIES` (a filter, not a
    level: pyroute2 sets its logger's level when it is imported)."""
    return record.levelno > logging.DEBUG or not record.name.startswith(QUIET_LIBRARIES)


def socket_path(host: str) -> str:
    if not host.startswith("unix://"):
        raise ConfigError(f"invalid host {host!r}: moord listens on unix:///path sockets only")
    path = host[len("unix://"):]
    if not path.startswith("/"):
        raise ConfigError(f"invalid host {host!r}: the socket path must be absolute")
    return path


def build_config(config_file: str | None, data_root: str | None, exec_root: str | None,
                 hosts: tuple[str, ...], debug: bool) -> Config:
    config = load(config_file)
    if data_root:
        config.data_root = os.path.abspath(data_root)
    if exec_root:
        config.exec_root = os.path.abspath(exec_root)
    if hosts:
        config.hosts = list(hosts)
    if debug:
        config.debug = True
    for host in config.hosts:
        socket_path(host)
    return config


def serve(config: Config) -> None:
    # frontends found before anything starts: an enabled one that is not installed stops moord at once
    frontends = make_frontends(config.web_ui.enabled, config.web_ui.options(config.data_root), config.hosts[0])
    lock = DataRootLock(config.data_root)
    lock.acquire()
    hostlimits.lift()  # before the engine re-adopts containers: each holds descriptors
    servers: list[UnixHTTPServer] = []
    threads: list[threading.Thread] = []
    engine = None
    try:
        engine = Engine(config)
        engine.networks.ensure_default()  # the default bridge exists while moord runs, as docker0 does
        app = Application(build_router(engine))
        for host in config.hosts:
            servers.append(UnixHTTPServer(socket_path(host), app, SERVER_HEADERS))
        received: list[int] = []

        def on_signal(signum: int, _frame: Any) -> None:
            # Only record it: taking locks (logging, Event.set) here can deadlock with the interrupted code.
            received.append(signum)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        # SIGUSR1 writes every thread's stack to moord's log (the concurrency watchdog asks for it on a stall).
        # From Python, holding the GIL: faulthandler's own handler read the other threads' frames while they
        # ran, and a thread busy at that moment crashed moord (SIGSEGV, 28 of 80 dumps under load).
        signal.signal(signal.SIGUSR1, dump_every_stack)
        _write_pid(config)  # before the socket answers: whoever saw moord answer finds its pid file
        for server in servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
            thread.start()
            threads.append(thread)
        log.info("moord %s listening on %s (data root %s)", __version__, ", ".join(config.hosts),
                 config.data_root)
        for frontend in frontends:  # once the socket answers
            frontend.start()
        while not received:
            time.sleep(0.2)
        log.info("received %s, shutting down", signal.Signals(received[0]).name)
    finally:
        for frontend in frontends:
            frontend.stop()
        for server, _thread in zip(servers, threads):
            server.shutdown()
        for server in servers:
            server.server_close()
            try:
                os.unlink(str(server.server_address))
            except OSError:
                pass
        if engine is not None:
            engine.close()
        _remove_pid(config)
        lock.release()


def _pid_path(config: Config) -> str:
    return os.path.join(config.exec_root, "moord.pid")


def _write_pid(config: Config) -> None:
    atomic_write(_pid_path(config), f"{os.getpid()}\n".encode())


def _remove_pid(config: Config) -> None:
    try:
        os.unlink(_pid_path(config))
    except OSError:
        pass


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config-file", default=None, help="Daemon configuration file (default /etc/moor/moor.toml)")
@click.option("--data-root", default=None, help="Root directory of persistent moor state")
@click.option("--exec-root", default=None, help="Root directory for execution state files")
@click.option("-H", "--host", "hosts", multiple=True, help="Daemon socket(s) to listen on (unix:///path)")
@click.option("-D", "--debug", is_flag=True, help="Enable debug mode")
@click.version_option(__version__, "-v", "--version", message="moord version %(version)s")
def main(config_file: str | None, data_root: str | None, exec_root: str | None,
         hosts: tuple[str, ...], debug: bool) -> None:
    """moord: the moor container engine daemon (serves the Docker Engine API)."""
    try:
        config = build_config(config_file, data_root, exec_root, hosts, debug)
        logging.basicConfig(
            level=logging.DEBUG if config.debug else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        for handler in logging.getLogger().handlers:
            handler.addFilter(without_library_debug)
        serve(config)
    except MoorError as err:
        click.echo(f"moord: {err}", err=True)
        sys.exit(err.exit_code)
