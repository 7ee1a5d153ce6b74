"""``moor compose``: docker compose v2's commands and global flags; each command's module loads only when used."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import click

from moor.cli.main import LazyGroup

#: compose command name -> "module:attribute" under moor.cli.compose
COMMANDS: dict[str, str] = {
    # each helper adds the commands it owns here (one line each)
    "logs": "logs:logs",
    "run": "run:run",
    "exec": "exec:exec_",
    "up": "up:up",
    "create": "up:create",
    "down": "up:down",
    "build": "images:build",
    "pull": "images:pull",
    "push": "images:push",
    "images": "images:images",
    "start": "lifecycle:start",
    "stop": "lifecycle:stop",
    "restart": "lifecycle:restart",
    "kill": "lifecycle:kill",
    "rm": "lifecycle:rm",
    "pause": "lifecycle:pause",
    "unpause": "lifecycle:unpause",
    "wait": "lifecycle:wait",
    "ps": "status:ps",
    "ls": "status:ls",
    "top": "status:top",
    "port": "status:port",
    "version": "status:version",
    "config": "config:config",
}


@dataclass
class ComposeOptions:
    """The global flags of ``moor compose``, as given (the loader applies the COMPOSE_* variables)."""

    files: list[str] = field(default_factory=list)
    project_name: str | None = None
    project_directory: str | None = None
    profiles: list[str] = field(default_factory=list)
    env_files: list[str] = field(default_factory=list)
    #: bound on parallel operations (``--parallel``, ``COMPOSE_PARALLEL_LIMIT``); -1 = unlimited
    parallel: int = -1
    ansi: str = "auto"
    progress: str = "auto"
    dry_run: bool = False


class ComposeGroup(LazyGroup):
    """The lazy command table (:data:`COMMANDS`), and compose's errors printed as one line with their exit
    code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, lazy=COMMANDS, package="moor.cli.compose", **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        from moor.errors import MoorError

        try:
            return super().invoke(ctx)
        except MoorError as err:
            click.echo(str(err), err=True)
            sys.exit(err.exit_code)


@click.group(cls=ComposeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--file", "files", multiple=True, metavar="stringArray", help="Compose configuration files")
@click.option("-p", "--project-name", default=None, metavar="string", help="Project name")
@click.option("--project-directory", default=None, metavar="string",
              help="Specify an alternate working directory (default: the path of the, first specified, Compose file)")
@click.option("--profile", "profiles", multiple=True, metavar="stringArray", help="Specify a profile to enable")
@click.option("--env-file", "env_files", multiple=True, metavar="stringArray",
              help="Specify an alternate environment file")
@click.option("--parallel", default=None, type=int, metavar="int",
              help="Control max parallelism, -1 for unlimited (default -1)")
@click.option("--ansi", default="auto", type=click.Choice(["never", "always", "auto"]),
              help='Control when to print ANSI control characters ("never"|"always"|"auto") (default "auto")')
@click.option("--progress", default="auto", type=click.Choice(["auto", "tty", "plain", "json", "quiet"]),
              help='Set type of progress output (auto, tty, plain, json, quiet) (default "auto")')
@click.option("--dry-run", is_flag=True, help="Execute command in dry run mode")
@click.option("--compatibility", is_flag=True, hidden=True)
@click.pass_context
def compose(ctx: click.Context, files: tuple[str, ...], project_name: str | None, project_directory: str | None,
            profiles: tuple[str, ...], env_files: tuple[str, ...], parallel: int | None, ansi: str, progress: str,
            dry_run: bool, compatibility: bool) -> None:
    """Define and run multi-container applications with moor."""
    import os

    if parallel is None:
        parallel = int(os.environ.get("COMPOSE_PARALLEL_LIMIT", "-1") or -1)
    ctx.obj = ComposeOptions(list(files), project_name, project_directory, list(profiles), list(env_files),
                             parallel, os.environ.get("COMPOSE_ANSI", ansi) if ansi == "auto" else ansi,
                             os.environ.get("COMPOSE_PROGRESS", progress) if progress == "auto" else progress,
                             dry_run)


def options_of(ctx: click.Context) -> ComposeOptions:
    """The global compose flags of this invocation."""
    node: click.Context | None = ctx
    while node is not None and not isinstance(node.obj, ComposeOptions):
        node = node.parent
    return node.obj if node is not None else ComposeOptions()
