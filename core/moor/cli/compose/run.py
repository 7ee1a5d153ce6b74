"""``moor compose run``: docker compose v2's flags over :mod:`moor.compose.runtime.run`."""

from __future__ import annotations

import os
import sys
from typing import Any

import click


def _tty_of(no_tty: bool | None, tty: bool | None, interactive: bool | None) -> bool:
    """Compose's TTY choice: ``--tty`` forces one, ``-T`` none; without either (nor ``-i``) none when stdin
    is not a terminal; else one when stdout is a terminal."""
    from moor.compose.errors import ComposeError

    if tty is not None:
        if no_tty is not None:
            raise ComposeError("--tty and --no-tty can't be used together")
        return tty
    if no_tty is None and interactive is None and not sys.stdin.isatty():
        return False
    if no_tty is None:
        return sys.stdout.isatty()
    return not no_tty


def _environment(entries: tuple[str, ...], env_files: tuple[str, ...]) -> dict[str, str | None]:
    """``-e KEY=VALUE`` / ``-e KEY`` (None: the project environment's value), then ``--env-from-file`` files'
    variables not already set."""
    from moor.compose.loader.dotenv import read_env_file

    environment: dict[str, str | None] = {}
    for entry in entries:
        key, equals, value = entry.partition("=")
        environment[key] = value if equals else None
    for path in env_files:
        values = read_env_file(path, lambda key: environment.get(key))
        for key, value in values.items():
            environment.setdefault(key, value)
    return environment


@click.command("run", context_settings={"allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Run container in background and print container ID")
@click.option("-e", "--env", "environment", multiple=True, metavar="stringArray", help="Set environment variables")
@click.option("--env-from-file", multiple=True, metavar="stringArray", help="Set environment variables from file")
@click.option("-l", "--label", "--labels", "labels", multiple=True, metavar="stringArray",
              help="Add or override a label")
@click.option("--rm", "remove", is_flag=True, help="Automatically remove the container when it exits")
@click.option("-T", "--no-TTY", "--no-tty", "no_tty", is_flag=True, default=None,
              help="Disable pseudo-TTY allocation (default: auto-detected)")
@click.option("--name", default="", metavar="string", help="Assign a name to the container")
@click.option("-u", "--user", default="", metavar="string", help="Run as specified username or uid")
@click.option("-w", "--workdir", default="", metavar="string", help="Working directory inside the container")
@click.option("--entrypoint", default=None, metavar="string", help="Override the entrypoint of the image")
@click.option("--cap-add", multiple=True, metavar="list", help="Add Linux capabilities")
@click.option("--cap-drop", multiple=True, metavar="list", help="Drop Linux capabilities")
@click.option("--no-deps", is_flag=True, help="Don't start linked services")
@click.option("-v", "--volume", "--volumes", "volumes", multiple=True, metavar="stringArray",
              help="Bind mount a volume")
@click.option("-p", "--publish", multiple=True, metavar="stringArray", help="Publish a container's port(s) to the host")
@click.option("--use-aliases", is_flag=True,
              help="Use the service's network useAliases in the network(s) the container connects to")
@click.option("-P", "--service-ports", is_flag=True,
              help="Run command with all service's ports enabled and mapped to the host")
@click.option("--pull", default="policy", metavar="string",
              help='Pull image before running ("always"|"missing"|"never") (default "policy")')
@click.option("-q", "--quiet", is_flag=True, help="Don't print anything to STDOUT")
@click.option("--quiet-build", is_flag=True, help="Suppress progress output from the build process")
@click.option("--quiet-pull", is_flag=True, help="Pull without printing progress information")
@click.option("--build", is_flag=True, help="Build image before starting container")
@click.option("--remove-orphans", is_flag=True, help="Remove containers for services not defined in the Compose file")
@click.option("-i", "--interactive", is_flag=True, default=None, help="Keep STDIN open even if not attached")
@click.option("-t", "--tty", is_flag=True, default=None, hidden=True, help="Allocate a pseudo-TTY")
@click.argument("service")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, detach: bool, environment: tuple[str, ...], env_from_file: tuple[str, ...],
        labels: tuple[str, ...], remove: bool, no_tty: bool | None, name: str, user: str, workdir: str,
        entrypoint: str | None, cap_add: tuple[str, ...], cap_drop: tuple[str, ...], no_deps: bool,
        volumes: tuple[str, ...], publish: tuple[str, ...], use_aliases: bool, service_ports: bool, pull: str,
        quiet: bool, quiet_build: bool, quiet_pull: bool, build: bool, remove_orphans: bool,
        interactive: bool | None, tty: bool | None, service: str, command: tuple[str, ...]) -> None:
    """Run a one-off command on a service."""
    import shlex

    from moor.cli.compose import options_of
    from moor.cli.compose.loading import load_project_of
    from moor.cli.compose.target import progress_of
    from moor.cli.main import client_of
    from moor.compose.convert import RunOverrides
    from moor.compose.errors import ComposeError
    from moor.compose.runtime.run import run_oneoff
    from moor.compose.runtime.up import UpOptions

    if publish and service_ports:
        raise ComposeError("--service-ports and --publish are incompatible")
    use_tty = _tty_of(no_tty, tty, interactive)
    stdin_open = interactive is not False
    if use_tty and stdin_open and not detach and not sys.stdin.isatty():
        raise ComposeError("the input device is not a TTY")
    label_map: dict[str, str] = {}
    for item in labels:
        key, equals, value = item.partition("=")
        if not equals:
            raise ComposeError("label must be set as KEY=VALUE")
        label_map[key] = value
    try:
        entrypoint_words = shlex.split(entrypoint) if entrypoint is not None else None
    except ValueError as err:
        raise ComposeError(f"invalid entrypoint: {err}") from None
    project = load_project_of(ctx, [service])
    project.service(service)
    overrides = RunOverrides(command=list(command) or None, entrypoint=entrypoint_words,
                             environment=_environment(environment, env_from_file), user=user or None,
                             working_dir=workdir or None, volumes=list(volumes), ports=list(publish),
                             service_ports=service_ports, tty=use_tty, stdin_open=stdin_open, labels=label_map,
                             name=name or None, remove=remove, use_aliases=use_aliases, cap_add=list(cap_add),
                             cap_drop=list(cap_drop))
    ignore = os.environ.get("COMPOSE_IGNORE_ORPHANS", "").lower() in ("1", "true", "yes")
    up_options: Any = UpOptions(build=build, pull=None if pull == "policy" else pull, quiet_pull=quiet_pull,
                                remove_orphans=remove_orphans, parallel=options_of(ctx).parallel,
                                ignore_orphans=ignore)
    client = client_of(ctx)
    with progress_of(ctx) as progress:
        if quiet:
            progress.mode = "quiet"
        code = run_oneoff(client, project, service, overrides, detach=detach, no_deps=no_deps,
                          up_options=up_options, progress=progress,
                          stdout=open(os.devnull, "w") if quiet else None)
    sys.exit(code)
