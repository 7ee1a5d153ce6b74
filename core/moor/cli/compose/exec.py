"""``moor compose exec``: docker compose v2's flags over :mod:`moor.compose.runtime.execute`."""

from __future__ import annotations

import os
import sys

import click


def resolve_environment(entries: tuple[str, ...], lookup: dict[str, str]) -> list[str]:
    """``-e KEY=VALUE`` as given; ``-e KEY`` takes KEY's value from ``lookup`` (left out when unset)."""
    resolved = []
    for entry in entries:
        if "=" in entry:
            resolved.append(entry)
        elif entry in lookup:
            resolved.append(f"{entry}={lookup[entry]}")
    return resolved


def _lookup(ctx: click.Context, entries: tuple[str, ...]) -> dict[str, str]:
    """Where ``-e KEY`` finds its value: the project's environment (the process's over ``.env``) when the files
    load, else the process environment; the files are read only when a bare ``KEY`` asks for it."""
    if all("=" in entry for entry in entries):
        return {}
    from moor.cli.compose.loading import load_project_of
    from moor.errors import MoorError

    try:
        return dict(load_project_of(ctx).environment)
    except MoorError:
        return dict(os.environ)


@click.command("exec", context_settings={"allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Detached mode: Run command in the background")
@click.option("-e", "--env", "environment", multiple=True, metavar="stringArray", help="Set environment variables")
@click.option("--index", default=0, type=int, metavar="int",
              help="Index of the container if service has multiple replicas")
@click.option("--privileged", is_flag=True, help="Give extended privileges to the process")
@click.option("-u", "--user", default="", metavar="string", help="Run the command as this user")
@click.option("-T", "--no-tty", "--no-TTY", "no_tty", is_flag=True, default=None,
              help="Disable pseudo-TTY allocation. By default 'docker compose exec' allocates a TTY.")
@click.option("-w", "--workdir", default="", metavar="string", help="Path to workdir directory for this command")
@click.option("-i", "--interactive", is_flag=True, default=True, hidden=True,
              help="Keep STDIN open even if not attached")
@click.option("-t", "--tty", is_flag=True, default=True, hidden=True, help="Allocate a pseudo-TTY")
@click.argument("service")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_(ctx: click.Context, detach: bool, environment: tuple[str, ...], index: int, privileged: bool, user: str,
          no_tty: bool | None, workdir: str, interactive: bool, tty: bool, service: str,
          command: tuple[str, ...]) -> None:
    """Execute a command in a running container."""
    from moor.cli.compose.target import project_name
    from moor.cli.main import client_of
    from moor.compose.errors import ComposeError
    from moor.compose.runtime.execute import ExecOptions, exec_in_service

    if no_tty is None:
        no_tty = not sys.stdout.isatty()
    use_tty = not no_tty
    if use_tty and interactive and not detach and not sys.stdin.isatty():
        raise ComposeError("the input device is not a TTY")
    options = ExecOptions(command=list(command), index=index, detach=detach,
                          environment=resolve_environment(environment, _lookup(ctx, environment)), user=user,
                          workdir=workdir, tty=use_tty, interactive=interactive, privileged=privileged)
    code = exec_in_service(client_of(ctx), project_name(ctx), service, options)
    sys.exit(code)
