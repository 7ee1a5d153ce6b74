"""``moor compose start|stop|restart|kill|rm|pause|unpause|wait``: docker compose v2's flags over
:mod:`moor.compose.runtime.lifecycle`."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from moor.cli.compose import options_of
from moor.cli.compose.target import progress_of, project_or_name


def _timeout_option(function: Any) -> Any:
    return click.option("-t", "--timeout", type=int, default=None, metavar="int",
                        help="Specify a shutdown timeout in seconds")(function)


def _each_container(ctx: click.Context, services: tuple[str, ...], title: str, action: str, **flags: Any) -> None:
    """The command's project (or ``-p`` name), then ``lifecycle.ACTION(client, name, project, services,
    progress=, parallel=, **flags)`` under a progress display titled ``title``."""
    from moor.cli.main import client_of
    from moor.compose.runtime import lifecycle

    project, name = project_or_name(ctx, services)
    with progress_of(ctx, title) as progress:
        getattr(lifecycle, action)(client_of(ctx), name, project, services, progress=progress,
                                   parallel=options_of(ctx).parallel, **flags)


@click.command("start")
@click.argument("services", nargs=-1)
@click.option("--wait", is_flag=True, help="Wait for services to be running|healthy. Implies detached mode.")
@click.option("--wait-timeout", type=int, default=0, metavar="int",
              help="Maximum duration in seconds to wait for the project to be running|healthy")
@click.pass_context
def start(ctx: click.Context, services: tuple[str, ...], wait: bool, wait_timeout: int) -> None:
    """Start services"""
    _each_container(ctx, services, "Running", "start", wait=wait, wait_timeout=wait_timeout or None)


@click.command("stop")
@click.argument("services", nargs=-1)
@_timeout_option
@click.pass_context
def stop(ctx: click.Context, services: tuple[str, ...], timeout: int | None) -> None:
    """Stop services"""
    _each_container(ctx, services, "Stopping", "stop", timeout=timeout)


@click.command("restart")
@click.argument("services", nargs=-1)
@_timeout_option
@click.option("--no-deps", is_flag=True, help="Don't restart dependent services")
@click.pass_context
def restart(ctx: click.Context, services: tuple[str, ...], timeout: int | None, no_deps: bool) -> None:
    """Restart service containers"""
    _each_container(ctx, services, "Restarting", "restart", timeout=timeout, no_deps=no_deps)


def _env_bool(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "t", "true", "y")


@click.command("kill")
@click.argument("services", nargs=-1)
@click.option("--remove-orphans", is_flag=True, default=None,
              help="Remove containers for services not defined in the Compose file")
@click.option("-s", "--signal", default="SIGKILL", metavar="string",
              help='SIGNAL to send to the container (default "SIGKILL")')
@click.pass_context
def kill(ctx: click.Context, services: tuple[str, ...], remove_orphans: bool | None, signal: str) -> None:
    """Force stop service containers"""
    if remove_orphans is None:
        remove_orphans = _env_bool("COMPOSE_REMOVE_ORPHANS")
    _each_container(ctx, services, "Killing", "kill", signal=signal, remove_orphans=remove_orphans)


def confirm(message: str) -> bool:
    """Compose's prompt: on a terminal ``? MESSAGE (y/N) ``, else the bare message; then one line read
    (``y``, ``1``, ``t``, ``true`` say yes)."""
    interactive = sys.stdin.isatty()
    click.echo(f"? {message} (y/N) " if interactive else message, nl=False)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "1", "t", "true")


@click.command("rm")
@click.argument("services", nargs=-1)
@click.option("-f", "--force", is_flag=True, help="Don't ask to confirm removal")
@click.option("-s", "--stop", "stop_first", is_flag=True, help="Stop the containers, if required, before removing")
@click.option("-v", "--volumes", is_flag=True, help="Remove any anonymous volumes attached to containers")
@click.option("-a", "--all", "all_", is_flag=True, hidden=True, help="Deprecated - no effect")
@click.pass_context
def rm(ctx: click.Context, services: tuple[str, ...], force: bool, stop_first: bool, volumes: bool,
       all_: bool) -> None:
    """Removes stopped service containers

    By default, anonymous volumes attached to containers will not be removed. You can override this with -v.
    To list all volumes, use "moor volume ls".

    Any data which is not in a volume will be lost.
    """
    from moor.cli.main import client_of
    from moor.compose.runtime import lifecycle
    from moor.compose.runtime.status import container_name

    project, name = project_or_name(ctx, services)
    client = client_of(ctx)
    parallel = options_of(ctx).parallel
    with progress_of(ctx, "Stopping") as progress:
        if stop_first:
            lifecycle.stop(client, name, project, services, progress=progress, parallel=parallel)
        containers = lifecycle.removable(client, name, project, services)
    message = f"Going to remove {', '.join(container_name(c) for c in containers)}"
    if force:
        click.echo(message)
    elif not confirm(message):
        return
    with progress_of(ctx, "Removing") as progress:
        lifecycle.remove(client, containers, volumes=volumes, force=force, progress=progress, parallel=parallel)


@click.command("pause")
@click.argument("services", nargs=-1)
@click.pass_context
def pause(ctx: click.Context, services: tuple[str, ...]) -> None:
    """Pause services"""
    _each_container(ctx, services, "Pausing", "pause")


@click.command("unpause")
@click.argument("services", nargs=-1)
@click.pass_context
def unpause(ctx: click.Context, services: tuple[str, ...]) -> None:
    """Unpause services"""
    _each_container(ctx, services, "Unpausing", "unpause")


@click.command("wait")
@click.argument("services", nargs=-1, required=True)
@click.option("--down-project", is_flag=True, help="Drops project when the first container stops")
@click.pass_context
def wait(ctx: click.Context, services: tuple[str, ...], down_project: bool) -> None:
    """Block until containers of all (or specified) services stop."""
    from moor.cli.main import client_of
    from moor.compose.runtime import lifecycle

    _project, name = project_or_name(ctx)

    def exited(container_id: str, code: int) -> None:
        click.echo(f'container "{container_id}" exited with status code {code}')

    with progress_of(ctx) as progress:
        code = lifecycle.wait(client_of(ctx), name, services, down_project=down_project, progress=progress,
                              on_exit=exited)
    sys.exit(code)
